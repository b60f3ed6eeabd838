"""Operations: reconcile, health, events, serve, doctor, db, adapters."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from agentpod.cli.app import FORMAT, App, ExitCode, Failure

if TYPE_CHECKING:
    from rich.text import Text


@click.command()
@click.option("--dry-run", is_flag=True, help="Print the planned actions; change nothing.")
@FORMAT
@click.pass_obj
def reconcile(app: App, dry_run: bool, fmt: str) -> None:
    """Run one reconcile pass now (or show what it would do)."""
    from agentpod.cli.output import simple_table

    outcomes = app.ctx.reconciler.run_once(dry_run=dry_run, force=True)
    rows = [o.as_dict() for o in outcomes]
    if fmt == "json":
        app.json({"dry_run": dry_run, "actions": rows})
    elif not rows:
        app.ok("nothing to do: every pod is as desired")
    else:
        result = lambda r: "planned" if dry_run else ("ok" if r["ok"] else f"failed: {r['error']}")  # noqa: E731
        app.table(
            simple_table(
                ["ACTION", "POD", "REASON", "RESULT"],
                [[r["action"], r["pod"], r["reason"], result(r)] for r in rows],
            )
        )
    if not dry_run and any(not o.ok and not o.skipped for o in outcomes):
        raise Failure("some actions failed (see above); they will be retried")


@click.command()
@click.argument("tenant", required=False)
@FORMAT
@click.pass_obj
def health(app: App, tenant: str | None, fmt: str) -> None:
    """Probe pods now and show the results."""
    from rich.text import Text

    from agentpod.cli.output import simple_table
    from agentpod.control import observe

    rows = observe.health(app.ctx, app.caller, tenant)
    if fmt == "json":
        app.json(rows)
    else:

        def mem(v: int | None) -> str:
            return "-" if v is None else f"{v / 1048576:.0f} MiB"

        app.table(
            simple_table(
                ["POD", "HEALTH", "DETAIL", "ROUTE", "MEMORY"],
                [
                    [
                        r["pod"],
                        Text("ok", "green") if r["ready"] else Text("failing", "red"),
                        r["message"],
                        _route_cell(r["route_ok"], r["route"]),
                        mem(r["memory_bytes"]),
                    ]
                    for r in rows
                ],
            )
        )
    if any(not r["ready"] or r["route_ok"] is False for r in rows):
        raise click.exceptions.Exit(1)


def _route_cell(ok: bool | None, message: str) -> str | Text:
    from rich.text import Text

    return message if ok else Text(message, "yellow" if ok is None else "red")


@click.command()
@click.option("--tail", type=int, default=20, show_default=True)
@click.option("--pod", "ref", help="Only this pod's events (TENANT/POD).")
@click.option("--tenant", help="Only this tenant's events.")
@FORMAT
@click.pass_obj
def events(app: App, tail: int, ref: str | None, tenant: str | None, fmt: str) -> None:
    """Show the latest events."""
    from agentpod.cli.output import events_table
    from agentpod.control import observe

    app.emit(observe.events(app.ctx, app.caller, tail, ref, tenant), fmt, events_table)


@click.command()
@click.option("--interval", type=float, help="Seconds between full passes (default 30).")
@click.option("--with-proxy", is_flag=True, help="Also run Traefik, the edge proxy, and stop it.")
@click.option(
    "--proxy-http-port",
    type=click.IntRange(1, 65535),
    help="Traefik's HTTP port (default: proxy_http_port, 80 as root else 8080).",
)
@click.option(
    "--proxy-bind", default="", metavar="ADDRESS", help="Listen on this address only (127.0.0.1)."
)
@click.option(
    "--api-listen",
    metavar="ADDR:PORT",
    help="Where the HTTP API listens (default: api_listen, 127.0.0.1:8787).",
)
@click.pass_obj
def serve(
    app: App,
    interval: float | None,
    with_proxy: bool,
    proxy_http_port: int | None,
    proxy_bind: str,
    api_listen: str | None,
) -> None:
    """Run the control loop in the foreground (SIGTERM/SIGINT stop it cleanly).

    When another serve already leads on this database, this one stands by and takes over
    when the leader stops or dies. Both serve the HTTP API (a second one on this machine
    waits for the address to be free)."""
    import faulthandler
    import logging
    import signal

    from agentpod.control.serve import Controller, ServeFailed
    from agentpod.settings import parse_listen

    logging.getLogger("agentpod").setLevel(logging.INFO)
    s = app.settings
    listen = api_listen or s.api_listen
    try:
        api_host, api_port = parse_listen(listen)
    except ValueError as exc:
        raise Failure(str(exc), ExitCode.USAGE) from None
    proxy = _proxy(app, proxy_http_port, proxy_bind, listen) if with_proxy else None
    controller = Controller(
        app.ctx, interval or s.reconcile_interval, s.health_interval, s.event_retention_days, proxy
    )
    api = _api_thread(app, api_host, api_port)
    scraper = None
    if s.metrics_listen:  # checked when the settings were read
        scraper = _api_thread(app, *parse_listen(s.metrics_listen), scraper=True)

    def stop(signum: int, _frame: object) -> None:
        controller.stop.set()
        controller.triggers.put(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    faulthandler.register(signal.SIGUSR1, all_threads=True)  # a stuck serve shows its stacks
    listeners = [t for t in (api, scraper) if t is not None]
    for thread in listeners:
        thread.start()
    try:
        controller.run()
    except ServeFailed as exc:
        raise Failure(str(exc)) from None
    finally:
        for thread in listeners:
            thread.stop()


def _api_thread(app: App, host: str, port: int, scraper: bool = False):  # -> ApiThread
    """The API on its own thread and its own context (database pool, Docker client): a
    request never waits for the reconcile loop's connections, nor the loop for the API's.
    ``scraper``: the metrics-only listener instead (``metrics_listen``)."""
    from agentpod.api.app import DB_TIMEOUT_S, create_app
    from agentpod.api.routes_metrics import scraper_app
    from agentpod.api.server import ApiThread
    from agentpod.control.context import Context

    make = scraper_app if scraper else create_app
    return ApiThread(make(Context(app.ctx.settings, db_timeout=DB_TIMEOUT_S)), host, port)


def _proxy(app: App, port: int | None, bind: str, api_listen: str):  # -> ProxySupervisor
    """Traefik for this serve, started when it leads (a standby must not hold the port), with
    the console route to the API. Its port is settled first, so that every spec is rendered
    with it."""
    from dataclasses import replace

    from agentpod.control.proxy import ProxySupervisor
    from agentpod.services.traefik import TraefikMissing, find_binary

    if port is not None:
        app.ctx.settings = replace(app.ctx.settings, proxy_http_port=port)
    settings = app.ctx.settings
    try:
        find_binary()
    except TraefikMissing as exc:
        raise Failure(str(exc)) from None
    from agentpod.settings import console_backend

    if settings.runtime == "swarm":  # Traefik in a container on the tenant overlays
        from agentpod.control.proxy import SwarmProxy
        from agentpod.services.swarm_runtime import SwarmRuntime

        assert isinstance(app.ctx.runtime, SwarmRuntime)
        return SwarmProxy(settings, app.ctx.runtime, bind)
    address = f"{bind}:{settings.proxy_http_port}"
    return ProxySupervisor(settings, app.ctx.runtime.instance, address, console_backend(api_listen))


@click.command()
@FORMAT
@click.pass_obj
def doctor(app: App, fmt: str) -> None:
    """Check the Docker engine, the database and the networks; one line per check."""
    from rich.text import Text

    from agentpod.control.doctor import run_checks

    checks = run_checks(app.settings)
    if fmt == "json":
        app.json([c.as_dict() for c in checks])
    else:
        for c in checks:
            mark = ("✓", "green") if c.ok else ("!", "yellow") if c.warning else ("✗", "red")
            hint = f" — fix: {c.fix}" if c.fix and not c.ok else ""
            app.out.print(Text.assemble(mark, f" {c.name}: {c.detail}{hint}"))
    if any(not c.ok and not c.warning for c in checks):
        raise click.exceptions.Exit(1)


@click.group()
def db() -> None:
    """Database schema."""


@db.command("migrate")
@click.pass_obj
def db_migrate(app: App) -> None:
    """Apply pending schema migrations."""
    applied = app.ctx.store.migrate()
    app.ok(f"applied {', '.join(applied)}" if applied else "schema is up to date")


@db.command("stop")
@click.pass_obj
def db_stop(app: App) -> None:
    """Stop the embedded PostgreSQL of this home (the next command starts it again)."""
    from agentpod.services.database import stop_embedded

    settings = app.settings
    if settings.database_url:
        raise Failure(
            "the database is external (database_url is set): stop it where it runs; "
            "an installed AgentPod's is the systemd unit agentpod-db"
        )
    pgdata = settings.home / "pgdata"
    if stop_embedded(settings.home):
        app.ok(f"embedded PostgreSQL in {pgdata} stopped")
    else:
        app.ok(f"embedded PostgreSQL in {pgdata} was not running")


@db.command("status")
@FORMAT
@click.pass_obj
def db_status(app: App, fmt: str) -> None:
    """Show the database URL (without password) and pending migrations."""
    from rich.text import Text

    store = app.ctx.store
    pending = store.pending_migrations()
    data = {"url": _redact(store.url), "pending": pending}
    app.json(data) if fmt == "json" else app.out.print(
        Text(f"{data['url']}: {'up to date' if not pending else 'pending ' + ', '.join(pending)}")
    )


def _redact(url: str) -> str:
    import re

    return re.sub(r"://([^:/@]+):[^@]*@", r"://\1:***@", url)


@click.group()
def adapters() -> None:
    """Agent types."""


@adapters.command("list")
@FORMAT
@click.pass_obj
def adapters_list(app: App, fmt: str) -> None:
    """List the agent types AgentPod can run."""
    from agentpod.cli.output import simple_table
    from agentpod.control.catalog import adapters

    rows = adapters()
    if fmt == "json":
        app.json(rows)
    else:
        app.table(
            simple_table(
                ["TYPE", "NAME", "DEFAULT IMAGE", "PORT"],
                [[r["id"], r["name"], r["image"] or "-", str(r["port"])] for r in rows],
            )
        )


COMMANDS = [reconcile, health, events, serve, doctor, db, adapters]
