"""The control plane itself: its health."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from agentpod.api.deps import Ctx
from agentpod.control.plane import plane_health

router = APIRouter(tags=["system"])


@router.get("/health", summary="Health of the control plane (no login needed)")
def health(ctx: Ctx) -> Any:
    """200 while the database answers (``status`` ok, or degraded when no serve leads), else
    503."""
    body = plane_health(ctx)
    return JSONResponse(body, status_code=503 if body["status"] == "unavailable" else 200)
