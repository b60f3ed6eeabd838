"""LLM providers, budgets, prices and usage: the CLI's (and later the API's) operations.

Adding or removing a tenant's provider re-renders its pods (they get, or lose, the gateway's
env and, for OpenClaw, the provider entries); rotating a key changes nothing in any pod. The
writes take the caller: a tenant's providers and budgets need tenants:write on it, prices
(for every tenant) tenants:write; each is audited, never with the key.
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
from agentpod.services.store import StoreError


class LlmError(StoreError):
    """Bad input for an LLM command: one line saying what to do instead."""


def llm_store(ctx: Context) -> LlmStore:
    return LlmStore(ctx.store)


def check_key(key: str) -> str:
    key = key.strip()
    if not key or any(c.isspace() for c in key):
        raise LlmError("the key must be one non-empty line on standard input")
    return key


def add_provider(
    ctx: Context,
    caller: Principal,
    tenant: str,
    name: str,
    kind: str,
    base_url: str,
    key: str,
) -> Provider:
    with audited(ctx, caller, "llm.provider.add", f"{tenant}/{name}", tenant):
        guard.tenant_of(ctx, caller, tenant, Scope.TENANTS_WRITE)
        try:
            name, url = validate_provider(name, base_url)
        except ValueError as exc:
            raise LlmError(str(exc)) from None
        llm = llm_store(ctx)
        provider = llm.add_provider(tenant, name, ProviderKind(kind), url, check_key(key))
    ctx.apply(ctx.store.list_pods(tenant))
    return provider


def rotate_provider(ctx: Context, caller: Principal, tenant: str, name: str, key: str) -> Provider:
    """The gateway reads the new key within a second; pods keep running untouched."""
    with audited(ctx, caller, "llm.provider.rotate", f"{tenant}/{name}", tenant):
        guard.tenant_of(ctx, caller, tenant, Scope.TENANTS_WRITE)
        return llm_store(ctx).rotate_provider(tenant, name, check_key(key))


def remove_provider(ctx: Context, caller: Principal, tenant: str, name: str) -> None:
    with audited(ctx, caller, "llm.provider.remove", f"{tenant}/{name}", tenant):
        guard.tenant_of(ctx, caller, tenant, Scope.TENANTS_WRITE)
        llm_store(ctx).remove_provider(tenant, name)
    ctx.apply(ctx.store.list_pods(tenant))


def virtual_keys(ctx: Context, tenant: str) -> list[dict[str, Any]]:
    """Each pod's virtual key, masked, and whether its tenant has providers to use it with."""
    ctx.store.get_tenant(tenant)
    llm = llm_store(ctx)
    has = bool(llm.list_providers(tenant))
    return [
        {"pod": str(p.ref), "key": mask_key(llm.virtual_key(p)), "active": has}
        for p in ctx.store.list_pods(tenant)
    ]


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


def budgets(ctx: Context, tenant: str | None) -> list[dict[str, Any]]:
    if tenant:
        ctx.store.get_tenant(tenant)
    return [
        {"tenant": t, "pod": f"{t}/{b.pod}" if b.pod else None, **b.model_dump(exclude={"pod"})}
        for t, b in llm_store(ctx).budgets(tenant)
    ]


def set_price(
    ctx: Context, caller: Principal, model: str, input_usd: float, output_usd: float
) -> Price:
    with audited(ctx, caller, "llm.price.set", model):
        guard.require(caller, Scope.TENANTS_WRITE)
        try:
            price = Price(model=model, input_usd_per_mt=input_usd, output_usd_per_mt=output_usd)
        except ValueError as exc:
            raise LlmError(str(exc).splitlines()[-1].strip()) from None
        llm_store(ctx).set_price(price)
    return price


def remove_price(ctx: Context, caller: Principal, model: str) -> None:
    with audited(ctx, caller, "llm.price.remove", model):
        guard.require(caller, Scope.TENANTS_WRITE)
        llm_store(ctx).remove_price(model)


def usage(
    ctx: Context, tenant: str, pod: str | None, since: str | None, by_day: bool
) -> list[dict[str, Any]]:
    return llm_store(ctx).usage(tenant, pod, parse_since(since) if since else None, by_day)


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
