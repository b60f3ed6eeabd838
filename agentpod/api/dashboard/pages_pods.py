"""Pods: the list (filters, live status), the create form generated from the agent type's
schema, a pod's detail page (live status, events and log; config editor; token; devices) and
its actions. Every read and write is a use case of ``agentpod/control``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from starlette.responses import Response

from agentpod.api import problems
from agentpod.api.dashboard import pods_view, schema_form, usage_chart, web
from agentpod.control import access, catalog, observe, pod_config, pods, tenants
from agentpod.control.context import Context
from agentpod.control.errors import BadInput
from agentpod.core.authz import Principal, Scope

router = APIRouter()
POD = "/pods/{tenant}/{pod}"
CHART_MINUTES = 60
NEW_FIELDS = ("tenant", "name", "type", "image", "memory", "cpus", "subdomain", "domains")


@router.get("/pods")
def pod_list(request: Request, tenant: str = "", state: str = "", type: str = "") -> Response:
    caller = web.caller_of(request)
    ctx = web.ctx_of(request)
    found = [pods_view.shown(p) for p in pods.list_(ctx, caller, tenant or None)]
    shown = [p for p in found if pods_view.matches(p, tenant, state, type)]
    return web.page(
        request,
        "pods.html",
        caller=caller,
        pods=shown,
        total=len(found),
        filters={"tenant": tenant, "state": state, "type": type},
        tenants=[t["name"] for t in tenants.list_(ctx, caller)],
        states=pods_view.STATES,
        adapters=[a["id"] for a in catalog.adapters()],
        can_create=bool(_writable(ctx, caller)),
    )


def _writable(ctx: Context, caller: Principal) -> list[str]:
    """The tenants where the caller may create pods."""
    names = [t["name"] for t in tenants.list_(ctx, caller)]
    return [name for name in names if caller.may(Scope.PODS_WRITE, name)]


def _new_page(
    request: Request,
    caller: Principal,
    values: dict[str, str],
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    ctx = web.ctx_of(request)
    writable = _writable(ctx, caller)
    adapter = catalog.adapter(values.get("type") or "generic")
    return web.page(
        request,
        "pod_new.html",
        status,
        caller=caller,
        tenants=writable,
        adapters=catalog.adapters(),
        adapter=adapter,
        fields=schema_form.fields(adapter["config_schema"]),
        values=values,
        errors=errors or {},
    )


@router.get("/pods/new")
def new_pod(request: Request, type: str = "generic", tenant: str = "") -> Response:
    caller = web.caller_of(request)
    return _new_page(request, caller, {"type": type, "tenant": tenant})


def _field_of(message: str) -> str:
    """Which field of the create form an error is about (by the words it uses)."""
    lowered = message.lower()
    for word, field in (
        ("subdomain", "subdomain"),
        ("domain", "domains"),
        ("image", "image"),
        ("memory", "memory"),
        ("cpu", "cpus"),
        ("tenant", "tenant"),
        ("quota", "tenant"),
        ("pod", "name"),
        ("name", "name"),
    ):
        if word in lowered:
            return field
    return ""


def _number(text: str, what: str) -> float | None:
    try:
        return float(text) if text else None
    except ValueError:
        raise BadInput(f"{what}: not a number: {text!r}") from None


def _create(ctx: Context, caller: Principal, ref: str, form: dict[str, str]) -> None:
    schema = catalog.adapter(form.get("type", ""))["config_schema"]
    config = _config_of(schema, form)
    request = pods.PodRequest(
        adapter=form.get("type", ""),
        image=form.get("image") or None,
        memory=form.get("memory") or None,
        cpus=_number(form.get("cpus", ""), "cpus"),
        subdomain=form.get("subdomain") or None,
        domains=tuple(form.get("domains", "").replace(",", " ").split()),
        config=config,
    )
    pods.create(ctx, caller, ref, request)


class _Invalid(BadInput):
    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("invalid form")
        self.errors = errors


def _errors_of(exc: Exception, schema: dict[str, Any]) -> dict[str, str]:
    from agentpod.core.adapters import ConfigError

    if isinstance(exc, _Invalid):
        return exc.errors
    message = problems.one_line(exc)
    if isinstance(exc, ConfigError):
        names = [f.name for f in schema_form.fields(schema)]
        split = schema_form.field_errors(message, names)
        return {(schema_form.PREFIX + k if k else ""): v for k, v in split.items()}
    return {_field_of(message): message}


@router.post("/pods/new")
async def create_pod(request: Request) -> Response:
    caller, form = await web.posted(request)
    ctx = web.ctx_of(request)
    ref = f"{form.get('tenant', '')}/{form.get('name', '')}"
    failed = await web.attempt(_create, ctx, caller, ref, form)
    if failed is None:
        return web.see_other(f"/pods/{ref}?created=1")
    schema = catalog.adapter(form.get("type") or "generic")["config_schema"]
    errors = _errors_of(failed, schema)
    return await run_in_threadpool(_new_page, request, caller, form, errors, 422)


def _detail(
    request: Request,
    caller: Principal,
    ref: str,
    status: int = 200,
    **extra: Any,
) -> Response:
    ctx = web.ctx_of(request)
    pod = pods_view.shown(pods.status(ctx, caller, ref))
    schema = pod_config.schema(ctx, caller, ref)
    data: dict[str, Any] = {
        "pod": pod,
        "events": observe.events(ctx, caller, 20, ref),
        "charts": usage_chart.charts(
            observe.usage(ctx, caller, ref, CHART_MINUTES),
            {"memory_bytes": pod["memory_mb"] * 1024 * 1024, "cpu_percent": pod["cpus"] * 100},
        ),
        "chart_minutes": CHART_MINUTES,
        "fields": schema_form.fields(schema),
        "config": pod_config.get(ctx, caller, ref),
        "can_write": caller.may(Scope.PODS_WRITE, pod["tenant"]),
        "config_errors": {},
        "created": request.query_params.get("created") == "1",
    }
    data.update(extra)
    return web.page(request, "pod.html", status, caller=caller, **data)


def _devices(ctx: Context, caller: Principal, ref: str) -> list[dict[str, Any]] | str:
    try:
        return [d.as_dict() for d in access.list_devices(ctx, caller, ref)]
    except access.AccessError as exc:
        return str(exc)


@router.get(POD + "/devices")
def pod_devices(request: Request, tenant: str, pod: str) -> Response:
    """OpenClaw's pairing requests and paired devices (read from inside the container)."""
    caller, ref = web.caller_of(request), f"{tenant}/{pod}"
    found = _devices(web.ctx_of(request), caller, ref)
    can_write = caller.may(Scope.PODS_WRITE, tenant)
    return web.page(
        request,
        "devices.html",
        caller=caller,
        title=ref,
        ref=ref,
        devices=found,
        can_write=can_write,
    )


@router.get(POD)
def pod_detail(request: Request, tenant: str, pod: str) -> Response:
    return _detail(request, web.caller_of(request), f"{tenant}/{pod}")


ACTIONS: dict[str, Callable[[Context, Principal, str], Any]] = {
    "start": pods.start,
    "stop": pods.stop,
    "restart": pods.restart,
}


async def _act(
    request: Request, ref: str, run: Callable[[Context, Principal, dict[str, str]], Any]
) -> Response:
    """Run a pod's action from its detail page: back to it, or the page with the error."""
    caller, form = await web.posted(request)
    failed = await web.attempt(run, web.ctx_of(request), caller, form)
    if failed is None:
        return web.see_other(f"/pods/{ref}")
    message = problems.one_line(failed)
    return await run_in_threadpool(_detail, request, caller, ref, 409, action_error=message)


@router.post(POD + "/{action}")
async def pod_action(request: Request, tenant: str, pod: str, action: str) -> Response:
    ref = f"{tenant}/{pod}"
    if action == "delete":
        caller, _ = await web.posted(request)
        ctx = web.ctx_of(request)
        await run_in_threadpool(lambda: pods.delete(ctx, caller, ref, wait=False))
        return web.see_other(f"/pods?deleted={ref}")
    if action == "upgrade":
        return await _act(request, ref, lambda c, p, f: pods.upgrade(c, p, ref, f.get("image", "")))
    if action not in ACTIONS:
        return await _act(request, ref, _unknown_action)
    return await _act(request, ref, lambda c, p, f: ACTIONS[action](c, p, ref))


def _unknown_action(ctx: Context, caller: Principal, form: dict[str, str]) -> None:
    raise BadInput("no such action")


@router.post(POD + "/config/edit")
async def edit_config(request: Request, tenant: str, pod: str) -> Response:
    ref = f"{tenant}/{pod}"
    caller, form = await web.posted(request)
    ctx = web.ctx_of(request)
    schema = await run_in_threadpool(pod_config.schema, ctx, caller, ref)
    failed = await web.attempt(_replace_config, ctx, caller, ref, schema, form)
    if failed is None:
        return web.see_other(f"/pods/{ref}?saved=1")
    errors = _errors_of(failed, schema)
    return await run_in_threadpool(
        _detail, request, caller, ref, 422, config_errors=errors, form=form
    )


def _replace_config(
    ctx: Context, caller: Principal, ref: str, schema: dict[str, Any], form: dict[str, str]
) -> None:
    pod_config.replace(ctx, caller, ref, _config_of(schema, form))


def _config_of(schema: dict[str, Any], form: dict[str, str]) -> dict[str, Any]:
    config, bad = schema_form.config_of(schema, form)
    if bad:
        raise _Invalid({schema_form.PREFIX + k: v for k, v in bad.items()})
    return config


@router.post(POD + "/token/{what}")
async def token(request: Request, tenant: str, pod: str, what: str) -> Response:
    ref = f"{tenant}/{pod}"
    caller, _ = await web.posted(request)
    ctx = web.ctx_of(request)
    use = access.rotate_token if what == "rotate" else access.reveal_token
    shown = await run_in_threadpool(use, ctx, caller, ref)
    return await run_in_threadpool(_detail, request, caller, ref, token=shown.as_dict())


@router.post(POD + "/open/ui")
async def open_ui(request: Request, tenant: str, pod: str) -> Response:
    caller, _ = await web.posted(request)
    opened = await run_in_threadpool(
        access.open_url, web.ctx_of(request), caller, f"{tenant}/{pod}"
    )
    return web.see_other(opened.url)


@router.post(POD + "/devices/{request_id}/approve")
async def approve(request: Request, tenant: str, pod: str, request_id: str) -> Response:
    ref = f"{tenant}/{pod}"
    caller, _ = await web.posted(request)
    ctx = web.ctx_of(request)
    await run_in_threadpool(access.approve_device, ctx, caller, ref, request_id)
    return web.see_other(f"/pods/{ref}/devices?approved={request_id}")
