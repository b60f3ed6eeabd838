"""Many pods at a size CI affords: a pass that changes nothing reads once and writes nothing,
every change is made exactly once, serve restarts many killed containers, and upgrade --all
stops at a failing image."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import docker
import psycopg
import pytest

from agentpod.control.context import Context
from agentpod.control.health import HealthChecker
from agentpod.core import spec
from agentpod.core.models import DesiredStatus, Limits
from agentpod.core.names import PodRef
from agentpod.settings import Settings
from tests.conftest import Env, fresh_env
from tests.integration.dataplane.helpers import create_pod
from tests.support.images import exiting_web_image
from tests.support.proc import serving, wait_until

LIMITS = Limits(memory_mb=32, cpus=0.1, pids=32)
PODS = 50


@pytest.fixture(scope="module")
def scale_env(docker_client: docker.DockerClient) -> Iterator[Env]:
    """A home of the fleet's own: the worker's shared one holds other tests' pods, whose
    changes (a new LLM provider, a network being made) a pass here would see."""
    with fresh_env(docker_client) as env:
        yield env


@pytest.fixture(scope="module")
def fleet(scale_env: Env, test_image: str) -> Iterator[tuple[Context, str]]:
    """PODS running pods of one tenant, created by one pass; removed afterwards. The tenant's
    name is new each time: container names are global, and each xdist worker may build a fleet."""
    ctx = Context(Settings(home=scale_env.home))
    tenant = f"scale{uuid.uuid4().hex[:6]}"
    ctx.store.create_tenant(tenant)
    for i in range(PODS):
        ref = PodRef(tenant, f"p{i}")
        cfg = {"health_path": "/readyz"}
        ctx.store.create_pod(ref, "generic", ref.default_subdomain, test_image, LIMITS, cfg)
    outcomes = ctx.reconciler.run_once()
    assert [o.action.kind.value for o in outcomes] == ["create"] * PODS
    assert all(o.ok for o in outcomes), [o.error for o in outcomes if not o.ok]
    yield ctx, tenant
    for p in ctx.store.list_pods(tenant):
        ctx.store.set_desired(p, DesiredStatus.DELETED)
    ctx.reconciler.run_once()
    ctx.store.delete_tenant(tenant)
    ctx.reconciler.run_once()
    ctx.close()


def ours(client: docker.DockerClient, ctx: Context, tenant: str) -> list:
    label = f"agentpod.tenant={tenant}"
    return client.containers.list(all=True, filters={"label": label})


def trace_statements(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every SQL statement run from now on (by any connection), in order."""
    statements: list[str] = []
    execute = psycopg.Connection.execute

    def traced(self, query, *args, **kwargs):
        statements.append(str(query).strip())
        return execute(self, query, *args, **kwargs)

    monkeypatch.setattr(psycopg.Connection, "execute", traced)
    return statements


def test_no_change_pass_reads_once_writes_nothing_renders_nothing(
    fleet: tuple[Context, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx, _ = fleet
    ctx.reconciler.run_once()  # settle: statuses observed once
    calls: list[str] = []
    ctx.runtime.client.api.hooks["response"].append(
        lambda r, *a, **k: calls.append(f"{r.request.method} {r.request.path_url}")
    )
    statements = trace_statements(monkeypatch)
    renders = []
    build = spec.build_spec
    monkeypatch.setattr(
        "agentpod.control.reconciler.build_spec",
        lambda *a, **k: renders.append(1) or build(*a, **k),
    )
    assert ctx.reconciler.run_once() == []
    assert len(calls) == 2, "\n".join(calls)  # the container list and the network list
    assert len([s for s in statements if "FROM pods" in s]) == 1  # one read of the pods
    assert not [s for s in statements if "FROM tenants" in s]  # no tenant without pods
    writes = [s for s in statements if s.split()[:1] in (["INSERT"], ["UPDATE"], ["DELETE"])]
    assert writes == []
    assert renders == []
    calls.clear()  # a pass for one pod (a Docker event's) lists that pod's container only
    assert ctx.reconciler.run_once(only={min(ctx.reconciler._hashes)}) == []
    assert len(calls) == 2 and "name" in calls[0], calls


def test_health_round_reads_once_and_writes_once_when_nothing_changed(
    fleet: tuple[Context, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx, tenant = fleet
    pods = ctx.store.list_pods(tenant)
    checker = HealthChecker(ctx.store, ctx.runtime)
    wait_until(lambda: all(r.ready for r in checker.check(pods)), 30, 0.5)  # all ready once
    checker._cpu_seconds["gone"] = (1.0, 1.0)  # a container of an earlier round
    checker._started["gone"] = 1.0
    statements = trace_statements(monkeypatch)
    results = checker.check(pods)
    assert len(results) == PODS and all(r.ready for r in results)
    sql = [s.split()[0] for s in statements if s]  # "": the pool's check of a connection
    assert sql == ["SELECT", "UPDATE"], statements  # the pods' health read, one usage write
    rows = ctx.store.pod_rows(tenant)
    assert len({r["last_health_at"] for r in rows}) == 1  # every pod's probe time, at once
    assert all(r["memory_bytes"] and r["ready"] for r in rows)
    assert "gone" not in checker._cpu_seconds and "gone" not in checker._started
    live = {c.id for c in ours(ctx.runtime.client, ctx, tenant)}
    assert set(checker._cpu_seconds) <= live


def test_every_change_is_made_once(
    fleet: tuple[Context, str], docker_client: docker.DockerClient
) -> None:
    ctx, tenant = fleet
    containers = sorted(ours(docker_client, ctx, tenant), key=lambda c: c.name)
    assert len(containers) == PODS
    killed, removed = containers[:5], containers[5]
    for c in killed:
        c.kill()
    removed.remove(force=True)
    changed = ctx.store.get_pod(PodRef(tenant, "p7"))
    ctx.store.set_config(changed, {**changed.config, "health_path": "/healthz"})
    outcomes = ctx.reconciler.run_once()
    done = sorted((o.action.kind.value, o.action.ref) for o in outcomes)
    want = [("start", f"{tenant}/{c.name.split('-')[-1]}") for c in killed]
    want += [("create", f"{tenant}/{removed.name.split('-')[-1]}"), ("recreate", f"{tenant}/p7")]
    assert done == sorted(want)
    assert all(o.ok for o in outcomes), [o.error for o in outcomes]
    assert ctx.reconciler.run_once() == []  # nothing twice
    after = ours(docker_client, ctx, tenant)
    assert len(after) == PODS and all(c.status == "running" for c in after)


@pytest.mark.slow
def test_serve_restarts_many_containers_killed_at_once(
    fleet: tuple[Context, str], scale_env: Env, docker_client: docker.DockerClient
) -> None:
    ctx, tenant = fleet
    victims = sorted(ours(docker_client, ctx, tenant), key=lambda c: c.name)[:10]
    with serving(scale_env.env, "--interval", "600"):
        with ThreadPoolExecutor(5) as pool:
            list(pool.map(lambda c: c.kill(), victims))

        def all_running() -> bool:
            return all(
                docker_client.api.inspect_container(c.id)["State"]["Running"] for c in victims
            )

        wait_until(all_running, 60, 0.1)
    assert ctx.reconciler.run_once() == []


@pytest.mark.slow
def test_upgrade_all_stops_at_a_failing_image_and_rolls_back(
    agentpod_env: Env, tenant: str, test_image: str, docker_client: docker.DockerClient
) -> None:
    run, js = agentpod_env.run, agentpod_env.json
    run("tenant", "create", tenant)
    for name in ("a", "b", "c"):
        create_pod(agentpod_env, f"{tenant}/{name}", test_image)
    before = {
        c.name: c.id
        for c in docker_client.containers.list(filters={"label": f"agentpod.tenant={tenant}"})
    }
    bad = exiting_web_image()
    out = run(
        "pod", "upgrade", "--all", "--tenant", tenant, "--image", bad, "--timeout", "8", check=False
    )
    assert out.returncode == 1, out.stderr
    assert "rollout stopped" in out.stderr and f"{tenant}/a" in out.stderr
    assert "2 not touched" in out.stderr
    assert {p["ref"]: p["image"] for p in js("pod", "list", "--tenant", tenant)} == {
        f"{tenant}/{n}": test_image for n in ("a", "b", "c")
    }
    after = {
        c.name: c.id
        for c in docker_client.containers.list(filters={"label": f"agentpod.tenant={tenant}"})
    }
    for name in ("b", "c"):  # never touched
        assert after[f"agentpod-{tenant}-{name}"] == before[f"agentpod-{tenant}-{name}"]
    events = js("events", "--pod", f"{tenant}/a", "--tail", "10")
    assert [e["message"] for e in events if e["type"] == "upgrade"] == [
        f"image {test_image} -> {bad}",
        f"image {bad} -> {test_image}",
    ]
    run("tenant", "delete", tenant, "--force", "--yes")
