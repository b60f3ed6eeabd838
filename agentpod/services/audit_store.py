"""The audit log's table: one row per write use case (and login), never a secret."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from agentpod.services.store import Store


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime
    actor: str
    action: str
    target: str
    tenant: str | None
    address: str | None
    outcome: str  # ok | refused | failed
    reason: str | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class AuditStore:
    def __init__(self, store: Store) -> None:
        self.store = store

    def add(
        self,
        actor: str,
        action: str,
        target: str,
        tenant: str | None,
        outcome: str,
        reason: str | None,
        address: str | None,
    ) -> None:
        with self.store.connection() as conn:
            conn.execute(
                "INSERT INTO audit_log (actor, action, target, tenant, outcome, reason, address)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s)",
                (actor, action, target, tenant, outcome, reason, address),
            )

    def tail(self, n: int, tenants: frozenset[str] | None = None) -> list[AuditEntry]:
        """The latest ``n`` rows, oldest first; ``tenants``: only rows about theirs."""
        where, args = (
            ("WHERE tenant = ANY(%s)", [list(tenants)]) if tenants is not None else ("", [])
        )
        with self.store.connection() as conn:
            rows = conn.execute(
                f"SELECT * FROM (SELECT * FROM audit_log {where} ORDER BY id DESC LIMIT %s) a"
                " ORDER BY id",
                [*args, n],
            ).fetchall()
        return [AuditEntry(**r) for r in rows]
