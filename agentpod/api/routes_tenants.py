"""Tenants: list, create, status (usage against quota, pods), change, delete, members."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from agentpod.api.auth import Caller
from agentpod.api.deps import Ctx
from agentpod.control import members, observe, tenants

router = APIRouter(tags=["tenants"])


class NewTenant(BaseModel):
    name: str = Field(min_length=1, max_length=63)
    rate_average: int | None = Field(default=None, ge=1, description="requests/s per client")
    rate_burst: int | None = Field(default=None, ge=1)
    pool: str | None = Field(default=None, description="swarm node labels: zone=eu,ssd")


class TenantChange(BaseModel):
    """Fields left out keep their value; a quota or the pool set to null is lifted."""

    rate_average: int | None = Field(default=None, ge=1)
    rate_burst: int | None = Field(default=None, ge=1)
    max_pods: int | None = Field(default=None, ge=0)
    max_memory: str | int | None = Field(default=None, description="a size (4g) or MiB")
    max_cpus: float | None = Field(default=None, ge=0)
    pool: str | None = Field(default=None, description="for pods placed from now on")


@router.get("/tenants", summary="The tenants the caller sees")
def list_tenants(caller: Caller, ctx: Ctx) -> list[dict[str, Any]]:
    return tenants.list_(ctx, caller)


@router.post("/tenants", status_code=201, summary="Create a tenant (tenants:write)")
def create_tenant(body: NewTenant, caller: Caller, ctx: Ctx) -> dict[str, Any]:
    tenants.create(ctx, caller, body.name, body.rate_average, body.rate_burst, body.pool)
    return tenants.status(ctx, caller, body.name)


@router.get("/tenants/{tenant}", summary="A tenant: usage against quota, and its pods")
def get_tenant(tenant: str, caller: Caller, ctx: Ctx) -> dict[str, Any]:
    return tenants.status(ctx, caller, tenant)


@router.patch("/tenants/{tenant}", summary="Change rate limits (pods recreated), quotas, pool")
def set_tenant(tenant: str, body: TenantChange, caller: Caller, ctx: Ctx) -> dict[str, Any]:
    given = body.model_dump(include=body.model_fields_set)
    quota = {k: given[k] for k in tenants.QUOTA_KEYS if k in given}
    pool = (body.pool or "") if "pool" in given else None
    done = tenants.update(
        ctx, caller, tenant, body.rate_average, body.rate_burst, quota=quota or None, pool=pool
    )
    return {**tenants.status(ctx, caller, tenant), "warnings": done.warnings}


@router.delete("/tenants/{tenant}", status_code=204, summary="Delete a tenant")
def delete_tenant(tenant: str, caller: Caller, ctx: Ctx, force: bool = False) -> Response:
    """With pods only when ``force`` (they are deleted first, data too)."""
    tenants.delete(ctx, caller, tenant, force=force)
    return Response(status_code=204)


@router.get("/tenants/{tenant}/health", summary="Probe the tenant's running pods now")
def tenant_health(tenant: str, caller: Caller, ctx: Ctx) -> list[dict[str, Any]]:
    return observe.health(ctx, caller, tenant)


@router.get("/tenants/{tenant}/members", summary="Its members, and who could join (tenants:write)")
def list_members(tenant: str, caller: Caller, ctx: Ctx) -> dict[str, Any]:
    return members.list_(ctx, caller, tenant)


@router.put("/tenants/{tenant}/members/{user}", summary="Make a member or viewer a member of it")
def add_member(tenant: str, user: str, caller: Caller, ctx: Ctx) -> dict[str, Any]:
    return members.change(ctx, caller, tenant, add=[user])


@router.delete("/tenants/{tenant}/members/{user}", summary="End a user's membership of it")
def remove_member(tenant: str, user: str, caller: Caller, ctx: Ctx) -> dict[str, Any]:
    return members.change(ctx, caller, tenant, remove=[user])
