"""This machine: ``install`` and ``uninstall`` (the playbooks in installer/), ``db-server``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from agentpod.cli.app import App, ExitCode, Failure

if TYPE_CHECKING:
    from agentpod.install.engine import Summary, TaskResult

OUTPUT = click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="json: the results and the summary on stdout (progress on stderr).",
)


class Reporter:
    """Ansible-like lines: one per task, the planned changes under it, diffs with --diff."""

    COLORS = {"ok": "green", "changed": "yellow", "failed": "red", "skipped": "cyan"}

    def __init__(self, app: App, show_diff: bool, check: bool, fmt: str) -> None:
        self.app, self.show_diff, self.check = app, show_diff, check
        self.console = app.err if fmt == "json" else app.out

    def __call__(self, r: TaskResult) -> None:
        color = self.COLORS[r.status.value]
        kind = "HANDLER" if r.handler else "TASK"
        status = r.status.value
        if self.check and status == "changed":
            status = "changed (check mode: not applied)"
        from rich.markup import escape

        self.console.print(
            f"{kind} {escape(f'[{r.task}]')} [{color}]{status}[/{color}]",
            markup=True,
            highlight=False,
        )
        for change in r.changes:
            self.console.print(f"    - {change}", markup=False, highlight=False)
        if r.message and r.status.value in ("failed", "skipped"):
            self.console.print(f"    {r.message}", markup=False, highlight=False)
        if self.show_diff:
            for diff in r.diffs:
                self.console.print(diff.unified().rstrip("\n"), markup=False, highlight=False)

    def summary(self, summary: Summary) -> None:
        color = "red" if summary.failed else "green"
        self.console.print(
            f"[{color}]{summary.line()}[/{color}]" + (" (check mode)" if summary.check else ""),
            markup=True,
        )


def _check_listen(address: str) -> None:
    from agentpod.settings import parse_listen

    try:
        parse_listen(address, "--metrics-listen")
    except ValueError as exc:
        raise Failure(str(exc), ExitCode.USAGE) from None


def _finish(app: App, reporter: Reporter, summary: Summary, fmt: str, what: str) -> None:
    reporter.summary(summary)
    if fmt == "json":
        app.json(summary.as_dict())
    if summary.failed:
        failed = next(r for r in summary.results if r.status.value == "failed")
        raise Failure(f"{what} stopped at [{failed.task}]: {failed.message}")


@click.command()
@click.option("--domain", help="Public domain: pods at <tenant>-<pod>.DOMAIN (default localhost).")
@click.option("--email", "acme_email", help="ACME (Let's Encrypt) account e-mail.")
@click.option(
    "--dns-provider",
    help="DNS-01 instead of HTTP-01, for a wildcard certificate "
    "(a lego provider name; its credentials go in /etc/agentpod/traefik.env).",
)
@click.option("--network-mode", type=click.Choice(["tenant", "shared"]))
@click.option("--http-port", type=int)
@click.option("--https-port", type=int)
@click.option("--reconcile-interval", type=float)
@click.option(
    "--dashboard/--no-dashboard",
    default=None,
    help="Traefik's API dashboard at traefik.DOMAIN (needs --dashboard-user).",
)
@click.option(
    "--dashboard-user",
    "dashboard_users",
    multiple=True,
    help="USER:HASH for the dashboard's basic auth (htpasswd -nB USER).",
)
@click.option(
    "--backup-dir",
    help="Where the backup timer writes archives (default /var/backups/agentpod).",
)
@click.option("--backup-keep", type=click.IntRange(min=1), help="Archives kept there (7).")
@click.option(
    "--backup-schedule", metavar="ONCALENDAR", help="When to back up (systemd OnCalendar: daily)."
)
@click.option(
    "--metrics-listen",
    metavar="ADDR:PORT",
    help="Also serve GET /metrics alone here, with no key asked: for a Prometheus on "
    "another machine (a private address; '' to stop).",
)
@click.option(
    "--admin-password-stdin",
    is_flag=True,
    help="The first admin's password from standard input (else one is made and shown once).",
)
@click.option(
    "--trusted-front-proxy",
    "trusted_front_proxies",
    multiple=True,
    metavar="CIDR",
    help="A proxy in front of Traefik allowed to set X-Forwarded-For (repeatable).",
)
@click.option("--check", is_flag=True, help="Report what would change; change nothing.")
@click.option("--diff", "show_diff", is_flag=True, help="Show the diff of every changed file.")
@OUTPUT
@click.pass_obj
def install(
    app: App, check: bool, show_diff: bool, fmt: str, admin_password_stdin: bool, **flags: Any
) -> None:
    """Install AgentPod as systemd services on this machine (idempotent: re-run to change flags;
    a re-run without flags keeps the last answers)."""
    from agentpod.install import plan

    try:
        answers = plan.read_answers(Path(plan.CONFIG_DIR))
        given = {k: v for k, v in flags.items() if v not in (None, ())}
        if "dashboard_users" in given:
            given["dashboard_users"] = list(given["dashboard_users"])
        if "trusted_front_proxies" in given:
            given["trusted_front_proxies"] = _networks(given["trusted_front_proxies"])
        answers.update(given)
        if answers.get("dashboard") and not answers.get("dashboard_users"):
            raise Failure("--dashboard needs at least one --dashboard-user USER:HASH")
        if answers.get("metrics_listen"):
            _check_listen(answers["metrics_listen"])
        variables = plan.variables(answers)
        plan.preflight(variables)
    except plan.InstallError as exc:
        raise Failure(str(exc)) from None
    reporter = Reporter(app, show_diff, check, fmt)
    summary = plan.run_playbook("install", variables, check=check, report=reporter)
    _finish(app, reporter, summary, fmt, "install")
    if not check:
        _first_admin(app, variables["database_url"], admin_password_stdin, fmt)
    if not check and fmt == "text" and not summary.failed:
        domain = variables["domain"]
        app.ok(
            f"AgentPod is running; pods at http://<tenant>-<pod>.{domain}"
            + (f":{variables['http_port']}" if variables["http_port"] != 80 else "")
        )
        app.info("next: agentpod doctor; agentpod tenant create NAME")


def _first_admin(app: App, database_url: str, from_stdin: bool, fmt: str) -> None:
    """The installed system's first admin of the HTTP API, when it has none; a made password
    is shown this once. A failure here is a warning: the services run, and an admin can be
    made by hand."""
    from agentpod.cli.user_cmd import read_password
    from agentpod.control import users
    from agentpod.control.context import Context
    from agentpod.install import plan
    from agentpod.settings import Settings

    password, made = read_password(from_stdin)
    ctx = Context(Settings(home=Path(plan.DATA_DIR), database_url=database_url))
    try:
        created = users.ensure_first_admin(ctx, app.caller, password)
    except Exception as exc:
        app.warn(f"no first admin made ({exc}): agentpod user create admin --role admin")
        return
    finally:
        ctx.close()
    if created:
        app.ok(f"first admin of the HTTP API: {users.FIRST_ADMIN}")
        if made:
            click.echo(f"its password, shown this once: {password}", err=fmt == "json")


def _networks(values: tuple[str, ...]) -> list[str]:
    from agentpod.settings import cidrs

    try:
        return list(cidrs(values))
    except ValueError as exc:
        raise Failure(f"--trusted-front-proxy: {exc}", ExitCode.USAGE) from None


@click.command()
@click.option(
    "--purge",
    is_flag=True,
    help="Also delete tenant data: pods' containers and volumes, the database, "
    "certificates, the agentpod user.",
)
@click.option("--yes", is_flag=True, help="Do not ask before --purge.")
@click.option("--keep-program", is_flag=True, help="Keep /usr/local/bin/agentpod.")
@click.option("--check", is_flag=True, help="Report what would be removed; remove nothing.")
@OUTPUT
@click.pass_obj
def uninstall(app: App, purge: bool, yes: bool, keep_program: bool, check: bool, fmt: str) -> None:
    """Remove AgentPod's services, programs and config; tenant data stays unless --purge."""
    import os

    from agentpod.install import plan

    if os.geteuid() != 0:
        raise Failure("agentpod uninstall must run as root (sudo agentpod uninstall ...)")
    if purge and not yes and not check:
        if not app.interactive:
            raise Failure("--purge deletes every pod's data: add --yes to confirm")
        click.confirm("Delete every pod, its data and the database?", abort=True, err=True)
    try:
        answers = plan.read_answers(Path(plan.CONFIG_DIR))
        variables = {**plan.variables(answers), "purge": purge, "remove_program": not keep_program}
    except plan.InstallError as exc:
        raise Failure(str(exc)) from None
    reporter = Reporter(app, False, check, fmt)
    summary = plan.run_playbook("uninstall", variables, check=check, report=reporter)
    _finish(app, reporter, summary, fmt, "uninstall")


@click.command("db-server")
@click.option("--pgdata", type=click.Path(path_type=Path), help="Data directory.")
@click.option("--socket-dir", type=click.Path(path_type=Path))
@click.option("--group", help="Group allowed to connect (socket mode 0770).")
@click.option(
    "--wait",
    "wait",
    is_flag=True,
    help="Only wait until the server accepts connections (ExecStartPost).",
)
@click.option("--init-only", is_flag=True, help="Only create the data directory if empty.")
@click.option("--timeout", type=float, default=60, show_default=True)
def db_server(
    pgdata: Path | None,
    socket_dir: Path | None,
    group: str | None,
    wait: bool,
    init_only: bool,
    timeout: float,
) -> None:
    """Run the embedded PostgreSQL in the foreground (agentpod-db.service)."""
    from agentpod.services import pgserver

    if init_only and pgdata is not None:
        if not (pgdata / "PG_VERSION").exists():
            try:
                pgserver.initdb(pgdata)
            except (OSError, RuntimeError) as exc:
                raise Failure(f"cannot initialise {pgdata}: {exc}") from None
        return
    if socket_dir is None:
        raise Failure("--socket-dir is required", ExitCode.USAGE)
    if wait:
        try:
            pgserver.wait_ready(socket_dir, timeout)
        except pgserver.NotReachable as exc:
            raise Failure(str(exc)) from None
        return
    if pgdata is None:
        raise Failure("--pgdata is required", ExitCode.USAGE)
    try:
        pgserver.exec_server(pgdata, socket_dir, group)
    except (OSError, RuntimeError) as exc:
        raise Failure(f"cannot start PostgreSQL: {exc}") from None


COMMANDS = [install, uninstall, db_server]
