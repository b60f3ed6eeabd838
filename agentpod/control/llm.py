"""LLM providers, budgets, prices and usage: the use cases of the CLI and the API.

Adding or removing a tenant's provider re-renders its pods (they get, or lose, the gateway's
env and, for OpenClaw, the provider entries); rotating a key changes nothing in any pod. The
writes take the caller: a tenant's providers and budgets need tenants:write on it, prices
(for every tenant) tenants:write over every tenant, as do the platform's providers and whom
they are shared with; reads need tenants:read on the tenant. Writes are audited, never with
the key.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from agentpod.control import guard
from agentpod.control.audit import audited
from agentpod.control.context import Context
from agentpod.core.authz import Principal, Scope
from agentpod.core.llm import (
    Budget,
    Price,
    Provider,
    ProviderKind,
    mask_key,
    provider_keys_in,
    validate_provider,
)
from agentpod.core.names import PodRef, validate_label
from agentpod.services.llm_store import BUDGET_FIELDS, LlmStore
from agentpod.services.store import NotFound, StoreError


class LlmError(StoreError):
    """Bad input for an LLM command: one line saying what to do instead."""


def llm_store(ctx: Context) -> LlmStore:
    return LlmStore(ctx.store)


def check_key(key: str) -> str:
    key = key.strip()
    if not key or any(c.isspace() for c in key):
        raise LlmError("the key must be one non-empty line on standard input")
    return key


def _owner(ctx: Context, caller: Principal, tenant: str | None, scope: Scope) -> None:
    """A tenant's providers need ``scope`` on it; the platform's a caller who sees every
    tenant."""
    if tenant is None:
        guard.require_all(caller, scope)
    else:
        guard.tenant_of(ctx, caller, tenant, scope)


def _target(tenant: str | None, name: str) -> str:
    return f"{tenant or 'platform'}/{name}"


def add_provider(
    ctx: Context,
    caller: Principal,
    tenant: str | None,
    name: str,
    kind: str,
    base_url: str,
    key: str,
) -> Provider:
    """A tenant's provider, or (``tenant`` None) one of the platform's, shared with nobody yet."""
    with audited(ctx, caller, "llm.provider.add", _target(tenant, name), tenant):
        _owner(ctx, caller, tenant, Scope.TENANTS_WRITE)
        try:
            name, url = validate_provider(name, base_url)
            kind_ = ProviderKind(kind)
        except ValueError as exc:
            raise LlmError(str(exc)) from None
        provider = llm_store(ctx).add_provider(tenant, name, kind_, url, check_key(key))
    _apply(ctx, [tenant] if tenant else [])
    return provider


def rotate_provider(
    ctx: Context, caller: Principal, tenant: str | None, name: str, key: str
) -> Provider:
    """The gateway reads the new key within a second; pods keep running untouched."""
    with audited(ctx, caller, "llm.provider.rotate", _target(tenant, name), tenant):
        _owner(ctx, caller, tenant, Scope.TENANTS_WRITE)
        return llm_store(ctx).rotate_provider(tenant, name, check_key(key))


def remove_provider(ctx: Context, caller: Principal, tenant: str | None, name: str) -> None:
    with audited(ctx, caller, "llm.provider.remove", _target(tenant, name), tenant):
        _owner(ctx, caller, tenant, Scope.TENANTS_WRITE)
        shared = llm_store(ctx).remove_provider(tenant, name)
    _apply(ctx, [tenant] if tenant else shared)


def share_provider(
    ctx: Context, caller: Principal, name: str, tenant: str, shared: bool = True
) -> list[str]:
    """Share a platform provider with a tenant (``shared`` False: stop); returns warnings."""
    action = "llm.provider.share" if shared else "llm.provider.unshare"
    with audited(ctx, caller, action, _target(None, name), tenant):
        guard.require_all(caller, Scope.TENANTS_WRITE)
        llm = llm_store(ctx)
        changed = llm.share(name, tenant, shared)
        if not changed and not shared:
            raise NotFound(f"platform provider {name!r} is not shared with tenant {tenant}")
    _apply(ctx, [tenant])
    if any(p.name == name and not p.platform for p in llm.list_providers(tenant)):
        return [f"tenant {tenant} has its own provider {name!r}: its pods keep using that"]
    return []


def _apply(ctx: Context, tenants: list[str]) -> None:
    """The tenants' pods are re-rendered: which providers they reach changed."""
    for tenant in tenants:
        ctx.apply(ctx.store.list_pods(tenant))


def list_providers(ctx: Context, caller: Principal, tenant: str | None) -> list[dict[str, Any]]:
    """What a tenant's pods reach (own and shared), or every tenant's (a caller who sees all)."""
    _owner(ctx, caller, tenant, Scope.TENANTS_READ)
    with guard.in_scope(ctx, caller):
        return [p.as_dict() for p in llm_store(ctx).list_providers(tenant)]


def platform_providers(ctx: Context, caller: Principal) -> list[dict[str, Any]]:
    guard.require_all(caller, Scope.TENANTS_READ)
    return [p.as_dict() for p in llm_store(ctx).platform_providers()]


def virtual_keys(ctx: Context, caller: Principal, tenant: str) -> list[dict[str, Any]]:
    """Each pod's virtual key, masked, and whether its tenant has providers to use it with."""
    guard.tenant_of(ctx, caller, tenant, Scope.TENANTS_READ)
    llm = llm_store(ctx)
    with guard.in_scope(ctx, caller):
        has = bool(llm.list_providers(tenant))
        found = ctx.store.list_pods(tenant)
    return [{"pod": str(p.ref), "key": mask_key(llm.virtual_key(p)), "active": has} for p in found]


def refuse_provider_keys(config: dict[str, Any]) -> None:
    """A provider key put straight into a pod's config would sit in plain text in the database,
    in ``docker inspect`` and in the pod: refused."""
    found = provider_keys_in(config)
    if found:
        raise LlmError(
            f"{found[0]}: provider keys do not go into a pod's config; give the tenant the key "
            "with 'agentpod llm provider add NAME --tenant T --kind openai|anthropic "
            "--base-url URL --key-stdin' and the pod reaches it through the LLM gateway"
        )


def budget_scope(text: str) -> tuple[str, str]:
    """``T`` (the tenant) or ``T/P`` (one pod)."""
    if "/" in text:
        ref = PodRef.parse(text)
        return ref.tenant, ref.name
    return validate_label(text, "tenant name"), ""


def set_budget(
    ctx: Context, caller: Principal, scope: str, changes: dict[str, Any]
) -> tuple[str, Budget]:
    with audited(ctx, caller, "llm.budget.set", scope, scope.partition("/")[0]):
        tenant, pod = budget_scope(scope)
        guard.tenant_of(ctx, caller, tenant, Scope.TENANTS_WRITE)
        if pod:
            ctx.store.get_pod(PodRef(tenant, pod))
        if not changes:
            options = ", ".join("--" + f.replace("_", "-") for f in BUDGET_FIELDS)
            raise LlmError(f"give at least one limit: {options}")
        try:
            budget = Budget(pod=pod, **{k: v for k, v in changes.items() if v is not None})
        except ValueError as exc:
            raise LlmError(str(exc).splitlines()[-1].strip()) from None
        return tenant, llm_store(ctx).set_budget(tenant, budget, changes)


def budgets(ctx: Context, caller: Principal, tenant: str | None) -> list[dict[str, Any]]:
    """One tenant's budgets, or (a caller who sees every tenant) all of them."""
    _owner(ctx, caller, tenant, Scope.TENANTS_READ)
    with guard.in_scope(ctx, caller):
        found = llm_store(ctx).budgets(tenant)
    return [
        {"tenant": t, "pod": f"{t}/{b.pod}" if b.pod else None, **b.model_dump(exclude={"pod"})}
        for t, b in found
    ]


def set_price(
    ctx: Context, caller: Principal, model: str, input_usd: float, output_usd: float
) -> Price:
    with audited(ctx, caller, "llm.price.set", model):
        guard.require_all(caller, Scope.TENANTS_WRITE)
        try:
            price = Price(model=model, input_usd_per_mt=input_usd, output_usd_per_mt=output_usd)
        except ValueError as exc:
            raise LlmError(str(exc).splitlines()[-1].strip()) from None
        llm_store(ctx).set_price(price)
    return price


def remove_price(ctx: Context, caller: Principal, model: str) -> None:
    with audited(ctx, caller, "llm.price.remove", model):
        guard.require_all(caller, Scope.TENANTS_WRITE)
        llm_store(ctx).remove_price(model)


def prices(ctx: Context, caller: Principal) -> list[dict[str, Any]]:
    """The price table (the same for every tenant): anyone logged in may read it."""
    with guard.in_scope(ctx, caller):
        return [p.model_dump() for p in llm_store(ctx).prices().values()]


def usage(
    ctx: Context,
    caller: Principal,
    tenant: str,
    pod: str | None,
    since: str | None,
    by_day: bool,
) -> list[dict[str, Any]]:
    """Requests, tokens and spend per pod, provider and model: whoever reads the tenant."""
    guard.tenant_of(ctx, caller, tenant, Scope.TENANTS_READ)
    start = parse_since(since) if since else None
    with guard.in_scope(ctx, caller):
        return llm_store(ctx).usage(tenant, pod, start, by_day)


def parse_since(text: str) -> datetime:
    """``24h``, ``7d``, ``30m`` ago, or an ISO date/time (UTC when no zone is given)."""
    units = {"m": 60, "h": 3600, "d": 86400}
    if text[:-1].isdigit() and text[-1:] in units:
        return datetime.now(UTC) - timedelta(seconds=int(text[:-1]) * units[text[-1]])
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise LlmError(f"--since {text!r}: give 30m, 24h, 7d or a date like 2026-12-01") from None
    return at if at.tzinfo else at.replace(tzinfo=UTC)
