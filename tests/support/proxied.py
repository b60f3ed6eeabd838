"""An AgentPod instance with its own ``serve --with-proxy``: Traefik on a free loopback port.

Used by the data-plane tests and ``benchmarks/dataplane.py``. Several of these run side by side
on one Docker engine (one per xdist worker); each Traefik only routes its own instance's pods.
"""

from __future__ import annotations

import http.client
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import docker

from agentpod.services.traefik import free_port
from tests.conftest import Env, _remove_instance, _stop_embedded, run_dir

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Proxied:
    env: Env
    port: int
    instance: str
    log: Path

    @property
    def domain(self) -> str:
        return self.env.env["AGENTPOD_DOMAIN"]

    def host(self, subdomain: str) -> str:
        return f"{subdomain}.{self.domain}"

    def get(
        self, subdomain: str, path: str = "/", timeout: float = 5.0
    ) -> tuple[int, str, dict[str, str]]:
        """One request through Traefik with the pod's Host header: (status, body, headers)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request("GET", path, headers={"Host": self.host(subdomain)})
            resp = conn.getresponse()
            return resp.status, resp.read().decode(errors="replace"), dict(resp.getheaders())
        finally:
            conn.close()

    def wait_status(self, subdomain: str, status: int, timeout: float = 15.0) -> str:
        """Poll through Traefik until the pod's route answers ``status``; returns the body."""
        deadline = time.monotonic() + timeout
        last: object = None
        while time.monotonic() < deadline:
            try:
                code, body, _ = self.get(subdomain, timeout=2.0)
            except OSError as exc:
                last = exc
            else:
                if code == status:
                    return body
                last = code
            time.sleep(0.05)
        raise AssertionError(f"{self.host(subdomain)} did not answer {status} via Traefik: {last}")


def _wait_started(proc: subprocess.Popen, log: Path, timeout: float = 90.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = log.read_text()
        found = re.search(r'"serve.started", "instance": "([a-z0-9]+)"', text)
        if found:
            return found.group(1)
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    proc.kill()
    raise AssertionError(f"agentpod serve --with-proxy did not start:\n{log.read_text()}")


@contextmanager
def proxied_instance(
    client: docker.DockerClient, bind: str = "127.0.0.1", **extra_env: str
) -> Iterator[Proxied]:
    """``bind``: Traefik's listen address (``0.0.0.0`` to reach it from a network namespace);
    ``extra_env`` may set ``AGENTPOD_DOMAIN`` (default ``localhost``)."""
    base = run_dir("apx")
    home = base / "home"
    port = free_port()
    env = {
        **os.environ,
        "AGENTPOD_HOME": str(home),
        "AGENTPOD_CONFIG": str(base / "none.toml"),
        "AGENTPOD_PROXY_HTTP_PORT": str(port),
        "AGENTPOD_HEALTH_INTERVAL": "1",
        "AGENTPOD_DOMAIN": "localhost",
        "PYTHONPATH": str(ROOT),
        **extra_env,
    }
    env.pop("AGENTPOD_DATABASE_URL", None)
    log = base / "serve.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "agentpod",
                "serve",
                "--with-proxy",
                "--proxy-bind",
                bind,
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    instance, failed = None, False
    try:
        instance = _wait_started(proc, log)
        yield Proxied(Env(home, env), port, instance, log)
    except BaseException:
        failed = True
        raise
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=60)
        text = log.read_text()
        if instance:
            _remove_instance(client, instance)
        _stop_embedded(home)
        shutil.rmtree(base, ignore_errors=True)
        if not failed and (code != 0 or "proxy.stopped" not in text):
            raise AssertionError(f"serve --with-proxy did not stop cleanly ({code}):\n{text}")
