"""A client elsewhere: a network namespace of the test's own, joined to this machine by a veth
pair on a /30 nobody else uses. Its traffic reaches the host's listeners from its own address
(never through loopback), as a client on the LAN would. Needs root; removed on exit."""

from __future__ import annotations

import ipaddress
import random
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass(frozen=True)
class Netns:
    name: str
    host_ip: str  # this machine, as the namespace reaches it
    client_ip: str  # the namespace's own address

    def argv(self, *command: str) -> list[str]:
        return ["ip", "netns", "exec", self.name, *command]


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True)


def _free_subnet() -> ipaddress.IPv4Network:
    """A random /30 in 10.250.0.0/15 that no address or route of this machine touches."""
    shown = (
        subprocess.run(
            ["ip", "-4", "-o", "route", "show", "table", "all"], capture_output=True, text=True
        ).stdout
        + subprocess.run(["ip", "-4", "-o", "addr"], capture_output=True, text=True).stdout
    )
    rng = random.Random()
    for _ in range(100):
        net = ipaddress.ip_network(f"10.{rng.choice((250, 251))}.{rng.randrange(256)}.0/24")
        if str(net.network_address)[:-1] not in shown:  # nothing in that /24
            return next(net.subnets(new_prefix=30))
    raise RuntimeError("no free /30 for a test network namespace")


@contextmanager
def network_namespace() -> Iterator[Netns]:
    tag = uuid.uuid4().hex[:8]
    name, host_if, ns_if = f"apns-{tag}", f"aph{tag}", f"apn{tag}"
    host_ip, client_ip = (str(a) for a in _free_subnet().hosts())
    _ip("netns", "add", name)
    try:
        _ip("link", "add", host_if, "type", "veth", "peer", "name", ns_if)
        _ip("link", "set", ns_if, "netns", name)
        _ip("addr", "add", f"{host_ip}/30", "dev", host_if)
        _ip("link", "set", host_if, "up")
        _ip("-n", name, "addr", "add", f"{client_ip}/30", "dev", ns_if)
        _ip("-n", name, "link", "set", ns_if, "up")
        _ip("-n", name, "link", "set", "lo", "up")
        yield Netns(name, host_ip, client_ip)
    finally:
        subprocess.run(["ip", "link", "del", host_if], capture_output=True)  # and its peer
        subprocess.run(["ip", "netns", "del", name], capture_output=True)
