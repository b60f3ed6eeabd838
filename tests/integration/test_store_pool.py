"""The store's pool checks a connection (one round trip) only when it sat idle: a busy API
pays one round trip per query, and a connection idle across a database restart is replaced."""

from __future__ import annotations

from typing import Any

import pytest

from agentpod.control.context import Context
from agentpod.services import store as store_module
from agentpod.settings import load_settings
from tests.conftest import Env


def test_a_connection_is_checked_only_after_sitting_idle(
    agentpod_env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    checked: list[Any] = []
    real_check = store_module.ReportingPool.check_connection
    monkeypatch.setattr(
        store_module.ReportingPool,
        "check_connection",
        staticmethod(lambda conn: (checked.append(conn), real_check(conn))),
    )
    ctx = Context(load_settings(agentpod_env.env))
    try:
        pool = ctx.store.pool
        for _ in range(20):
            with pool.connection() as conn:
                conn.execute("SELECT 1")
        first = len(checked)  # each connection at most once: when it had not been used yet
        assert first == len({id(conn) for conn in checked}) < 20, f"{first} checks for 20 queries"
        later = store_module.monotonic() + store_module.RECHECK_AFTER_S
        monkeypatch.setattr(store_module, "monotonic", lambda: later)  # every one idle since
        with pool.connection() as conn:
            assert conn.execute("SELECT 1 AS one").fetchone() == {"one": 1}
        assert len(checked) == first + 1
    finally:
        ctx.close()
