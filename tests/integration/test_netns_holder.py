"""Pods in their network holder's namespace (core/netns.py), against the real engine: the pod
keeps its address across kills, restarts and recreates; a holder that dies or goes is healed
with its pod; a holder without a pod is removed; deleting the pod removes its holder."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from agentpod.control.context import Context
from agentpod.core import netns
from agentpod.core.adapters.base import HealthCheck
from agentpod.core.models import DesiredStatus, Limits, Pod
from agentpod.core.names import PodRef
from agentpod.core.spec import INSTANCE, MANAGED, POD_ID, SPEC_HASH
from agentpod.services import prober
from agentpod.settings import Settings
from tests.conftest import Env
from tests.support.fakedocker import FakeApi
from tests.support.pod_networks import pod_address, pod_networks

LIMITS = Limits(memory_mb=64, cpus=0.5, pids=64)
READYZ = HealthCheck(port=8080, path="/readyz")


@pytest.fixture
def ctx(agentpod_env: Env) -> Iterator[Context]:
    c = Context(Settings(home=agentpod_env.home))
    yield c
    c.close()


def add_pod(ctx: Context, ref: PodRef, image: str, body: str = "hello") -> Pod:
    if ref.tenant not in {t.name for t in ctx.store.list_tenants()}:
        ctx.store.create_tenant(ref.tenant)
    cfg = {"health_path": "/readyz", "env": {"BODY": body}}
    return ctx.store.create_pod(ref, "generic", ref.default_subdomain, image, LIMITS, cfg)


def converge(ctx: Context, *pods: Pod) -> list[tuple[str, str, str]]:
    """One pass (for these pods only: the worker's home holds other tests' pods too); (action,
    pod, reason) of what it did, every action ok."""
    outcomes = ctx.reconciler.run_once(only={p.id for p in pods} or None, force=True)
    assert all(o.ok for o in outcomes), [o.as_dict() for o in outcomes]
    return [(o.action.kind.value, o.action.ref, o.action.reason) for o in outcomes]


def wait_answering(address: str, timeout: float = 10) -> None:
    """The pod's web server answers its health check at ``address``."""
    deadline = time.monotonic() + timeout
    while not prober.probe(address, READYZ)[0]:
        assert time.monotonic() < deadline, f"{address} does not answer"
        time.sleep(0.1)


def clean_up(ctx: Context, tenant: str) -> None:
    pods = ctx.store.list_pods(tenant)
    for pod in pods:
        ctx.store.set_desired(pod, DesiredStatus.DELETED)
    converge(ctx, *pods)
    ctx.store.delete_tenant(tenant)


def test_the_holders_program_sleeps_until_killed(tmp_path: Path) -> None:
    """The 129-byte program runs here (amd64) and neither exits nor spins."""
    program = tmp_path / "pause"
    program.write_bytes(netns.program("amd64"))
    program.chmod(0o755)
    proc = subprocess.Popen([str(program)])
    try:
        time.sleep(0.5)
        assert proc.poll() is None
        fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        assert int(fields[11]) + int(fields[12]) <= 1  # CPU ticks: it sleeps
    finally:
        proc.kill()
        proc.wait()


def test_a_pod_keeps_its_address_across_kills_and_recreates(
    ctx: Context, tenant: str, test_image: str, docker_client: docker.DockerClient
) -> None:
    pod = add_pod(ctx, PodRef(tenant, "web"), test_image)
    assert converge(ctx, pod) == [("create", f"{tenant}/web", "no container")]
    name = pod.ref.container
    container = docker_client.containers.get(name)
    holder = docker_client.containers.get(netns.holder_name(name))
    assert container.attrs["HostConfig"]["NetworkMode"] == f"container:{holder.id}"
    assert list(pod_networks(docker_client, container)) == [f"agentpod-net-{tenant}"]
    address = pod_address(docker_client, container)
    wait_answering(address)

    # the holder: the pod's hostname and DNS alias, hardened, never restarted by Docker
    attrs = holder.attrs
    assert attrs["Config"]["Hostname"] == name and attrs["Config"]["User"] == "65534:65534"
    assert attrs["Config"]["Labels"][netns.ROLE] == netns.HOLDER_ROLE
    endpoint = attrs["NetworkSettings"]["Networks"][f"agentpod-net-{tenant}"]
    assert name in endpoint["Aliases"]
    host = attrs["HostConfig"]
    assert host["RestartPolicy"]["Name"] == "no" and host["ReadonlyRootfs"] is True
    assert host["CapDrop"] == ["ALL"] and host["Memory"] == 64 << 20
    assert host["LogConfig"]["Type"] == "none"

    docker_client.api.kill(name)  # a crash: started again in the same namespace
    assert converge(ctx, pod) == [("start", f"{tenant}/web", "container exited")]
    assert pod_address(docker_client, docker_client.containers.get(name)) == address
    wait_answering(address)

    ctx.store.set_config(ctx.store.get_pod_by_id(pod.id), {"health_path": "/readyz"})
    assert converge(ctx, pod) == [("recreate", f"{tenant}/web", "spec changed")]
    recreated = docker_client.containers.get(name)
    assert recreated.id != container.id
    assert docker_client.containers.get(netns.holder_name(name)).id == holder.id  # kept
    assert pod_address(docker_client, recreated) == address
    wait_answering(address)
    assert ctx.store.get_status(pod.id).container_id == recreated.id

    clean_up(ctx, tenant)
    gone = docker_client.containers.list(all=True, filters={"name": name})
    assert gone == [], [c.name for c in gone]  # the holder went with its pod


@pytest.mark.parametrize("fate", ["killed", "removed"])
def test_a_holder_that_dies_or_goes_is_healed_with_its_pod(
    fate: str, ctx: Context, tenant: str, test_image: str, docker_client: docker.DockerClient
) -> None:
    pod = add_pod(ctx, PodRef(tenant, "web"), test_image)
    converge(ctx, pod)
    holder_name = netns.holder_name(pod.ref.container)
    if fate == "killed":
        docker_client.api.kill(holder_name)
    else:
        docker_client.api.remove_container(holder_name, force=True)
    reason = "network holder not running" if fate == "killed" else "network holder missing"
    assert converge(ctx, pod) == [("recreate", f"{tenant}/web", reason)]
    holder = docker_client.containers.get(holder_name)
    container = docker_client.containers.get(pod.ref.container)
    assert holder.status == "running" and container.status == "running"
    assert container.attrs["HostConfig"]["NetworkMode"] == f"container:{holder.id}"
    wait_answering(pod_address(docker_client, container))
    assert converge(ctx, pod) == []  # and then it stays put
    clean_up(ctx, tenant)


def test_a_stopped_pod_whose_holder_stopped_starts_both(
    ctx: Context, tenant: str, test_image: str, docker_client: docker.DockerClient
) -> None:
    """As after a reboot: Docker does not restart holders; serve starts the holder first."""
    pod = add_pod(ctx, PodRef(tenant, "web"), test_image)
    converge(ctx, pod)
    holder_name = netns.holder_name(pod.ref.container)
    docker_client.api.stop(pod.ref.container, timeout=1)
    docker_client.api.kill(holder_name)
    assert converge(ctx, pod) == [("start", f"{tenant}/web", "container exited")]
    container = docker_client.containers.get(pod.ref.container)
    assert docker_client.containers.get(holder_name).status == "running"
    wait_answering(pod_address(docker_client, container))
    clean_up(ctx, tenant)


def test_a_holder_without_a_pod_is_removed(
    ctx: Context, tenant: str, test_image: str, docker_client: docker.DockerClient
) -> None:
    labels = {
        MANAGED: "true",
        INSTANCE: ctx.runtime.instance,
        POD_ID: "987654",
        SPEC_HASH: "x",
        netns.ROLE: netns.HOLDER_ROLE,
    }
    name = f"agentpod-{tenant}-ghost.net"
    docker_client.containers.create(test_image, name=name, labels=labels)
    try:
        outcomes = ctx.reconciler.run_once(force=True)  # a full pass: orphans are its work
        mine = [
            (o.action.kind.value, o.action.reason, o.ok) for o in outcomes if o.action.ref == name
        ]
        assert mine == [("remove", "orphan: no such pod", True)]
        assert docker_client.containers.list(all=True, filters={"name": name}) == []
    finally:
        for c in docker_client.containers.list(all=True, filters={"name": name}):
            c.remove(force=True)


def test_a_start_that_loses_the_engines_race_is_made_again(
    fake_ctx: tuple[Context, FakeApi], tenant: str
) -> None:
    """docker/for-linux#647: the engine fails a start now and then when many containers start
    at once, and leaves the container broken. The pod and its holder are made again."""
    ctx, api = fake_ctx
    pods = [add_pod(ctx, PodRef(tenant, name), "img:1") for name in ("a", "b")]
    api.start_races = {f"agentpod-{tenant}-a.net", f"agentpod-{tenant}-b"}  # a holder, a pod
    assert converge(ctx, *pods) == [("create", f"{tenant}/{p}", "no container") for p in "ab"]
    running = {c.name for c in api.containers_by_id.values() if c.state == "running"}
    assert running >= {f"agentpod-{tenant}-{p}{s}" for p in "ab" for s in ("", ".net")}
    assert not [c for c in api.containers_by_id.values() if c.state == "dead"]  # removed
    clean_up(ctx, tenant)
