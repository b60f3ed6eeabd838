"""``GET /metrics`` (Prometheus text) and the count of API requests by route and status.

Open to loopback; from elsewhere, ``Authorization: Bearer <API key>`` of a user who sees every
tenant. The installer's scraper listener (``metrics_listen``) serves it to anyone who reaches it.
"""

from __future__ import annotations

import ipaddress
import re

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agentpod.api import problems
from agentpod.api.deps import Ctx
from agentpod.control import metrics
from agentpod.control.context import Context

router = APIRouter(tags=["system"])
PARAM = re.compile(r"{(\w+)(?::\w+)?}")  # a path parameter, with its convertor if any
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


@router.get(
    "/metrics",
    summary="Prometheus metrics (loopback, or an admin's or operator's key)",
    response_class=PlainTextResponse,  # documented as text/plain
    responses={s: problems.RESPONSES[s] for s in (401, 403, 503)},
)
def get_metrics(request: Request, ctx: Ctx) -> Response:
    key = None if _trusted(request) else _bearer(request)
    return Response(metrics.scrape(ctx, key), media_type=metrics.CONTENT_TYPE)


def _trusted(request: Request) -> bool:
    if getattr(request.app.state, "open_metrics", False):
        return True
    host = request.client.host if request.client else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # not an IP (a Unix socket): not trusted
        return False


def _bearer(request: Request) -> str:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def install(app: FastAPI) -> None:
    app.include_router(router)
    app.add_middleware(CountRequests)


class CountRequests:
    """Counts every request by its route's template (``/api/v1/tenants/{tenant}``), never its
    path; plain ASGI, so streamed answers (SSE, logs) pass through untouched."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500  # unless an answer starts

        async def seen(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, seen)
        finally:
            method = scope["method"] if scope["method"] in METHODS else "other"  # any token
            metrics.count_request(route_template(scope), method, status)


def route_template(scope: Scope) -> str:
    """The matched route's path with the prefix it was included under: the router puts the
    route into the scope, and the prefix is what the request's path has before the route's."""
    route = getattr(scope.get("route"), "path", None)
    if route is None:
        return "unmatched"
    params = scope.get("path_params") or {}
    concrete = PARAM.sub(lambda m: str(params.get(m[1], m[0])), route)
    path = scope.get("path", "")
    return (path[: len(path) - len(concrete)] if path.endswith(concrete) else "") + route


def scraper_app(ctx: Context) -> FastAPI:
    """The installer's scraper listener: ``GET /metrics`` alone, no key asked."""
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    app.state.ctx = ctx
    app.state.open_metrics = True
    app.include_router(router)
    return app
