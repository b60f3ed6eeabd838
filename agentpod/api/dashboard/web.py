"""What every page needs: the templates, the strict Content-Security-Policy, the caller from
the session cookie (else a redirect to the login page), and the forms' CSRF check."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from agentpod import __version__
from agentpod.api import problems
from agentpod.api.auth import client_address, session_token
from agentpod.control import sessions
from agentpod.control.context import Context
from agentpod.control.errors import Forbidden
from agentpod.core.authz import Principal, Scope

HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"
CSRF_FIELD = "csrf_token"
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

templates = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
templates.globals["version"] = __version__


class LoginRequired(RuntimeError):
    """A page asked for without a live session: the login page, then back."""

    def __init__(self, path: str, expired: bool) -> None:
        super().__init__(path)
        self.path = path
        self.expired = expired


def ctx_of(request: Request) -> Context:
    return request.app.state.ctx


def caller_of(request: Request) -> Principal:
    token = session_token(request)
    path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if not token:
        raise LoginRequired(path, expired=False)
    try:
        principal = sessions.session_principal(ctx_of(request), token)
    except sessions.Unauthenticated:
        raise LoginRequired(path, expired=True) from None
    return principal.at(client_address(request))


def nav(caller: Principal) -> list[tuple[str, str]]:
    """The pages this caller may open."""
    links = [("/", "Overview"), ("/pods", "Pods"), ("/tenants", "Tenants")]
    links.append(("/adapters", "Agent types"))
    if caller.may(Scope.USERS_ADMIN):
        links.append(("/users", "Users"))
    if caller.may(Scope.AUDIT_READ):
        links.append(("/audit", "Audit"))
    links.append(("/settings", "Settings"))
    return links


def page(
    request: Request, name: str, status: int = 200, caller: Principal | None = None, **data: Any
) -> HTMLResponse:
    csrf = ""
    token = session_token(request)
    if caller is not None and token:
        csrf = sessions.csrf_token(ctx_of(request), token)
    body = templates.get_template(name).render(
        request=request,
        caller=caller,
        nav=nav(caller) if caller else [],
        path=request.url.path,
        csrf=csrf,
        **data,
    )
    return HTMLResponse(body, status_code=status, headers=SECURITY_HEADERS)


def see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303, headers={"Cache-Control": "no-store"})


def login_url(path: str, expired: bool = False) -> str:
    return f"/login?next={quote(path, safe='/')}" + ("&expired=1" if expired else "")


async def form_of(request: Request) -> dict[str, str]:
    """An urlencoded form's fields (the last value of each)."""
    raw = (await request.body()).decode(errors="replace")
    return {k: v[-1] for k, v in parse_qs(raw, keep_blank_values=True).items()}


def check_csrf(request: Request, form: dict[str, str]) -> None:
    token = session_token(request) or ""
    expected = sessions.csrf_token(ctx_of(request), token) if token else ""
    if not expected or not hmac.compare_digest(form.get(CSRF_FIELD, ""), expected):
        raise Forbidden("the form has expired or did not come from this dashboard: reload it")


async def posted(request: Request) -> tuple[Principal, dict[str, str]]:
    """The caller and the fields of a dashboard form (its CSRF token checked)."""
    form = await form_of(request)
    caller = await run_in_threadpool(caller_of, request)
    await run_in_threadpool(check_csrf, request, form)
    return caller, form


def refused(exc: Exception) -> bool:
    """A use case said no to the input (a 4xx other than hidden or forbidden): shown next to
    the form; anything else is an error page."""
    status = problems.status_of(exc)
    return status is not None and 400 <= status < 500 and status not in (403, 404)


async def attempt(run: Callable[..., Any], *args: Any) -> Exception | None:
    """Run a use case: None when it did, the refusal when it said no to the input."""
    try:
        await run_in_threadpool(run, *args)
    except Exception as exc:
        if not refused(exc):
            raise
        return exc
    return None
