"""Who may do what: roles, scopes and the caller of a use case (pure; no I/O).

A caller sees a tenant or does not; a tenant it does not see is reported as absent (404),
never as forbidden (403), so a caller cannot learn which other tenants exist.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"  # everything
    OPERATOR = "operator"  # every tenant's pods and settings, no user administration
    MEMBER = "member"  # pods of its own tenants, within quota
    VIEWER = "viewer"  # read only, its own tenants


class Scope(StrEnum):
    PODS_READ = "pods:read"
    PODS_WRITE = "pods:write"
    TENANTS_READ = "tenants:read"
    TENANTS_WRITE = "tenants:write"
    USERS_ADMIN = "users:admin"
    AUDIT_READ = "audit:read"


ROLE_SCOPES: dict[Role, frozenset[Scope]] = {
    Role.ADMIN: frozenset(Scope),
    Role.OPERATOR: frozenset(Scope) - {Scope.USERS_ADMIN},
    Role.MEMBER: frozenset({Scope.PODS_READ, Scope.PODS_WRITE, Scope.TENANTS_READ}),
    Role.VIEWER: frozenset({Scope.PODS_READ, Scope.TENANTS_READ}),
}

ALL_TENANTS_ROLES = frozenset({Role.ADMIN, Role.OPERATOR})


class Kind(StrEnum):
    USER = "user"  # a logged-in person (a session)
    APIKEY = "apikey"  # automation with a key
    ROOT = "root"  # the CLI on the machine, as the OS user: it owns the database


@dataclass(frozen=True)
class Principal:
    """The caller of a use case. ``tenants`` is None for a caller who sees every tenant;
    ``address`` is where the request came from (the audit log's), None on the machine."""

    kind: Kind
    name: str
    role: Role
    tenants: frozenset[str] | None
    scopes: frozenset[Scope]
    key_id: str | None = None
    address: str | None = None

    @classmethod
    def root(cls, os_user: str) -> Principal:
        return cls(Kind.ROOT, os_user, Role.ADMIN, None, ROLE_SCOPES[Role.ADMIN])

    @classmethod
    def user(cls, name: str, role: Role, tenants: frozenset[str]) -> Principal:
        return cls(Kind.USER, name, role, _tenants_of(role, tenants), ROLE_SCOPES[role])

    @classmethod
    def apikey(
        cls,
        key_id: str,
        user: str,
        role: Role,
        user_tenants: frozenset[str],
        scopes: frozenset[Scope],
        tenant: str | None = None,
    ) -> Principal:
        """A key never has more rights than its user: its scopes are cut to the role's, and a
        key bound to a tenant sees that tenant only (and only if its user does)."""
        tenants = _tenants_of(role, user_tenants)
        if tenant is not None:
            tenants = frozenset({tenant}) if tenants is None or tenant in tenants else frozenset()
        return cls(Kind.APIKEY, user, role, tenants, scopes & ROLE_SCOPES[role], key_id)

    def at(self, address: str | None) -> Principal:
        """The same caller, calling from ``address``."""
        return replace(self, address=address)

    @property
    def actor(self) -> str:
        """How the audit log names this caller."""
        if self.kind is Kind.APIKEY:
            return f"apikey:{self.key_id} ({self.name})"
        return f"{self.kind.value}:{self.name}"

    def sees(self, tenant: str) -> bool:
        return self.tenants is None or tenant in self.tenants

    def may(self, scope: Scope, tenant: str | None = None) -> bool:
        """Whether the caller holds ``scope`` (on ``tenant``, when the action is a tenant's)."""
        return scope in self.scopes and (tenant is None or self.sees(tenant))


def _tenants_of(role: Role, tenants: frozenset[str]) -> frozenset[str] | None:
    return None if role in ALL_TENANTS_ROLES else frozenset(tenants)
