"""``agentpod migrate``: discover, adopt and release hand-deployed OpenClaw gateways."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from agentpod.cli.app import FORMAT, App, ExitCode, Failure

if TYPE_CHECKING:
    from rich.text import Text

TENANT = click.option(
    "--tenant",
    "default_tenant",
    default="adopted",
    show_default=True,
    help="Tenant for containers that do not name one (compose project).",
)


@click.group()
def migrate() -> None:
    """Bring hand-deployed OpenClaw containers under management, with zero downtime."""


@migrate.command("discover")
@TENANT
@FORMAT
@click.pass_obj
def discover_(app: App, default_tenant: str, fmt: str) -> None:
    """List unmanaged OpenClaw containers and what adopting each would mean."""
    from rich.text import Text

    from agentpod.cli.output import simple_table
    from agentpod.control.adoption import discover

    rows = [c.as_dict() for c in discover(app.ctx, app.caller, default_tenant)]
    if fmt == "json":
        app.json(rows)
        return
    if not rows:
        app.ok("no unmanaged OpenClaw containers found")
        return

    def data(r: dict) -> str | Text:
        return f"{r['data']['type']} {r['data']['source']}" if r["data"] else Text("none", "red")

    app.table(
        simple_table(
            ["CONTAINER", "IMAGE", "STATE", "PORTS", "DATA", "TOKEN", "PROPOSED POD", "PROBLEMS"],
            [
                [
                    r["container"],
                    r["image"],
                    r["state"],
                    ", ".join(r["ports"]) or "-",
                    data(r),
                    r["token_source"] or "none",
                    r["proposed"] or "-",
                    "; ".join(r["problems"]) or "-",
                ]
                for r in rows
            ],
        )
    )


@migrate.command("adopt")
@click.argument("container", required=False)
@click.option("--all", "all_", is_flag=True, help="Adopt every container discover lists.")
@click.option("--as", "as_ref", help="TENANT/POD for a single container.")
@click.option(
    "--allow-ephemeral",
    is_flag=True,
    help="Adopt containers whose state is not on a volume or bind mount.",
)
@click.option("--dry-run", is_flag=True, help="Show what would be adopted; change nothing.")
@TENANT
@FORMAT
@click.pass_obj
def adopt_(
    app: App,
    container: str | None,
    all_: bool,
    as_ref: str | None,
    allow_ephemeral: bool,
    dry_run: bool,
    default_tenant: str,
    fmt: str,
) -> None:
    """Adopt CONTAINER (name or id), or --all; the containers are not touched."""
    from agentpod.cli.output import simple_table
    from agentpod.control.adoption import adopt, discover
    from agentpod.core.names import PodRef

    if bool(container) == all_:
        raise Failure("give either CONTAINER or --all", ExitCode.USAGE)
    if as_ref and all_:
        raise Failure("--as works with one CONTAINER, not --all", ExitCode.USAGE)
    ref = PodRef.parse(as_ref) if as_ref else None
    candidates = discover(app.ctx, app.caller, default_tenant)
    if container:
        candidates = [
            c
            for c in candidates
            if container in (c.name, c.container_id)
            or (len(container) >= 12 and c.container_id.startswith(container))
        ]
        if not candidates:
            raise Failure(
                f"no unmanaged OpenClaw container {container!r}: see 'agentpod migrate discover'"
            )
    results = [adopt(app.ctx, app.caller, c, ref, allow_ephemeral, dry_run) for c in candidates]
    rows = [r.as_dict() for r in results]
    if fmt == "json":
        app.json({"dry_run": dry_run, "results": rows})
    else:
        app.table(
            simple_table(
                ["CONTAINER", "POD", "RESULT", "DETAIL"],
                [[r["container"], r["pod"] or "-", r["result"], r["message"]] for r in rows],
            )
        )
    if any(r.result in ("refused", "failed") for r in results):
        raise click.exceptions.Exit(int(ExitCode.FAILURE))


@migrate.command("release")
@click.argument("ref")
@click.pass_obj
def release_(app: App, ref: str) -> None:
    """Stop managing an adopted pod; the container is left exactly as it is."""
    from agentpod.control.adoption import release

    cid = release(app.ctx, app.caller, ref)
    app.ok(f"{ref} released; container {cid[:12]} left as it is")
