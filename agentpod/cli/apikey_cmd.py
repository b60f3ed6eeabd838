"""``agentpod apikey``: keys for automation (``Authorization: Bearer``): create, list, revoke."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from agentpod.cli.app import FORMAT, App

if TYPE_CHECKING:
    from rich.table import Table

SCOPES = ["pods:read", "pods:write", "tenants:read", "tenants:write", "users:admin", "audit:read"]


def keys_table(rows: list[dict]) -> Table:
    from agentpod.cli.output import simple_table

    def at(value: object) -> str:
        return str(value)[:19] if value else "-"

    return simple_table(
        ["ID", "USER", "SCOPES", "TENANT", "STATE", "EXPIRES", "LAST USED"],
        [
            [
                r["id"],
                r["user"],
                " ".join(r["scopes"]),
                r["tenant"] or "-",
                r["state"],
                at(r["expires_at"]),
                at(r["last_used_at"]),
            ]
            for r in rows
        ],
    )


@click.group()
def apikey() -> None:
    """API keys: shown once, stored as a keyed hash; never more rights than their user."""


@apikey.command("create")
@click.option("--user", required=True, help="Whose key: it acts as this user, within --scope.")
@click.option(
    "--scope", "scopes", multiple=True, required=True, help=f"Repeatable: {', '.join(SCOPES)}."
)
@click.option("--tenant", help="Bind the key to this tenant only.")
@click.option("--expires", metavar="DURATION", help="Expire after 90m, 12h, 30d… (default never).")
@FORMAT
@click.pass_obj
def create(
    app: App,
    user: str,
    scopes: tuple[str, ...],
    tenant: str | None,
    expires: str | None,
    fmt: str,
) -> None:
    """Create a key; the key is printed this once (JSON: ``key``)."""
    from agentpod.control import apikeys

    text, key = apikeys.create_key(app.ctx, app.caller, user, list(scopes), tenant, expires)
    if fmt == "json":
        app.json({**key.as_dict(key.created_at), "key": text})
        return
    app.ok(f"API key {key.id} for {user} ({' '.join(sorted(scopes))}); it is shown only now:")
    click.echo(text)


@apikey.command("list")
@click.option("--user", help="Only this user's keys.")
@FORMAT
@click.pass_obj
def list_(app: App, user: str | None, fmt: str) -> None:
    """List keys (never the keys themselves): id, user, scopes, state, last use."""
    from agentpod.control import apikeys

    now = apikeys.db_now(app.ctx)
    rows = [k.as_dict(now) for k in apikeys.list_keys(app.ctx, app.caller, user)]
    app.emit(rows, fmt, keys_table)


@apikey.command("revoke")
@click.argument("key_id", metavar="ID")
@click.pass_obj
def revoke(app: App, key_id: str) -> None:
    """Revoke a key: refused from the next request on."""
    from agentpod.control import apikeys

    apikeys.revoke_key(app.ctx, app.caller, key_id)
    app.ok(f"API key {key_id} revoked")
