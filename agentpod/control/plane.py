"""The control plane's own health: its database and who leads the reconcile loop."""

from __future__ import annotations

from typing import Any

from agentpod import __version__
from agentpod.control.context import Context


def plane_health(ctx: Context) -> dict[str, Any]:
    """``status`` is ok when the database answers and a serve leads, degraded when none leads
    (writes then wait for the CLI or a serve), unavailable without the database."""
    try:
        sessions = ctx.store.serve_sessions()
    except Exception as exc:  # the database is away: say so, do not fail
        return {"status": "unavailable", "version": __version__, "database": str(exc)[:200]}
    leader = next((name for name, leads in sessions if leads), None)
    return {
        "status": "ok" if leader else "degraded",
        "version": __version__,
        "database": "ok",
        "leader": leader,
        "standbys": [name for name, leads in sessions if not leads],
    }
