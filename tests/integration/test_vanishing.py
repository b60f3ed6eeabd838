"""A container can vanish between the list that found it and the next call: the health checker,
the reconciler, ``wait_ready`` and the CLI take that as "gone", never as a failure."""

from __future__ import annotations

import time

import docker
import pytest

from agentpod.control.context import Context
from agentpod.control.health import HealthChecker
from agentpod.core.models import DesiredStatus, Limits, Pod
from agentpod.core.names import PodRef
from agentpod.core.spec import INSTANCE, MANAGED, POD_ID, SPEC_HASH
from agentpod.services import prober
from tests.conftest import Env
from tests.integration.dataplane.helpers import create_pod
from tests.support.fakedocker import FakeApi
from tests.support.proc import serving

LIMITS = Limits(memory_mb=128, cpus=0.5, pids=64)
EXPECTED_CALLS = {"inspect_container", "stats", "restart", "start", "stop", "remove_container"}


def _scenario(ctx: Context, api: FakeApi, tenant: str) -> dict[str, Pod]:
    """One pod for each thing the health checker and the reconciler do to a container."""
    store = ctx.store
    store.create_tenant(tenant)

    def add(name: str) -> Pod:
        cfg = {"health_path": "/readyz"}
        return store.create_pod(
            PodRef(tenant, name), "generic", f"{tenant}-{name}", "img:1", LIMITS, cfg
        )

    pods = {n: add(n) for n in ("sick", "healthy", "exited", "stopping", "changed", "deleted")}
    assert all(o.ok for o in ctx.reconciler.run_once(force=True))
    by_name = {c.name: c for c in api.containers_by_id.values()}
    api.stop(by_name[f"agentpod-{tenant}-exited"].id)  # -> start
    store.set_desired(pods["stopping"], DesiredStatus.STOPPED)  # -> stop
    store.set_image(pods["changed"], "img:2")  # -> recreate
    store.set_desired(pods["deleted"], DesiredStatus.DELETED)  # -> remove
    pods["new"] = add("new")  # -> create
    labels = {MANAGED: "true", INSTANCE: ctx.runtime.instance, POD_ID: "999999", SPEC_HASH: "x"}
    api.start(api.create_container("img:1", name=f"agentpod-{tenant}-ghost", labels=labels)["Id"])
    api.calls = 0
    return {n: ctx.store.get_pod_by_id(p.id) for n, p in pods.items() if n != "deleted"}


def _drive(ctx: Context, pods: dict[str, Pod]) -> None:
    """One health round (the sick pod at its restart threshold) then one reconcile pass."""
    checker = HealthChecker(ctx.store, ctx.runtime, restart=ctx.restart_pod)
    checker.clock = lambda: time.time() + 3600  # past every start period
    checker.failures[pods["sick"].id] = 2  # the next failure restarts it
    for pod in pods.values():  # one by one: the same call order at every try
        checker.check([ctx.store.get_pod_by_id(pod.id)])
    ctx.reconciler.run_once()


def _assert_no_lies(ctx: Context, api: FakeApi, pods: dict[str, Pod]) -> None:
    """A pod said to be running names a container that exists and runs."""
    for name, pod in pods.items():
        status = ctx.store.get_status(pod.id)
        if status.actual_status == "running":
            found = api.containers_by_id.get(status.container_id or "")
            assert found is not None and found.state == "running", (name, status)


def _assert_converged(ctx: Context, api: FakeApi, tenant: str, pods: dict[str, Pod]) -> None:
    mine = [c for c in api.containers_by_id.values() if c.name.startswith(f"agentpod-{tenant}-")]
    by_name = {c.name: c for c in mine}
    assert len(by_name) == len(mine), "a pod has two containers"
    assert f"agentpod-{tenant}-ghost" not in by_name and f"agentpod-{tenant}-deleted" not in by_name
    for name, pod in pods.items():
        status = ctx.store.get_status(pod.id)
        c = by_name.get(f"agentpod-{tenant}-{name}")
        if name == "stopping":  # stopped, or gone while it was being stopped
            assert c is None or c.state == "exited", c
            continue
        assert c is not None and c.state == "running", (name, c)
        assert status.container_id == c.id and status.last_error is None, (name, status)
        spec = ctx.reconciler.spec_for(pod, False)
        assert c.labels[SPEC_HASH] == spec.hash, name


def _clean_up(ctx: Context, tenant: str) -> None:
    for pod in ctx.store.list_pods(tenant):
        ctx.store.set_desired(pod, DesiredStatus.DELETED)
    ctx.reconciler.run_once(force=True)
    ctx.store.delete_tenant(tenant)


def test_a_container_vanishing_at_any_call_is_gone_not_a_crash(
    fake_ctx: tuple[Context, FakeApi], tenant: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx, api = fake_ctx
    sick_ip: set[str] = set()
    monkeypatch.setattr(prober, "probe", lambda ip, check: (ip not in sick_ip, "probed"))
    faulted: list[str] = []
    n = 0
    while True:
        n += 1
        scenario = f"{tenant}n{n}"
        pods = _scenario(ctx, api, scenario)
        sick = ctx.store.get_status(pods["sick"].id).container_id
        sick_ip.clear()
        sick_ip.add(api.containers_by_id[sick or ""].ip)
        api.vanish_at, api.vanished = n, []
        _drive(ctx, pods)  # raises nothing, whichever call finds its container gone
        api.vanish_at = None
        if not api.vanished:  # the n-th call never came: every call has had its turn
            _clean_up(ctx, scenario)
            break
        faulted += api.vanished
        _assert_no_lies(ctx, api, pods)
        assert all(o.ok for o in ctx.reconciler.run_once(force=True))  # the next pass heals
        _assert_converged(ctx, api, scenario, pods)
        _clean_up(ctx, scenario)
    assert {f.split()[0] for f in faulted} >= EXPECTED_CALLS, faulted
    assert n > 10, n


@pytest.mark.slow
def test_config_set_wait_in_a_row_with_serve_running(
    agentpod_env: Env, tenant: str, test_image: str, docker_client: docker.DockerClient
) -> None:
    """Each change recreates the container while ``--wait`` probes it: 30 in a row, all 0."""
    run = agentpod_env.run
    pod = f"{tenant}/churn"
    run("tenant", "create", tenant)
    create_pod(agentpod_env, pod, test_image)
    with serving(agentpod_env.env, "--interval", "5"):
        for i in range(30):
            done = run("config", "set", pod, "--key", "env.BODY", "--value", f'"v{i}"', "--wait")
            assert "Traceback" not in done.stderr
        env = docker_client.containers.get(f"agentpod-{tenant}-churn").attrs["Config"]["Env"]
        assert "BODY=v29" in env
    run("pod", "delete", pod, "--yes")
    run("tenant", "delete", tenant)
