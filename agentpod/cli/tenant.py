"""``agentpod tenant``: create, list, status, delete."""

from __future__ import annotations

import click

from agentpod.cli.app import FORMAT, App, Failure
from agentpod.core.names import validate_label


@click.group()
def tenant() -> None:
    """Manage tenants (each gets its own network and pods)."""


@tenant.command("create")
@click.argument("name")
@click.option("--rate-average", type=int, help="Requests per second allowed on average.")
@click.option("--rate-burst", type=int, help="Requests allowed in a burst.")
@click.pass_obj
def create(app: App, name: str, rate_average: int | None, rate_burst: int | None) -> None:
    """Create a tenant."""
    from agentpod.core.models import TenantSettings

    validate_label(name, "tenant name")
    values = {"rate_average": rate_average, "rate_burst": rate_burst}
    settings = TenantSettings(**{k: v for k, v in values.items() if v is not None})
    app.ctx.store.create_tenant(name, settings)
    app.ok(f"tenant {name} created")


@tenant.command("set")
@click.argument("name")
@click.option("--rate-average", type=click.IntRange(min=1), help="Requests per second.")
@click.option("--rate-burst", type=click.IntRange(min=1), help="Requests allowed in a burst.")
@click.pass_obj
def set_(app: App, name: str, rate_average: int | None, rate_burst: int | None) -> None:
    """Change a tenant's edge settings; its pods are recreated with them (data kept)."""
    ctx = app.ctx
    t = ctx.store.get_tenant(validate_label(name, "tenant name"))
    changes = {"rate_average": rate_average, "rate_burst": rate_burst}
    settings = t.settings.model_copy(update={k: v for k, v in changes.items() if v})
    if settings == t.settings:
        app.ok(f"tenant {name} unchanged")
        return
    ctx.store.set_tenant_settings(t, settings)
    pods = ctx.store.list_pods(name)
    for outcome in ctx.apply(pods):
        if outcome.error:
            app.warn(f"{outcome.action.ref}: {outcome.error}")
    app.ok(
        f"tenant {name}: rate limit {settings.rate_average}/s, burst {settings.rate_burst}"
        f" ({len(pods)} pod(s) updated)"
    )


@tenant.command("list")
@FORMAT
@click.pass_obj
def list_(app: App, fmt: str) -> None:
    """List tenants."""
    from agentpod.cli.output import tenant_json, tenants_table

    store = app.ctx.store
    pods = store.list_pods()
    rows = [tenant_json(t, pods) for t in store.list_tenants()]
    app.emit(rows, fmt, tenants_table)


@tenant.command("status")
@click.argument("name")
@FORMAT
@click.pass_obj
def status(app: App, name: str, fmt: str) -> None:
    """Show a tenant and its pods."""
    from rich.text import Text

    from agentpod.cli.output import pod_json, pods_table, tenant_json

    store = app.ctx.store
    t = store.get_tenant(validate_label(name, "tenant name"))
    pods = store.list_pods(name)
    data = tenant_json(t, pods)
    data["pod_list"] = [pod_json(r, app.ctx.edge) for r in store.pod_rows(name)]
    if fmt == "json":
        app.json(data)
        return
    created = str(t.created_at)[:19]
    app.out.print(Text.assemble((t.name, "bold"), f": {data['pods']} pod(s), created {created}"))
    app.out.print(f"rate limit {t.settings.rate_average}/s (burst {t.settings.rate_burst})")
    if pods:
        app.table(pods_table(data["pod_list"]))


@tenant.command("delete")
@click.argument("name")
@click.option("--force", is_flag=True, help="Delete the tenant's pods (and their data) too.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_obj
def delete(app: App, name: str, force: bool, yes: bool) -> None:
    """Delete a tenant; refuses while it has pods unless --force."""
    from agentpod.core.models import DesiredStatus

    ctx = app.ctx
    ctx.store.get_tenant(validate_label(name, "tenant name"))
    pods = ctx.store.list_pods(name)
    if pods and not force:
        raise Failure(
            f"tenant {name!r} still has {len(pods)} pod(s): delete them first, or pass --force"
        )
    if pods and not yes:
        click.confirm(
            f"delete tenant {name} and its {len(pods)} pod(s) with their data?",
            abort=True,
            err=True,
        )
    for p in pods:
        ctx.store.set_desired(p, DesiredStatus.DELETED)
    for p in pods:
        ctx.apply([p])
        ctx.wait_gone(p, timeout=120)
    ctx.store.delete_tenant(name)
    if not ctx.store.serve_running():
        ctx.reconciler.run_once()
    else:
        ctx.store.wake()
    app.ok(f"tenant {name} deleted")
