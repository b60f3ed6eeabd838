"""Accounts: users, logins (server-side sessions), API keys, and who a caller of the API is.

Every function that changes an account takes the ``Principal`` asking for it: user
administration needs ``users:admin``; people manage their own API keys. Secrets (passwords,
session tokens, keys) are never stored, logged or returned twice.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from agentpod.control import audit
from agentpod.control.context import Context
from agentpod.control.errors import Forbidden
from agentpod.control.guard import require
from agentpod.core import passwords
from agentpod.core.accounts import (
    AccountError,
    ApiKey,
    User,
    key_text,
    parse_duration,
    parse_role,
    parse_scopes,
    split_key,
    validate_password,
    validate_username,
    within_role,
)
from agentpod.core.authz import ALL_TENANTS_ROLES, Kind, Principal, Scope
from agentpod.core.lockout import PER_ADDRESS, PER_USER
from agentpod.services.accounts_store import AccountStore
from agentpod.services.store import NotFound

SESSION_TTL_S = 12 * 3600


class Unauthenticated(RuntimeError):
    """No credentials, or credentials that are wrong, expired or revoked."""


class Throttled(RuntimeError):
    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class Session:
    """A login: the cookie's token and the CSRF token that goes with it (shown once)."""

    token: str
    csrf: str
    user: User
    ttl_s: int


def _store(ctx: Context) -> AccountStore:
    return AccountStore(ctx.store)


def _derive(ctx: Context, purpose: str, text: str) -> str:
    assert ctx.store.box is not None, "the context's store has the secret key"
    return ctx.store.box.derive(purpose, text)


def _require_admin(caller: Principal) -> None:
    require(caller, Scope.USERS_ADMIN)


def principal_of(user: User) -> Principal:
    return Principal.user(user.name, user.role, user.tenants)


# -- users ------------------------------------------------------------------------------


def create_user(
    ctx: Context, caller: Principal, name: str, role: str, tenants: list[str], password: str
) -> User:
    with audit.audited(ctx, caller, "user.create", name):
        _require_admin(caller)
        user = User(validate_username(name), parse_role(role), frozenset(tenants))
        hashed = passwords.hash_password(validate_password(password))
        return _store(ctx).create_user(user, hashed)


def list_users(ctx: Context, caller: Principal) -> list[User]:
    _require_admin(caller)
    return _store(ctx).users()


def get_user(ctx: Context, caller: Principal, name: str) -> User:
    if not (caller.kind is Kind.USER and caller.name == name):
        _require_admin(caller)
    return _store(ctx).user(name)


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
        return _store(ctx).update_user(name, new_role, frozenset(add), frozenset(remove))


def delete_user(ctx: Context, caller: Principal, name: str) -> None:
    """The user's sessions and keys end with it."""
    with audit.audited(ctx, caller, "user.delete", name):
        _require_admin(caller)
        _store(ctx).delete_user(name)


def set_password(
    ctx: Context, caller: Principal, name: str, password: str, current: str | None = None
) -> None:
    """An admin sets anyone's; a user its own, with its current one. Ends the user's sessions."""
    accounts = _store(ctx)
    with audit.audited(ctx, caller, "user.passwd", name):
        if not caller.may(Scope.USERS_ADMIN):
            found = accounts.credentials(name) if caller.kind is Kind.USER else None
            if caller.name != name or found is None:
                raise Forbidden("changing another user's password needs role admin")
            if current is None or not passwords.verify_password(found[1], current):
                raise Forbidden("the current password is wrong")
        accounts.set_password(name, passwords.hash_password(validate_password(password)))


# -- logins -----------------------------------------------------------------------------


def _throttle(ctx: Context, accounts: AccountStore, username: str, address: str | None) -> None:
    wait = PER_USER.wait_s(*accounts.failures("user", username))
    if address:
        wait = max(wait, PER_ADDRESS.wait_s(*accounts.failures("address", address)))
    if wait > 0:
        message = f"too many failed logins: try again in {wait} s"
        _audit_login(ctx, username, "refused", message, address)
        raise Throttled(message, wait)


def _audit_login(
    ctx: Context, username: str, outcome: str, reason: str | None, address: str | None
) -> None:
    audit.record(ctx, f"user:{username}", "login", username, outcome, reason, address=address)


def login(ctx: Context, username: str, password: str, address: str | None) -> Session:
    """A new session for the right password; failures slow down and then lock further
    attempts, per user name and per client address."""
    accounts = _store(ctx)
    username = username.strip().lower()
    _throttle(ctx, accounts, username, address)
    found = accounts.credentials(username)
    if found is None:
        passwords.spend_verify_time(password)
    if found is None or not passwords.verify_password(found[1], password):
        accounts.add_failure("user", username, PER_USER.forget_s)
        if address:
            accounts.add_failure("address", address, PER_ADDRESS.forget_s)
        message = "wrong user name or password"
        _audit_login(ctx, username, "refused", message, address)
        raise Unauthenticated(message)
    accounts.clear_failures("user", username)
    token = secrets.token_urlsafe(32)
    accounts.add_session(username, _derive(ctx, "session", token), SESSION_TTL_S, address)
    _audit_login(ctx, username, "ok", None, address)
    return Session(token, csrf_token(ctx, token), found[0], SESSION_TTL_S)


def csrf_token(ctx: Context, session_token: str) -> str:
    """The CSRF token of a session: derived from it, so nothing more is stored."""
    return _derive(ctx, "csrf", session_token)


def logout(ctx: Context, session_token: str) -> None:
    _store(ctx).revoke_session(_derive(ctx, "session", session_token))


def session_principal(ctx: Context, session_token: str) -> Principal:
    user = _store(ctx).session_user(_derive(ctx, "session", session_token))
    if user is None:
        raise Unauthenticated("the session has expired or ended: log in again")
    return principal_of(user)


def key_principal(ctx: Context, text: str) -> Principal:
    """The caller holding an API key: its scopes, cut to its user's role and tenants now."""
    parts = split_key(text)
    accounts = _store(ctx)
    found = accounts.key(parts[0]) if parts else None
    if parts is None or found is None:
        raise Unauthenticated("unknown API key: create one with 'agentpod apikey create'")
    hashed = _derive(ctx, "apikey", f"{parts[0]}:{parts[1]}")
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


# -- API keys ---------------------------------------------------------------------------


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
            _require_admin(caller)
        accounts = _store(ctx)
        owner = accounts.user(user)
        within_role(wanted, owner.role)
        if tenant and owner.role not in ALL_TENANTS_ROLES and tenant not in owner.tenants:
            raise AccountError(
                f"user {user} is not a member of tenant {tenant}: see 'agentpod user set --help'"
            )
        key_id, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
        hashed = _derive(ctx, "apikey", f"{key_id}:{secret}")
        key = accounts.add_key(key_id, user, hashed, wanted, tenant, ttl)
    return key_text(key_id, secret), key


def list_keys(ctx: Context, caller: Principal, user: str | None = None) -> list[ApiKey]:
    """Every key for an admin (or ``user``'s); the caller's own otherwise."""
    if caller.may(Scope.USERS_ADMIN):
        return _store(ctx).keys(user)
    if user is not None and user != caller.name:
        raise Forbidden("listing another user's API keys needs role admin")
    return _store(ctx).keys(caller.name)


def revoke_key(ctx: Context, caller: Principal, key_id: str) -> None:
    accounts = _store(ctx)
    with audit.audited(ctx, caller, "apikey.revoke", key_id):
        found = accounts.key(key_id)
        if found is None or not (caller.may(Scope.USERS_ADMIN) or found.key.user == caller.name):
            raise NotFound(f"no API key {key_id!r}: see 'agentpod apikey list'")
        accounts.revoke_key(key_id)
