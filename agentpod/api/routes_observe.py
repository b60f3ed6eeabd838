"""What happened and what can run: events (listed, or live as Server-Sent Events), a pod's
usage history, the audit log, and the agent types with their config's JSON Schema."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Header, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from agentpod.api import sse
from agentpod.api.auth import Caller
from agentpod.api.deps import Ctx
from agentpod.control import audit, catalog, observe
from agentpod.control.context import Context
from agentpod.core.adapters import UnknownAdapter
from agentpod.core.authz import Principal
from agentpod.core.usage import RETENTION_MINUTES

router = APIRouter(tags=["observe"])
POLL_S = 0.5
KEEPALIVE_S = 15.0
Tail = Query(default=20, ge=1, le=1000)


@router.get("/events", summary="The latest events the caller may see")
def list_events(
    caller: Caller,
    ctx: Ctx,
    tail: int = Tail,
    tenant: str | None = None,
    pod: str | None = Query(default=None, description="TENANT/POD"),
    after: int | None = Query(default=None, ge=0, description="only events newer than this id"),
) -> list[dict[str, Any]]:
    return observe.events(ctx, caller, tail, pod, tenant, after)


@router.get(
    "/events/stream",
    summary="Events as they happen (Server-Sent Events; resumes from Last-Event-ID)",
    response_class=StreamingResponse,
)
async def stream_events(
    request: Request,
    caller: Caller,
    ctx: Ctx,
    tenant: str | None = None,
    pod: str | None = Query(default=None, description="TENANT/POD"),
    last_event_id: int | None = Header(default=None, ge=0),
) -> StreamingResponse:
    latest = await run_in_threadpool(observe.events, ctx, caller, 1, pod, tenant)  # rights now
    start = last_event_id if last_event_id is not None else (latest[-1]["id"] if latest else 0)
    follow = _follow(request, ctx, caller, tenant, pod, start)
    return StreamingResponse(follow, media_type=sse.MEDIA_TYPE, headers=sse.HEADERS)


async def _follow(
    request: Request,
    ctx: Context,
    caller: Principal,
    tenant: str | None,
    pod: str | None,
    last: int,
) -> AsyncIterator[str]:
    quiet_since = time.monotonic()
    while not await request.is_disconnected():
        found = await run_in_threadpool(observe.events, ctx, caller, 1000, pod, tenant, last)
        for e in found:
            last = e["id"]
            yield sse.event(e, "event", last)
        if found:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since > KEEPALIVE_S:
            quiet_since = time.monotonic()
            yield sse.KEEPALIVE
        await asyncio.sleep(POLL_S)


@router.get(
    "/tenants/{tenant}/pods/{pod}/usage",
    summary="A pod's memory and CPU, one sample a minute (latest, average and peak too)",
)
def pod_usage(
    tenant: str,
    pod: str,
    caller: Caller,
    ctx: Ctx,
    minutes: int = Query(default=60, ge=1, le=RETENTION_MINUTES, description="the window"),
) -> dict[str, Any]:
    return observe.usage(ctx, caller, f"{tenant}/{pod}", minutes)


@router.get("/audit", summary="The latest audit rows (audit:read; one's tenants only)")
def audit_log(caller: Caller, ctx: Ctx, tail: int = Tail) -> list[dict[str, Any]]:
    return [e.as_dict() for e in audit.tail(ctx, caller, tail)]


@router.get("/adapters", summary="The agent types AgentPod can run")
def list_adapters(caller: Caller, with_schema: bool = False) -> list[dict[str, Any]]:
    return catalog.adapters(with_schema)


@router.get("/adapters/{adapter_id}", summary="An agent type with its config's JSON Schema")
def get_adapter(adapter_id: str, caller: Caller) -> dict[str, Any]:
    try:
        return catalog.adapter(adapter_id)
    except UnknownAdapter as exc:
        raise HTTPException(404, str(exc)) from None
