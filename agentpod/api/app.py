"""The FastAPI application: routers under ``/api/v1``, problem+json errors, OpenAPI 3.1.

Routes outside the versioned resources (``GET /metrics``, for one) are added in
``create_app`` beside the others: ``app.include_router(<module>.router)``.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from agentpod import __version__
from agentpod.api import (
    problems,
    routes_accounts,
    routes_auth,
    routes_llm,
    routes_metrics,
    routes_observe,
    routes_pod_access,
    routes_pods,
    routes_system,
    routes_tenants,
)
from agentpod.control.context import Context

PREFIX = "/api/v1"
DB_TIMEOUT_S = 5.0  # the API's Context: a request waits this long for the database, then 503


def create_app(ctx: Context) -> FastAPI:
    app = FastAPIOffline(
        title="AgentPod",
        version=__version__,
        summary="Run AI agents for many tenants on one machine.",
        openapi_url=f"{PREFIX}/openapi.json",
        docs_url=f"{PREFIX}/docs",  # Swagger UI from files in the package (no CDN)
        static_url=f"{PREFIX}/docs/static",
        swagger_ui_oauth2_redirect_url=f"{PREFIX}/docs/oauth2-redirect",
        redoc_url=None,
    )
    app.state.ctx = ctx
    problems.install(app)
    for module in (
        routes_system,
        routes_auth,
        routes_tenants,
        routes_pods,
        routes_pod_access,
        routes_observe,
        routes_accounts,
        routes_llm,
    ):
        app.include_router(module.router, prefix=PREFIX, responses=problems.RESPONSES)
    routes_metrics.install(app)
    return app
