"""The overview: tenants with their use against quotas, pods by state (unhealthy first),
recent events and the control plane's health."""

from __future__ import annotations

from collections import Counter

from fastapi import APIRouter, Request
from starlette.responses import Response

from agentpod.api.dashboard import pods_view, web
from agentpod.control import observe, pods, tenants
from agentpod.control.plane import plane_health

router = APIRouter()


@router.get("/")
def overview(request: Request) -> Response:
    caller = web.caller_of(request)
    ctx = web.ctx_of(request)
    found = [pods_view.shown(p) for p in pods.list_(ctx, caller)]
    return web.page(
        request,
        "overview.html",
        caller=caller,
        title="Overview",
        tenants=[tenants.status(ctx, caller, t["name"]) for t in tenants.list_(ctx, caller)],
        by_state=sorted(Counter(p["status_word"] for p in found).items()),
        attention=pods_view.needing_attention(found)[:10],
        total=len(found),
        events=observe.events(ctx, caller, 10),
        plane=plane_health(ctx),
    )
