"""Traefik for a swarm: the host cannot reach the tenant overlays, so Traefik runs in a container
on the manager, attached to every one of them, publishing the HTTP port and routing services
(Swarm provider) to their tasks' own addresses. Its image is made here from the traefik binary
(a static executable): no registry is needed.

swarm_edge.ensure_image(api, binary) -> str   (the image's tag)
swarm_edge.Edge(api, instance): start(image, config, bind, http_port), attach(networks), stop()
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import tarfile
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker

from agentpod.core.spec import INSTANCE, MANAGED

IMAGE = "agentpod-traefik"
LISTEN_PORT = 8000  # inside the container: no capability is needed to bind it
PING_ADDRESS = "127.0.0.1:8082"
CONFIG_DIR = "/etc/traefik"
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")  # for ACME, when the host has one
ROLE = "agentpod.role"
CONFIG_HASH = "agentpod.edge-config"


class EdgeFailed(RuntimeError):
    pass


def image_tag(binary: Path) -> str:
    """One tag per traefik binary (its size and modification time: hashing 180 MB at every
    start would cost a second)."""
    st = binary.stat()
    return f"{IMAGE}:{hashlib.sha256(f'{st.st_size}-{st.st_mtime_ns}'.encode()).hexdigest()[:12]}"


@contextlib.contextmanager
def _engine_errors(what: str) -> Iterator[None]:
    try:
        yield
    except docker.errors.APIError as exc:
        raise EdgeFailed(f"{what}: {exc.explanation or exc}") from None


def ensure_image(api: docker.APIClient, binary: Path) -> str:
    """The Traefik image on this engine, imported from ``binary`` when missing."""
    with _engine_errors("cannot import the Traefik image"):
        return _ensure_image(api, binary)


def _ensure_image(api: docker.APIClient, binary: Path) -> str:
    tag = image_tag(binary)
    try:
        api.inspect_image(tag)
        return tag
    except docker.errors.ImageNotFound:
        pass
    with tempfile.TemporaryDirectory() as tmp:
        rootfs = Path(tmp) / "rootfs.tar"
        with tarfile.open(rootfs, "w", dereference=True) as tar:
            tar.add(binary, "traefik")
            if CA_BUNDLE.is_file():
                tar.add(CA_BUNDLE, str(CA_BUNDLE).lstrip("/"))
            for name, mode in (("tmp", 0o1777), ("data", 0o700), (CONFIG_DIR.lstrip("/"), 0o755)):
                entry = tarfile.TarInfo(name)
                entry.type, entry.mode = tarfile.DIRTYPE, mode
                tar.addfile(entry)
        repository, _, version = tag.partition(":")
        changes = ['ENTRYPOINT ["/traefik"]', f'CMD ["--configFile={CONFIG_DIR}/traefik.yml"]']
        api.import_image_from_file(str(rootfs), repository, version, changes)
    return tag


class Edge:
    """The edge container of one AgentPod instance on the manager's engine."""

    def __init__(self, api: docker.APIClient, instance: str) -> None:
        self.api = api
        self.instance = instance
        self.name = f"agentpod-edge-{instance}"

    def start(self, image: str, config: str, bind: str, http_port: int) -> str:
        """Run it with this config (a container with another one is replaced); its id."""
        with _engine_errors("cannot run Traefik's container"):
            return self._start(image, config, bind, http_port)

    def _start(self, image: str, config: str, bind: str, http_port: int) -> str:
        want = hashlib.sha256(f"{image}\n{bind}:{http_port}\n{config}".encode()).hexdigest()[:16]
        found = self._inspect()
        if found and found["Config"]["Labels"].get(CONFIG_HASH) == want:
            if not found["State"]["Running"]:
                self.api.start(found["Id"])
            return str(found["Id"])
        self.stop()
        cid = self._create(image, want, bind, http_port)
        self.api.put_archive(cid, CONFIG_DIR, _tar_of("traefik.yml", config.encode()))
        self.api.start(cid)
        self._running(cid)
        return cid

    def _create(self, image: str, want: str, bind: str, http_port: int) -> str:
        host_config = self.api.create_host_config(
            port_bindings={LISTEN_PORT: (bind, http_port)},
            binds={"/var/run/docker.sock": {"bind": "/var/run/docker.sock", "mode": "ro"}},
            restart_policy={"Name": "unless-stopped"},
            cap_drop=["ALL"],
            security_opt=["no-new-privileges"],
            log_config={"Type": "json-file", "Config": {"max-size": "10m", "max-file": "3"}},
        )
        labels = {MANAGED: "true", INSTANCE: self.instance, ROLE: "edge", CONFIG_HASH: want}
        created = self.api.create_container(
            image, name=self.name, labels=labels, ports=[LISTEN_PORT], host_config=host_config
        )
        return str(created["Id"])

    def _running(self, cid: str, settle: float = 1.0) -> None:
        """Raise with its last log line when Traefik exits at once (a bad config)."""
        time.sleep(settle)
        state = self.api.inspect_container(cid)["State"]
        if not state["Running"] or state.get("Restarting"):
            logs = self.api.logs(cid, tail=5).decode(errors="replace").strip().splitlines()
            raise EdgeFailed(f"Traefik exited at start: {logs[-1] if logs else state['Status']}")

    def attach(self, networks: list[str]) -> list[str]:
        """Connect it to these networks (ids or names) where it is not yet; those connected."""
        found = self._inspect()
        if found is None:
            return []
        joined = found["NetworkSettings"]["Networks"] or {}
        have = {n["NetworkID"] for n in joined.values()} | set(joined)
        added = []
        for net in networks:
            if net in have:
                continue
            try:
                self.api.connect_container_to_network(found["Id"], net)
                added.append(net)
            except docker.errors.APIError as exc:
                if "already exists" not in str(exc):
                    raise
        return added

    def detach(self, network: str) -> None:
        with contextlib.suppress(docker.errors.APIError):  # gone, or not connected
            self.api.disconnect_container_from_network(self.name, network, force=True)

    def stop(self) -> None:
        with contextlib.suppress(docker.errors.NotFound):
            self.api.remove_container(self.name, force=True)

    def _inspect(self) -> dict[str, Any] | None:
        try:
            return self.api.inspect_container(self.name)
        except docker.errors.NotFound:
            return None


def _tar_of(name: str, data: bytes) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        entry = tarfile.TarInfo(name)
        entry.size, entry.mode = len(data), 0o644
        tar.addfile(entry, io.BytesIO(data))
    return buf.getvalue()
