"""The PostgreSQL store: desired state, status and events. Every state change writes its event
in the same transaction."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Hashable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from functools import lru_cache
from time import monotonic
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from agentpod.core.adapters import secret_paths_of
from agentpod.core.backup import (
    DumpContents,
    PodRecord,
    ProviderRecord,
    TenantRecord,
    UserRecord,
)
from agentpod.core.configsecrets import map_secrets
from agentpod.core.llm import key_hint
from agentpod.core.models import (
    ActualStatus,
    DataSource,
    DesiredStatus,
    Event,
    Limits,
    Pod,
    PodStatus,
    Tenant,
    TenantSettings,
)
from agentpod.core.names import PodRef
from agentpod.core.quota import Quota, Usage, holds
from agentpod.services import database, pod_rows, usage_samples
from agentpod.services.errors import Conflict as Conflict
from agentpod.services.errors import NotFound as NotFound
from agentpod.services.errors import StoreError as StoreError
from agentpod.services.errors import no_pod, no_tenant
from agentpod.services.faults import ReportingPool
from agentpod.services.leader import SERVE_LOCK, SESSION_PREFIX
from agentpod.services.pod_lists import PodLists
from agentpod.services.secretbox import PREFIX, SecretBox, SecretError

RECONCILE_LOCK = 0x4147_5044_0002
# the tenants a caller's queries are limited to, in this thread or task; None: the owner's view
_SCOPE: ContextVar[frozenset[str] | None] = ContextVar("agentpod_scope", default=None)
WAKE_CHANNEL = "agentpod_wake"

POD_COLUMNS = "p.*, t.name AS tenant, c.config, c.version AS config_version"
POD_FROM = pod_rows.POD_FROM
POD_SELECT = f"SELECT {POD_COLUMNS} {POD_FROM}"
# a row's xmin (the transaction that wrote this version of it) changes with every write
VIEW_SELECT = (
    "SELECT p.id, concat_ws(':', p.xmin, c.xmin, t.xmin) AS fp, s.actual_status,"
    f" s.attempts, s.next_attempt_at {POD_FROM} LEFT JOIN pod_status s ON s.pod_id = p.id"
    " ORDER BY t.name, p.name"
)
POOLS_IN_USE = (
    "SELECT pool, count(pod) AS pods FROM ("
    " SELECT coalesce(p.pool, t.settings->>'pool') AS pool, p.id AS pod FROM pods p"
    " JOIN tenants t ON t.id = p.tenant_id WHERE p.desired_status <> 'deleted'"
    " UNION ALL SELECT settings->>'pool', NULL FROM tenants"
    ") used WHERE pool IS NOT NULL GROUP BY pool ORDER BY pool"
)
USAGE_SELECT = (
    "SELECT count(*) FILTER (WHERE desired_status <> 'deleted') AS pods,"
    " coalesce(sum(memory_mb) FILTER (WHERE desired_status = 'running'), 0) AS memory_mb,"
    " coalesce(sum(cpus) FILTER (WHERE desired_status = 'running'), 0) AS cpus"
    " FROM pods WHERE tenant_id = %s AND id IS DISTINCT FROM %s"
)
USAGE_UPDATE = """
UPDATE pod_status s SET last_health_at = %s,
    memory_bytes = CASE WHEN u.memory IS NULL THEN s.memory_bytes ELSE u.memory END,
    cpu_percent = CASE WHEN u.memory IS NULL THEN s.cpu_percent ELSE u.cpu END
FROM unnest(%s::bigint[], %s::bigint[], %s::float8[]) AS u(pod_id, memory, cpu)
WHERE s.pod_id = u.pod_id
"""
VIEW_STALE = f"SELECT {POD_COLUMNS}, t.settings AS tenant_settings {POD_FROM} WHERE p.id = ANY(%s)"


_HOLDS_SERVE_LOCK = (
    "locktype = 'advisory' AND granted AND ((classid::bigint << 32) | objid::bigint) = %s"
)

RESTORE_POD = """
INSERT INTO pods (tenant_id, name, resource_key, adapter, subdomain, desired_status, image,
                  memory_mb, cpus, pids_limit, gateway_token, data_source, domains, pool)
SELECT id, %(name)s, %(key)s, %(adapter)s, %(subdomain)s, %(desired)s, %(image)s, %(memory)s,
       %(cpus)s, %(pids)s, %(token)s, %(source)s, %(domains)s, %(pool)s
FROM tenants WHERE name = %(tenant)s
ON CONFLICT (tenant_id, name) DO UPDATE SET adapter = EXCLUDED.adapter,
    subdomain = EXCLUDED.subdomain, desired_status = EXCLUDED.desired_status,
    image = EXCLUDED.image, memory_mb = EXCLUDED.memory_mb, cpus = EXCLUDED.cpus,
    pids_limit = EXCLUDED.pids_limit, gateway_token = EXCLUDED.gateway_token,
    data_source = EXCLUDED.data_source, domains = EXCLUDED.domains, pool = EXCLUDED.pool,
    keep_data = false,
    adopted_container_id = NULL, replaces_container_id = NULL, updated_at = now()
RETURNING id
"""


# Under the tenant's row lock: (quota, what the tenant's other pods hold, what this pod holds
# now); raises to refuse the change. Every write that can grow a tenant's usage takes the lock,
# so two processes cannot both take the last free slot.
Admit = Callable[[Quota, Usage, Usage], None]


RECHECK_AFTER_S = 2.0  # a connection back in the pool for less than this is not checked again


def _note_return(conn: psycopg.Connection[Any]) -> None:
    conn._agentpod_back_at = monotonic()  # type: ignore[attr-defined]


def _check_unless_fresh(conn: psycopg.Connection[Any]) -> None:
    """The pool's check (a round trip) for a connection that sat idle: one used moments ago
    is alive; a busy API or loop would otherwise pay a round trip per checkout."""
    if monotonic() - getattr(conn, "_agentpod_back_at", float("-inf")) >= RECHECK_AFTER_S:
        ReportingPool.check_connection(conn)


class Store(pod_rows.Reads):
    def __init__(
        self, url: str, max_size: int = 8, box: SecretBox | None = None, timeout: float = 30.0
    ) -> None:
        self.url = url
        self.box = box
        # a reconcile pass reads every pod's token: decrypt each sealed value once per process
        self._open_token = lru_cache(maxsize=16384)(box.open) if box else None
        self._view: dict[int, tuple[str, Pod, TenantSettings]] = {}  # reconcile_view's cache
        self._lists = PodLists()  # pod_views_json's
        self.pool = ReportingPool(
            url,
            min_size=1,
            max_size=max_size,
            kwargs={"row_factory": dict_row, "autocommit": True},
            check=_check_unless_fresh,  # survive a database restart
            reset=_note_return,
            timeout=timeout,  # how long a caller waits for a connection before PoolTimeout
            open=False,
        )

    def _seal(self, token: str) -> str:
        return self.box.seal(token) if self.box else token

    def _pod(self, row: dict[str, Any]) -> Pod:
        limits = Limits(memory_mb=row["memory_mb"], cpus=row["cpus"], pids=row["pids_limit"])
        token = self._opened(row.pop("gateway_token"))
        if "config" in row:
            row["config"] = self.open_config(row["adapter"], row["config"])
        return Pod(**row, limits=limits, gateway_token=token)

    def _opened(self, stored: str) -> str:
        if stored.startswith(PREFIX) and self.box is None:
            raise SecretError("this store has no key to read pod tokens with")
        return self._open_token(stored) if self._open_token else stored

    def seal_config(self, adapter: str, config: dict[str, Any]) -> dict[str, Any]:
        """The config as stored: its secret fields (the type's ``writeOnly`` ones) sealed."""
        return map_secrets(config, secret_paths_of(adapter), self._seal)

    def open_config(self, adapter: str, config: dict[str, Any]) -> dict[str, Any]:
        return map_secrets(config, secret_paths_of(adapter), self._opened)

    def open(self, timeout: float = 10) -> Store:
        try:
            self.pool.open(wait=True, timeout=timeout)
        except psycopg.Error as exc:
            raise database.DatabaseUnavailable(f"cannot connect to the database: {exc}") from None
        except Exception as exc:  # PoolTimeout
            raise database.DatabaseUnavailable(f"cannot connect to the database: {exc}") from None
        return self

    def close(self) -> None:
        self.pool.close()

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        """A pooled connection; inside ``scoped``, a transaction as the application role,
        whose rows row-level security limits to the scope's tenants."""
        with self.pool.connection() as conn:
            tenants = _SCOPE.get()
            if tenants is None:
                yield conn
                return
            with conn.transaction():
                pod_rows.limit_to(conn, tenants)
                yield conn

    def answered(self, conn: psycopg.Connection, key: Hashable, read: Callable[[], str]) -> str:
        """Kept between requests while nothing the list shows has changed (``PodLists``)."""
        return self._lists.answer(conn, (key, _SCOPE.get()), read)

    @contextmanager
    def scoped(self, tenants: frozenset[str] | None) -> Iterator[None]:
        """The queries of this block see and change the rows of ``tenants`` only (None: every
        row, as the owner): the database's own check behind the control layer's."""
        token = _SCOPE.set(tenants)
        try:
            yield
        finally:
            _SCOPE.reset(token)

    @contextmanager
    def tx(self) -> Iterator[psycopg.Connection]:
        with self.connection() as conn, conn.transaction():
            yield conn

    def migrate(self) -> list[str]:
        with self.connection() as conn:
            return database.migrate(conn)

    def pending_migrations(self) -> list[str]:
        with self.connection() as conn:
            return database.pending(conn)

    def instance_id(self) -> str:
        with self.connection() as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = 'instance_id'").fetchone()
        assert row is not None
        return row["value"]

    # -- events ---------------------------------------------------------------------------

    @staticmethod
    def _event(
        conn: psycopg.Connection,
        type_: str,
        message: str,
        tenant: str | None = None,
        pod: str | None = None,
        pod_id: int | None = None,
        data: dict[str, Any] | None = None,
    ) -> None:
        conn.execute(
            "INSERT INTO events (tenant, pod, pod_id, type, message, data)"
            " VALUES (%s, %s, %s, %s, %s, %s)",
            (tenant, pod, pod_id, type_, message, Jsonb(data or {})),
        )

    def add_event(self, type_: str, message: str, pod: Pod | None = None, **data: Any) -> None:
        with self.tx() as conn:
            self._event(
                conn,
                type_,
                message,
                pod.tenant if pod else None,
                pod.name if pod else None,
                pod.id if pod else None,
                data,
            )

    def prune_events(self, older_than_days: float) -> int:
        """Drop events older than the retention; the newest 20 of each pod are always kept."""
        with self.tx() as conn:
            cur = conn.execute(
                "DELETE FROM events e WHERE e.at < now() - make_interval(secs => %s)"
                " AND e.id NOT IN (SELECT id FROM (SELECT id, row_number() OVER"
                " (PARTITION BY tenant, pod ORDER BY id DESC) AS n FROM events) r WHERE n <= 20)",
                (older_than_days * 86400,),
            )
            return cur.rowcount

    def list_events(
        self,
        tail: int = 20,
        ref: PodRef | None = None,
        tenant: str | None = None,
        tenants: frozenset[str] | None = None,
        after: int | None = None,
    ) -> list[Event]:
        """The latest events; ``tenants``: only theirs (no system-wide ones); ``after``: only
        those newer than this id."""
        where: list[str] = []
        args: list[Any] = []
        if after is not None:
            where.append("id > %s")
            args.append(after)
        if tenants is not None:
            where.append("tenant = ANY(%s)")
            args.append(list(tenants))
        if ref:
            where.append("tenant = %s AND pod = %s")
            args += [ref.tenant, ref.name]
        if tenant:
            where.append("tenant = %s")
            args.append(tenant)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        with self.connection() as conn:
            rows = conn.execute(
                f"SELECT * FROM (SELECT * FROM events {clause} ORDER BY id DESC LIMIT %s) e"
                " ORDER BY id",
                [*args, tail],
            ).fetchall()
        return [Event(**r) for r in rows]

    # -- tenants --------------------------------------------------------------------------

    def create_tenant(self, name: str, settings: TenantSettings | None = None) -> Tenant:
        settings = settings or TenantSettings()
        try:
            with self.tx() as conn:
                row = conn.execute(
                    "INSERT INTO tenants (name, settings) VALUES (%s, %s) RETURNING *",
                    (name, Jsonb(settings.model_dump())),
                ).fetchone()
                self._event(conn, "tenant.created", f"tenant {name} created", tenant=name)
        except psycopg.errors.UniqueViolation:
            raise Conflict(f"tenant {name!r} already exists") from None
        assert row is not None
        return self._tenant(row)

    @staticmethod
    def _tenant(row: dict[str, Any]) -> Tenant:
        quota = Quota(**{f: row.pop(f) for f in Quota.model_fields})
        return Tenant(**row, quota=quota)

    def get_tenant(self, name: str) -> Tenant:
        with self.connection() as conn:
            row = conn.execute("SELECT * FROM tenants WHERE name = %s", (name,)).fetchone()
        if row is None:
            raise no_tenant(name)
        return self._tenant(row)

    def list_tenants(self, names: frozenset[str] | None = None) -> list[Tenant]:
        """Every tenant, or those of ``names`` only."""
        where, args = ("WHERE name = ANY(%s)", [list(names)]) if names is not None else ("", [])
        with self.connection() as conn:
            rows = conn.execute(f"SELECT * FROM tenants {where} ORDER BY name", args).fetchall()
        return [self._tenant(r) for r in rows]

    def pools_in_use(self) -> dict[str, int]:
        """Every pool a tenant or a pod sets, with how many pods (not deleted) it places."""
        with self.connection() as conn:
            rows = conn.execute(POOLS_IN_USE).fetchall()
        return {r["pool"]: r["pods"] for r in rows}

    def set_tenant_settings(self, tenant: Tenant, settings: TenantSettings) -> Tenant:
        with self.tx() as conn:
            row = conn.execute(
                "UPDATE tenants SET settings = %s WHERE id = %s RETURNING *",
                (Jsonb(settings.model_dump()), tenant.id),
            ).fetchone()
            self._event(
                conn,
                "tenant.settings",
                f"rate limit {settings.rate_average}/s (burst {settings.rate_burst})"
                + (f", pool {settings.pool}" if settings.pool else ""),
                tenant=tenant.name,
            )
            conn.execute("SELECT pg_notify(%s, %s)", (WAKE_CHANNEL, "0"))
        assert row is not None
        return self._tenant(row)

    def set_tenant_quota(self, tenant: Tenant, quota: Quota) -> Tenant:
        with self.tx() as conn:
            row = conn.execute(
                "UPDATE tenants SET max_pods = %s, max_memory_mb = %s, max_cpus = %s"
                " WHERE id = %s RETURNING *",
                (quota.max_pods, quota.max_memory_mb, quota.max_cpus, tenant.id),
            ).fetchone()
            shown = ", ".join(f"{k} {v}" for k, v in quota.model_dump().items() if v is not None)
            self._event(conn, "tenant.quota", f"quota: {shown or 'none'}", tenant=tenant.name)
        assert row is not None
        return self._tenant(row)

    def tenant_usage(self, tenant: Tenant) -> Usage:
        with self.connection() as conn:
            return self._usage(conn, tenant.id, None)

    @staticmethod
    def _usage(conn: psycopg.Connection, tenant_id: int, pod_id: int | None) -> Usage:
        row = conn.execute(USAGE_SELECT, (tenant_id, pod_id)).fetchone()
        assert row is not None
        return Usage(row["pods"], row["memory_mb"], row["cpus"])

    def _admit(
        self, conn: psycopg.Connection, tenant_id: int, pod_id: int | None, admit: Admit
    ) -> None:
        """Lock the tenant's row (the quota's critical section, until the transaction ends)
        and let ``admit`` refuse."""
        row = conn.execute(
            "SELECT max_pods, max_memory_mb, max_cpus FROM tenants WHERE id = %s FOR UPDATE",
            (tenant_id,),
        ).fetchone()
        assert row is not None
        current = Usage()
        if pod_id is not None:
            mine = conn.execute(
                "SELECT desired_status AS s, memory_mb, cpus FROM pods WHERE id = %s", (pod_id,)
            ).fetchone()
            if mine:
                counted, running = mine["s"] != "deleted", mine["s"] == "running"
                current = holds(mine["memory_mb"], mine["cpus"], counted, running)
        admit(Quota(**row), self._usage(conn, tenant_id, pod_id), current)

    def delete_tenant(self, name: str) -> None:
        with self.tx() as conn:
            tenant = conn.execute(
                "SELECT id FROM tenants WHERE name = %s FOR UPDATE", (name,)
            ).fetchone()
            if tenant is None:
                raise no_tenant(name)
            left = conn.execute(
                "SELECT count(*) AS n FROM pods WHERE tenant_id = %s", (tenant["id"],)
            ).fetchone()
            if left and left["n"]:
                raise Conflict(f"tenant {name!r} still has {left['n']} pod(s)")
            conn.execute("DELETE FROM tenants WHERE id = %s", (tenant["id"],))
            self._event(conn, "tenant.deleted", f"tenant {name} deleted", tenant=name)

    # -- pods -----------------------------------------------------------------------------

    def create_pod(
        self,
        ref: PodRef,
        adapter: str,
        subdomain: str,
        image: str,
        limits: Limits,
        config: dict[str, Any],
        desired: DesiredStatus = DesiredStatus.RUNNING,
        adopted_container_id: str | None = None,
        token: str | None = None,
        data_source: DataSource | None = None,
        event: tuple[str, str] | None = None,
        domains: list[str] | None = None,
        admit: Admit | None = None,
        pool: str | None = None,
    ) -> Pod:
        token = token or secrets.token_urlsafe(32)
        data = Jsonb(data_source.model_dump()) if data_source else None
        try:
            with self.tx() as conn:
                tenant = conn.execute(
                    "SELECT id FROM tenants WHERE name = %s", (ref.tenant,)
                ).fetchone()
                if tenant is None:
                    raise NotFound(
                        f"no tenant {ref.tenant!r}: create it with 'agentpod tenant create "
                        f"{ref.tenant}'"
                    )
                if admit:
                    self._admit(conn, tenant["id"], None, admit)
                self._check_free(conn, ref, subdomain)
                self._check_domains(conn, domains or [], None)
                row = conn.execute(
                    "INSERT INTO pods (tenant_id, name, resource_key, adapter, subdomain,"
                    " desired_status, image, memory_mb, cpus, pids_limit, gateway_token,"
                    " adopted_container_id, data_source, domains, pool)"
                    " VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s) RETURNING id",
                    (
                        tenant["id"],
                        ref.name,
                        ref.key,
                        adapter,
                        subdomain,
                        desired.value,
                        image,
                        limits.memory_mb,
                        limits.cpus,
                        limits.pids,
                        self._seal(token),
                        adopted_container_id,
                        data,
                        domains or [],
                        pool,
                    ),
                ).fetchone()
                assert row is not None
                pod_id = row["id"]
                conn.execute(
                    "INSERT INTO pod_configs (pod_id, config) VALUES (%s, %s)",
                    (pod_id, Jsonb(self.seal_config(adapter, config))),
                )
                conn.execute("INSERT INTO pod_status (pod_id) VALUES (%s)", (pod_id,))
                kind, message = event or ("created", f"pod created ({adapter}, {image})")
                self._event(
                    conn,
                    kind,
                    message,
                    ref.tenant,
                    ref.name,
                    pod_id,
                )
        except psycopg.errors.UniqueViolation as exc:
            raise Conflict(
                f"pod {ref} clashes with an existing pod: {exc.diag.message_detail}"
            ) from None
        return self.get_pod_by_id(pod_id)

    @staticmethod
    def _check_free(conn: psycopg.Connection, ref: PodRef, subdomain: str) -> None:
        clash = conn.execute(
            "SELECT t.name AS tenant, p.name, p.resource_key, p.subdomain FROM pods p"
            " JOIN tenants t ON t.id = p.tenant_id WHERE p.resource_key = %s OR p.subdomain = %s",
            (ref.key, subdomain),
        ).fetchone()
        if clash is None:
            return
        other = f"{clash['tenant']}/{clash['name']}"
        if other == str(ref):
            raise Conflict(f"pod {ref} already exists")
        if clash["resource_key"] == ref.key:
            raise Conflict(
                f"pod {ref} would use the same container and volume names ({ref.container}) as "
                f"pod {other}: choose another pod name"
            )
        raise Conflict(
            f"subdomain {subdomain!r} is already used by pod {other}: pass --subdomain NAME"
        )

    @staticmethod
    def _check_domains(conn: psycopg.Connection, domains: list[str], pod_id: int | None) -> None:
        if not domains:
            return
        clash = conn.execute(
            "SELECT t.name AS tenant, p.name, p.domains FROM pods p"
            " JOIN tenants t ON t.id = p.tenant_id"
            " WHERE p.domains && %s::text[] AND p.id IS DISTINCT FROM %s",
            (domains, pod_id),
        ).fetchone()
        if clash:
            taken = sorted(set(domains) & set(clash["domains"]))
            raise Conflict(
                f"domain {taken[0]} is already routed to pod {clash['tenant']}/{clash['name']}"
            )

    def set_domains(self, pod: Pod, domains: list[str]) -> Pod:
        with self.tx() as conn:
            self._check_domains(conn, domains, pod.id)
            conn.execute(
                "UPDATE pods SET domains = %s, updated_at = now() WHERE id = %s",
                (domains, pod.id),
            )
            message = f"custom domains: {', '.join(domains) or 'none'}"
            self._pod_changed(conn, pod, "domains", message)
        return self.get_pod_by_id(pod.id)

    def get_pod(self, ref: PodRef) -> Pod:
        with self.connection() as conn:
            row = conn.execute(
                POD_SELECT + " WHERE t.name = %s AND p.name = %s", (ref.tenant, ref.name)
            ).fetchone()
        if row is None:
            raise no_pod(ref)
        return self._pod(row)

    def get_pod_by_id(self, pod_id: int) -> Pod:
        with self.connection() as conn:
            row = conn.execute(POD_SELECT + " WHERE p.id = %s", (pod_id,)).fetchone()
        if row is None:
            raise NotFound(f"no pod with id {pod_id}")
        return self._pod(row)

    def list_pods(self, tenant: str | None = None) -> list[Pod]:
        where, args = ("WHERE t.name = %s", [tenant]) if tenant else ("", [])
        with self.connection() as conn:
            rows = conn.execute(f"{POD_SELECT} {where} ORDER BY t.name, p.name", args).fetchall()
        return [self._pod(r) for r in rows]

    def _change_pod(
        self,
        pod: Pod,
        sets: dict[str, Any],
        event: str,
        message: str,
        recreates: bool = False,
        admit: Admit | None = None,
    ) -> Pod:
        cols = ", ".join(f"{k} = %s" for k in sets)
        with self.tx() as conn:
            if admit:
                self._admit(conn, pod.tenant_id, pod.id, admit)
            conn.execute(
                f"UPDATE pods SET {cols}, updated_at = now() WHERE id = %s",
                [*sets.values(), pod.id],
            )
            self._pod_changed(conn, pod, event, message, recreates)
        return self.get_pod_by_id(pod.id)

    def _pod_changed(
        self, conn: psycopg.Connection, pod: Pod, event: str, message: str, recreates: bool = True
    ) -> None:
        """The event of a change, the conversion of an adopted pod it implies, and a wake-up."""
        self._event(conn, event, message, pod.tenant, pod.name, pod.id)
        if recreates:
            self._convert_adopted(conn, pod)
        conn.execute("SELECT pg_notify(%s, %s)", (WAKE_CHANNEL, str(pod.id)))

    def _convert_adopted(self, conn: psycopg.Connection, pod: Pod) -> None:
        """A change that needs a new container turns an adopted pod into a managed one: the
        hand-deployed container is replaced by ours, on the same data."""
        if not pod.adopted_container_id:
            return
        conn.execute(
            "UPDATE pods SET replaces_container_id = adopted_container_id,"
            " adopted_container_id = NULL WHERE id = %s",
            (pod.id,),
        )
        self._event(
            conn,
            "convert",
            "adopted container will be recreated the AgentPod way",
            pod.tenant,
            pod.name,
            pod.id,
        )

    def clear_replaced(self, pod: Pod) -> None:
        with self.tx() as conn:
            conn.execute("UPDATE pods SET replaces_container_id = NULL WHERE id = %s", (pod.id,))

    def set_desired(
        self,
        pod: Pod,
        status: DesiredStatus,
        keep_data: bool = False,
        admit: Admit | None = None,
    ) -> Pod:
        sets: dict[str, Any] = {"desired_status": status.value}
        if status is DesiredStatus.DELETED:
            sets["keep_data"] = keep_data
        event, message = f"desired.{status.value}", f"desired status {status}"
        return self._change_pod(pod, sets, event, message, admit=admit)

    def set_image(self, pod: Pod, image: str, admit: Admit | None = None) -> Pod:
        message = f"image {pod.image} -> {image}"
        return self._change_pod(pod, {"image": image}, "upgrade", message, True, admit)

    def set_limits(self, pod: Pod, limits: Limits, admit: Admit | None = None) -> Pod:
        sets = {"memory_mb": limits.memory_mb, "cpus": limits.cpus, "pids_limit": limits.pids}
        message = f"limits: {limits.memory_mb} MiB, {limits.cpus:g} CPUs, {limits.pids} pids"
        return self._change_pod(pod, sets, "limits", message, True, admit)

    def set_token(self, pod: Pod, token: str) -> Pod:
        sets = {"gateway_token": self._seal(token)}
        return self._change_pod(pod, sets, "token.rotated", "token rotated", recreates=True)

    def set_config(self, pod: Pod, config: dict[str, Any]) -> Pod:
        with self.tx() as conn:
            conn.execute(
                "UPDATE pod_configs SET config = %s, version = version + 1, updated_at = now()"
                " WHERE pod_id = %s",
                (Jsonb(self.seal_config(pod.adapter, config)), pod.id),
            )
            self._pod_changed(conn, pod, "config", f"config version {pod.config_version + 1}")
        return self.get_pod_by_id(pod.id)

    def forget_pod(self, pod: Pod, message: str, event: str = "deleted") -> None:
        """Drop a pod's rows once its container (and data, unless kept) is gone, or on release."""
        with self.tx() as conn:
            conn.execute("DELETE FROM pods WHERE id = %s", (pod.id,))
            self._event(conn, event, message, pod.tenant, pod.name, pod.id)

    def restore(self, contents: DumpContents) -> list[Pod]:
        """Write a restore in one transaction: missing tenants are created with the archive's
        settings, quota, LLM providers and budgets (existing ones keep theirs and gain only
        what they lack); an existing pod of the same name is overwritten in place (config
        version + 1), a new one is inserted; missing accounts and prices are added."""
        ids = []
        with self.tx() as conn:
            for tenant in contents.tenants:
                self._restore_tenant(conn, tenant)
            for provider in contents.platform_providers:
                self._restore_platform_provider(conn, provider)
            for r in contents.pods:  # their tenants are among contents.tenants
                row = conn.execute(RESTORE_POD, self._restore_args(r)).fetchone()
                assert row is not None
                ids.append(row["id"])
                conn.execute(
                    "INSERT INTO pod_configs (pod_id, config) VALUES (%s, %s) ON CONFLICT (pod_id)"
                    " DO UPDATE SET config = EXCLUDED.config, version = pod_configs.version + 1,"
                    " updated_at = now()",
                    (row["id"], Jsonb(self.seal_config(r.adapter, r.config))),
                )
                conn.execute(  # its container is gone: the pod starts again from pending
                    "INSERT INTO pod_status (pod_id) VALUES (%s) ON CONFLICT (pod_id) DO UPDATE SET"
                    " actual_status = 'pending', container_id = NULL, spec_hash = NULL,"
                    " ready = false, last_error = NULL, attempts = 0, next_attempt_at = NULL",
                    (row["id"],),
                )
                self._event(conn, "restored", "restored from a backup", r.tenant, r.name, row["id"])
            for user in contents.users:
                self._restore_user(conn, user)
            for model, (inp, out) in contents.prices.items():
                conn.execute(
                    "INSERT INTO llm_prices (model, input_usd_per_mt, output_usd_per_mt)"
                    " VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
                    (model, inp, out),
                )
            conn.execute("SELECT pg_notify(%s, %s)", (WAKE_CHANNEL, "0"))
        return [self.get_pod_by_id(i) for i in ids]

    def _restore_tenant(self, conn: psycopg.Connection, t: TenantRecord) -> None:
        row = (
            conn.execute(
                "INSERT INTO tenants (name, settings, max_pods, max_memory_mb, max_cpus)"
                " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (name) DO NOTHING RETURNING id",
                (t.name, Jsonb(t.settings.model_dump()), *t.quota.model_dump().values()),
            ).fetchone()
            or conn.execute("SELECT id FROM tenants WHERE name = %s", (t.name,)).fetchone()
        )
        assert row is not None
        for p in t.providers:
            self._restore_provider(conn, row["id"], p)
        for b in t.budgets:
            conn.execute(
                "INSERT INTO llm_budgets (tenant_id, pod, requests_per_minute, tokens_per_minute,"
                " daily_usd, monthly_usd) VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                (row["id"], *b.model_dump().values()),
            )

    def _restore_platform_provider(self, conn: psycopg.Connection, p: ProviderRecord) -> None:
        """A missing platform provider comes back, and its shares with tenants that are here;
        one of the same name on this machine keeps its key."""
        self._restore_provider(conn, None, p)
        conn.execute(
            "INSERT INTO llm_provider_shares (provider_id, tenant_id)"
            " SELECT p.id, t.id FROM llm_providers p, tenants t WHERE p.tenant_id IS NULL"
            " AND p.name = %s AND t.name = ANY(%s) ON CONFLICT DO NOTHING",
            (p.name, p.tenants),
        )

    def _restore_provider(
        self, conn: psycopg.Connection, tenant_id: int | None, p: ProviderRecord
    ) -> None:
        """A tenant's (or with ``tenant_id`` None, the platform's) provider unless one of that
        name is there; its key sealed with this machine's key."""
        conn.execute(
            "INSERT INTO llm_providers (tenant_id, name, kind, base_url, api_key, key_hint)"
            " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
            (tenant_id, p.name, p.kind, p.base_url, self._seal(p.key), key_hint(p.key)),
        )

    @staticmethod
    def _restore_user(conn: psycopg.Connection, u: UserRecord) -> None:
        """A missing account comes back with its role, password and tenants; one of the same
        name on this machine is left as it is (no rights gained by a restore)."""
        row = conn.execute(
            "INSERT INTO users (name, role, password_hash) VALUES (%s, %s, %s)"
            " ON CONFLICT (name) DO NOTHING RETURNING id",
            (u.name, u.role, u.password_hash),
        ).fetchone()
        if row is not None:
            conn.execute(
                "INSERT INTO user_tenants (user_id, tenant_id)"
                " SELECT %s, id FROM tenants WHERE name = ANY(%s) ON CONFLICT DO NOTHING",
                (row["id"], u.tenants),
            )

    def _restore_args(self, r: PodRecord) -> dict[str, Any]:
        return {
            "tenant": r.tenant,
            "name": r.name,
            "key": r.ref.key,
            "adapter": r.adapter,
            "subdomain": r.subdomain,
            "desired": r.desired_status.value,
            "image": r.image,
            "memory": r.limits.memory_mb,
            "cpus": r.limits.cpus,
            "pids": r.limits.pids,
            "token": self._seal(r.token),
            "source": Jsonb(r.data_source.model_dump()) if r.data_source else None,
            "domains": r.domains,
            "pool": r.pool,
        }

    # -- status ---------------------------------------------------------------------------

    def get_status(self, pod_id: int) -> PodStatus:
        with self.connection() as conn:
            row = conn.execute("SELECT * FROM pod_status WHERE pod_id = %s", (pod_id,)).fetchone()
        return PodStatus(**row) if row else PodStatus(pod_id=pod_id)

    def reconcile_view(self) -> tuple[list[Pod], dict[int, PodStatus], dict[str, TenantSettings]]:
        """What a reconcile pass reads: every pod, its status and its tenant's settings. One
        small query when nothing changed: a pod is read in full again only when a fingerprint
        of its rows differs from the last call's."""
        with self.connection() as conn:
            rows = conn.execute(VIEW_SELECT).fetchall()
            stale = [r["id"] for r in rows if self._view.get(r["id"], ("",))[0] != r["fp"]]
            full = conn.execute(VIEW_STALE, (stale,)).fetchall() if stale else []
        fresh = {}
        for row in full:
            settings = TenantSettings(**row.pop("tenant_settings"))
            fresh[row["id"]] = (self._pod(row), settings)
        view: dict[int, tuple[str, Pod, TenantSettings]] = {}
        pods, statuses, tenants = [], {}, {}
        for r in rows:
            known = fresh.get(r["id"]) or self._view.get(r["id"], ("",))[1:]
            if not known:  # deleted between the two queries
                continue
            pod, settings = known
            view[pod.id] = (r["fp"], pod, settings)
            pods.append(pod)
            tenants[pod.tenant] = settings
            statuses[pod.id] = PodStatus(
                pod_id=pod.id,
                actual_status=r["actual_status"] or ActualStatus.PENDING,
                attempts=r["attempts"] or 0,
                next_attempt_at=r["next_attempt_at"],
            )
        self._view = view
        return pods, statuses, tenants

    def health_states(self, pod_ids: list[int]) -> dict[int, tuple[bool, str | None]]:
        """(ready, health message) of these pods, in one query."""
        with self.connection() as conn:
            rows = conn.execute(
                "SELECT pod_id, ready, health_message FROM pod_status WHERE pod_id = ANY(%s)",
                (pod_ids,),
            ).fetchall()
        return {r["pod_id"]: (bool(r["ready"]), r["health_message"]) for r in rows}

    def record_usage(
        self,
        at: datetime,
        usage: list[tuple[int, int | None, float | None]],
        minute: datetime | None = None,
        samples: Sequence[tuple[int, int | None, float | None]] = (),
    ) -> None:
        """One statement for a health round: each pod's probe time, and its (memory bytes, CPU
        %) where measured (None: the last figures are kept); ``samples``, the same figures kept
        as those pods' samples of ``minute`` (the usage history)."""
        ids, memory, cpu = (list(column) for column in zip(*usage, strict=True))
        with self.tx() as conn:
            conn.execute(USAGE_UPDATE, (at, ids, memory, cpu))
            if samples and minute is not None:
                usage_samples.keep(conn, minute, samples)

    def usage_history(self, pod_id: int, start: datetime) -> list[dict[str, Any]]:
        """The pod's samples since ``start``, oldest first."""
        with self.connection() as conn:
            return usage_samples.since(conn, pod_id, start)

    def update_status(self, pod: Pod, event: tuple[str, str] | None = None, **fields: Any) -> bool:
        """Write the fields that differ (and the event, if any); return whether anything did."""
        cols = list(fields)
        sets = ", ".join(f"{c} = %s" for c in cols)
        differ = " OR ".join(f"{c} IS DISTINCT FROM %s" for c in cols)
        values = list(fields.values())
        with self.tx() as conn:
            cur = conn.execute(
                f"UPDATE pod_status SET {sets}, updated_at = now()"
                f" WHERE pod_id = %s AND ({differ})",
                [*values, pod.id, *values],
            )
            changed = cur.rowcount > 0
            if event:
                self._event(conn, event[0], event[1], pod.tenant, pod.name, pod.id)
        return changed

    # -- coordination ---------------------------------------------------------------------

    @contextmanager
    def reconcile_lock(self, wait: bool = True) -> Iterator[bool]:
        """One reconcile at a time across processes (a session advisory lock)."""
        with self.connection() as conn:
            if wait:
                conn.execute("SELECT pg_advisory_lock(%s)", (RECONCILE_LOCK,))
                got = True
            else:
                row = conn.execute(
                    "SELECT pg_try_advisory_lock(%s) AS ok", (RECONCILE_LOCK,)
                ).fetchone()
                got = bool(row and row["ok"])
            try:
                yield got
            finally:
                if got:
                    conn.execute("SELECT pg_advisory_unlock(%s)", (RECONCILE_LOCK,))

    def serve_running(self) -> bool:
        """Whether some ``agentpod serve`` leads (holds the serve lock) right now: a standby
        does not count, the CLI then reconciles itself (under the reconcile lock)."""
        with self.connection() as conn:
            row = conn.execute(
                f"SELECT count(*) AS n FROM pg_locks WHERE {_HOLDS_SERVE_LOCK}", (SERVE_LOCK,)
            ).fetchone()
        return bool(row and row["n"])

    def serve_sessions(self) -> list[tuple[str, bool]]:
        """Every running serve as (``pid N on HOST``, leads?), the leader first."""
        with self.connection() as conn:
            rows = conn.execute(
                "SELECT a.application_name AS name, EXISTS (SELECT 1 FROM pg_locks"
                f" WHERE pid = a.pid AND {_HOLDS_SERVE_LOCK}) AS leads"
                " FROM pg_stat_activity a WHERE a.application_name LIKE %s"
                " ORDER BY leads DESC, a.backend_start",
                (SERVE_LOCK, SESSION_PREFIX + "%"),
            ).fetchall()
        return [(r["name"].removeprefix(SESSION_PREFIX), r["leads"]) for r in rows]

    def wake(self, pod_ids: list[int] | None = None) -> None:
        with self.connection() as conn:
            for pid in pod_ids or [0]:
                conn.execute("SELECT pg_notify(%s, %s)", (WAKE_CHANNEL, str(pid)))
