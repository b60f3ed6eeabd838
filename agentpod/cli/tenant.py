"""``agentpod tenant``: create, list, status, set (edge limits, quotas), members, delete."""

from __future__ import annotations

from typing import Any

import click

from agentpod.cli.app import FORMAT, App

QUOTAS = ["max-pods", "max-memory", "max-cpus"]
POOL = click.option(
    "--pool",
    metavar="LABELS",
    help="Swarm pool: node labels its pods are placed on, e.g. zone=eu,ssd.",
)


@click.group()
def tenant() -> None:
    """Manage tenants (each gets its own network and pods)."""


@tenant.command("create")
@click.argument("name")
@click.option("--rate-average", type=int, help="Requests per second allowed on average.")
@click.option("--rate-burst", type=int, help="Requests allowed in a burst.")
@POOL
@click.pass_obj
def create(
    app: App, name: str, rate_average: int | None, rate_burst: int | None, pool: str | None
) -> None:
    """Create a tenant."""
    from agentpod.control import tenants

    tenants.create(app.ctx, app.caller, name, rate_average, rate_burst, pool)
    app.ok(f"tenant {name} created")


@tenant.command("set")
@click.argument("name")
@click.option("--rate-average", type=click.IntRange(min=1), help="Requests per second.")
@click.option("--rate-burst", type=click.IntRange(min=1), help="Requests allowed in a burst.")
@click.option("--max-pods", type=click.IntRange(min=0), help="Quota: pods (not being deleted).")
@click.option("--max-memory", metavar="SIZE", help="Quota: memory of its running pods, e.g. 8g.")
@click.option("--max-cpus", type=click.FloatRange(min=0), help="Quota: CPUs of its running pods.")
@POOL
@click.option(
    "--clear",
    type=click.Choice([*QUOTAS, "pool"]),
    multiple=True,
    help="Lift this quota, or clear the pool (repeatable).",
)
@click.pass_obj
def set_(
    app: App,
    name: str,
    rate_average: int | None,
    rate_burst: int | None,
    max_pods: int | None,
    max_memory: str | None,
    max_cpus: float | None,
    pool: str | None,
    clear: tuple[str, ...],
) -> None:
    """Change a tenant's edge settings (its pods are recreated with them, data kept) or its
    quotas (checked at every pod create, start and limit change)."""
    from agentpod.control import tenants

    given = {"max_pods": max_pods, "max_memory": max_memory, "max_cpus": max_cpus}
    quota: dict[str, Any] = {k: v for k, v in given.items() if v is not None}
    quota.update({q.replace("-", "_"): None for q in clear if q != "pool"})
    pool = "" if "pool" in clear else pool
    done = tenants.update(app.ctx, app.caller, name, rate_average, rate_burst, quota, pool)
    for warning in done.warnings:
        app.warn(warning)
    t = done.tenant
    if done.rates_changed:
        app.ok(
            f"tenant {name}: rate limit {t.settings.rate_average}/s, burst "
            f"{t.settings.rate_burst} ({done.pods_updated} pod(s) updated)"
        )
    if done.pool_changed:
        app.ok(
            f"tenant {name}: pool {t.settings.pool or 'none (any node)'} for pods placed from"
            " now on ('agentpod pod move' moves a placed one)"
        )
    if done.quota_changed:
        app.ok(f"tenant {name}: quota {_quota_text(t.quota.model_dump())}")
    if not done.settings_changed and not done.quota_changed:
        app.ok(f"tenant {name} unchanged")


def _quota_text(quota: dict[str, Any], usage: dict[str, Any] | None = None) -> str:
    """``pods 2 of 3, memory 1024 of unlimited MiB, CPUs 1 of 2`` (without usage: limits only)."""
    parts = []
    for key, label, unit in [
        ("pods", "pods", ""),
        ("memory_mb", "memory", " MiB"),
        ("cpus", "CPUs", ""),
    ]:
        limit = quota[f"max_{key}"]
        shown = "unlimited" if limit is None else f"{limit:g}{unit}"
        used = f"{usage[key]:g}{unit} of " if usage is not None else ""
        parts.append(f"{label} {used}{shown}")
    return ", ".join(parts)


@tenant.command("list")
@FORMAT
@click.pass_obj
def list_(app: App, fmt: str) -> None:
    """List tenants."""
    from agentpod.cli.output import tenants_table
    from agentpod.control import tenants

    app.emit(tenants.list_(app.ctx, app.caller), fmt, tenants_table)


@tenant.command("status")
@click.argument("name")
@FORMAT
@click.pass_obj
def status(app: App, name: str, fmt: str) -> None:
    """Show a tenant, its usage against its quotas, and its pods."""
    from rich.text import Text

    from agentpod.cli.output import pods_table
    from agentpod.control import tenants

    data = tenants.status(app.ctx, app.caller, name)
    if fmt == "json":
        app.json(data)
        return
    created = str(data["created_at"])[:19]
    settings = data["settings"]
    app.out.print(Text.assemble((name, "bold"), f": {data['pods']} pod(s), created {created}"))
    app.out.print(f"rate limit {settings['rate_average']}/s (burst {settings['rate_burst']})")
    if settings["pool"]:
        app.out.print(f"pool: {settings['pool']}")
    app.out.print(f"quota: {_quota_text(data['quota'], data['usage'])}")
    if data["pod_list"]:
        app.table(pods_table(data["pod_list"]))


@tenant.command("members")
@click.argument("name")
@click.option("--add", "add", multiple=True, metavar="USER", help="Make USER a member.")
@click.option("--remove", "remove", multiple=True, metavar="USER", help="End USER's membership.")
@FORMAT
@click.pass_obj
def members_(app: App, name: str, add: tuple[str, ...], remove: tuple[str, ...], fmt: str) -> None:
    """Show or change who belongs to a tenant (its members and viewers)."""
    from agentpod.cli.output import members_table
    from agentpod.control import members

    if add or remove:
        found = members.change(app.ctx, app.caller, name, add, remove)
    else:
        found = members.list_(app.ctx, app.caller, name)
    app.emit(found, fmt, members_table)


@tenant.command("delete")
@click.argument("name")
@click.option("--force", is_flag=True, help="Delete the tenant's pods (and their data) too.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_obj
def delete(app: App, name: str, force: bool, yes: bool) -> None:
    """Delete a tenant; refuses while it has pods unless --force."""
    from agentpod.control import tenants

    def confirm(n: int) -> None:
        if not yes:
            click.confirm(
                f"delete tenant {name} and its {n} pod(s) with their data?", abort=True, err=True
            )

    tenants.delete(app.ctx, app.caller, name, force, confirm)
    app.ok(f"tenant {name} deleted")
