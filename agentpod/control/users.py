"""Users of the HTTP API: create, list, read, change, delete, and their passwords.

Administration needs ``users:admin`` (role admin); a user may read itself and change its own
password (with its current one). Every write is audited; passwords are kept as argon2id hashes.
"""

from __future__ import annotations

from collections.abc import Sequence

from agentpod.control import audit
from agentpod.control.context import Context
from agentpod.control.errors import Forbidden
from agentpod.control.guard import require
from agentpod.core import passwords
from agentpod.core.accounts import User, parse_role, validate_password, validate_username
from agentpod.core.authz import Kind, Principal, Role, Scope
from agentpod.services.accounts_store import AccountStore


def _require_admin(caller: Principal) -> None:
    require(caller, Scope.USERS_ADMIN)


def create_user(
    ctx: Context, caller: Principal, name: str, role: str, tenants: list[str], password: str
) -> User:
    with audit.audited(ctx, caller, "user.create", name):
        _require_admin(caller)
        user = User(validate_username(name), parse_role(role), frozenset(tenants))
        hashed = passwords.hash_password(validate_password(password))
        return AccountStore(ctx.store).create_user(user, hashed)


def list_users(ctx: Context, caller: Principal) -> list[User]:
    _require_admin(caller)
    return AccountStore(ctx.store).users()


def get_user(ctx: Context, caller: Principal, name: str) -> User:
    if not (caller.kind is Kind.USER and caller.name == name):
        _require_admin(caller)
    return AccountStore(ctx.store).user(name)


def set_user(
    ctx: Context,
    caller: Principal,
    name: str,
    role: str | None = None,
    add: Sequence[str] = (),
    remove: Sequence[str] = (),
) -> User:
    with audit.audited(ctx, caller, "user.set", name):
        _require_admin(caller)
        new_role = parse_role(role) if role is not None else None
        return AccountStore(ctx.store).update_user(
            name, new_role, frozenset(add), frozenset(remove)
        )


def delete_user(ctx: Context, caller: Principal, name: str) -> None:
    """The user's sessions and keys end with it."""
    with audit.audited(ctx, caller, "user.delete", name):
        _require_admin(caller)
        AccountStore(ctx.store).delete_user(name)


def set_password(
    ctx: Context, caller: Principal, name: str, password: str, current: str | None = None
) -> None:
    """An admin sets anyone's; a user its own, with its current one. Ends the user's sessions."""
    accounts = AccountStore(ctx.store)
    with audit.audited(ctx, caller, "user.passwd", name):
        if not caller.may(Scope.USERS_ADMIN):
            found = accounts.credentials(name) if caller.kind is Kind.USER else None
            if caller.name != name or found is None:
                raise Forbidden("changing another user's password needs role admin")
            if current is None or not passwords.verify_password(found[1], current):
                raise Forbidden("the current password is wrong")
        accounts.set_password(name, passwords.hash_password(validate_password(password)))


FIRST_ADMIN = "admin"


def ensure_first_admin(ctx: Context, caller: Principal, password: str) -> bool:
    """A fresh install's first admin, ``admin``, when there is no admin yet (False: there is)."""
    if any(u.role is Role.ADMIN for u in list_users(ctx, caller)):
        return False
    create_user(ctx, caller, FIRST_ADMIN, Role.ADMIN.value, [], password)
    return True
