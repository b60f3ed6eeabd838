"""What is inside a pod: its config (and schema), token, paired devices, and its log."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import PlainTextResponse, StreamingResponse
from pydantic import BaseModel

from agentpod.api import sse
from agentpod.api.auth import Caller
from agentpod.api.deps import Ctx
from agentpod.control import access, pod_config, pods
from agentpod.control.pods import Changed

router = APIRouter(tags=["pod access"])
POD = "/tenants/{tenant}/pods/{pod}"


class ConfigValue(BaseModel):
    key: str
    value: Any


@router.get(POD + "/config", summary="The pod's config (or one key of it); secrets masked")
def get_config(
    tenant: str,
    pod: str,
    caller: Caller,
    ctx: Ctx,
    key: str | None = None,
    reveal: bool = Query(default=False, description="secret fields in clear (pods:write)"),
) -> Any:
    return pod_config.get(ctx, caller, f"{tenant}/{pod}", key, reveal)


@router.get(POD + "/config/schema", summary="The JSON Schema the pod's config must match")
def config_schema(tenant: str, pod: str, caller: Caller, ctx: Ctx) -> dict[str, Any]:
    return pod_config.schema(ctx, caller, f"{tenant}/{pod}")


@router.put(POD + "/config", summary="Replace the config (validated; the pod is recreated)")
def replace_config(
    tenant: str, pod: str, config: dict[str, Any], caller: Caller, ctx: Ctx
) -> dict[str, Any]:
    return _config_written(pod_config.replace(ctx, caller, f"{tenant}/{pod}", config))


@router.patch(POD + "/config", summary="Merge-patch the config (RFC 7396: null removes)")
def patch_config(
    tenant: str, pod: str, patch: dict[str, Any], caller: Caller, ctx: Ctx
) -> dict[str, Any]:
    return _config_written(pod_config.patch(ctx, caller, f"{tenant}/{pod}", patch))


def _config_written(done: Changed) -> dict[str, Any]:
    return {
        "config": pod_config.shown(done.pod),
        "changed": done.changed,
        "warnings": done.warnings,
    }


@router.get(POD + "/token", summary="Reveal the pod's token (pods:write; audited)")
def reveal_token(tenant: str, pod: str, caller: Caller, ctx: Ctx) -> dict[str, Any]:
    return access.reveal_token(ctx, caller, f"{tenant}/{pod}").as_dict()


@router.post(POD + "/token/rotate", summary="A new token; the pod is recreated")
def rotate_token(tenant: str, pod: str, caller: Caller, ctx: Ctx) -> dict[str, Any]:
    return access.rotate_token(ctx, caller, f"{tenant}/{pod}").as_dict()


@router.get(POD + "/devices", summary="Pending pairing requests and paired devices (OpenClaw)")
def list_devices(tenant: str, pod: str, caller: Caller, ctx: Ctx) -> list[dict[str, Any]]:
    return [d.as_dict() for d in access.list_devices(ctx, caller, f"{tenant}/{pod}")]


@router.post(POD + "/devices/{request_id}/approve", summary="Approve a pairing request")
def approve_device(
    tenant: str, pod: str, request_id: str, caller: Caller, ctx: Ctx
) -> dict[str, Any]:
    return access.approve_device(ctx, caller, f"{tenant}/{pod}", request_id).as_dict()


@router.get(
    POD + "/logs",
    summary="The container's log: the last lines, or followed as Server-Sent Events",
    response_class=PlainTextResponse,
)
def logs(
    tenant: str,
    pod: str,
    caller: Caller,
    ctx: Ctx,
    tail: int = Query(default=100, ge=0, le=10000),
    follow: bool = False,
) -> Any:
    """``follow``: ``text/event-stream``, one event a line, until the client goes away."""
    stream = pods.logs(ctx, caller, f"{tenant}/{pod}", tail, follow)
    if not follow:
        return PlainTextResponse(b"".join(stream).decode(errors="replace"))
    return StreamingResponse(_lines(stream), media_type=sse.MEDIA_TYPE, headers=sse.HEADERS)


async def _lines(stream: Iterator[bytes]) -> AsyncIterator[str]:
    """One event a line; when the client goes away the stream is closed, which also frees
    the thread waiting for the container's next line."""
    pending = b""
    try:
        while (chunk := await run_in_threadpool(next, stream, None)) is not None:
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                yield sse.event(line.decode(errors="replace").rstrip("\r"))
    finally:
        close = getattr(stream, "close", None)
        if close is not None:
            close()
