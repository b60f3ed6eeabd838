"""``agentpod llm``: providers (keys sealed, never shown), virtual keys, usage, budgets, prices."""

from __future__ import annotations

import sys
from typing import Any

import click

from agentpod.cli.app import FORMAT, App, ExitCode, Failure

TENANT = click.option("--tenant", required=True, help="The tenant (TENANT).")
KEY_STDIN = click.option(
    "--key-stdin", is_flag=True, help="Read the provider's API key from standard input."
)


def _read_key(key_stdin: bool) -> str:
    if not key_stdin:
        raise Failure("pass --key-stdin and the key on standard input", ExitCode.USAGE)
    return sys.stdin.readline()


def _table(columns: list[str], rows: list[list[Any]]):  # -> rich Table
    from agentpod.cli.output import simple_table

    return simple_table(columns, [["-" if c is None else str(c) for c in r] for r in rows])


@click.group()
def llm() -> None:
    """The LLM gateway: tenants' provider keys stay here, pods get a virtual key."""


@llm.group()
def provider() -> None:
    """LLM providers (OpenAI-compatible or Anthropic): a tenant's, or the platform's shared
    with chosen tenants."""


OWNER = [
    click.option("--tenant", help="The tenant whose provider it is."),
    click.option(
        "--platform", is_flag=True, help="The platform's (shared with tenants; admins only)."
    ),
]


def owner_options(fn: Any) -> Any:
    for option in reversed(OWNER):
        fn = option(fn)
    return fn


def _owner(tenant: str | None, platform: bool) -> str | None:
    """The tenant, or None for the platform: exactly one of --tenant and --platform."""
    if bool(tenant) == platform:
        raise Failure("give either --tenant T or --platform", ExitCode.USAGE)
    return tenant


def _whose(tenant: str | None) -> str:
    return f"tenant {tenant}" if tenant else "the platform"


@provider.command("add")
@click.argument("name")
@owner_options
@click.option("--kind", type=click.Choice(["openai", "anthropic"]), required=True)
@click.option("--base-url", required=True, help="e.g. https://api.openai.com/v1")
@KEY_STDIN
@click.pass_obj
def provider_add(
    app: App,
    name: str,
    tenant: str | None,
    platform: bool,
    kind: str,
    base_url: str,
    key_stdin: bool,
) -> None:
    """Give a tenant (or the platform) a provider key (sealed at rest; pods reach it through
    the gateway)."""
    from agentpod.control import llm as control

    owner = _owner(tenant, platform)
    p = control.add_provider(app.ctx, app.caller, owner, name, kind, base_url, _read_key(key_stdin))
    app.ok(
        f"provider {p.name} added to {_whose(owner)} "
        f"({p.kind.value}, {p.base_url}, key …{p.key_hint})"
    )


@provider.command("list")
@click.option("--tenant", help="Only this tenant's providers (its own and those shared).")
@click.option("--platform", is_flag=True, help="The platform's, with whom each is shared.")
@FORMAT
@click.pass_obj
def provider_list(app: App, tenant: str | None, platform: bool, fmt: str) -> None:
    """List providers: name, kind, base URL, the key's last four characters."""
    from agentpod.control import llm as control

    if platform:
        rows = control.platform_providers(app.ctx, app.caller)
        columns = ["NAME", "KIND", "BASE URL", "KEY", "SHARED WITH"]
        fields = ["name", "kind", "base_url", "key", "tenants"]
    else:
        rows = control.list_providers(app.ctx, app.caller, tenant)
        columns = ["TENANT", "NAME", "KIND", "BASE URL", "KEY", "PLATFORM"]
        fields = ["tenant", "name", "kind", "base_url", "key", "platform"]
    app.emit(rows, fmt, lambda rs: _table(columns, [[_cell(r[f]) for f in fields] for r in rs]))


def _cell(value: Any) -> Any:
    return ", ".join(value) if isinstance(value, list) else value


@provider.command("rotate")
@click.argument("name")
@owner_options
@KEY_STDIN
@click.pass_obj
def provider_rotate(
    app: App, name: str, tenant: str | None, platform: bool, key_stdin: bool
) -> None:
    """Replace a provider's key; pods keep running (the gateway uses the new key in ~1 s)."""
    from agentpod.control import llm as control

    owner = _owner(tenant, platform)
    p = control.rotate_provider(app.ctx, app.caller, owner, name, _read_key(key_stdin))
    app.ok(f"provider {p.name} of {_whose(owner)}: key rotated (…{p.key_hint})")


@provider.command("rm")
@click.argument("name")
@owner_options
@click.pass_obj
def provider_rm(app: App, name: str, tenant: str | None, platform: bool) -> None:
    """Remove a provider (and its sealed key; a platform one from every tenant)."""
    from agentpod.control import llm as control

    owner = _owner(tenant, platform)
    control.remove_provider(app.ctx, app.caller, owner, name)
    app.ok(f"provider {name} removed from {_whose(owner)}")


@provider.command("share")
@click.argument("name")
@TENANT
@click.pass_obj
def provider_share(app: App, name: str, tenant: str) -> None:
    """Let a tenant's pods use a platform provider (a provider of its own by that name wins)."""
    from agentpod.control import llm as control

    for warning in control.share_provider(app.ctx, app.caller, name, tenant):
        app.warn(warning)
    app.ok(f"platform provider {name} shared with tenant {tenant}")


@provider.command("unshare")
@click.argument("name")
@TENANT
@click.pass_obj
def provider_unshare(app: App, name: str, tenant: str) -> None:
    """Stop sharing a platform provider with a tenant (its pods get 404 for it)."""
    from agentpod.control import llm as control

    control.share_provider(app.ctx, app.caller, name, tenant, shared=False)
    app.ok(f"platform provider {name} no longer shared with tenant {tenant}")


@llm.command("keys")
@TENANT
@FORMAT
@click.pass_obj
def keys(app: App, tenant: str, fmt: str) -> None:
    """The pods' virtual keys, masked (each pod has its own in AGENTPOD_LLM_API_KEY)."""
    from agentpod.control.llm import virtual_keys

    rows = virtual_keys(app.ctx, app.caller, tenant)
    app.emit(rows, fmt, lambda rs: _table(["POD", "KEY", "ACTIVE"], [list(r.values()) for r in rs]))


USAGE_COLUMNS = [
    "pod",
    "provider",
    "model",
    "requests",
    "errors",
    "input_tokens",
    "output_tokens",
    "cost_usd",
    "avg_ttft_ms",
]


@llm.command("usage")
@TENANT
@click.option("--pod", help="Only this pod (its name in the tenant).")
@click.option("--since", help="30m, 24h, 7d, or a date (default: everything).")
@click.option("--by-day", is_flag=True, help="One row per day too.")
@FORMAT
@click.pass_obj
def usage(
    app: App, tenant: str, pod: str | None, since: str | None, by_day: bool, fmt: str
) -> None:
    """Requests, tokens and spend per pod, provider and model."""
    from agentpod.control.llm import usage as read_usage

    rows = read_usage(app.ctx, app.caller, tenant, pod, since, by_day)
    columns = (["day"] if by_day else []) + USAGE_COLUMNS
    app.emit(
        rows,
        fmt,
        lambda rs: _table([c.upper() for c in columns], [[r[c] for c in columns] for r in rs]),
    )


@llm.group()
def budget() -> None:
    """Requests/tokens per minute and spend per day/month, for a tenant or one pod."""


@budget.command("set")
@click.argument("scope", metavar="TENANT[/POD]")
@click.option("--requests-per-minute", type=click.IntRange(min=1))
@click.option("--tokens-per-minute", type=click.IntRange(min=1))
@click.option("--daily-usd", type=click.FloatRange(min=0), help="Spend per UTC day.")
@click.option("--monthly-usd", type=click.FloatRange(min=0), help="Spend per UTC month.")
@click.option(
    "--clear",
    "clear",
    multiple=True,
    type=click.Choice(["requests-per-minute", "tokens-per-minute", "daily-usd", "monthly-usd"]),
    help="Remove this limit (repeatable).",
)
@click.pass_obj
def budget_set(app: App, scope: str, clear: tuple[str, ...], **limits: Any) -> None:
    """Set limits; over one, the gateway answers 429 in the provider's error shape."""
    from agentpod.control.llm import set_budget

    changes = {k: v for k, v in limits.items() if v is not None}
    changes |= {c.replace("-", "_"): None for c in clear}
    _, b = set_budget(app.ctx, app.caller, scope, changes)
    shown = ", ".join(f"{k}={v}" for k, v in b.model_dump(exclude={"pod"}).items() if v is not None)
    app.ok(f"LLM budget of {scope}: {shown or 'no limits'}")


@budget.command("show")
@click.argument("tenant", required=False)
@FORMAT
@click.pass_obj
def budget_show(app: App, tenant: str | None, fmt: str) -> None:
    """Budgets of every tenant (or one), tenant-wide and per pod."""
    from agentpod.control.llm import budgets

    rows = budgets(app.ctx, app.caller, tenant)
    cols = ["tenant", "pod", "requests_per_minute", "tokens_per_minute", "daily_usd", "monthly_usd"]
    app.emit(
        rows, fmt, lambda rs: _table([c.upper() for c in cols], [[r[c] for c in cols] for r in rs])
    )


@llm.group()
def prices() -> None:
    """The price table (USD per million tokens) that usage costs are computed with."""


@prices.command("list")
@FORMAT
@click.pass_obj
def prices_list(app: App, fmt: str) -> None:
    """Models and their prices."""
    from agentpod.control.llm import prices as read_prices

    rows = read_prices(app.ctx, app.caller)
    cols = ["model", "input_usd_per_mt", "output_usd_per_mt"]
    app.emit(
        rows,
        fmt,
        lambda rs: _table(
            ["MODEL", "INPUT $/MTOK", "OUTPUT $/MTOK"], [[r[c] for c in cols] for r in rs]
        ),
    )


@prices.command("set")
@click.argument("model")
@click.option(
    "--input", "input_usd", type=float, required=True, help="USD per million input tokens."
)
@click.option(
    "--output", "output_usd", type=float, required=True, help="USD per million output tokens."
)
@click.pass_obj
def prices_set(app: App, model: str, input_usd: float, output_usd: float) -> None:
    """Set a model's price (applies to requests from now on)."""
    from agentpod.control.llm import set_price

    p = set_price(app.ctx, app.caller, model, input_usd, output_usd)
    app.ok(
        f"{p.model}: ${p.input_usd_per_mt:g} in, ${p.output_usd_per_mt:g} out per million tokens"
    )


@prices.command("rm")
@click.argument("model")
@click.pass_obj
def prices_rm(app: App, model: str) -> None:
    """Remove a model's price."""
    from agentpod.control.llm import remove_price

    remove_price(app.ctx, app.caller, model)
    app.ok(f"price of {model} removed")
