"""Who calls: a Bearer API key, or a session cookie (then unsafe methods need the CSRF token).

A Bearer request carries its credential explicitly, so a browser cannot be tricked into
sending it: it needs no CSRF token. A cookie is sent by the browser on its own: every
POST/PUT/PATCH/DELETE that relies on one must also carry ``X-CSRF-Token``, the token of that
session (given at login and kept in the readable ``agentpod_csrf`` cookie).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request, Response
from fastapi.security import APIKeyCookie, APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from agentpod.api.deps import Ctx
from agentpod.control import apikeys, sessions
from agentpod.control.context import Context
from agentpod.control.errors import Forbidden
from agentpod.core.authz import Principal

SESSION_COOKIE = "agentpod_session"
CSRF_COOKIE = "agentpod_csrf"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

_bearer = HTTPBearer(auto_error=False, description="An API key: agentpod apikey create")
_cookie = APIKeyCookie(name=SESSION_COOKIE, auto_error=False, description="POST /auth/login")
_csrf = APIKeyHeader(name=CSRF_HEADER, auto_error=False, description="Cookie requests' token")


@dataclass(frozen=True)
class Credentials:
    """What a request brings to say who it is, read without touching the database; a route that
    wants one thread hop for the whole request resolves it there (``principal``)."""

    method: str
    address: str | None
    bearer: str | None
    session: str | None
    csrf: str | None

    def principal(self, ctx: Context) -> Principal:
        if self.bearer is not None:
            return apikeys.key_principal(ctx, self.bearer).at(self.address)
        if self.session is None:
            raise sessions.Unauthenticated(
                "not logged in: POST /api/v1/auth/login, or send Authorization: Bearer <API key>"
            )
        principal = sessions.session_principal(ctx, self.session)
        if self.method not in SAFE_METHODS:
            expected = sessions.csrf_token(ctx, self.session)
            if self.csrf is None or not hmac.compare_digest(self.csrf, expected):
                raise Forbidden(
                    f"missing or wrong {CSRF_HEADER} header: send the csrf_token of your login"
                )
        return principal.at(self.address)


async def _credentials(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    session: Annotated[str | None, Depends(_cookie)],
    csrf: Annotated[str | None, Depends(_csrf)],
) -> Credentials:
    token = bearer.credentials if bearer is not None else None
    return Credentials(request.method, client_address(request), token, session, csrf)


Creds = Annotated[Credentials, Depends(_credentials)]


def _caller(ctx: Ctx, credentials: Creds) -> Principal:
    return credentials.principal(ctx)


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
