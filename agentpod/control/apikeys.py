"""API keys for automation: shown once, stored as a keyed hash, scopes never beyond their
user's role, optionally bound to one tenant, expiring, revocable; and who holds one.

People create and revoke their own keys (with a session); admins anyone's.
"""

from __future__ import annotations

import hmac
import secrets
from datetime import datetime

from agentpod.control import audit
from agentpod.control.context import Context
from agentpod.control.errors import Forbidden
from agentpod.control.guard import require
from agentpod.control.sessions import Unauthenticated, secret_hash
from agentpod.core.accounts import (
    AccountError,
    ApiKey,
    key_text,
    parse_duration,
    parse_scopes,
    split_key,
    within_role,
)
from agentpod.core.authz import ALL_TENANTS_ROLES, Kind, Principal, Scope
from agentpod.services.accounts_store import AccountStore
from agentpod.services.store import NotFound


def key_principal(ctx: Context, text: str) -> Principal:
    """The caller holding an API key: its scopes, cut to its user's role and tenants now."""
    parts = split_key(text)
    accounts = AccountStore(ctx.store)
    found = accounts.key(parts[0]) if parts else None
    if parts is None or found is None:
        raise Unauthenticated("unknown API key: create one with 'agentpod apikey create'")
    hashed = secret_hash(ctx, "apikey", f"{parts[0]}:{parts[1]}")
    if not hmac.compare_digest(hashed, found.secret_hash):
        raise Unauthenticated("unknown API key: create one with 'agentpod apikey create'")
    key, user = found.key, found.owner
    state = key.state(found.now)
    if state != "active":
        raise Unauthenticated(f"API key {key.id} is {state}: create a new one")
    accounts.touch_key(found)
    return Principal.apikey(key.id, user.name, user.role, user.tenants, key.scopes, key.tenant)


def db_now(ctx: Context) -> datetime:
    """The database's time: what key expiry is judged by."""
    with ctx.store.pool.connection() as conn:
        row = conn.execute("SELECT now() AS now").fetchone()
    assert row is not None
    return row["now"]


def create_key(
    ctx: Context,
    caller: Principal,
    user: str,
    scopes: list[str],
    tenant: str | None = None,
    expires: str | None = None,
) -> tuple[str, ApiKey]:
    """A new key for ``user`` (the caller's own, or anyone's for an admin): its text, shown
    this once, and what is kept of it."""
    with audit.audited(ctx, caller, "apikey.create", user):
        wanted = parse_scopes(scopes)
        ttl = parse_duration(expires) if expires else None
        if not (caller.kind is Kind.USER and caller.name == user):
            require(caller, Scope.USERS_ADMIN)
        accounts = AccountStore(ctx.store)
        owner = accounts.user(user)
        within_role(wanted, owner.role)
        if tenant and Scope.USERS_ADMIN in wanted:  # users are no tenant's: it would escape
            raise AccountError("a key bound to a tenant cannot have users:admin")
        if tenant and owner.role not in ALL_TENANTS_ROLES and tenant not in owner.tenants:
            raise AccountError(
                f"user {user} is not a member of tenant {tenant}: see 'agentpod user set --help'"
            )
        key_id, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
        hashed = secret_hash(ctx, "apikey", f"{key_id}:{secret}")
        key = accounts.add_key(key_id, user, hashed, wanted, tenant, ttl)
    return key_text(key_id, secret), key


def list_keys(ctx: Context, caller: Principal, user: str | None = None) -> list[ApiKey]:
    """Every key for an admin (or ``user``'s); the caller's own otherwise."""
    if caller.may(Scope.USERS_ADMIN):
        return AccountStore(ctx.store).keys(user)
    if user is not None and user != caller.name:
        raise Forbidden("listing another user's API keys needs role admin")
    return AccountStore(ctx.store).keys(caller.name)


def revoke_key(ctx: Context, caller: Principal, key_id: str) -> None:
    accounts = AccountStore(ctx.store)
    with audit.audited(ctx, caller, "apikey.revoke", key_id):
        found = accounts.key(key_id)
        if found is None or not (caller.may(Scope.USERS_ADMIN) or found.key.user == caller.name):
            raise NotFound(f"no API key {key_id!r}: see 'agentpod apikey list'")
        accounts.revoke_key(key_id)
