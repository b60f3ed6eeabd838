"""The overview (tenants with their use against quotas, pods by state, unhealthy first, recent
events, the control plane's health), the agent types, the audit log and the settings."""

from __future__ import annotations

import platform
from collections import Counter

from fastapi import APIRouter, Request
from starlette.responses import Response

from agentpod.api.dashboard import pods_view, schema_form, web
from agentpod.control import audit, catalog, doctor, observe, pods, tenants
from agentpod.control.plane import plane_health
from agentpod.core.authz import Scope

router = APIRouter()
AUDIT_TAIL = 500  # the rows the filters look through


@router.get("/")
def overview(request: Request) -> Response:
    caller = web.caller_of(request)
    ctx = web.ctx_of(request)
    found = [pods_view.shown(p) for p in pods.list_(ctx, caller)]
    return web.page(
        request,
        "overview.html",
        caller=caller,
        title="Overview",
        tenants=[tenants.status(ctx, caller, t["name"]) for t in tenants.list_(ctx, caller)],
        by_state=sorted(Counter(p["status_word"] for p in found).items()),
        attention=pods_view.needing_attention(found)[:10],
        total=len(found),
        events=observe.events(ctx, caller, 10),
        plane=plane_health(ctx),
    )


@router.get("/adapters")
def adapter_list(request: Request) -> Response:
    caller = web.caller_of(request)
    found = [
        {**a, "fields": schema_form.fields(a["config_schema"])} for a in catalog.adapters(True)
    ]
    return web.page(request, "adapters.html", caller=caller, title="Agent types", adapters=found)


@router.get("/audit")
def audit_log(
    request: Request, actor: str = "", action: str = "", outcome: str = "", tenant: str = ""
) -> Response:
    caller = web.caller_of(request)
    rows = [e.as_dict() for e in audit.tail(web.ctx_of(request), caller, AUDIT_TAIL)]
    filters = {"actor": actor, "action": action, "outcome": outcome, "tenant": tenant}
    shown = [r for r in rows if all(v in str(r.get(k) or "") for k, v in filters.items() if v)]
    return web.page(
        request,
        "audit.html",
        caller=caller,
        title="Audit log",
        rows=list(reversed(shown)),
        filters=filters,
        tail=AUDIT_TAIL,
    )


@router.get("/settings")
def settings_page(request: Request) -> Response:
    caller = web.caller_of(request)
    ctx = web.ctx_of(request)
    runs_machine = caller.tenants is None and caller.may(Scope.TENANTS_WRITE)
    return web.page(
        request,
        "settings.html",
        caller=caller,
        title="Settings",
        settings=ctx.settings,
        tls=bool(ctx.settings.acme_email),
        plane=plane_health(ctx),
        python=platform.python_version(),
        checks=doctor.report(ctx, caller) if runs_machine else None,
    )
