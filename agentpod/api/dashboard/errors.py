"""Errors on pages are pages: a missing (or hidden) pod is a 404 page, a refused action a 403
page, a lost session the login page. The API's paths keep their problem+json answers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from http import HTTPStatus

from fastapi import FastAPI, Request
from starlette.exceptions import HTTPException
from starlette.responses import Response

from agentpod.api import problems
from agentpod.api.dashboard import web

Handler = Callable[[Request, Exception], Awaitable[Response]]
API_PATHS = ("/api/", "/metrics")


def is_page(request: Request) -> bool:
    return not request.url.path.startswith(API_PATHS)


def error_page(request: Request, status: int, message: str) -> Response:
    title = HTTPStatus(status).phrase
    return web.page(request, "error.html", status, title=title, code=status, message=message)


def _page_error(request: Request, exc: Exception) -> Response:
    if isinstance(exc, web.LoginRequired):
        return web.see_other(web.login_url(exc.path, exc.expired))
    if isinstance(exc, HTTPException):
        return error_page(request, exc.status_code, str(exc.detail))
    status = problems.status_of(exc)
    if status is None:
        problems.log.exception("internal error on %s %s", request.method, request.url.path)
        return error_page(request, 500, "internal error: see the serve log")
    return error_page(request, status, problems.one_line(exc))


def _wrap(api_handler: Handler) -> Handler:
    async def handle(request: Request, exc: Exception) -> Response:
        if is_page(request):
            return _page_error(request, exc)
        return await api_handler(request, exc)

    return handle


def install(app: FastAPI) -> None:
    """Every handler the API installed answers pages with a page (install after it)."""
    for cls, handler in list(app.exception_handlers.items()):
        app.add_exception_handler(cls, _wrap(handler))  # type: ignore[arg-type]
    app.add_exception_handler(web.LoginRequired, _wrap(_never))  # type: ignore[arg-type]


async def _never(request: Request, exc: Exception) -> Response:  # a LoginRequired off a page
    return problems.problem(401, "log in first")
