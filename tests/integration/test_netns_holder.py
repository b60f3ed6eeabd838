"""Each pod's container joins a network holder's namespace: a restart skips dockerd's network
setup and keeps the pod's address; a holder that dies takes its pod's network along, and the
reconciler brings both back; a deleted pod's holder goes with it."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator

import docker
import pytest

from agentpod.control.context import Context
from agentpod.core.models import DesiredStatus, Limits
from agentpod.core.names import PodRef
from agentpod.settings import Settings
from tests.conftest import Env
from tests.support.proc import wait_until

LIMITS = Limits(memory_mb=64, cpus=0.5, pids=64)


@pytest.fixture
def ctx(agentpod_env: Env) -> Iterator[Context]:
    c = Context(Settings(home=agentpod_env.home))
    yield c
    c.close()


def _body(ip: str) -> str:
    with urllib.request.urlopen(f"http://{ip}:8080/", timeout=3) as answer:
        return answer.read().decode()


def _kinds(outcomes: list) -> list[tuple[str, str]]:
    return [(o.action.kind.value, o.action.reason) for o in outcomes]


def test_a_pod_keeps_its_holder_and_address_across_restarts_and_recreates(
    ctx: Context, tenant: str, test_image: str, docker_client: docker.DockerClient
) -> None:
    ctx.store.create_tenant(tenant)
    pod = ctx.store.create_pod(
        PodRef(tenant, "held"), "generic", f"{tenant}-held", test_image, LIMITS, {}
    )
    assert all(o.ok for o in ctx.reconciler.run_once(only={pod.id}))
    name = pod.ref.container
    holder = docker_client.containers.get(f"{name}.net")
    first = docker_client.containers.get(name)
    assert first.attrs["HostConfig"]["NetworkMode"] == f"container:{holder.id}"
    assert list(holder.attrs["NetworkSettings"]["Networks"]) == [f"agentpod-net-{tenant}"]
    assert holder.labels["agentpod.netns-of"] == str(pod.id)
    assert "traefik.enable" not in holder.labels  # never routed: the pod's labels are
    host = holder.attrs["HostConfig"]
    assert host["ReadonlyRootfs"] and host["CapDrop"] == ["ALL"]
    assert host["RestartPolicy"]["Name"] in ("", "no")  # the reconciler restarts it, with its pod
    ip = holder.attrs["NetworkSettings"]["Networks"][f"agentpod-net-{tenant}"]["IPAddress"]
    assert first.exec_run(["cat", "/proc/sys/kernel/hostname"]).output.decode().strip() == name
    (seen,) = [a for a in ctx.runtime.list_pods(names=[name]) if a.pod_id == pod.id]
    assert seen.ip == ip and seen.net_holder == holder.id
    wait_until(lambda: _body(ip) == f"{tenant}/held\n", timeout=10)

    docker_client.api.kill(name)  # started again into the same namespace: same address
    assert _kinds(ctx.reconciler.run_once(only={pod.id})) == [("start", "container exited")]
    wait_until(lambda: _body(ip) == f"{tenant}/held\n", timeout=10)

    ctx.store.set_config(pod, {"env": {"X": "1"}})  # a recreate keeps the holder too
    assert _kinds(ctx.reconciler.run_once(only={pod.id})) == [("recreate", "spec changed")]
    second = docker_client.containers.get(name)
    assert second.id != first.id
    assert docker_client.containers.get(f"{name}.net").id == holder.id
    wait_until(lambda: _body(ip) == f"{tenant}/held\n", timeout=10)

    ctx.store.set_desired(ctx.store.get_pod(pod.ref), DesiredStatus.DELETED)
    ctx.reconciler.run_once(only={pod.id})
    for gone in (name, f"{name}.net"):
        with pytest.raises(docker.errors.NotFound):
            docker_client.containers.get(gone)


def test_a_dead_holder_brings_its_pod_back_with_it(
    ctx: Context, tenant: str, test_image: str, docker_client: docker.DockerClient
) -> None:
    ctx.store.create_tenant(tenant)
    pods = [
        ctx.store.create_pod(PodRef(tenant, n), "generic", f"{tenant}-{n}", test_image, LIMITS, {})
        for n in ("lost", "down")
    ]
    assert all(o.ok for o in ctx.reconciler.run_once())
    lost, down = (p.ref.container for p in pods)
    docker_client.api.kill(f"{lost}.net")  # the pod runs on, in a namespace with no network
    docker_client.api.stop(down, timeout=1)  # as after a dockerd restart: both stopped
    docker_client.api.kill(f"{down}.net")
    outcomes = sorted(_kinds(ctx.reconciler.run_once()))
    assert outcomes == [("recreate", "network holder not running"), ("start", "container exited")]
    for name, pod in zip((lost, down), pods, strict=True):
        holder = docker_client.containers.get(f"{name}.net")
        assert holder.status == "running"
        ip = holder.attrs["NetworkSettings"]["Networks"][f"agentpod-net-{tenant}"]["IPAddress"]
        wait_until(lambda ip=ip, pod=pod: _body(ip) == f"{pod.ref}\n", timeout=10)

    docker_client.containers.get(f"{down}.net").remove(force=True)  # gone: the pod cannot start
    assert _kinds(ctx.reconciler.run_once()) == [("recreate", "network holder gone")]
    assert docker_client.containers.get(down).status == "running"


def test_an_orphan_holder_is_removed(
    ctx: Context, tenant: str, test_image: str, docker_client: docker.DockerClient
) -> None:
    labels = {
        "agentpod.managed": "true",
        "agentpod.instance": ctx.runtime.instance,
        "agentpod.netns-of": "999999",
    }
    orphan = docker_client.containers.create(
        test_image, name=f"agentpod-{tenant}-x.net", labels=labels
    )
    outcomes = ctx.reconciler.run_once()
    assert ("remove", "orphan network holder") in _kinds(outcomes)
    with pytest.raises(docker.errors.NotFound):
        docker_client.containers.get(orphan.id)
