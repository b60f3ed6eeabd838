from __future__ import annotations

import pytest

from agentpod.core.accounts import (
    AccountError,
    key_text,
    parse_duration,
    parse_role,
    parse_scopes,
    split_key,
    validate_password,
    validate_username,
    within_role,
)
from agentpod.core.authz import Role, Scope
from agentpod.core.lockout import Policy


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("ann", True),
        ("ann.lee@example.com", True),
        ("a", True),
        ("0day", True),
        ("Ann", False),
        ("-ann", False),
        ("ann lee", False),
        ("", False),
        ("a" * 63, True),
        ("a" * 64, False),
    ],
)
def test_user_names(name: str, ok: bool) -> None:
    if ok:
        assert validate_username(name) == name
    else:
        with pytest.raises(AccountError, match="lowercase letters"):
            validate_username(name)


@pytest.mark.parametrize(
    ("password", "error"),
    [("12345678", None), ("1234567", "too short"), ("x" * 1025, "too long")],
)
def test_passwords(password: str, error: str | None) -> None:
    if error is None:
        assert validate_password(password) == password
    else:
        with pytest.raises(AccountError, match=error):
            validate_password(password)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90m", 5400), ("12h", 43200), ("30d", 2592000), ("30D", 2592000)],
)
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "d", "0d", "-1d", "3x", "1.5h", "30"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(AccountError, match=r"give e\.g\. 90m, 12h or 30d"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("texts", "role", "error"),
    [
        (["pods:read"], Role.VIEWER, None),
        (["pods:read", "pods:write"], Role.MEMBER, None),
        (["users:admin"], Role.ADMIN, None),
        (["pods:write"], Role.VIEWER, "beyond role viewer"),
        (["users:admin"], Role.OPERATOR, "beyond role operator"),
        (["pods:eat"], Role.ADMIN, "scope 'pods:eat': use one of"),
        ([], Role.ADMIN, "at least one --scope"),
    ],
)
def test_key_scopes(texts: list[str], role: Role, error: str | None) -> None:
    if error is None:
        assert within_role(parse_scopes(texts), role) == frozenset(Scope(t) for t in texts)
    else:
        with pytest.raises(AccountError, match=error):
            within_role(parse_scopes(texts), role)


def test_roles() -> None:
    assert parse_role("operator") is Role.OPERATOR
    with pytest.raises(AccountError, match="use one of admin, operator, member, viewer"):
        parse_role("root")


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        (key_text("0123456789ab", "s_e-c"), ("0123456789ab", "s_e-c")),
        ("agp_0123456789ab_", None),
        ("agp_0123456789a_secret", None),
        ("agp_0123456789AB_secret", None),
        ("apk-12-secret", None),
        ("", None),
    ],
)
def test_key_text(text: str, parts: tuple[str, str] | None) -> None:
    assert split_key(text) == parts


POLICY = Policy(free=3, lock_after=10, max_delay_s=30, lock_s=900, forget_s=900)


@pytest.mark.parametrize(
    ("failures", "since", "wait"),
    [
        (0, 0, 0),
        (3, 0, 0),  # the free ones
        (4, 0, 1),
        (4, 0.5, 1),  # rounded up
        (4, 1, 0),
        (5, 0, 2),
        (6, 1, 3),
        (9, 0, 30),  # capped
        (10, 0, 900),  # locked
        (10, 600, 300),
        (50, 899, 1),
        (50, 900, 0),  # forgotten
    ],
)
def test_lockout_policy(failures: int, since: float, wait: int) -> None:
    assert POLICY.wait_s(failures, since) == wait
