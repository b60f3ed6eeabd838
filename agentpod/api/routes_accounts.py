"""Users (admins) and API keys (admins: anyone's; people: their own)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from agentpod.api.auth import Caller
from agentpod.api.deps import Ctx
from agentpod.control import apikeys, users
from agentpod.core.authz import Role

router = APIRouter(tags=["accounts"])


class NewUser(BaseModel):
    name: str = Field(min_length=1, max_length=63)
    role: Role
    tenants: list[str] = []
    password: str = Field(min_length=1, max_length=1024)


class UserChange(BaseModel):
    role: Role | None = None
    add_tenants: list[str] = []
    remove_tenants: list[str] = []


class PasswordChange(BaseModel):
    password: str = Field(min_length=1, max_length=1024)
    current_password: str | None = Field(default=None, max_length=1024)


class NewKey(BaseModel):
    user: str | None = Field(default=None, description="Whose key; default: the caller's own")
    scopes: list[str] = Field(min_length=1)
    tenant: str | None = None
    expires: str | None = Field(default=None, description="90m, 12h, 30d…; default never")


@router.get("/users", summary="List users (admin)")
def list_users(caller: Caller, ctx: Ctx) -> list[dict[str, Any]]:
    return [u.as_dict() for u in users.list_users(ctx, caller)]


@router.post("/users", status_code=201, summary="Create a user (admin)")
def create_user(body: NewUser, caller: Caller, ctx: Ctx) -> dict[str, Any]:
    user = users.create_user(ctx, caller, body.name, body.role.value, body.tenants, body.password)
    return user.as_dict()


@router.get("/users/{name}", summary="A user (admin, or the user itself)")
def get_user(name: str, caller: Caller, ctx: Ctx) -> dict[str, Any]:
    return users.get_user(ctx, caller, name).as_dict()


@router.patch("/users/{name}", summary="Change a user's role or tenants (admin)")
def set_user(name: str, body: UserChange, caller: Caller, ctx: Ctx) -> dict[str, Any]:
    role = body.role.value if body.role else None
    user = users.set_user(ctx, caller, name, role, body.add_tenants, body.remove_tenants)
    return user.as_dict()


@router.delete("/users/{name}", status_code=204, summary="Delete a user (admin)")
def delete_user(name: str, caller: Caller, ctx: Ctx) -> Response:
    users.delete_user(ctx, caller, name)
    return Response(status_code=204)


@router.put(
    "/users/{name}/password", status_code=204, summary="Set a password (admin, or one's own)"
)
def set_password(name: str, body: PasswordChange, caller: Caller, ctx: Ctx) -> Response:
    """Ends every session of the user, this one included when it is one's own."""
    users.set_password(ctx, caller, name, body.password, body.current_password)
    return Response(status_code=204)


@router.get("/apikeys", summary="List API keys (never the keys themselves)")
def list_keys(caller: Caller, ctx: Ctx, user: str | None = None) -> list[dict[str, Any]]:
    now = apikeys.db_now(ctx)
    return [k.as_dict(now) for k in apikeys.list_keys(ctx, caller, user)]


@router.post("/apikeys", status_code=201, summary="Create an API key: shown in `key`, once")
def create_key(body: NewKey, caller: Caller, ctx: Ctx) -> dict[str, Any]:
    owner = body.user or caller.name
    text, key = apikeys.create_key(ctx, caller, owner, body.scopes, body.tenant, body.expires)
    return {**key.as_dict(key.created_at), "key": text}


@router.delete("/apikeys/{key_id}", status_code=204, summary="Revoke an API key")
def revoke_key(key_id: str, caller: Caller, ctx: Ctx) -> Response:
    apikeys.revoke_key(ctx, caller, key_id)
    return Response(status_code=204)
