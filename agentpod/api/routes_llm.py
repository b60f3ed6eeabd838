"""The LLM gateway: providers (a tenant's, or the platform's shared with tenants; keys go in,
never out), usage, budgets, the pods' virtual keys (masked) and the price table."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from agentpod.api.auth import Caller
from agentpod.api.deps import Ctx
from agentpod.control import llm
from agentpod.control.context import Context
from agentpod.core.authz import Principal

router = APIRouter(tags=["llm"])
TENANT = "/tenants/{tenant}/llm"
PLATFORM = "/llm/providers"
SECRET = {"writeOnly": True}


class NewProvider(BaseModel):
    name: str = Field(min_length=1, max_length=63, description="a DNS label: the URL's segment")
    kind: Literal["openai", "anthropic"]
    base_url: str = Field(min_length=1, max_length=2000, examples=["https://api.openai.com/v1"])
    key: str = Field(min_length=1, max_length=4096, json_schema_extra=SECRET)


class NewKey(BaseModel):
    key: str = Field(min_length=1, max_length=4096, json_schema_extra=SECRET)


class BudgetChange(BaseModel):
    """Limits left out keep their value; a limit set to null is lifted."""

    requests_per_minute: int | None = Field(default=None, ge=1, le=2**31 - 1)
    tokens_per_minute: int | None = Field(default=None, ge=1, le=2**31 - 1)
    daily_usd: float | None = Field(default=None, ge=0, description="spend per UTC day")
    monthly_usd: float | None = Field(default=None, ge=0, description="spend per UTC month")


class NewPrice(BaseModel):
    input_usd_per_mt: float = Field(ge=0, description="USD per million input tokens")
    output_usd_per_mt: float = Field(ge=0, description="USD per million output tokens")


# -- a tenant's --------------------------------------------------------------------------------


@router.get(TENANT + "/providers", summary="The providers the tenant's pods reach (own, shared)")
def list_providers(tenant: str, caller: Caller, ctx: Ctx) -> list[dict[str, Any]]:
    return llm.list_providers(ctx, caller, tenant)


@router.post(TENANT + "/providers", status_code=201, summary="Give the tenant a provider key")
def add_provider(tenant: str, body: NewProvider, caller: Caller, ctx: Ctx) -> dict[str, Any]:
    return _added(ctx, caller, tenant, body)


@router.put(TENANT + "/providers/{name}/key", summary="Rotate a provider's key (no pod restart)")
def rotate_provider(
    tenant: str, name: str, body: NewKey, caller: Caller, ctx: Ctx
) -> dict[str, Any]:
    return llm.rotate_provider(ctx, caller, tenant, name, body.key).as_dict()


@router.delete(TENANT + "/providers/{name}", status_code=204, summary="Remove a provider")
def remove_provider(tenant: str, name: str, caller: Caller, ctx: Ctx) -> Response:
    llm.remove_provider(ctx, caller, tenant, name)
    return Response(status_code=204)


@router.get(TENANT + "/usage", summary="Requests, tokens and spend per pod, provider and model")
def usage(
    tenant: str,
    caller: Caller,
    ctx: Ctx,
    pod: str | None = Query(default=None, description="only this pod (its name in the tenant)"),
    since: str | None = Query(default=None, description="30m, 24h, 7d, or a date"),
    by_day: bool = False,
) -> list[dict[str, Any]]:
    return llm.usage(ctx, caller, tenant, pod, since, by_day)


@router.get(TENANT + "/keys", summary="The pods' virtual keys, masked")
def virtual_keys(tenant: str, caller: Caller, ctx: Ctx) -> list[dict[str, Any]]:
    return llm.virtual_keys(ctx, caller, tenant)


@router.get(TENANT + "/budgets", summary="The tenant's budgets: tenant-wide and per pod")
def budgets(tenant: str, caller: Caller, ctx: Ctx) -> list[dict[str, Any]]:
    return llm.budgets(ctx, caller, tenant)


@router.patch(TENANT + "/budget", summary="Set or lift the tenant-wide limits")
def set_tenant_budget(tenant: str, body: BudgetChange, caller: Caller, ctx: Ctx) -> dict[str, Any]:
    return _budget_set(ctx, caller, tenant, body)


@router.patch("/tenants/{tenant}/pods/{pod}/llm/budget", summary="Set or lift a pod's limits")
def set_pod_budget(
    tenant: str, pod: str, body: BudgetChange, caller: Caller, ctx: Ctx
) -> dict[str, Any]:
    return _budget_set(ctx, caller, f"{tenant}/{pod}", body)


def _budget_set(ctx: Context, caller: Principal, scope: str, body: BudgetChange) -> dict[str, Any]:
    tenant, budget = llm.set_budget(
        ctx, caller, scope, body.model_dump(include=body.model_fields_set)
    )
    pod = f"{tenant}/{budget.pod}" if budget.pod else None
    return {"tenant": tenant, "pod": pod, **budget.model_dump(exclude={"pod"})}


# -- the platform's ----------------------------------------------------------------------------


@router.get(PLATFORM, summary="The platform's providers and whom each is shared with")
def platform_providers(caller: Caller, ctx: Ctx) -> list[dict[str, Any]]:
    return llm.platform_providers(ctx, caller)


@router.post(PLATFORM, status_code=201, summary="Add a platform provider (shared with nobody)")
def add_platform_provider(body: NewProvider, caller: Caller, ctx: Ctx) -> dict[str, Any]:
    return _added(ctx, caller, None, body)


@router.put(PLATFORM + "/{name}/key", summary="Rotate a platform provider's key")
def rotate_platform_provider(name: str, body: NewKey, caller: Caller, ctx: Ctx) -> dict[str, Any]:
    return llm.rotate_provider(ctx, caller, None, name, body.key).as_dict()


@router.delete(PLATFORM + "/{name}", status_code=204, summary="Remove a platform provider")
def remove_platform_provider(name: str, caller: Caller, ctx: Ctx) -> Response:
    llm.remove_provider(ctx, caller, None, name)
    return Response(status_code=204)


@router.put(PLATFORM + "/{name}/tenants/{tenant}", summary="Share it with a tenant")
def share(name: str, tenant: str, caller: Caller, ctx: Ctx) -> dict[str, Any]:
    """A provider of the tenant's own by that name wins (said in ``warnings``)."""
    return {"warnings": llm.share_provider(ctx, caller, name, tenant)}


@router.delete(PLATFORM + "/{name}/tenants/{tenant}", status_code=204, summary="Stop sharing")
def unshare(name: str, tenant: str, caller: Caller, ctx: Ctx) -> Response:
    llm.share_provider(ctx, caller, name, tenant, shared=False)
    return Response(status_code=204)


def _added(
    ctx: Context, caller: Principal, tenant: str | None, body: NewProvider
) -> dict[str, Any]:
    provider = llm.add_provider(ctx, caller, tenant, body.name, body.kind, body.base_url, body.key)
    return provider.as_dict()


# -- prices ------------------------------------------------------------------------------------


@router.get("/llm/prices", summary="The price table usage costs are computed with")
def prices(caller: Caller, ctx: Ctx) -> list[dict[str, Any]]:
    return llm.prices(ctx, caller)


@router.put("/llm/prices/{model}", summary="Set a model's price (applies from now on)")
def set_price(model: str, body: NewPrice, caller: Caller, ctx: Ctx) -> dict[str, Any]:
    return llm.set_price(
        ctx, caller, model, body.input_usd_per_mt, body.output_usd_per_mt
    ).model_dump()


@router.delete("/llm/prices/{model}", status_code=204, summary="Remove a model's price")
def remove_price(model: str, caller: Caller, ctx: Ctx) -> Response:
    llm.remove_price(ctx, caller, model)
    return Response(status_code=204)
