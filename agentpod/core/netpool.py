"""Tenant network subnets: AgentPod hands out its own, from one pool, instead of Docker's default
pools (which hold about 30 bridge networks, so the 31st tenant would get no network)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

DEFAULT_POOL = "10.213.0.0/16"
DEFAULT_PREFIX = 24  # 253 pods a tenant, 256 tenants in the default pool


@dataclass(frozen=True)
class SubnetPool:
    pool: str = DEFAULT_POOL
    prefix: int = DEFAULT_PREFIX

    def __post_init__(self) -> None:
        try:
            net = ipaddress.ip_network(self.pool)
        except ValueError:
            raise ValueError(
                f"network_pool {self.pool!r} is not a network: use CIDR such as {DEFAULT_POOL}"
            ) from None
        if net.version != 4 or not net.prefixlen <= self.prefix <= 29:
            raise ValueError(
                f"network_pool {self.pool} with network_prefix {self.prefix}: use an IPv4 pool "
                f"and a prefix from /{net.prefixlen} to /29"
            )

    def free(self, used: Iterable[str]) -> Iterator[str]:
        """The pool's subnets, in order, that overlap none of the ``used`` subnets."""
        taken = [ipaddress.ip_network(u, strict=False) for u in used if _is_ipv4_network(u)]
        for subnet in ipaddress.ip_network(self.pool).subnets(new_prefix=self.prefix):
            if not any(subnet.overlaps(t) for t in taken):
                yield str(subnet)


def pod_room(prefix: int) -> int:
    """How many pods a tenant network of this prefix holds (its network, gateway and broadcast
    addresses are not theirs)."""
    return 2 ** (32 - prefix) - 3


def gateway_of(subnet: str) -> str:
    """The subnet's first host: the bridge's own address (stated, so that Docker shows it)."""
    return str(next(ipaddress.ip_network(subnet).hosts()))


def _is_ipv4_network(text: str) -> bool:
    try:
        return ipaddress.ip_network(text, strict=False).version == 4
    except ValueError:
        return False
