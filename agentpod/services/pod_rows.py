"""Pods as plain rows, for showing them: one query, no models, no pool (the CLI reads them
right after start-up, where importing the models would cost more than the query).

pod_rows.select(conn, tenant=None) -> list[dict]   (raw rows)
pod_rows.views(conn, url, tenant=None, ref=None, tenants=None) -> list[dict]   (the pods' JSON)
pod_rows.views_json(conn, url, tenant=None, tenants=None, limit, offset) -> str   (encoded)
pod_rows.has_tenant(conn, name) -> bool
pod_rows.limit_to(conn, tenants) -> None   (row-level security, in a transaction)
pod_rows.Reads: pod_rows(), pod_views(), pod_views_json() and has_tenant() for the store and
    a Reader
pod_rows.Reader(url): those reads on one connection of its own
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import psycopg
from psycopg.rows import dict_row

from agentpod.core.names import PodRef
from agentpod.services.database import DatabaseUnavailable
from agentpod.services.errors import no_pod

APP_ROLE = "agentpod_app"  # row-level security applies to it (migration 0011)
POD_FROM = "FROM pods p JOIN tenants t ON t.id = p.tenant_id JOIN pod_configs c ON c.pod_id = p.id"
ROWS_SELECT = (
    "SELECT p.id, t.name AS tenant, p.name, p.adapter, p.image, p.subdomain, p.domains,"
    " p.desired_status, p.memory_mb, p.cpus, p.pids_limit, p.adopted_container_id,"
    " p.created_at, c.version AS config_version, s.actual_status, s.ready, s.health_message,"
    " s.last_health_at, s.container_id, s.memory_bytes, s.cpu_percent, s.last_error, s.attempts"
    f" {POD_FROM} LEFT JOIN pod_status s ON s.pod_id = p.id"
)


# The stable JSON of a pod (``pod status --format json``, the API's pod), defined once, here: the
# rows are that JSON already, and a list can be encoded by the database, never becoming Python
# objects (what makes the API's list cheap). Its two parameters: the public URL around the
# subdomain (``Edge.url_parts``).
VIEW_SELECT = (
    "SELECT t.name || '/' || p.name AS ref, t.name AS tenant, p.name, p.adapter, p.image,"
    " p.subdomain, %s || p.subdomain || %s AS url, p.domains, p.desired_status,"
    " coalesce(s.actual_status, 'pending') AS actual_status, coalesce(s.ready, false) AS ready,"
    " s.health_message AS health, s.last_health_at, s.container_id, p.memory_mb, p.cpus,"
    " p.pids_limit AS pids, s.memory_bytes, s.cpu_percent, s.last_error,"
    " coalesce(s.attempts, 0) AS attempts, p.adopted_container_id IS NOT NULL AS adopted,"
    " c.version AS config_version, coalesce(p.pool, t.settings->>'pool') AS pool, p.created_at"
    f" {POD_FROM} LEFT JOIN pod_status s ON s.pod_id = p.id"
)
ORDER = "ORDER BY t.name, p.name"
# no transaction with an id (a writer) in progress when the statement's snapshot was taken
SETTLED = (
    "pg_snapshot_xmin(pg_current_snapshot()) = pg_snapshot_xmax(pg_current_snapshot()) AS settled"
)


def _where(
    tenant: str | None, ref: PodRef | None, tenants: frozenset[str] | None
) -> tuple[str, list[Any]]:
    where: list[str] = []
    args: list[Any] = []
    if tenants is not None:
        where.append("t.name = ANY(%s)")
        args.append(list(tenants))
    if tenant:
        where.append("t.name = %s")
        args.append(tenant)
    if ref:
        where.append("t.name = %s AND p.name = %s")
        args += [ref.tenant, ref.name]
    return (f"WHERE {' AND '.join(where)}" if where else ""), args


def select(conn: psycopg.Connection, tenant: str | None = None) -> list[dict[str, Any]]:
    """Pods with their status, raw (of ``tenant``): what metrics and scale checks count."""
    clause, args = _where(tenant, None, None)
    return conn.execute(f"{ROWS_SELECT} {clause} {ORDER}", args).fetchall()


def views(
    conn: psycopg.Connection,
    url: tuple[str, str],
    tenant: str | None = None,
    ref: PodRef | None = None,
    tenants: frozenset[str] | None = None,
) -> list[dict[str, Any]]:
    """The pods' JSON (of ``tenant``, or the pod ``ref``: NotFound without it)."""
    clause, args = _where(tenant, ref, tenants)
    rows = conn.execute(f"{VIEW_SELECT} {clause} {ORDER}", [*url, *args]).fetchall()
    if ref and not rows:
        raise no_pod(ref)
    return rows


def views_json(
    conn: psycopg.Connection,
    url: tuple[str, str],
    tenant: str | None = None,
    tenants: frozenset[str] | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> str:
    """The pods' JSON list encoded by the database (a page of it: ``limit``, ``offset``)."""
    clause, args = _where(tenant, None, tenants)
    page = f"{VIEW_SELECT} {clause} {ORDER} LIMIT %s OFFSET %s"
    query = f"SELECT coalesce(json_agg(v), '[]')::text AS list FROM ({page}) v"
    return conn.execute(query, [*url, *args, limit, offset]).fetchone()["list"]


def has_tenant(conn: psycopg.Connection, name: str) -> bool:
    return conn.execute("SELECT 1 FROM tenants WHERE name = %s", (name,)).fetchone() is not None


def limit_to(conn: psycopg.Connection, tenants: frozenset[str]) -> None:
    """The transaction's queries run as the application role, whose rows row-level security
    limits to ``tenants``."""
    conn.execute(f"SET LOCAL ROLE {APP_ROLE}")
    conn.execute("SELECT set_config('agentpod.tenants', %s, true)", (",".join(sorted(tenants)),))


class Reads:
    """``pod_rows`` and ``has_tenant`` on the connections of ``connection()`` (the store's
    pool, or a reader's one connection)."""

    def connection(self) -> AbstractContextManager[psycopg.Connection]:
        raise NotImplementedError

    def pod_rows(self, tenant: str | None = None) -> list[dict[str, Any]]:
        """Pods with their status as plain rows (no models, no tokens: fast)."""
        with self.connection() as conn:
            return select(conn, tenant)

    def pod_views(
        self,
        url: tuple[str, str],
        tenant: str | None = None,
        ref: PodRef | None = None,
        tenants: frozenset[str] | None = None,
    ) -> list[dict[str, Any]]:
        with self.connection() as conn:
            return views(conn, url, tenant, ref, tenants)

    def pod_views_json(
        self,
        url: tuple[str, str],
        tenant: str | None = None,
        tenants: frozenset[str] | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> str:
        with self.connection() as conn:
            read = lambda: views_json(conn, url, tenant, tenants, limit, offset)  # noqa: E731
            return self.answered(conn, (url, tenant, tenants, limit, offset), read)

    def answered(self, conn: psycopg.Connection, key: Hashable, read: Callable[[], str]) -> str:
        """A list as ``read()`` gives it (the store keeps lists between requests)."""
        return read()

    def has_tenant(self, name: str) -> bool:
        with self.connection() as conn:
            return has_tenant(conn, name)


class Reader(Reads):
    """The store's pod reads on one connection of its own (no pool, no migrations)."""

    def __init__(self, url: str) -> None:
        try:
            self.conn = psycopg.connect(url, row_factory=dict_row, autocommit=True)
        except psycopg.Error as exc:  # as the store says it
            raise DatabaseUnavailable(f"cannot connect to the database: {exc}") from None
        self._tenants: frozenset[str] | None = None

    @contextmanager
    def scoped(self, tenants: frozenset[str] | None) -> Iterator[None]:
        self._tenants = tenants
        try:
            yield
        finally:
            self._tenants = None

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        if self._tenants is None:
            yield self.conn
            return
        with self.conn.transaction():
            limit_to(self.conn, self._tenants)
            yield self.conn

    def close(self) -> None:
        self.conn.close()
