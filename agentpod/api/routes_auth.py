"""Logging in and out, and who the caller is."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from agentpod.api.auth import (
    Caller,
    clear_session_cookies,
    client_address,
    session_token,
    set_session_cookies,
)
from agentpod.api.deps import Ctx
from agentpod.control import sessions
from agentpod.core.authz import Kind

router = APIRouter(tags=["auth"])


class Login(BaseModel):
    username: str = Field(min_length=1, max_length=128)
    password: str = Field(min_length=1, max_length=1024)


@router.post("/auth/login", summary="Log in: sets the session cookie")
def login(body: Login, request: Request, response: Response, ctx: Ctx) -> dict[str, Any]:
    """Returns the user and ``csrf_token``: send it as ``X-CSRF-Token`` with every unsafe
    request that relies on the cookie. Failed logins are slowed, then locked (429)."""
    session = sessions.login(ctx, body.username, body.password, client_address(request))
    set_session_cookies(request, response, session)
    return {
        "user": session.user.as_dict(),
        "csrf_token": session.csrf,
        "expires_in": session.ttl_s,
    }


@router.post("/auth/logout", status_code=204, summary="End this session")
def logout(request: Request, caller: Caller, ctx: Ctx) -> Response:
    token = session_token(request)
    if caller.kind is Kind.USER and token:
        sessions.logout(ctx, token)
    response = Response(status_code=204)
    clear_session_cookies(response)
    return response


@router.get("/me", summary="Who the caller is: user or key, role, tenants, scopes")
def me(caller: Caller) -> dict[str, Any]:
    return {
        "kind": caller.kind.value,
        "name": caller.name,
        "role": caller.role.value,
        "tenants": None if caller.tenants is None else sorted(caller.tenants),
        "scopes": sorted(s.value for s in caller.scopes),
        "key_id": caller.key_id,
    }
