"""Who calls: a Bearer API key, or a session cookie (then unsafe methods need the CSRF token).

A Bearer request carries its credential explicitly, so a browser cannot be tricked into
sending it: it needs no CSRF token. A cookie is sent by the browser on its own: every
POST/PUT/PATCH/DELETE that relies on one must also carry ``X-CSRF-Token``, the token of that
session (given at login and kept in the readable ``agentpod_csrf`` cookie).
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request, Response
from fastapi.security import APIKeyCookie, APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from agentpod.api.deps import Ctx
from agentpod.control import apikeys, sessions
from agentpod.control.errors import Forbidden
from agentpod.core.authz import Principal

SESSION_COOKIE = "agentpod_session"
CSRF_COOKIE = "agentpod_csrf"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

_bearer = HTTPBearer(auto_error=False, description="An API key: agentpod apikey create")
_cookie = APIKeyCookie(name=SESSION_COOKIE, auto_error=False, description="POST /auth/login")
_csrf = APIKeyHeader(name=CSRF_HEADER, auto_error=False, description="Cookie requests' token")


def _caller(
    request: Request,
    ctx: Ctx,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    session: Annotated[str | None, Depends(_cookie)],
    csrf: Annotated[str | None, Depends(_csrf)],
) -> Principal:
    if bearer is not None:
        return apikeys.key_principal(ctx, bearer.credentials).at(client_address(request))
    if session is None:
        raise sessions.Unauthenticated(
            "not logged in: POST /api/v1/auth/login, or send Authorization: Bearer <API key>"
        )
    principal = sessions.session_principal(ctx, session)
    if request.method not in SAFE_METHODS:
        expected = sessions.csrf_token(ctx, session)
        if csrf is None or not hmac.compare_digest(csrf, expected):
            raise Forbidden(
                f"missing or wrong {CSRF_HEADER} header: send the csrf_token of your login"
            )
    return principal.at(client_address(request))


Caller = Annotated[Principal, Depends(_caller)]


def client_address(request: Request) -> str | None:
    """The client's address (uvicorn takes it from X-Forwarded-For when our Traefik on
    loopback forwards the request)."""
    return request.client.host if request.client else None


def set_session_cookies(request: Request, response: Response, session: sessions.Session) -> None:
    secure = request.url.scheme == "https"
    common = {"max_age": session.ttl_s, "samesite": "lax", "secure": secure, "path": "/"}
    response.set_cookie(SESSION_COOKIE, session.token, httponly=True, **common)  # type: ignore[arg-type]
    response.set_cookie(CSRF_COOKIE, session.csrf, httponly=False, **common)  # type: ignore[arg-type]


def clear_session_cookies(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")


def session_token(request: Request) -> str | None:
    return request.cookies.get(SESSION_COOKIE)
