"""The accounts' tables: users and their tenants, sessions, API keys, failed logins.

Sessions and keys are found by a keyed hash of their secret (made by the caller with the
secret key); the secrets themselves are never stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from agentpod.core.accounts import ApiKey, User
from agentpod.core.authz import Role, Scope
from agentpod.services.store import Conflict, NotFound, Store

USER_SELECT = """
SELECT u.id, u.name, u.role, u.password_hash, u.created_at,
       coalesce(array_agg(t.name ORDER BY t.name) FILTER (WHERE t.name IS NOT NULL), '{}')
           AS tenants
FROM users u LEFT JOIN user_tenants ut ON ut.user_id = u.id
     LEFT JOIN tenants t ON t.id = ut.tenant_id
"""
KEY_SELECT = """
SELECT k.*, u.name AS user, t.name AS tenant, now() AS now FROM api_keys k
JOIN users u ON u.id = k.user_id LEFT JOIN tenants t ON t.id = k.tenant_id
"""
# a key with its user (role, tenants) in one query: what every key-authenticated request reads
KEY_USE_SELECT = """
SELECT k.*, u.name AS user, t.name AS tenant, now() AS now, u.role, u.created_at AS user_since,
       coalesce((SELECT array_agg(ot.name) FROM user_tenants ut JOIN tenants ot
                 ON ot.id = ut.tenant_id WHERE ut.user_id = u.id), '{}') AS tenants
FROM api_keys k JOIN users u ON u.id = k.user_id LEFT JOIN tenants t ON t.id = k.tenant_id
WHERE k.id = %s
"""
TOUCH_EVERY_S = 60  # last-used and last-seen times: one write a minute at most
TOUCH_EVERY = f"{TOUCH_EVERY_S} seconds"


def _user(row: dict[str, Any]) -> User:
    return User(row["name"], Role(row["role"]), frozenset(row["tenants"]), row["created_at"])


def _key(row: dict[str, Any]) -> ApiKey:
    return ApiKey(
        id=row["id"],
        user=row["user"],
        scopes=frozenset(Scope(s) for s in row["scopes"]),
        tenant=row["tenant"],
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        last_used_at=row["last_used_at"],
        revoked_at=row["revoked_at"],
    )


@dataclass(frozen=True)
class KeyRecord:
    """A stored key as its use needs it: the hash of its secret, the database's time (expiry
    is judged by it) and its user now."""

    key: ApiKey
    secret_hash: str
    now: datetime
    owner: User


def _no_user(name: str) -> NotFound:
    return NotFound(f"no user {name!r}: see 'agentpod user list'")


class AccountStore:
    def __init__(self, store: Store) -> None:
        self.store = store

    # -- users ----------------------------------------------------------------------------

    def _user_row(self, conn: psycopg.Connection, name: str) -> dict[str, Any]:
        row = conn.execute(USER_SELECT + " WHERE u.name = %s GROUP BY u.id", (name,)).fetchone()
        if row is None:
            raise _no_user(name)
        return row

    def user(self, name: str) -> User:
        with self.store.pool.connection() as conn:
            return _user(self._user_row(conn, name))

    def credentials(self, name: str) -> tuple[User, str] | None:
        """The user and its password hash, for a login; None when there is no such user."""
        try:
            with self.store.pool.connection() as conn:
                row = self._user_row(conn, name)
        except NotFound:
            return None
        return _user(row), row["password_hash"]

    def users(self) -> list[User]:
        with self.store.pool.connection() as conn:
            rows = conn.execute(USER_SELECT + " GROUP BY u.id ORDER BY u.name").fetchall()
        return [_user(r) for r in rows]

    def create_user(self, user: User, password_hash: str) -> User:
        try:
            with self.store.tx() as conn:
                row = conn.execute(
                    "INSERT INTO users (name, role, password_hash) VALUES (%s, %s, %s)"
                    " RETURNING id",
                    (user.name, user.role.value, password_hash),
                ).fetchone()
                assert row is not None
                self._add_tenants(conn, row["id"], user.tenants)
                return _user(self._user_row(conn, user.name))
        except psycopg.errors.UniqueViolation:
            raise Conflict(f"user {user.name!r} already exists") from None

    @staticmethod
    def _add_tenants(conn: psycopg.Connection, user_id: int, tenants: frozenset[str]) -> None:
        names = sorted(tenants)
        found = conn.execute(
            "INSERT INTO user_tenants (user_id, tenant_id) SELECT %s, id FROM tenants"
            " WHERE name = ANY(%s) ON CONFLICT DO NOTHING RETURNING tenant_id",
            (user_id, names),
        ).fetchall()
        if len(found) < len(names):
            known = conn.execute(
                "SELECT name FROM tenants WHERE name = ANY(%s)", (names,)
            ).fetchall()
            missing = sorted(set(names) - {r["name"] for r in known})
            if missing:
                raise NotFound(f"no tenant {missing[0]!r}: see 'agentpod tenant list'")

    def update_user(
        self, name: str, role: Role | None, add: frozenset[str], remove: frozenset[str]
    ) -> User:
        with self.store.tx() as conn:
            user_id = self._user_row(conn, name)["id"]
            if role is not None:
                conn.execute(
                    "UPDATE users SET role = %s, updated_at = now() WHERE id = %s",
                    (role.value, user_id),
                )
            self._add_tenants(conn, user_id, add)
            conn.execute(
                "DELETE FROM user_tenants WHERE user_id = %s AND tenant_id IN"
                " (SELECT id FROM tenants WHERE name = ANY(%s))",
                (user_id, sorted(remove)),
            )
            return _user(self._user_row(conn, name))

    def delete_user(self, name: str) -> None:
        """Its memberships, sessions and keys go with it."""
        with self.store.tx() as conn:
            if conn.execute("DELETE FROM users WHERE name = %s", (name,)).rowcount == 0:
                raise _no_user(name)

    def set_password(self, name: str, password_hash: str) -> None:
        """A new password ends every session of the user."""
        with self.store.tx() as conn:
            row = conn.execute(
                "UPDATE users SET password_hash = %s, updated_at = now() WHERE name = %s"
                " RETURNING id",
                (password_hash, name),
            ).fetchone()
            if row is None:
                raise _no_user(name)
            conn.execute(
                "UPDATE sessions SET revoked_at = now() WHERE user_id = %s AND revoked_at IS NULL",
                (row["id"],),
            )

    # -- sessions -------------------------------------------------------------------------

    def add_session(self, user: str, token_hash: str, ttl_s: int, address: str | None) -> None:
        with self.store.tx() as conn:
            conn.execute(
                "INSERT INTO sessions (token_hash, user_id, address, expires_at)"
                " SELECT %s, id, %s, now() + make_interval(secs => %s) FROM users"
                " WHERE name = %s",
                (token_hash, address, ttl_s, user),
            )
            # expired and revoked sessions are kept a day for the record, then dropped
            conn.execute(
                "DELETE FROM sessions WHERE coalesce(revoked_at, expires_at)"
                " < now() - interval '1 day'"
            )

    def session_user(self, token_hash: str) -> User | None:
        """The user of a live session (not expired, not revoked), else None."""
        with self.store.pool.connection() as conn:
            row = conn.execute(
                USER_SELECT + " JOIN sessions s ON s.user_id = u.id WHERE s.token_hash = %s"
                " AND s.revoked_at IS NULL AND s.expires_at > now() GROUP BY u.id",
                (token_hash,),
            ).fetchone()
            if row is not None:
                conn.execute(
                    "UPDATE sessions SET last_seen_at = now() WHERE token_hash = %s"
                    f" AND last_seen_at < now() - interval '{TOUCH_EVERY}'",
                    (token_hash,),
                )
        return _user(row) if row else None

    def revoke_session(self, token_hash: str) -> bool:
        with self.store.tx() as conn:
            cur = conn.execute(
                "UPDATE sessions SET revoked_at = now() WHERE token_hash = %s"
                " AND revoked_at IS NULL",
                (token_hash,),
            )
            return cur.rowcount > 0

    # -- API keys -------------------------------------------------------------------------

    def add_key(
        self,
        key_id: str,
        user: str,
        secret_hash: str,
        scopes: frozenset[Scope],
        tenant: str | None,
        ttl_s: int | None,
    ) -> ApiKey:
        with self.store.tx() as conn:
            user_id = self._user_row(conn, user)["id"]
            tenant_id = None
            if tenant is not None:
                row = conn.execute("SELECT id FROM tenants WHERE name = %s", (tenant,)).fetchone()
                if row is None:
                    raise NotFound(f"no tenant {tenant!r}: see 'agentpod tenant list'")
                tenant_id = row["id"]
            conn.execute(
                "INSERT INTO api_keys (id, user_id, secret_hash, scopes, tenant_id, expires_at)"
                " VALUES (%s, %s, %s, %s, %s,"
                " now() + make_interval(secs => %s::double precision))",
                (key_id, user_id, secret_hash, sorted(scopes), tenant_id, ttl_s),
            )
            row = conn.execute(KEY_SELECT + " WHERE k.id = %s", (key_id,)).fetchone()
        assert row is not None
        return _key(row)

    def key(self, key_id: str) -> KeyRecord | None:
        with self.store.pool.connection() as conn:
            row = conn.execute(KEY_USE_SELECT, (key_id,)).fetchone()
        if row is None:
            return None
        owner = User(row["user"], Role(row["role"]), frozenset(row["tenants"]), row["user_since"])
        return KeyRecord(_key(row), row["secret_hash"], row["now"], owner)

    def keys(self, user: str | None = None) -> list[ApiKey]:
        where, args = ("WHERE u.name = %s", [user]) if user else ("", [])
        with self.store.pool.connection() as conn:
            rows = conn.execute(f"{KEY_SELECT} {where} ORDER BY k.created_at", args).fetchall()
        return [_key(r) for r in rows]

    def touch_key(self, record: KeyRecord) -> None:
        """Record a use (at most once a minute: most uses write nothing)."""
        last = record.key.last_used_at
        if last is not None and (record.now - last).total_seconds() < TOUCH_EVERY_S:
            return
        key_id = record.key.id
        with self.store.pool.connection() as conn:
            conn.execute(
                "UPDATE api_keys SET last_used_at = now() WHERE id = %s AND (last_used_at IS NULL"
                f" OR last_used_at < now() - interval '{TOUCH_EVERY}')",
                (key_id,),
            )

    def revoke_key(self, key_id: str) -> None:
        with self.store.tx() as conn:
            cur = conn.execute(
                "UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE id = %s",
                (key_id,),
            )
            if cur.rowcount == 0:
                raise NotFound(f"no API key {key_id!r}: see 'agentpod apikey list'")

    # -- failed logins --------------------------------------------------------------------

    def failures(self, kind: str, subject: str) -> tuple[int, float]:
        """(failures, seconds since the last one); (0, 0) when there were none."""
        with self.store.pool.connection() as conn:
            row = conn.execute(
                "SELECT failures, extract(epoch FROM now() - last_failed_at)::float AS since"
                " FROM login_failures WHERE kind = %s AND subject = %s",
                (kind, subject),
            ).fetchone()
        return (row["failures"], row["since"]) if row else (0, 0.0)

    def add_failure(self, kind: str, subject: str, forget_s: float) -> None:
        with self.store.pool.connection() as conn:
            conn.execute(
                "INSERT INTO login_failures (kind, subject, failures, last_failed_at)"
                " VALUES (%s, %s, 1, now()) ON CONFLICT (kind, subject) DO UPDATE SET"
                " failures = CASE WHEN login_failures.last_failed_at"
                " < now() - make_interval(secs => %s) THEN 1 ELSE login_failures.failures + 1 END,"
                " last_failed_at = now()",
                (kind, subject, forget_s),
            )

    def clear_failures(self, kind: str, subject: str) -> None:
        with self.store.pool.connection() as conn:
            conn.execute(
                "DELETE FROM login_failures WHERE kind = %s AND subject = %s", (kind, subject)
            )
