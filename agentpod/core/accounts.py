"""Accounts as data: users and API keys, and the rules for their names, passwords, key text
and lifetimes (pure; hashing is ``core.passwords``, storage ``services.accounts_store``)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from agentpod.core.authz import ROLE_SCOPES, Role, Scope

USERNAME = re.compile(r"^[a-z0-9][a-z0-9._@-]{0,62}$")
MIN_PASSWORD = 8
MAX_PASSWORD = 1024  # argon2 takes any length; a megabyte "password" is an attack
KEY_PREFIX = "agp_"
KEY_ID = re.compile(r"^[0-9a-f]{12}$")
UNITS = {"m": 60, "h": 3600, "d": 86400}


class AccountError(ValueError):
    """Bad input about an account: the message says what was wrong and what to do."""


@dataclass(frozen=True)
class User:
    name: str
    role: Role
    tenants: frozenset[str]
    created_at: datetime | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "role": self.role.value,
            "tenants": sorted(self.tenants),
            "created_at": self.created_at,
        }


@dataclass(frozen=True)
class ApiKey:
    id: str
    user: str
    scopes: frozenset[Scope]
    tenant: str | None
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None

    def state(self, now: datetime) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active"

    def as_dict(self, now: datetime) -> dict[str, object]:
        """What may be shown of a key: everything but the key."""
        return {
            "id": self.id,
            "user": self.user,
            "scopes": sorted(s.value for s in self.scopes),
            "tenant": self.tenant,
            "state": self.state(now),
            "created_at": self.created_at,
            "expires_at": self.expires_at,
            "last_used_at": self.last_used_at,
            "revoked_at": self.revoked_at,
        }


def validate_username(name: str) -> str:
    if not USERNAME.match(name):
        raise AccountError(
            f"user name {name!r}: use 1-63 lowercase letters, digits and . _ @ - "
            "(starting with a letter or digit)"
        )
    return name


def validate_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"password too short: use at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise AccountError(f"password too long: use at most {MAX_PASSWORD} characters")
    return password


def parse_role(text: str) -> Role:
    try:
        return Role(text)
    except ValueError:
        raise AccountError(
            f"role {text!r}: use one of {', '.join(r.value for r in Role)}"
        ) from None


def parse_scopes(texts: list[str]) -> frozenset[Scope]:
    """Known scopes, at least one."""
    if not texts:
        raise AccountError(f"give at least one --scope: {', '.join(s.value for s in Scope)}")
    scopes = set()
    for text in texts:
        try:
            scopes.add(Scope(text))
        except ValueError:
            raise AccountError(
                f"scope {text!r}: use one of {', '.join(s.value for s in Scope)}"
            ) from None
    return frozenset(scopes)


def within_role(scopes: frozenset[Scope], role: Role) -> frozenset[Scope]:
    """A key never has more rights than its user: none beyond the user's role."""
    beyond = sorted(s.value for s in scopes - ROLE_SCOPES[role])
    if beyond:
        allowed = ", ".join(sorted(s.value for s in ROLE_SCOPES[role]))
        raise AccountError(
            f"scope {', '.join(beyond)} is beyond role {role.value} (it has {allowed})"
        )
    return scopes


def parse_duration(text: str) -> int:
    """``30d``, ``12h``, ``90m`` -> seconds."""
    number, unit = text[:-1], text[-1:].lower()
    if not number.isdigit() or unit not in UNITS or int(number) == 0:
        raise AccountError(f"duration {text!r}: give e.g. 90m, 12h or 30d")
    return int(number) * UNITS[unit]


def key_text(key_id: str, secret: str) -> str:
    return f"{KEY_PREFIX}{key_id}_{secret}"


def split_key(text: str) -> tuple[str, str] | None:
    """(id, secret) of an API key's text, or None when it is not shaped like one."""
    if not text.startswith(KEY_PREFIX):
        return None
    key_id, sep, secret = text[len(KEY_PREFIX) :].partition("_")
    if not sep or not KEY_ID.match(key_id) or not secret:
        return None
    return key_id, secret
