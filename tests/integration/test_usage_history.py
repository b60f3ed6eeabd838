"""A pod's usage history: serve's health rounds keep one sample a minute in the real database;
`pod usage`, the API and the dashboard read the same use case, limited to the caller's tenants."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from agentpod.control import observe
from agentpod.control.context import Context
from agentpod.control.errors import BadInput
from agentpod.control.health import HealthChecker
from agentpod.core.authz import Principal, Role
from agentpod.core.models import DesiredStatus, Limits
from agentpod.core.names import PodRef
from agentpod.services import prober
from agentpod.services.errors import NotFound
from tests.conftest import Env
from tests.support.fakedocker import FakeApi

MIB = 1 << 20
ROOT = Principal.root("tester")


def _rounds(
    ctx: Context,
    api: FakeApi,
    refs: list[PodRef],
    rounds: list[tuple[float, int]],
    checker: HealthChecker | None = None,
) -> HealthChecker:
    """Health rounds of these pods at these times (epoch s), each container using this much
    memory in each."""
    pods = [ctx.store.get_pod(ref) for ref in refs]
    names = {f"agentpod-{ref.tenant}-{ref.name}" for ref in refs}
    containers = [c for c in api.containers_by_id.values() if c.name in names]
    checker = checker or HealthChecker(ctx.store, ctx.runtime)
    for at, memory in rounds:
        checker.clock = lambda at=at: at
        for c in containers:
            c.memory_bytes = memory
            c.cpu_ns += 500_000_000
        checker.check(pods)
    return checker


def _add(ctx: Context, ref: PodRef) -> None:
    limits = Limits(memory_mb=128, cpus=0.5, pids=64)
    ctx.store.create_pod(ref, "generic", f"{ref.tenant}-{ref.name}", "img:1", limits, {})
    assert all(o.ok for o in ctx.reconciler.run_once(force=True))


def _count(ctx: Context, ref: PodRef) -> int:
    with ctx.store.connection() as conn:
        row = conn.execute(
            "SELECT count(*) AS n FROM pod_usage u JOIN pods p ON p.id = u.pod_id"
            " JOIN tenants t ON t.id = p.tenant_id WHERE t.name = %s AND p.name = %s",
            (ref.tenant, ref.name),
        ).fetchone()
    assert row is not None
    return row["n"]


def test_one_sample_a_minute_read_by_cli_and_use_case_and_gone_with_the_pod(
    fake_ctx: tuple[Context, FakeApi],
    agentpod_env: Env,
    tenant: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ctx, api = fake_ctx
    monkeypatch.setattr(prober, "probe", lambda ip, check: (True, "probed"))
    ref, late = PodRef(tenant, "agent"), PodRef(tenant, "late")
    ctx.store.create_tenant(tenant)
    _add(ctx, ref)

    now = time.time()
    start = now - now % 60 - 30 * 60  # on a minute, half an hour ago
    # minutes 0, 0, 1, 2, 2: the first round of each minute is kept, the others are not
    checker = _rounds(ctx, api, [ref], [(start, 10 * MIB), (start + 20, 99 * MIB),
                      (start + 61, 30 * MIB), (start + 125, 20 * MIB)])  # fmt: skip
    _add(ctx, late)  # a pod that comes in the middle of a minute has its sample of it too
    _rounds(ctx, api, [ref, late], [(start + 130, 99 * MIB)], checker)
    assert [s["memory_bytes"] for s in observe.usage(ctx, ROOT, late)["samples"]] == [99 * MIB]

    seen = observe.usage(ctx, ROOT, ref, 60)
    minutes = [datetime.fromtimestamp(start + 60 * i, UTC) for i in range(3)]
    assert [s["at"] for s in seen["samples"]] == minutes
    assert [s["memory_bytes"] for s in seen["samples"]] == [10 * MIB, 30 * MIB, 20 * MIB]
    assert seen["memory_bytes"] == {"latest": 20 * MIB, "average": 20 * MIB, "peak": 30 * MIB}
    assert all(s["cpu_percent"] is not None for s in seen["samples"][1:])  # a rate: from the 2nd
    assert seen["pod"] == str(ref) and seen["minutes"] == 60
    assert observe.usage(ctx, ROOT, ref, 20)["samples"] == []  # older than the window

    cli = agentpod_env.json("pod", "usage", str(ref), "--minutes", "45")
    assert [s["memory_bytes"] for s in cli["samples"]] == [10 * MIB, 30 * MIB, 20 * MIB]
    shown = agentpod_env.run("pod", "usage", str(ref)).stdout
    assert "MEMORY" in shown and "30 MiB" in shown, shown

    # the retention: a new minute's samples drop those older than it
    figures = [(ctx.store.get_pod(ref).id, MIB, 1.0)]
    ctx.store.record_usage(datetime.now(UTC), figures, minutes[0] + timedelta(hours=3), figures)
    assert _count(ctx, ref) == 1

    for gone in (ref, late):
        ctx.store.set_desired(ctx.store.get_pod(gone), DesiredStatus.DELETED)
    ctx.reconciler.run_once(force=True)
    assert _count(ctx, ref) == 0
    ctx.store.delete_tenant(tenant)


def test_only_the_callers_tenants_and_a_bounded_window(
    fake_ctx: tuple[Context, FakeApi], agentpod_env: Env, tenant: str
) -> None:
    ctx, _ = fake_ctx
    ref = PodRef(tenant, "agent")
    ctx.store.create_tenant(tenant)
    limits = Limits(memory_mb=64, cpus=0.5, pids=64)
    ctx.store.create_pod(ref, "generic", f"{tenant}-agent", "img:1", limits, {})
    member = Principal.user("m", Role.MEMBER, frozenset({f"{tenant}x"}))
    with pytest.raises(NotFound):
        observe.usage(ctx, member, ref)
    with pytest.raises(NotFound):
        observe.usage(ctx, ROOT, PodRef(tenant, "nope"))
    with pytest.raises(BadInput, match=r"minutes must be 1\.\.120"):
        observe.usage(ctx, ROOT, ref, 121)
    assert observe.usage(ctx, ROOT, ref)["samples"] == []
    done = agentpod_env.run("pod", "usage", str(ref), check=False)
    assert done.returncode == 0 and "no samples of" in done.stdout, done
    bad = agentpod_env.run("pod", "usage", str(ref), "--minutes", "0", check=False)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr, bad
    ctx.store.forget_pod(ctx.store.get_pod(ref), "test over")
    ctx.store.delete_tenant(tenant)
