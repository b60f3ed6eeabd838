"""A second ``agentpod serve`` stands by and takes over when the leader dies, even by SIGKILL:
its first full pass within 2 s, nothing done twice. Real processes, PostgreSQL and Docker."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import docker
import pytest

from agentpod.services import traefik
from tests.conftest import Env
from tests.integration.dataplane.helpers import create_pod
from tests.support.proc import serving, start_serve, wait_until

# The goal is 2 s (measured ~1 s on an idle machine, printed below); the bound leaves room for
# a loaded CI machine and still tells a takeover by the lock from waiting for a timer.
TAKEOVER_S = 5.0


def _started_at(client: docker.DockerClient, name: str) -> float:
    raw = client.api.inspect_container(name)["State"]["StartedAt"]
    return datetime.fromisoformat(raw[:26].rstrip("Z") + "+00:00").timestamp()


def _logged_at(log: Path, text: str) -> float:
    """When the serve log first says ``text`` (its asctime: local time, milliseconds)."""
    line = next(ln for ln in log.read_text().splitlines() if text in ln)
    return datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f").timestamp()


def _action_began(log: Path, ref: str) -> float:
    """When the first action on ``ref`` began: it is logged when done, with its duration."""
    line = next(ln for ln in log.read_text().splitlines() if f'"pod": "{ref}"' in ln)
    return _logged_at(log, line) - int(re.search(r'"ms": (\d+)', line).group(1)) / 1000


def _actions(log: Path, ref: str) -> list[str]:
    return re.findall(rf'"action": "(\w+)", "pod": "{ref}"', log.read_text())


@contextmanager
def _leader(env: dict[str, str], *args: str) -> Iterator[tuple[subprocess.Popen, Path]]:
    """A serve that leads until the test kills it; its log is shown when the test fails."""
    proc, log = start_serve(env, *args)
    try:
        yield proc, log
    except BaseException:
        print("leader's log:\n" + log.read_text())
        raise
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        log.unlink()


def _doctor_serve(env: Env) -> str:
    return next(ln for ln in env.run("doctor", check=False).stdout.splitlines() if " serve:" in ln)


@pytest.mark.slow
def test_standby_takes_over_from_a_killed_leader(
    agentpod_env: Env, tenant: str, test_image: str, docker_client: docker.DockerClient
) -> None:
    run, env = agentpod_env.run, agentpod_env.env
    ref, name = f"{tenant}/hit", f"agentpod-{tenant}-hit"
    run("tenant", "create", tenant)
    create_pod(agentpod_env, ref, test_image)
    create_pod(agentpod_env, f"{tenant}/calm", test_image)
    calm_id = docker_client.containers.get(f"agentpod-{tenant}-calm").id
    hit_id = docker_client.containers.get(name).id
    # Docker drops events for slow readers (a loaded shared engine): a relist every 5 s heals
    slow = ("--interval", "5")
    with (
        _leader(env, *slow) as (leader, leader_log),
        serving(env, *slow, until="serve.standby") as (standby, standby_log),
    ):
        said = standby_log.read_text()
        assert "standing by" in said and f"pid {leader.pid} on" in said, said
        line = _doctor_serve(agentpod_env)
        assert f"leading: pid {leader.pid} on" in line, line
        assert f"standing by: pid {standby.pid} on" in line, line

        # a third serve stands by too, and SIGTERM ends a standby at once, cleanly
        with serving(env, *slow, until="serve.standby"):
            began = time.monotonic()
        assert time.monotonic() - began < TAKEOVER_S

        # the leader heals; the standby does nothing
        docker_client.api.kill(name)
        wait_until(lambda: _actions(leader_log, ref) == ["start"], 15)
        assert docker_client.containers.get(name).status == "running"
        assert '"action"' not in standby_log.read_text()

        # a pod's container dies while the leader cannot act (stopped, then SIGKILLed): the
        # standby's first pass, when it takes over, must find and start it
        leader.send_signal(signal.SIGSTOP)
        docker_client.api.kill(name)
        wait_until(lambda: docker_client.containers.get(name).status == "exited", 10)
        killed_at = time.time()
        leader.kill()
        leader.wait(5)
        wait_until(lambda: _actions(standby_log, ref) == ["start"], 10)
        leads = _logged_at(standby_log, '"serve.started"') - killed_at
        reached = _action_began(standby_log, ref) - killed_at  # by its first full pass
        healed = _started_at(docker_client, name) - killed_at
        print(f"after SIGKILL: leads {leads:.2f}s, its first pass starts the pod's container")
        print(f"at {reached:.2f}s, running again at {healed:.2f}s")
        assert reached < TAKEOVER_S, standby_log.read_text()

        time.sleep(6)  # the new leader's relists (events subscribed, then its timer): no-ops
        assert _actions(standby_log, ref) == ["start"]  # started once, never recreated
        assert docker_client.containers.get(name).id == hit_id
        assert docker_client.containers.get(f"agentpod-{tenant}-calm").id == calm_id
        ours = docker_client.containers.list(all=True, filters={"name": f"agentpod-{tenant}-"})
        assert len(ours) == 4  # the two pods and their network holders
        line = _doctor_serve(agentpod_env)
        assert f"leading: pid {standby.pid} on" in line and "standing by" not in line, line
    assert "not running" in _doctor_serve(agentpod_env)
    run("pod", "delete", ref, "--yes")
    run("pod", "delete", f"{tenant}/calm", "--yes")
    run("tenant", "delete", tenant)


@pytest.mark.slow
def test_standby_with_proxy_takes_over_the_route(
    agentpod_env: Env, tenant: str, test_image: str
) -> None:
    """Two Traefiks cannot bind one port: the standby starts its own when it takes over, after
    stopping the one its SIGKILLed leader left running."""
    port = traefik.free_port()
    env = Env(agentpod_env.home, {**agentpod_env.env, "AGENTPOD_PROXY_HTTP_PORT": str(port)})
    env.run("tenant", "create", tenant)
    create_pod(env, f"{tenant}/web", test_image)
    address, host = f"127.0.0.1:{port}", f"{tenant}-web.localhost"
    args = ("--with-proxy", "--proxy-bind", "127.0.0.1", "--interval", "600")
    orphan = 0
    try:
        with _leader(env.env, *args) as (leader, _):
            wait_until(lambda: traefik.probe_route(address, host, "/readyz")[0], 20)
            with serving(env.env, *args, until="serve.standby") as (standby, standby_log):
                assert "proxy.started" not in standby_log.read_text()
                state = traefik.read_state(env.home)
                assert state is not None and state.serve_pid == leader.pid
                orphan = state.traefik_pid
                leader.kill()
                leader.wait(5)
                assert traefik.alive(
                    orphan
                )  # its own session: it outlives its serve, still routing
                wait_until(lambda: "proxy.started" in standby_log.read_text(), 30)
                assert f'"proxy.orphan.stopped", "pid": {orphan}' in standby_log.read_text()
                assert not traefik.alive(orphan)
                wait_until(lambda: traefik.probe_route(address, host, "/readyz")[0], 20)
                state = traefik.read_state(env.home)
                assert state is not None and state.serve_pid == standby.pid
            assert not traefik.alive(state.traefik_pid) and traefik.read_state(env.home) is None
    finally:
        if orphan and traefik.alive(orphan):  # the test failed before the standby stopped it
            os.kill(orphan, signal.SIGKILL)
    env.run("pod", "delete", f"{tenant}/web", "--yes")
    env.run("tenant", "delete", tenant)
