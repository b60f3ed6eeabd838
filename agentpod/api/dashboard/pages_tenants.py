"""Tenants: the list, a new tenant, and a tenant's page (usage against quotas, rate limits,
its members for admins, its pods)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from starlette.responses import Response

from agentpod.api import problems
from agentpod.api.dashboard import web
from agentpod.control import members, tenants
from agentpod.control.context import Context
from agentpod.control.errors import BadInput
from agentpod.core.authz import Principal, Scope

router = APIRouter()
QUOTAS = ("max_pods", "max_memory", "max_cpus")


def _list_page(
    request: Request, caller: Principal, values: dict[str, str], error: str = "", status: int = 200
) -> Response:
    ctx = web.ctx_of(request)
    return web.page(
        request,
        "tenants.html",
        status,
        caller=caller,
        title="Tenants",
        tenants=tenants.list_(ctx, caller),
        can_create=caller.tenants is None and caller.may(Scope.TENANTS_WRITE),
        values=values,
        errors={_field(error): error} if error else {},
    )


def _field(message: str) -> str:
    lowered = message.lower()
    return next((f for f in ("rate_burst", "rate_average") if f in lowered), "name")


def _int(text: str, what: str) -> int | None:
    try:
        return int(text) if text.strip() else None
    except ValueError:
        raise BadInput(f"{what}: not a whole number: {text!r}") from None


@router.get("/tenants")
def tenant_list(request: Request) -> Response:
    return _list_page(request, web.caller_of(request), {})


def _create(ctx: Context, caller: Principal, form: dict[str, str]) -> None:
    average = _int(form.get("rate_average", ""), "rate_average")
    burst = _int(form.get("rate_burst", ""), "rate_burst")
    tenants.create(ctx, caller, form.get("name", "").strip(), average, burst)


@router.post("/tenants")
async def create_tenant(request: Request) -> Response:
    caller, form = await web.posted(request)
    failed = await web.attempt(_create, web.ctx_of(request), caller, form)
    if failed is None:
        return web.see_other(f"/tenants/{form.get('name', '').strip()}?created=1")
    message = problems.one_line(failed)
    return await run_in_threadpool(_list_page, request, caller, form, message, 422)


def _detail(
    request: Request, caller: Principal, name: str, status: int = 200, **extra: Any
) -> Response:
    ctx = web.ctx_of(request)
    data = tenants.status(ctx, caller, name)
    can_write = caller.may(Scope.TENANTS_WRITE, name)
    people = members.list_(ctx, caller, name) if can_write else None
    return web.page(
        request,
        "tenant.html",
        status,
        caller=caller,
        title=name,
        tenant=data,
        can_write=can_write,
        members=None if people is None else people["members"],
        others=None if people is None else people["others"],
        **{"errors": {}, "values": {}, **extra},
    )


@router.get("/tenants/{name}")
def tenant_detail(request: Request, name: str) -> Response:
    return _detail(request, web.caller_of(request), name)


def _update(ctx: Context, caller: Principal, name: str, form: dict[str, str]) -> None:
    quota: dict[str, str | float | None] = {k: form.get(k, "").strip() or None for k in QUOTAS}
    if quota["max_pods"] is not None:
        quota["max_pods"] = _int(str(quota["max_pods"]), "max_pods")
    if quota["max_cpus"] is not None:
        try:
            quota["max_cpus"] = float(str(quota["max_cpus"]))
        except ValueError:
            raise BadInput(f"max_cpus: not a number: {quota['max_cpus']!r}") from None
    average = _int(form.get("rate_average", ""), "rate_average")
    burst = _int(form.get("rate_burst", ""), "rate_burst")
    tenants.update(ctx, caller, name, average, burst, quota)


@router.post("/tenants/{name}")
async def update_tenant(request: Request, name: str) -> Response:
    caller, form = await web.posted(request)
    failed = await web.attempt(_update, web.ctx_of(request), caller, name, form)
    if failed is None:
        return web.see_other(f"/tenants/{name}?saved=1")
    message = problems.one_line(failed)
    field = next((k for k in (*QUOTAS, "rate_average", "rate_burst") if k in message), "")
    errors = {field: message}
    return await run_in_threadpool(_detail, request, caller, name, 422, errors=errors, values=form)


@router.post("/tenants/{name}/members")
async def change_members(request: Request, name: str) -> Response:
    """Add a user to the tenant, or remove one (``remove``)."""
    caller, form = await web.posted(request)
    ctx = web.ctx_of(request)
    user, remove = form.get("user", ""), form.get("remove") == "1"
    change = ((), [user]) if remove else ([user], ())
    failed = await web.attempt(members.change, ctx, caller, name, *change)
    if failed is None:
        return web.see_other(f"/tenants/{name}?saved=1")
    errors = {"member": problems.one_line(failed)}
    return await run_in_threadpool(_detail, request, caller, name, 422, errors=errors)
