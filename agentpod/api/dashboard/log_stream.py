"""A pod's log for its detail page, followed across containers: while the pod has none (being
created, recreated, stopped) the stream waits; when a new one comes, a ``reset`` event tells
the page to start its list again. The page's EventSource thus never meets an error."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from agentpod.api import sse
from agentpod.api.dashboard import web
from agentpod.api.routes_pod_access import sse_lines
from agentpod.control import pods
from agentpod.core.authz import Principal
from agentpod.services.store import Conflict, NotFound

router = APIRouter()
WAIT_S = 1.0
TAIL = 200


@router.get("/pods/{tenant}/{pod}/log")
def pod_log(request: Request, tenant: str, pod: str) -> StreamingResponse:
    caller = web.caller_of(request)
    pods.get(web.ctx_of(request), caller, f"{tenant}/{pod}")  # seen, or a 404 now
    follow = _follow(request, caller, f"{tenant}/{pod}")
    return StreamingResponse(follow, media_type=sse.MEDIA_TYPE, headers=sse.HEADERS)


async def _follow(request: Request, caller: Principal, ref: str) -> AsyncIterator[str]:
    ctx = web.ctx_of(request)
    while not await request.is_disconnected():
        try:
            stream = await run_in_threadpool(pods.logs, ctx, caller, ref, TAIL, True)
        except Conflict:  # no container now
            yield sse.KEEPALIVE
            await asyncio.sleep(WAIT_S)
            continue
        except NotFound:
            yield sse.event("the pod is gone", "gone")
            return
        yield sse.event("", "reset")
        async for line in sse_lines(stream):
            yield line
        await asyncio.sleep(WAIT_S)  # that container is gone: wait for the next one
