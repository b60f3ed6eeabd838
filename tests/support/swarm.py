"""A Docker Swarm made of fresh-VPS containers (tests/support/vps.py), each with its own engine:
``swarm init`` on the first, ``swarm join`` from the others, the test images loaded into each
(no registry), and the manager's engine reachable from this host over TCP (a small forwarder
inside the VPS, on its bridge address only) for the runtime under test."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass

import docker

from tests.support.vps import Vps, VpsError, vps_image

ENGINE_PORT = 2375
FORWARDER = r"""
import socket, threading
def pipe(a, b):
    try:
        while True:
            data = a.recv(65536)
            if not data:
                break
            b.sendall(data)
    except OSError:
        pass
    finally:
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("0.0.0.0", PORT))
server.listen(128)
while True:
    client, _ = server.accept()
    engine = socket.socket(socket.AF_UNIX)
    engine.connect("/var/run/docker.sock")
    threading.Thread(target=pipe, args=(client, engine), daemon=True).start()
    threading.Thread(target=pipe, args=(engine, client), daemon=True).start()
"""


@dataclass
class Swarm:
    nodes: list[Vps]

    @property
    def manager(self) -> Vps:
        return self.nodes[0]

    def client(self) -> docker.DockerClient:
        """A client of the manager's engine (from this host, over TCP)."""
        url = f"tcp://{self.manager.address()}:{ENGINE_PORT}"
        return docker.DockerClient(base_url=url, timeout=60)

    def node_id(self, vps: Vps) -> str:
        return vps.exec("docker info -f '{{.Swarm.NodeID}}'").stdout.strip()

    def vps_of(self, node_id: str) -> Vps:
        return next(v for v in self.nodes if self.node_id(v) == node_id)

    def worker_availability(self, node_id: str) -> str:
        return self.manager.exec(
            f"docker node inspect -f '{{{{.Spec.Availability}}}}' {node_id}"
        ).stdout.strip()

    def join(self, vps: Vps, token: str) -> None:
        address = self.manager.address()
        vps.exec(f"docker swarm join --token {token} {address}:2377", timeout=120)


def _expose_engine(vps: Vps) -> None:
    script = FORWARDER.replace("PORT", str(ENGINE_PORT))
    vps.exec(f"nohup python3 -c '{script}' >/var/log/engine-forward.log 2>&1 &")
    vps.exec(
        f"for i in $(seq 1 50); do (exec 3<>/dev/tcp/127.0.0.1/{ENGINE_PORT}) 2>/dev/null"
        " && exit 0; sleep 0.1; done; exit 1"
    )


def _boot(prefix: str, i: int, images: list[str]) -> Vps:
    name = f"{prefix}-{i}"
    try:
        vps = Vps.boot(vps_image(), name)
        for image in images:
            vps.load_image(image)
    except Exception:
        Vps(name, f"{name}-docker").remove()  # booted but not ready: removed all the same
        raise
    return vps


@contextmanager
def swarm(size: int, images: list[str], join: bool = True) -> Iterator[Swarm]:
    """``size`` booted VPS containers, the first a swarm manager reachable over TCP and (with
    ``join``) the others joined as workers; every one removed afterwards."""
    prefix = f"agentpod-swarm-{uuid.uuid4().hex[:6]}"
    booted: list[Vps] = []
    try:
        with ThreadPoolExecutor(size) as pool:
            futures = [pool.submit(_boot, prefix, i + 1, images) for i in range(size)]
            errors = [f.exception() for f in futures]
        booted.extend(f.result() for f, e in zip(futures, errors, strict=True) if e is None)
        failed = [e for e in errors if e is not None]
        if failed:
            raise failed[0]
        group = Swarm(booted)
        manager = group.manager
        manager.exec(f"docker swarm init --advertise-addr {manager.address()}", timeout=120)
        _expose_engine(manager)
        if join:
            token = manager.exec("docker swarm join-token -q worker").stdout.strip()
            for vps in booted[1:]:
                group.join(vps, token)
            _wait_ready(group, size)
        yield group
    finally:
        with ThreadPoolExecutor(max(1, len(booted))) as pool:
            list(pool.map(Vps.remove, booted))


def _wait_ready(group: Swarm, size: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = group.manager.exec("docker node ls --format '{{.Status}}'").stdout.split()
        if out.count("Ready") == size:
            return
        time.sleep(0.5)
    raise VpsError(f"swarm nodes not ready after {timeout:.0f}s")
