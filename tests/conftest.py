"""Shared fixtures: a real Docker engine, a real embedded PostgreSQL per test session (per
xdist worker), unique tenant names, and cleanup of everything a session created."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import docker
import pytest

from tests.support.images import web_image

ROOT = Path(__file__).resolve().parent.parent
# One id per test run, shared by its xdist workers (they inherit the environment): every AgentPod
# home the run makes is named after it, so the run can tell its own leftovers from another's.
RUN = os.environ.setdefault("AGENTPOD_TEST_RUN", uuid.uuid4().hex[:6])


def run_dir(prefix: str) -> Path:
    """A new short directory of this run (short: the PG socket lives under it)."""
    base = Path(tempfile.mkdtemp(prefix=f"{prefix}-{RUN}-", dir="/tmp"))
    os.chmod(base, 0o755)
    return base


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Fail the run if it left an embedded PostgreSQL running (and stop it)."""
    if hasattr(session.config, "workerinput"):
        return  # a worker: the controller checks once every worker is done
    left = _leftover_servers()
    if left:
        for pid, cmdline in left:
            print(f"\nleft behind by this run: pid {pid}: {cmdline}")
            os.kill(pid, signal.SIGINT)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def _leftover_servers() -> list[tuple[int, str]]:
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if "postgres" in cmdline and f"-{RUN}-" in cmdline and " -D " in cmdline:
            found.append((int(proc.name), cmdline.strip()))
    return found


@pytest.fixture(scope="session")
def docker_client() -> docker.DockerClient:
    """The real engine; its absence is a failure, never a skip."""
    try:
        client = docker.from_env(timeout=120)
        client.ping()
    except Exception as exc:  # pragma: no cover - the point is to fail loudly
        pytest.fail(f"the Docker engine is not reachable ({exc}); start dockerd", pytrace=False)
    return client


@pytest.fixture(scope="session")
def test_image(docker_client: docker.DockerClient) -> str:
    return web_image()


@dataclass
class Env:
    """One AgentPod installation for tests: its home (embedded PostgreSQL) and environment."""

    home: Path
    env: dict[str, str]

    def run(
        self,
        *args: str,
        check: bool = True,
        timeout: float = 300,
        env: dict[str, str] | None = None,
        input: str | None = None,
    ) -> subprocess.CompletedProcess:
        proc = subprocess.run(
            [sys.executable, "-m", "agentpod", *args],
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
            input=input,
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"agentpod {' '.join(args)} -> {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
            )
        return proc

    def json(self, *args: str):
        import json

        return json.loads(self.run(*args, "--format", "json").stdout)


def _stop_embedded(home: Path) -> None:
    from agentpod.services.database import stop_embedded

    stop_embedded(home)


def _remove_instance(client: docker.DockerClient, instance: str) -> None:
    label = f"agentpod.instance={instance}"
    for c in client.containers.list(all=True, filters={"label": label}):
        c.remove(force=True)
    for v in client.volumes.list(filters={"label": label}):
        v.remove(force=True)
    for n in client.networks.list(filters={"label": label}):
        n.remove()


@contextmanager
def fresh_env(docker_client: docker.DockerClient, **extra: str) -> Iterator[Env]:
    """A fresh AgentPod home with its own embedded PostgreSQL and instance id; everything it
    made (containers, volumes, networks, the server) is removed afterwards."""
    base = run_dir("ap")
    home = base / "home"
    env = {
        **os.environ,
        "AGENTPOD_HOME": str(home),
        "AGENTPOD_CONFIG": str(base / "none.toml"),
        "AGENTPOD_PROXY_HTTP_PORT": "8080",
        "PYTHONPATH": str(ROOT),
        **extra,
    }
    env.pop("AGENTPOD_DATABASE_URL", None)
    e = Env(home, env)
    try:
        yield e
    finally:
        instance = _instance_of(e)
        if instance:
            _remove_instance(docker_client, instance)
        _stop_embedded(home)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def agentpod_env(docker_client: docker.DockerClient) -> Iterator[Env]:
    with fresh_env(docker_client) as e:
        yield e


def _instance_of(e: Env) -> str | None:
    from agentpod.services.database import embedded_url
    from agentpod.services.store import Store

    if not (e.home / "pgdata" / "PG_VERSION").exists():
        return None
    store = Store(embedded_url(e.home)).open()
    try:
        return store.instance_id()
    finally:
        store.close()


@pytest.fixture
def tenant() -> str:
    """A tenant name no other test (or crashed run) uses."""
    return f"t{uuid.uuid4().hex[:8]}"
