"""The web dashboard: server-rendered pages (Jinja2) at ``/`` of the API listener, calling the
same use cases of ``agentpod/control`` as the API and the CLI; our own small CSS and JavaScript
(no third-party code) add live updates on top of forms that work without them."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from agentpod.api.dashboard import (
    errors,
    log_stream,
    pages_admin,
    pages_auth,
    pages_pods,
    pages_tenants,
    pages_users,
    web,
)


def install(app: FastAPI) -> None:
    errors.install(app)
    for module in (pages_auth, pages_pods, log_stream, pages_tenants, pages_users, pages_admin):
        app.include_router(module.router, include_in_schema=False)
    app.mount("/static", StaticFiles(directory=web.STATIC), name="static")
