from __future__ import annotations

import pytest

from agentpod.core.authz import Kind, Principal, Role, Scope

MINE = frozenset({"acme"})
R, W, TW, UA = Scope.PODS_READ, Scope.PODS_WRITE, Scope.TENANTS_WRITE, Scope.USERS_ADMIN

# role, scope, tenant -> allowed (the user belongs to "acme" only)
CASES = [
    (Role.ADMIN, UA, None, True),
    (Role.ADMIN, W, "other", True),
    (Role.OPERATOR, W, "other", True),
    (Role.OPERATOR, TW, None, True),
    (Role.OPERATOR, UA, None, False),
    (Role.MEMBER, W, "acme", True),
    (Role.MEMBER, W, "other", False),
    (Role.MEMBER, R, "other", False),
    (Role.MEMBER, TW, "acme", False),
    (Role.VIEWER, R, "acme", True),
    (Role.VIEWER, W, "acme", False),
    (Role.VIEWER, R, "other", False),
]


@pytest.mark.parametrize(("role", "scope", "tenant", "allowed"), CASES)
def test_user_rights_by_role(role: Role, scope: Scope, tenant: str | None, allowed: bool) -> None:
    assert Principal.user("ann", role, MINE).may(scope, tenant) is allowed


@pytest.mark.parametrize(
    ("role", "scopes", "bound", "scope", "tenant", "allowed"),
    [
        (Role.VIEWER, {R, W}, None, W, "acme", False),  # never more than the user's role
        (Role.MEMBER, {R}, None, W, "acme", False),  # only the key's scopes
        (Role.MEMBER, {R, W}, None, W, "acme", True),
        (Role.ADMIN, {R}, "acme", R, "other", False),  # bound to one tenant
        (Role.ADMIN, {R}, "acme", R, "acme", True),
        (Role.MEMBER, {R}, "other", R, "other", False),  # bound where its user is not
    ],
)
def test_api_key_rights(
    role: Role, scopes: set[Scope], bound: str | None, scope: Scope, tenant: str, allowed: bool
) -> None:
    key = Principal.apikey("k1", "ann", role, MINE, frozenset(scopes), bound)
    assert key.may(scope, tenant) is allowed


def test_root_sees_everything_and_is_named_as_the_os_user() -> None:
    root = Principal.root("alice")
    assert root.kind is Kind.ROOT and root.sees("any") and root.may(UA)
    assert root.actor == "root:alice"
    assert Principal.apikey("k9", "bob", Role.VIEWER, MINE, frozenset({R})).actor == (
        "apikey:k9 (bob)"
    )


def test_a_caller_from_an_address_keeps_its_rights() -> None:
    ann = Principal.user("ann", Role.MEMBER, MINE)
    remote = ann.at("203.0.113.7")
    assert remote.address == "203.0.113.7" and ann.address is None
    assert remote.may(W, "acme") and not remote.sees("other") and remote.actor == ann.actor
