"""The LLM gateway's tables: providers (keys sealed), budgets, prices and usage.

A pod's virtual key is not stored: it is derived from the pod's sealed token with the secret
key (HMAC), so it changes when the token is rotated and dies with the pod's row.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

import psycopg

from agentpod.core.llm import Budget, Price, Provider, ProviderKind, key_hint, virtual_key
from agentpod.core.models import Pod
from agentpod.services.store import WAKE_CHANNEL, Conflict, NotFound, Store

# Every provider a tenant's pods reach: its own, and the platform's shared with it unless it
# has its own of that name (its own wins). ``platform`` tells them apart.
EFFECTIVE = """
SELECT p.*, t.name AS tenant, false AS platform, '{}'::text[] AS tenants
  FROM llm_providers p JOIN tenants t ON t.id = p.tenant_id
UNION ALL
SELECT p.*, t.name AS tenant, true AS platform, '{}'::text[] AS tenants
  FROM llm_providers p JOIN llm_provider_shares s ON s.provider_id = p.id
  JOIN tenants t ON t.id = s.tenant_id
 WHERE NOT EXISTS (SELECT FROM llm_providers o WHERE o.tenant_id = s.tenant_id AND o.name = p.name)
"""
PLATFORM_SELECT = """
SELECT p.*, NULL AS tenant, true AS platform, coalesce(array_agg(t.name ORDER BY t.name)
       FILTER (WHERE t.name IS NOT NULL), '{}') AS tenants
  FROM llm_providers p LEFT JOIN llm_provider_shares s ON s.provider_id = p.id
  LEFT JOIN tenants t ON t.id = s.tenant_id
 WHERE p.tenant_id IS NULL
"""
BUDGET_FIELDS = ("requests_per_minute", "tokens_per_minute", "daily_usd", "monthly_usd")


@dataclass(frozen=True)
class Upstream:
    """What the gateway forwards to: the provider's base URL and its real key."""

    kind: ProviderKind
    base_url: str
    key: str


@dataclass(frozen=True)
class UsageRow:
    at: datetime
    tenant: str
    pod: str
    pod_id: int
    provider: str
    model: str
    status: int
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    latency_ms: float
    ttft_ms: float | None
    cost_usd: float


class LlmStore:
    def __init__(self, store: Store) -> None:
        self.store = store
        if store.box is None:
            raise RuntimeError("the LLM gateway needs the secret key (a Store with a SecretBox)")
        self.box = store.box
        # the gateway reloads providers every second: each sealed key is decrypted once
        self._open = lru_cache(maxsize=4096)(self.box.open)

    def virtual_key(self, pod: Pod) -> str:
        return virtual_key(pod.id, self.box.derive("llm-virtual-key", pod.gateway_token))

    # -- providers ------------------------------------------------------------------------

    def _tenant_id(self, conn: psycopg.Connection, tenant: str) -> int:
        row = conn.execute("SELECT id FROM tenants WHERE name = %s", (tenant,)).fetchone()
        if row is None:
            raise NotFound(f"no tenant {tenant!r}: see 'agentpod tenant list'")
        return row["id"]

    def _owner_id(self, conn: psycopg.Connection, tenant: str | None) -> int | None:
        """The tenant's id; None for the platform's providers."""
        return None if tenant is None else self._tenant_id(conn, tenant)

    def add_provider(
        self, tenant: str | None, name: str, kind: ProviderKind, base_url: str, key: str
    ) -> Provider:
        """A tenant's provider, or with ``tenant`` None one of the platform's."""
        try:
            with self.store.tx() as conn:
                conn.execute(
                    "INSERT INTO llm_providers (tenant_id, name, kind, base_url, api_key,"
                    " key_hint) VALUES (%s, %s, %s, %s, %s, %s)",
                    (
                        self._owner_id(conn, tenant),
                        name,
                        kind.value,
                        base_url,
                        self.box.seal(key),
                        key_hint(key),
                    ),
                )
                message = f"LLM provider {name} added ({kind.value}, {base_url})"
                self._changed(conn, tenant, "llm.provider.added", message)
        except psycopg.errors.UniqueViolation:
            raise Conflict(
                f"{_owner(tenant)} already has a provider {name!r}: "
                f"use 'agentpod llm provider rotate {name} {_option(tenant)}'"
            ) from None
        return self.get_provider(tenant, name)

    def rotate_provider(self, tenant: str | None, name: str, key: str) -> Provider:
        with self.store.tx() as conn:
            cur = conn.execute(
                "UPDATE llm_providers SET api_key = %s, key_hint = %s, updated_at = now()"
                " WHERE tenant_id IS NOT DISTINCT FROM %s AND name = %s",
                (self.box.seal(key), key_hint(key), self._owner_id(conn, tenant), name),
            )
            if cur.rowcount == 0:
                raise self._no_provider(tenant, name)
            self.store._event(
                conn, "llm.provider.rotated", f"LLM provider {name} key rotated", tenant=tenant
            )
        return self.get_provider(tenant, name)

    def remove_provider(self, tenant: str | None, name: str) -> list[str]:
        """Removes it; returns the tenants it was shared with (their pods change)."""
        shared = self.get_provider(tenant, name).tenants
        with self.store.tx() as conn:
            cur = conn.execute(
                "DELETE FROM llm_providers WHERE tenant_id IS NOT DISTINCT FROM %s AND name = %s",
                (self._owner_id(conn, tenant), name),
            )
            if cur.rowcount == 0:
                raise self._no_provider(tenant, name)
            self._changed(conn, tenant, "llm.provider.removed", f"LLM provider {name} removed")
            for other in shared:
                message = f"platform LLM provider {name} removed"
                self._changed(conn, other, "llm.provider.unshared", message)
        return list(shared)

    def share(self, name: str, tenant: str, shared: bool) -> bool:
        """Share the platform's provider with the tenant (or stop); whether anything changed."""
        provider_id = self._platform_id(name)
        with self.store.tx() as conn:
            tid = self._tenant_id(conn, tenant)
            cur = conn.execute(
                "INSERT INTO llm_provider_shares (provider_id, tenant_id) VALUES (%s, %s)"
                " ON CONFLICT DO NOTHING"
                if shared
                else "DELETE FROM llm_provider_shares WHERE provider_id = %s AND tenant_id = %s",
                (provider_id, tid),
            )
            if cur.rowcount:
                verb = "shared" if shared else "unshared"
                message = f"platform LLM provider {name} {verb}"
                self._changed(conn, tenant, f"llm.provider.{verb}", message)
        return bool(cur.rowcount)

    def _platform_id(self, name: str) -> int:
        with self.store.connection() as conn:
            row = conn.execute(
                "SELECT id FROM llm_providers WHERE tenant_id IS NULL AND name = %s", (name,)
            ).fetchone()
        if row is None:
            raise self._no_provider(None, name)
        return row["id"]

    def _changed(
        self, conn: psycopg.Connection, tenant: str | None, event: str, message: str
    ) -> None:
        """The tenant's pods are re-rendered (which providers they see); serve is woken."""
        self.store._event(conn, event, message, tenant=tenant)
        conn.execute("SELECT pg_notify(%s, %s)", (WAKE_CHANNEL, "0"))

    @staticmethod
    def _no_provider(tenant: str | None, name: str) -> NotFound:
        return NotFound(
            f"{_owner(tenant)} has no provider {name!r}: see "
            f"'agentpod llm provider list {_option(tenant)}'"
        )

    def get_provider(self, tenant: str | None, name: str) -> Provider:
        """A tenant's own provider, or (``tenant`` None) one of the platform's."""
        with self.store.connection() as conn:
            if tenant is None:
                sql, args = PLATFORM_SELECT + " AND p.name = %s GROUP BY p.id", [name]
            else:
                sql = f"SELECT * FROM ({EFFECTIVE}) e WHERE tenant = %s AND name = %s"
                sql, args = sql + " AND NOT platform", [tenant, name]
            row = conn.execute(sql, args).fetchone()
        if row is None:
            raise self._no_provider(tenant, name)
        return _provider(row)

    def list_providers(self, tenant: str | None = None) -> list[Provider]:
        """The providers a tenant's pods reach (its own and those shared with it), or every
        tenant's."""
        where, args = ("WHERE tenant = %s", [tenant]) if tenant else ("", [])
        with self.store.connection() as conn:
            if tenant:
                self._tenant_id(conn, tenant)
            rows = conn.execute(
                f"SELECT * FROM ({EFFECTIVE}) e {where} ORDER BY tenant, name", args
            ).fetchall()
        return [_provider(r) for r in rows]

    def platform_providers(self) -> list[Provider]:
        with self.store.connection() as conn:
            rows = conn.execute(PLATFORM_SELECT + " GROUP BY p.id ORDER BY p.name").fetchall()
        return [_provider(r) for r in rows]

    def provider_kinds(self) -> dict[str, tuple[tuple[str, ProviderKind], ...]]:
        """For rendering pods: each tenant's providers by name and kind (no keys)."""
        found: dict[str, list[tuple[str, ProviderKind]]] = {}
        for p in self.list_providers():
            found.setdefault(p.tenant or "", []).append((p.name, p.kind))
        return {t: tuple(v) for t, v in found.items()}

    def upstreams(self) -> dict[tuple[str, str], Upstream]:
        """For the gateway: (tenant, provider) -> base URL and the opened real key."""
        with self.store.connection() as conn:
            rows = conn.execute(EFFECTIVE).fetchall()
        return {
            (r["tenant"], r["name"]): Upstream(
                ProviderKind(r["kind"]), r["base_url"], self._open(r["api_key"])
            )
            for r in rows
        }

    # -- budgets and prices ---------------------------------------------------------------

    def set_budget(self, tenant: str, budget: Budget, changes: dict[str, Any]) -> Budget:
        """Set (or with None, clear) the limits in ``changes`` for the tenant or one pod."""
        with self.store.tx() as conn:
            tid = self._tenant_id(conn, tenant)
            conn.execute(
                "INSERT INTO llm_budgets (tenant_id, pod) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                (tid, budget.pod),
            )
            sets = ", ".join(f"{k} = %s" for k in changes)
            conn.execute(
                f"UPDATE llm_budgets SET {sets} WHERE tenant_id = %s AND pod = %s",
                [*changes.values(), tid, budget.pod],
            )
            scope = f"{tenant}/{budget.pod}" if budget.pod else tenant
            text = ", ".join(f"{k}={v}" for k, v in changes.items())
            self.store._event(conn, "llm.budget", f"LLM budget of {scope}: {text}", tenant=tenant)
        return next(b for t, b in self.budgets(tenant) if b.pod == budget.pod)

    def budgets(self, tenant: str | None = None) -> list[tuple[str, Budget]]:
        where, args = ("WHERE t.name = %s", [tenant]) if tenant else ("", [])
        with self.store.connection() as conn:
            rows = conn.execute(
                "SELECT b.*, t.name AS tenant FROM llm_budgets b"
                f" JOIN tenants t ON t.id = b.tenant_id {where} ORDER BY t.name, b.pod",
                args,
            ).fetchall()
        return [
            (r["tenant"], Budget(pod=r["pod"], **{k: r[k] for k in BUDGET_FIELDS})) for r in rows
        ]

    def set_price(self, price: Price) -> None:
        with self.store.tx() as conn:
            conn.execute(
                "INSERT INTO llm_prices (model, input_usd_per_mt, output_usd_per_mt)"
                " VALUES (%s, %s, %s) ON CONFLICT (model) DO UPDATE SET"
                " input_usd_per_mt = EXCLUDED.input_usd_per_mt,"
                " output_usd_per_mt = EXCLUDED.output_usd_per_mt",
                (price.model, price.input_usd_per_mt, price.output_usd_per_mt),
            )

    def remove_price(self, model: str) -> None:
        with self.store.tx() as conn:
            cur = conn.execute("DELETE FROM llm_prices WHERE model = %s", (model,))
        if cur.rowcount == 0:
            raise NotFound(f"no price for model {model!r}: see 'agentpod llm prices list'")

    def prices(self) -> dict[str, Price]:
        with self.store.connection() as conn:
            rows = conn.execute("SELECT * FROM llm_prices ORDER BY model").fetchall()
        return {r["model"]: Price(**r) for r in rows}

    # -- usage ----------------------------------------------------------------------------

    def record_usage(self, rows: Iterable[UsageRow]) -> None:
        cols = list(UsageRow.__dataclass_fields__)
        sql = f"COPY llm_usage ({', '.join(cols)}) FROM STDIN"
        with self.store.tx() as conn, conn.cursor() as cur, cur.copy(sql) as copy:
            for row in rows:
                copy.write_row([getattr(row, c) for c in cols])

    def usage(
        self,
        tenant: str,
        pod: str | None = None,
        since: datetime | None = None,
        by_day: bool = False,
    ) -> list[dict[str, Any]]:
        day = "to_char(date_trunc('day', at), 'YYYY-MM-DD')" if by_day else "NULL"
        where, args = ["tenant = %s"], [tenant]
        if pod:
            where.append("pod = %s")
            args.append(pod)
        if since:
            where.append("at >= %s")
            args.append(since)
        with self.store.connection() as conn:
            self._tenant_id(conn, tenant)
            rows = conn.execute(
                f"SELECT {day} AS day, tenant || '/' || pod AS pod, provider, model,"
                " count(*) AS requests, count(*) FILTER (WHERE status >= 400) AS errors,"
                " sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens,"
                " sum(cached_tokens) AS cached_tokens, round(sum(cost_usd)::numeric, 6)::float"
                " AS cost_usd, round(avg(latency_ms)::numeric, 1)::float AS avg_latency_ms,"
                " round(avg(ttft_ms)::numeric, 1)::float AS avg_ttft_ms"
                f" FROM llm_usage WHERE {' AND '.join(where)}"
                " GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4",
                args,
            ).fetchall()
        out = []
        for r in rows:
            if not by_day:
                r.pop("day")
            out.append(
                {
                    k: (int(v) if k.endswith(("tokens", "requests", "errors")) else v)
                    for k, v in r.items()
                }
            )
        return out

    def spend(self) -> dict[str, tuple[float, float]]:
        """USD spent today and this month (UTC) per scope ("tenant T", "pod T/P")."""
        with self.store.connection() as conn:
            rows = conn.execute(
                "SELECT tenant, pod, sum(cost_usd) FILTER (WHERE at >= date_trunc('day', now()"
                " AT TIME ZONE 'UTC') AT TIME ZONE 'UTC') AS day, sum(cost_usd) AS month"
                " FROM llm_usage WHERE at >= date_trunc('month', now() AT TIME ZONE 'UTC')"
                " AT TIME ZONE 'UTC' AND cost_usd > 0 GROUP BY 1, 2"
            ).fetchall()
        out: dict[str, tuple[float, float]] = {}
        for r in rows:
            day, month = float(r["day"] or 0), float(r["month"] or 0)
            out[f"pod {r['tenant']}/{r['pod']}"] = (day, month)
            t = out.get(f"tenant {r['tenant']}", (0.0, 0.0))
            out[f"tenant {r['tenant']}"] = (t[0] + day, t[1] + month)
        return out

    def event(self, type_: str, message: str, tenant: str, pod: str, pod_id: int) -> None:
        with self.store.tx() as conn:
            self.store._event(conn, type_, message, tenant, pod, pod_id)


def _provider(row: dict[str, Any]) -> Provider:
    return Provider(
        tenant=row["tenant"],
        name=row["name"],
        kind=ProviderKind(row["kind"]),
        base_url=row["base_url"],
        key_hint=row["key_hint"],
        platform=row["platform"],
        tenants=tuple(row["tenants"]),
    )


def _owner(tenant: str | None) -> str:
    return f"tenant {tenant}" if tenant else "the platform"


def _option(tenant: str | None) -> str:
    return f"--tenant {tenant}" if tenant else "--platform"
