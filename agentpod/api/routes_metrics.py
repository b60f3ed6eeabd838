"""``GET /metrics`` (Prometheus text) and the count of API requests by route and status.

Open to loopback; from elsewhere, ``Authorization: Bearer <API key>`` of a user who sees every
tenant. The installer's scraper listener (``metrics_listen``) serves it to anyone who reaches it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, FastAPI, Request, Response

from agentpod.api.deps import Ctx
from agentpod.control import metrics
from agentpod.control.context import Context

router = APIRouter(tags=["system"])


@router.get("/metrics", summary="Prometheus metrics (loopback, or an admin's or operator's key)")
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
    """The route, and a count of every request by its route's template
    (``/api/v1/pods/{ref}``), never its path."""
    app.include_router(router)

    @app.middleware("http")
    async def count(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        route = getattr(request.scope.get("route"), "path", "unmatched")
        metrics.count_request(route, request.method, response.status_code)
        return response


def scraper_app(ctx: Context) -> FastAPI:
    """The installer's scraper listener: ``GET /metrics`` alone, no key asked."""
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    app.state.ctx = ctx
    app.state.open_metrics = True
    app.include_router(router)
    return app
