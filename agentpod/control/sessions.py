"""Logins: server-side sessions (only a keyed hash of the token is stored), their CSRF
tokens, logout, and failed logins slowed then locked per user name and per client address.
Every outcome is audited.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from agentpod.control import audit
from agentpod.control.context import Context
from agentpod.core import passwords
from agentpod.core.accounts import User
from agentpod.core.authz import Principal
from agentpod.core.lockout import PER_ADDRESS, PER_USER
from agentpod.services.accounts_store import AccountStore

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


def secret_hash(ctx: Context, purpose: str, secret: str) -> str:
    """What is stored of a session token or API key: a keyed hash (HMAC under secret.key)."""
    assert ctx.store.box is not None, "the context's store has the secret key"
    return ctx.store.box.derive(purpose, secret)


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
    accounts = AccountStore(ctx.store)
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
    accounts.add_session(username, secret_hash(ctx, "session", token), SESSION_TTL_S, address)
    _audit_login(ctx, username, "ok", None, address)
    return Session(token, csrf_token(ctx, token), found[0], SESSION_TTL_S)


def csrf_token(ctx: Context, session_token: str) -> str:
    """The CSRF token of a session: derived from it, so nothing more is stored."""
    return secret_hash(ctx, "csrf", session_token)


def logout(ctx: Context, session_token: str) -> None:
    AccountStore(ctx.store).revoke_session(secret_hash(ctx, "session", session_token))


def session_principal(ctx: Context, session_token: str) -> Principal:
    user = AccountStore(ctx.store).session_user(secret_hash(ctx, "session", session_token))
    if user is None:
        raise Unauthenticated("the session has expired or ended: log in again")
    return Principal.user(user.name, user.role, user.tenants)
