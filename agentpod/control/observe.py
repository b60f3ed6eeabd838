"""What happened and how pods are: events and health probes, limited to the caller's tenants.

observe.events(ctx: Context, caller: Principal, tail: int = 20, ref: str | PodRef | None = None,
               tenant: str | None = None, after: int | None = None) -> list[dict]
observe.health(ctx: Context, caller: Principal, tenant: str | None = None) -> list[dict]
observe.event_view(e: Event) -> dict   (the stable JSON of an event)
observe.usage(ctx: Context, caller: Principal, ref: str | PodRef, minutes: int = 60) -> dict
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from agentpod.control import guard
from agentpod.control.context import Context
from agentpod.control.errors import BadInput
from agentpod.core.authz import Principal, Scope
from agentpod.core.models import Event
from agentpod.core.names import PodRef
from agentpod.core.usage import RETENTION_MINUTES, figures


def event_view(e: Event) -> dict[str, Any]:
    pod = f"{e.tenant}/{e.pod}" if e.pod else e.tenant
    return {"id": e.id, "at": e.at, "pod": pod, "type": e.type, "message": e.message}


def events(
    ctx: Context,
    caller: Principal,
    tail: int = 20,
    ref: str | PodRef | None = None,
    tenant: str | None = None,
    after: int | None = None,
) -> list[dict[str, Any]]:
    """The latest events the caller may see (a caller of some tenants: not system-wide ones);
    ``after``: only those newer than this event id (to follow them)."""
    pod_ref = guard.seen_pod(caller, ref) if ref else None
    guard.visible(caller, tenant)
    guard.require(caller, Scope.PODS_READ, tenant)
    with guard.in_scope(ctx, caller):
        found = ctx.store.list_events(tail, pod_ref, tenant, tenants=caller.tenants, after=after)
    return [event_view(e) for e in found]


def health(ctx: Context, caller: Principal, tenant: str | None = None) -> list[dict[str, Any]]:
    """Probe the running pods the caller sees now, and their routes through the proxy."""
    from agentpod.control.proxy import check_routes, proxy_address

    guard.visible(caller, tenant)
    guard.require(caller, Scope.PODS_READ, tenant)
    with guard.in_scope(ctx, caller):
        pods = [p for p in ctx.store.list_pods(tenant) if caller.sees(p.tenant)]
    results = ctx.check_health(pods)
    address = proxy_address(ctx.settings, ctx.proxy)
    routes = check_routes(pods, ctx.edge, address, expected=ctx.proxy is not None)
    return [
        {**r.as_dict(), "route_ok": routes[r.pod].ok, "route": routes[r.pod].message}
        for r in results
    ]


def usage(ctx: Context, caller: Principal, ref: str | PodRef, minutes: int = 60) -> dict[str, Any]:
    """The pod's memory and CPU over the last ``minutes``: one sample a minute while it ran
    (kept by serve's health rounds), with the window's latest, average and peak."""
    if not 1 <= minutes <= RETENTION_MINUTES:
        raise BadInput(f"minutes must be 1..{RETENTION_MINUTES} (samples are kept that long)")
    pod = guard.pod_of(ctx, caller, ref, Scope.PODS_READ)
    start = datetime.now(UTC) - timedelta(minutes=minutes)
    with guard.in_scope(ctx, caller):
        rows = ctx.store.usage_history(pod.id, start)
    stats = {
        key: (found.as_dict() if (found := figures([r[key] for r in rows])) else None)
        for key in ("memory_bytes", "cpu_percent")
    }
    samples = [
        {"at": r["minute"], "memory_bytes": r["memory_bytes"], "cpu_percent": r["cpu_percent"]}
        for r in rows
    ]
    return {"pod": str(pod.ref), "minutes": minutes, "since": start, **stats, "samples": samples}
