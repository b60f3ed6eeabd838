"""Errors as ``application/problem+json`` (RFC 9457), with the CLI's one-line messages.

Each error class the use cases raise maps to the status its RFC means: a missing or hidden
object 404, a clash 409, bad input 422, no or bad credentials 401, a refused right 403, too
many attempts 429 (with ``Retry-After``), a dependency away 503.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from psycopg_pool import PoolTimeout
from pydantic import BaseModel
from starlette.exceptions import HTTPException

from agentpod.control import sessions
from agentpod.control.access import AccessError
from agentpod.control.context import WaitFailed
from agentpod.control.errors import BadInput, Forbidden, QuotaExceeded
from agentpod.core.accounts import AccountError
from agentpod.core.adapters import ConfigError, UnknownAdapter
from agentpod.core.configpath import ConfigPathError
from agentpod.core.names import InvalidName
from agentpod.services.database import DatabaseUnavailable
from agentpod.services.store import Conflict, NotFound, StoreError

log = logging.getLogger("agentpod.api")

MEDIA_TYPE = "application/problem+json"

STATUS_OF: list[tuple[type[Exception], int]] = [  # the first match wins: subclasses first
    (NotFound, 404),
    (QuotaExceeded, 409),
    (Conflict, 409),
    (Forbidden, 403),
    (sessions.Unauthenticated, 401),
    (sessions.Throttled, 429),
    (AccountError, 422),
    (BadInput, 422),
    (InvalidName, 422),
    (ConfigError, 422),
    (ConfigPathError, 422),
    (UnknownAdapter, 422),
    (AccessError, 409),
    (StoreError, 400),
    (WaitFailed, 504),
    (DatabaseUnavailable, 503),
    (psycopg.DataError, 422),  # a value PostgreSQL cannot hold: a NUL byte, a number too big
    (psycopg.OperationalError, 503),  # the database went away mid-request
    (PoolTimeout, 503),  # no connection free (or none can be made) in time
]


class ProblemResponse(JSONResponse):
    media_type = MEDIA_TYPE


class Problem(BaseModel):
    """RFC 9457 problem details: ``detail`` is the one-line message the CLI shows."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str


def _documented(status: int) -> dict[str, Any]:
    schema = Problem.model_json_schema()
    return {
        "description": HTTPStatus(status).phrase,
        "content": {MEDIA_TYPE: {"schema": schema}},
    }


# what every route may answer besides its success (documented in the OpenAPI document)
RESPONSES: dict[int | str, dict[str, Any]] = {
    s: _documented(s) for s in (400, 401, 403, 404, 409, 422, 429, 503)
}


def problem(status: int, detail: str, headers: dict[str, str] | None = None) -> ProblemResponse:
    body = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
    }
    return ProblemResponse(body, status_code=status, headers=headers)


def _validation_detail(exc: RequestValidationError) -> str:
    """The first complaint, as one line: where and what (``body.memory: ...``)."""
    errors: list[dict[str, Any]] = list(exc.errors())
    if not errors:
        return "bad request"
    first = errors[0]
    where = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or "body"
    return f"{where}: {first.get('msg', 'invalid')}"


def status_of(exc: Exception) -> int | None:
    """The status an error of the use cases means; None for an unexpected one (a 500)."""
    return next((status for cls, status in STATUS_OF if isinstance(exc, cls)), None)


def _known(request: Request, exc: Exception) -> ProblemResponse:
    status = status_of(exc)
    if status is not None:
        headers = None
        if isinstance(exc, sessions.Throttled):
            headers = {"Retry-After": str(exc.retry_after)}
        elif isinstance(exc, sessions.Unauthenticated):
            headers = {"WWW-Authenticate": 'Bearer realm="agentpod"'}
        return problem(status, one_line(exc), headers)
    log.exception("internal error on %s %s", request.method, request.url.path)
    return problem(500, f"internal error ({type(exc).__name__}): see the serve log")


def one_line(exc: Exception) -> str:
    lines = str(exc).strip().splitlines()
    text = lines[0] if lines else type(exc).__name__
    return f"bad value: {text}" if isinstance(exc, psycopg.DataError) else text


def install(app: FastAPI) -> None:
    """Every error the app can produce becomes a problem document."""

    async def on_http(request: Request, exc: HTTPException) -> ProblemResponse:
        return problem(exc.status_code, str(exc.detail), getattr(exc, "headers", None))

    async def on_invalid(request: Request, exc: RequestValidationError) -> ProblemResponse:
        return problem(422, _validation_detail(exc))

    async def on_error(request: Request, exc: Exception) -> ProblemResponse:
        return _known(request, exc)

    app.add_exception_handler(HTTPException, on_http)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, on_invalid)  # type: ignore[arg-type]
    for cls, _ in STATUS_OF:  # handled where they are raised, not re-raised to the server
        app.add_exception_handler(cls, on_error)
    app.add_exception_handler(Exception, on_error)  # the rest: a 500, logged
