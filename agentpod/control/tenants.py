"""Tenant use cases, for every shell: rights checked, writes audited.

tenants.create(ctx: Context, caller: Principal, name: str, rate_average: int | None = None,
               rate_burst: int | None = None, pool: str | None = None) -> Tenant
tenants.update(ctx: Context, caller: Principal, name: str, rate_average: int | None = None,
               rate_burst: int | None = None,
               quota: Mapping[str, str | float | None] | None = None,
               pool: str | None = None) -> TenantUpdate
tenants.list_(ctx: Context, caller: Principal) -> list[dict]
tenants.status(ctx: Context, caller: Principal, name: str) -> dict
tenants.delete(ctx: Context, caller: Principal, name: str, force: bool = False,
               confirm: Callable[[int], None] | None = None) -> None

``quota`` maps ``max_pods``, ``max_memory`` (a size such as ``4g``, or MiB) and ``max_cpus`` to a
new limit, or to None to lift it; keys left out keep theirs. ``pool`` (swarm node labels,
``zone=eu,ssd``) places the tenant's new pods; "" clears it, None keeps it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from agentpod.control import guard
from agentpod.control.audit import audited
from agentpod.control.context import Context
from agentpod.control.errors import BadInput, checked
from agentpod.core.authz import Principal, Scope
from agentpod.core.models import DesiredStatus, Pod, Tenant, TenantSettings
from agentpod.core.names import validate_label
from agentpod.core.quota import Quota, Usage
from agentpod.services.store import Conflict

QUOTA_KEYS = {"max_pods": "max_pods", "max_memory": "max_memory_mb", "max_cpus": "max_cpus"}


@dataclass
class TenantUpdate:
    tenant: Tenant
    settings_changed: bool = False
    quota_changed: bool = False
    rates_changed: bool = False  # its pods are recreated with them
    pool_changed: bool = False  # not applied to pods placed already
    pods_updated: int = 0
    warnings: list[str] = field(default_factory=list)


def create(
    ctx: Context,
    caller: Principal,
    name: str,
    rate_average: int | None = None,
    rate_burst: int | None = None,
    pool: str | None = None,
) -> Tenant:
    with audited(ctx, caller, "tenant.create", name, name):
        validate_label(name, "tenant name")
        guard.require_all(caller, Scope.TENANTS_WRITE)  # a new tenant is in no caller's list
        values = {"rate_average": rate_average, "rate_burst": rate_burst}
        settings = _settings(ctx, TenantSettings(), values, pool)
        return ctx.store.create_tenant(name, settings)


def _settings(
    ctx: Context, base: TenantSettings, changes: dict[str, int | None], pool: str | None
) -> TenantSettings:
    from agentpod.control.nodes import pool_of

    kept: dict[str, Any] = {k: v for k, v in changes.items() if v is not None}
    if pool is not None:
        kept["pool"] = pool_of(ctx, pool)
    return checked(lambda: TenantSettings(**{**base.model_dump(), **kept}))


def _quota(base: Quota, changes: Mapping[str, str | float | None]) -> Quota:
    from agentpod.core.units import parse_memory_mb

    unknown = set(changes) - set(QUOTA_KEYS)
    if unknown:
        raise BadInput(f"no quota {sorted(unknown)[0]!r}: use {', '.join(QUOTA_KEYS)}")
    values: dict[str, Any] = base.model_dump()
    for key, value in changes.items():
        if key == "max_memory" and isinstance(value, str):
            value = checked(lambda v=value: parse_memory_mb(v))
        values[QUOTA_KEYS[key]] = value
    return checked(lambda: Quota(**values))


def update(
    ctx: Context,
    caller: Principal,
    name: str,
    rate_average: int | None = None,
    rate_burst: int | None = None,
    quota: Mapping[str, str | float | None] | None = None,
    pool: str | None = None,
) -> TenantUpdate:
    """Edge settings (its pods are recreated with them, data kept), quotas (checked at the
    next change: a lowered quota stops nothing that runs) and the pool (for pods placed from
    now on: a pod moves with `pod move`)."""
    with audited(ctx, caller, "tenant.set", name, name):
        t = guard.tenant_of(ctx, caller, name, Scope.TENANTS_WRITE)
        rates = {"rate_average": rate_average, "rate_burst": rate_burst}
        settings = _settings(ctx, t.settings, rates, pool)
        limits = _quota(t.quota, quota or {})
        done = TenantUpdate(t, settings != t.settings, limits != t.quota)
        done.pool_changed = settings.pool != t.settings.pool
        done.rates_changed = settings.model_copy(update={"pool": t.settings.pool}) != t.settings
        if done.quota_changed:
            done.tenant = ctx.store.set_tenant_quota(t, limits)
        if done.settings_changed:
            done.tenant = ctx.store.set_tenant_settings(t, settings)
    if done.rates_changed:
        changed = ctx.store.list_pods(name)
        done.pods_updated = len(changed)
        done.warnings = [f"{o.action.ref}: {o.error}" for o in ctx.apply(changed) if o.error]
    return done


def view(t: Tenant, all_pods: list[Pod]) -> dict[str, Any]:
    """The stable JSON of a tenant."""
    mine = [p for p in all_pods if p.tenant_id == t.id]
    return {
        "name": t.name,
        "pods": len(mine),
        "running": sum(1 for p in mine if p.desired_status is DesiredStatus.RUNNING),
        "settings": t.settings.model_dump(),
        "quota": t.quota.model_dump(),
        "created_at": t.created_at,
    }


def list_(ctx: Context, caller: Principal) -> list[dict[str, Any]]:
    guard.require(caller, Scope.TENANTS_READ)
    with guard.in_scope(ctx, caller):
        all_pods = ctx.store.list_pods()
        return [view(t, all_pods) for t in ctx.store.list_tenants(caller.tenants)]


def status(ctx: Context, caller: Principal, name: str) -> dict[str, Any]:
    """The tenant, its usage against its quota, and its pods."""
    t = guard.tenant_of(ctx, caller, name, Scope.TENANTS_READ)
    with guard.in_scope(ctx, caller):
        data = view(t, ctx.store.list_pods(name))
        used: Usage = ctx.store.tenant_usage(t)
        data["pod_list"] = ctx.store.pod_views(ctx.edge.url_parts(), name)
    data["usage"] = used.as_dict()
    return data


def delete(
    ctx: Context,
    caller: Principal,
    name: str,
    force: bool = False,
    confirm: Callable[[int], None] | None = None,
) -> None:
    """Delete a tenant; with pods only when ``force`` (they go first, data too). ``confirm``
    gets the number of pods and may raise to stop before anything changes."""
    with audited(ctx, caller, "tenant.delete", name, name):
        guard.tenant_of(ctx, caller, name, Scope.TENANTS_WRITE)
        doomed = ctx.store.list_pods(name)
        if doomed and not force:
            raise Conflict(
                f"tenant {name!r} still has {len(doomed)} pod(s): delete them first, or pass "
                "--force"
            )
        if doomed and confirm:
            confirm(len(doomed))
        for p in doomed:
            ctx.store.set_desired(p, DesiredStatus.DELETED)
        for p in doomed:
            ctx.apply([p])
            ctx.wait_gone(p, timeout=120)
        ctx.store.delete_tenant(name)
    if not ctx.store.serve_running():
        ctx.reconciler.run_once()
    else:
        ctx.store.wake()
