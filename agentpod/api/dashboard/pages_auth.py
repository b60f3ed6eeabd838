"""Signing in and out. The login form has a CSRF token of its own (a cookie it must match:
no session exists yet); failed logins are slowed and locked as in the API."""

from __future__ import annotations

import hmac
import secrets

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from starlette.responses import Response

from agentpod.api.auth import (
    clear_session_cookies,
    client_address,
    session_token,
    set_session_cookies,
)
from agentpod.api.dashboard import web
from agentpod.control import sessions

router = APIRouter()
LOGIN_CSRF_COOKIE = "agentpod_login_csrf"


def _safe_next(target: str | None) -> str:
    """Only a path of this site (never //elsewhere)."""
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return "/"


def _login_page(request: Request, status: int = 200, error: str = "", **data: str) -> Response:
    token = secrets.token_urlsafe(16)
    response = web.page(request, "login.html", status, login_csrf=token, error=error, **data)
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", path="/")
    return response


@router.get("/login")
def login_form(request: Request, next: str = "/", expired: bool = False) -> Response:
    notice = "Your session has ended: sign in again." if expired else ""
    return _login_page(request, next=_safe_next(next), notice=notice)


@router.post("/login")
async def login(request: Request) -> Response:
    form = await web.form_of(request)
    target = _safe_next(form.get("next"))
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not expected or not hmac.compare_digest(form.get(web.CSRF_FIELD, ""), expected):
        return _login_page(request, 403, "The form had expired: try again.", next=target)
    user, password = form.get("username", ""), form.get("password", "")
    if not user or not password:
        return _login_page(request, 422, "Enter your user name and password.", next=target)
    try:
        session = await run_in_threadpool(
            sessions.login, web.ctx_of(request), user, password, client_address(request)
        )
    except (sessions.Unauthenticated, sessions.Throttled) as exc:
        status = 429 if isinstance(exc, sessions.Throttled) else 401
        return _login_page(request, status, str(exc), next=target, username=user)
    response = web.see_other(target)
    set_session_cookies(request, response, session)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    form = await web.form_of(request)
    await run_in_threadpool(web.check_csrf, request, form)
    token = session_token(request)
    if token:
        await run_in_threadpool(sessions.logout, web.ctx_of(request), token)
    response = web.see_other("/login")
    clear_session_cookies(response)
    return response
