"""Users and API keys (admins; anyone else gets the use cases' 403): create, role and tenants,
password reset, delete; keys created (the key shown this once) and revoked."""

from __future__ import annotations

import secrets
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from starlette.responses import Response

from agentpod.api import problems
from agentpod.api.dashboard import web
from agentpod.control import apikeys, users
from agentpod.control.apikeys import db_now
from agentpod.control.context import Context
from agentpod.core.authz import Principal, Role, Scope

router = APIRouter()
ROLES = [r.value for r in Role]
SCOPES = [s.value for s in Scope]


def _page(request: Request, caller: Principal, status: int = 200, **extra: Any) -> Response:
    ctx = web.ctx_of(request)
    now = db_now(ctx)
    return web.page(
        request,
        "users.html",
        status,
        caller=caller,
        title="Users and API keys",
        users=[u.as_dict() for u in users.list_users(ctx, caller)],
        keys=[k.as_dict(now) for k in apikeys.list_keys(ctx, caller)],
        roles=ROLES,
        scopes=SCOPES,
        **{"errors": {}, "values": {}, "shown": None, **extra},
    )


@router.get("/users")
def user_list(request: Request) -> Response:
    return _page(request, web.caller_of(request))


def _tenants(text: str) -> list[str]:
    return text.replace(",", " ").split()


def _password(form: dict[str, str]) -> tuple[str, bool]:
    """The password given, or a new one (then shown once)."""
    given = form.get("password", "")
    return (given, False) if given else (secrets.token_urlsafe(15), True)


async def _done(
    request: Request,
    caller: Principal,
    failed: Exception | None,
    form: dict[str, str],
    shown: str | None = None,
    field: str = "",
) -> Response:
    if failed is None:
        return await run_in_threadpool(_page, request, caller, shown=shown, values={})
    errors = {field: problems.one_line(failed)}
    return await run_in_threadpool(_page, request, caller, 422, errors=errors, values=form)


@router.post("/users")
async def create_user(request: Request) -> Response:
    caller, form = await web.posted(request)
    password, made = _password(form)
    args = (form.get("name", ""), form.get("role", ""), _tenants(form.get("tenants", "")))
    failed = await web.attempt(users.create_user, web.ctx_of(request), caller, *args, password)
    shown = f"Password of {form.get('name')}: {password}" if made else None
    return await _done(request, caller, failed, form, shown, "name")


def _change(ctx: Context, caller: Principal, name: str, form: dict[str, str]) -> None:
    now = set(users.get_user(ctx, caller, name).tenants)
    wanted = set(_tenants(form.get("tenants", "")))
    users.set_user(ctx, caller, name, form.get("role") or None, wanted - now, now - wanted)


@router.post("/users/{name}")
async def change_user(request: Request, name: str) -> Response:
    caller, form = await web.posted(request)
    failed = await web.attempt(_change, web.ctx_of(request), caller, name, form)
    return await _done(request, caller, failed, form, f"User {name} saved.", f"user-{name}")


@router.post("/users/{name}/password")
async def reset_password(request: Request, name: str) -> Response:
    caller, form = await web.posted(request)
    password, _ = _password(form)
    failed = await web.attempt(users.set_password, web.ctx_of(request), caller, name, password)
    shown = f"New password of {name}: {password}"
    return await _done(request, caller, failed, form, shown, f"user-{name}")


@router.post("/users/{name}/delete")
async def delete_user(request: Request, name: str) -> Response:
    caller, form = await web.posted(request)
    failed = await web.attempt(users.delete_user, web.ctx_of(request), caller, name)
    return await _done(request, caller, failed, form, f"User {name} deleted.", f"user-{name}")


@router.post("/apikeys")
async def create_key(request: Request) -> Response:
    caller, form = await web.posted(request)
    scopes = [s for s in SCOPES if form.get(f"scope.{s}") == "on"]
    made: list[str] = []

    def create(ctx: Context) -> None:
        key, _ = apikeys.create_key(
            ctx,
            caller,
            form.get("user", ""),
            scopes,
            form.get("tenant") or None,
            form.get("expires") or None,
        )
        made.append(key)

    failed = await web.attempt(create, web.ctx_of(request))
    shown = f"API key (shown this once): {made[0]}" if made else None
    return await _done(request, caller, failed, form, shown, "key")


@router.post("/apikeys/{key_id}/revoke")
async def revoke_key(request: Request, key_id: str) -> Response:
    caller, form = await web.posted(request)
    failed = await web.attempt(apikeys.revoke_key, web.ctx_of(request), caller, key_id)
    return await _done(request, caller, failed, form, f"Key {key_id} revoked.", "key")
