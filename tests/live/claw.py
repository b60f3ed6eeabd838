"""AgentPod with Traefik running real OpenClaw pods, as the live tests drive it: every pod made
with ``agentpod pod create --type openclaw``, every request through Traefik by Host header."""

from __future__ import annotations

import http.client
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import docker

from tests.live.gateway_client import ConnectResult, DeviceIdentity, connect
from tests.support.pod_networks import pod_networks
from tests.support.proc import wait_until
from tests.support.proxied import Proxied, proxied_instance

START = "300"  # seconds a gateway may take to become ready on a busy CI machine


@dataclass
class Claw:
    """An AgentPod instance with Traefik, and how a client on this machine reaches its pods."""

    px: Proxied
    tenant: str
    image: str
    image_b: str
    docker: docker.DockerClient

    @property
    def ref(self) -> str:
        return f"{self.tenant}/gw"

    def cli(self, *args: str, check: bool = True, timeout: float = 400):
        return self.px.env.run(*args, check=check, timeout=timeout)

    def create(self, ref: str, *options: str, image: str | None = None) -> None:
        args = ("--type", "openclaw", "--image", image or self.image, "--timeout", START)
        self.cli("pod", "create", ref, *args, *options)

    def status(self, ref: str) -> dict[str, Any]:
        return self.px.env.json("pod", "status", ref)

    def token(self, ref: str) -> str:
        return self.cli("pod", "token", ref).stdout.strip()

    def host(self, ref: str) -> str:
        return self.px.host(self.status(ref)["subdomain"])

    def devices(self, ref: str) -> list[dict[str, Any]]:
        return self.px.env.json("pod", "devices", ref)

    def host_address(self, ref: str) -> str:
        """This machine as the pod sees it: its network's gateway (where Traefik comes from)."""
        container = self.docker.containers.get(self.status(ref)["container_id"])
        network = self.docker.networks.get(next(iter(pod_networks(self.docker, container))))
        return network.attrs["IPAM"]["Config"][0]["Gateway"]

    def get(self, ref: str, path: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
        """GET through Traefik by Host header, from this machine."""
        conn = http.client.HTTPConnection("127.0.0.1", self.px.port, timeout=5)
        try:
            conn.request("GET", path, headers={"Host": self.host(ref), **(headers or {})})
            resp = conn.getresponse()
            return resp.status, resp.read().decode()
        finally:
            conn.close()

    def connect(self, ref: str, token: str, **kw: Any) -> Any:
        """The WebSocket handshake through Traefik, as a client on the pod's public URL."""
        return connect(f"ws://127.0.0.1:{self.px.port}", token, host=self.host(ref), **kw)

    def hello(self, ref: str, token: str, **kw: Any) -> ConnectResult:
        result = self.connect(ref, token, **kw)
        assert isinstance(result, ConnectResult)
        return result

    def ready_via_traefik(self, ref: str, timeout: float = 240) -> None:
        def ready() -> bool:
            try:
                return self.get(ref, "/readyz")[0] == 200
            except OSError:
                return False

        with self.explained(ref):
            wait_until(ready, timeout=timeout, every=0.5)

    def diagnosis(self, ref: str) -> str:
        """What the pod's container says: its State (exit code, restarts) and the last 80 lines
        of its log; and AgentPod's last events of the pod (serve's restarts: a container
        restarted before its process logs anything shows only there)."""
        try:
            cid = self.status(ref)["container_id"]
            container = self.docker.containers.get(cid)
        except Exception as exc:  # a diagnostic must not hide the failure
            return f"no container to diagnose for {ref}: {exc!r}"
        keys = ("Status", "Running", "ExitCode", "Error", "OOMKilled", "StartedAt", "FinishedAt")

        def state(c: Any) -> dict[str, Any]:
            return {k: c.attrs["State"].get(k) for k in keys}

        lines = [f"container {container.name} ({cid[:12]})", f"  State: {state(container)}"]
        lines.append(f"  RestartCount: {container.attrs.get('RestartCount')}")
        log = container.logs(tail=80, timestamps=True).decode(errors="replace")
        lines += ["  docker logs --tail 80:", *(f"    {line}" for line in log.splitlines())]
        events = self.cli("events", "--pod", ref, "--tail", "15", check=False, timeout=60)
        lines += ["  agentpod events --tail 15:", *(f"    {e}" for e in events.stdout.splitlines())]
        return "\n".join(lines)

    @contextmanager
    def explained(self, ref: str) -> Iterator[None]:
        """A wait that fails says what the pod's container did."""
        try:
            yield
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{self.diagnosis(ref)}") from exc

    def pairing_request(self, ref: str) -> tuple[DeviceIdentity, str, str]:
        """A new device's first handshake, refused as not paired: (device, token, request id)."""
        device, token = DeviceIdentity.generate(), self.token(ref)
        first = self.hello(ref, token, device=device)
        assert not first.ok and first.error and first.error["code"] == "NOT_PAIRED", first
        assert first.request_id
        return device, token, first.request_id

    def pair(self, ref: str) -> DeviceIdentity:
        """A new device, refused until approved with ``agentpod pod devices approve``."""
        device, _, request_id = self.pairing_request(ref)
        approved = self.px.env.json("pod", "devices", "approve", ref, request_id)
        assert approved["device_id"] == device.device_id and approved["status"] == "paired"
        return device


@contextmanager
def claw_instance(
    client: docker.DockerClient,
    bind: str = "127.0.0.1",
    pod_options: Callable[[Proxied], tuple[str, ...]] = lambda px: (),
    **env: str,
) -> Iterator[Claw]:
    """``agentpod serve --with-proxy`` with a tenant and one running OpenClaw pod (``ref``,
    made with ``pod_options(px)`` too); ``bind`` and ``env`` as for ``proxied_instance``."""
    from tests.live.images.openclaw.build import VARIANT_B_TAG, ensure_openclaw_image

    image = ensure_openclaw_image()
    image_b = ensure_openclaw_image(VARIANT_B_TAG, variant="b")
    with proxied_instance(client, bind=bind, **env) as px:
        c = Claw(px, f"oc{uuid.uuid4().hex[:8]}", image, image_b, client)
        c.cli("tenant", "create", c.tenant)
        c.create(c.ref, *pod_options(px))
        yield c
