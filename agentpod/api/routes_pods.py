"""Pods of a tenant: list, create, read, change, delete, and stop/start/restart.

A pod's JSON is the CLI's (``pod status --format json``); write responses add ``warnings``
(what applying the change here ran into: retried by the reconciler).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Query, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from agentpod.api.auth import Caller, Creds
from agentpod.api.deps import Ctx
from agentpod.api.hops import json_in_one_hop
from agentpod.control import pods
from agentpod.control.context import Context
from agentpod.core.authz import Principal

router = APIRouter(tags=["pods"])
POD = "/tenants/{tenant}/pods/{pod}"


class NewPod(BaseModel):
    """As ``agentpod pod create``'s options."""

    name: str = Field(min_length=1, max_length=63)
    type: str = Field(default="openclaw", description="agent type: see GET /adapters")
    image: str | None = None
    memory: str | int | None = Field(default=None, description="a size (512m, 1g) or MiB")
    cpus: float | None = Field(default=None, gt=0, le=64)
    pids: int | None = Field(default=None, ge=16)
    subdomain: str | None = None
    domains: list[str] = []
    config: dict[str, Any] = {}
    set: list[str] = Field(default=[], description="KEY=VALUE assignments on top of config")
    pool: str | None = Field(default=None, description="swarm node labels: zone=eu,ssd")


class PodChange(BaseModel):
    """Each field given is one change, applied in this order: image, limits, domains."""

    image: str | None = Field(default=None, description="upgrade to this image")
    snapshot: bool = Field(default=True, description="snapshot before an upgrade")
    memory: str | int | None = None
    cpus: float | None = Field(default=None, gt=0, le=64)
    pids: int | None = Field(default=None, ge=16)
    add_domains: list[str] = []
    remove_domains: list[str] = []


def _ref(tenant: str, pod: str) -> str:
    return f"{tenant}/{pod}"


def _written(ctx: Context, caller: Principal, ref: str, warnings: list[str]) -> dict[str, Any]:
    return {**pods.status(ctx, caller, ref), "warnings": warnings}


@router.get(
    "/tenants/{tenant}/pods", summary="The tenant's pods", response_model=list[dict[str, Any]]
)
async def list_pods(
    tenant: str,
    credentials: Creds,
    ctx: Ctx,
    limit: int = Query(default=500, ge=1, le=5000),
    offset: int = Query(default=0, ge=0),
) -> Response:
    """In name order; ``limit`` and ``offset`` page through a long list."""

    def listed() -> str:
        return pods.list_json(ctx, credentials.principal(ctx), tenant, limit, offset)

    return await json_in_one_hop(listed)


@router.post("/tenants/{tenant}/pods", status_code=201, summary="Create a pod (pods:write)")
def create_pod(tenant: str, body: NewPod, caller: Caller, ctx: Ctx) -> dict[str, Any]:
    """Returns at once: the pod starts in the background (``actual_status`` pending; poll
    the pod until ``ready``)."""
    request = pods.PodRequest(
        adapter=body.type,
        image=body.image,
        memory=body.memory,
        cpus=body.cpus,
        pids=body.pids,
        subdomain=body.subdomain,
        domains=tuple(body.domains),
        config=body.config,
        sets=tuple(body.set),
        pool=body.pool,
    )
    ref = _ref(tenant, body.name)
    done = pods.create(ctx, caller, ref, request)
    return _written(ctx, caller, ref, done.warnings)


@router.get(
    POD, summary="A pod: every field of `pod status --format json`", response_model=dict[str, Any]
)
async def get_pod(tenant: str, pod: str, credentials: Creds, ctx: Ctx) -> Response:
    return await json_in_one_hop(
        lambda: pods.status(ctx, credentials.principal(ctx), _ref(tenant, pod))
    )


@router.patch(POD, summary="Upgrade, change limits or custom domains")
def change_pod(tenant: str, pod: str, body: PodChange, caller: Caller, ctx: Ctx) -> dict[str, Any]:
    ref, warnings = _ref(tenant, pod), []
    if body.image is not None:
        warnings += pods.upgrade(ctx, caller, ref, body.image, body.snapshot).warnings
    if {body.memory, body.cpus, body.pids} != {None}:
        warnings += pods.set_limits(ctx, caller, ref, body.memory, body.cpus, body.pids).warnings
    if body.add_domains or body.remove_domains:
        done = pods.set_domains(ctx, caller, ref, body.add_domains, body.remove_domains)
        warnings += done.warnings
    return _written(ctx, caller, ref, warnings)


@router.delete(POD, status_code=202, summary="Delete a pod (its data too, unless keep_data)")
def delete_pod(
    tenant: str, pod: str, caller: Caller, ctx: Ctx, keep_data: bool = False
) -> JSONResponse:
    """Accepted: the container (and volume) go in the background; the pod's GET answers 404
    once they are gone."""
    ref = _ref(tenant, pod)
    done = pods.delete(ctx, caller, ref, keep_data=keep_data, wait=False)
    body = {"ref": ref, "desired_status": "deleted", "warnings": done.warnings}
    return JSONResponse(body, status_code=202)


@router.post(POD + "/stop", summary="Stop a pod (its data is kept)")
def stop_pod(tenant: str, pod: str, caller: Caller, ctx: Ctx) -> dict[str, Any]:
    return _act(pods.stop, ctx, caller, _ref(tenant, pod))


@router.post(POD + "/start", summary="Start a stopped pod (within the tenant's quota)")
def start_pod(tenant: str, pod: str, caller: Caller, ctx: Ctx) -> dict[str, Any]:
    return _act(pods.start, ctx, caller, _ref(tenant, pod))


@router.post(POD + "/restart", summary="Restart a running pod's container")
def restart_pod(tenant: str, pod: str, caller: Caller, ctx: Ctx) -> dict[str, Any]:
    return _act(pods.restart, ctx, caller, _ref(tenant, pod))


def _act(
    action: Callable[[Context, Principal, str], pods.Changed],
    ctx: Context,
    caller: Principal,
    ref: str,
) -> dict[str, Any]:
    return _written(ctx, caller, ref, action(ctx, caller, ref).warnings)
