"""``agentpod user``: accounts of the HTTP API (create, list, set, delete, passwd)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from agentpod.cli.app import FORMAT, App

if TYPE_CHECKING:
    from rich.table import Table


ROLES = click.Choice(["admin", "operator", "member", "viewer"])
PASSWORD_STDIN = click.option(
    "--password-stdin", is_flag=True, help="Read the password from standard input (else: made)."
)


def read_password(from_stdin: bool) -> tuple[str, bool]:
    """(password, made here?): one line of standard input, or a new random one."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n"), False
    import secrets

    return secrets.token_urlsafe(15), True


def users_table(rows: list[dict]) -> Table:
    from agentpod.cli.output import simple_table

    return simple_table(
        ["USER", "ROLE", "TENANTS", "CREATED"],
        [
            [r["name"], r["role"], ", ".join(r["tenants"]) or "-", str(r["created_at"])[:19]]
            for r in rows
        ],
    )


@click.group()
def user() -> None:
    """Users of the HTTP API and their roles: admin, operator, member, viewer."""


@user.command("create")
@click.argument("name")
@click.option("--role", type=ROLES, required=True, help="What the user may do.")
@click.option("--tenant", "tenants", multiple=True, help="A tenant of the user (repeatable).")
@PASSWORD_STDIN
@FORMAT
@click.pass_obj
def create(
    app: App, name: str, role: str, tenants: tuple[str, ...], password_stdin: bool, fmt: str
) -> None:
    """Create a user. Without --password-stdin a password is made and printed once."""
    from agentpod.control import users

    password, made = read_password(password_stdin)
    made_user = users.create_user(app.ctx, app.caller, name, role, list(tenants), password)
    if fmt == "json":
        app.json({**made_user.as_dict(), "password": password if made else None})
        return
    app.ok(f"user {name} created ({role})")
    if made:
        click.echo(f"password: {password}")


@user.command("list")
@FORMAT
@click.pass_obj
def list_(app: App, fmt: str) -> None:
    """List users, their roles and tenants."""
    from agentpod.control import users

    rows = [u.as_dict() for u in users.list_users(app.ctx, app.caller)]
    app.emit(rows, fmt, users_table)


@user.command("set")
@click.argument("name")
@click.option("--role", type=ROLES, help="A new role.")
@click.option("--add-tenant", multiple=True, help="Make the user a member of this tenant.")
@click.option("--remove-tenant", multiple=True, help="End the user's membership of this tenant.")
@click.pass_obj
def set_(
    app: App,
    name: str,
    role: str | None,
    add_tenant: tuple[str, ...],
    remove_tenant: tuple[str, ...],
) -> None:
    """Change a user's role or tenants (takes effect at the user's next request)."""
    from agentpod.control import users

    changed = users.set_user(app.ctx, app.caller, name, role, add_tenant, remove_tenant)
    app.ok(
        f"user {name}: {changed.role.value}, tenants {', '.join(sorted(changed.tenants)) or '-'}"
    )


@user.command("delete")
@click.argument("name")
@click.pass_obj
def delete(app: App, name: str) -> None:
    """Delete a user; its sessions and API keys end with it."""
    from agentpod.control import users

    users.delete_user(app.ctx, app.caller, name)
    app.ok(f"user {name} deleted (its sessions and API keys with it)")


@user.command("passwd")
@click.argument("name")
@PASSWORD_STDIN
@click.pass_obj
def passwd(app: App, name: str, password_stdin: bool) -> None:
    """Set a user's password (made and printed once without --password-stdin); ends the
    user's sessions."""
    from agentpod.control import users

    password, made = read_password(password_stdin)
    users.set_password(app.ctx, app.caller, name, password)
    app.ok(f"password of {name} changed; its sessions are ended")
    if made:
        click.echo(f"password: {password}")
