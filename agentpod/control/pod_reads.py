"""Showing pods: the reads behind ``pod list`` and ``pod status``, on the store or, for the
CLI, on one connection of their own (``for_cli``): no models, no pool, no Docker, so a command
that only shows pods imports psycopg and little else.

pod_reads.list_(source: Rows, url, caller, tenant=None) -> list[dict]
pod_reads.status(source: Rows, url, caller, ref) -> dict
pod_reads.view(row: dict, url: Callable[[str], str]) -> dict   (the stable JSON of a pod)
pod_reads.for_cli(settings: Settings) -> (Rows, url) | None   (None: migrations are pending)
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from functools import partial
from typing import Any, Protocol

from agentpod.control import guard
from agentpod.core.authz import Principal, Scope
from agentpod.core.names import PodRef, public_url, validate_label
from agentpod.services.errors import no_tenant
from agentpod.settings import Settings


class Rows(Protocol):
    """Where pods' rows come from: the store, or a ``pod_rows.Reader``."""

    def scoped(self, tenants: frozenset[str] | None) -> AbstractContextManager[None]: ...

    def pod_rows(
        self,
        tenant: str | None = None,
        ref: PodRef | None = None,
        tenants: frozenset[str] | None = None,
    ) -> list[dict[str, Any]]: ...

    def has_tenant(self, name: str) -> bool: ...


def list_(
    source: Rows, url: Callable[[str], str], caller: Principal, tenant: str | None = None
) -> list[dict[str, Any]]:
    """The pods the caller sees (of ``tenant`` only, if given); NotFound for a ``tenant`` that
    does not exist or that the caller does not see (asked only when no pod was found)."""
    if tenant:
        validate_label(tenant, "tenant name")
    guard.visible(caller, tenant)
    guard.require(caller, Scope.PODS_READ, tenant)
    with source.scoped(caller.tenants):
        rows = source.pod_rows(tenant, tenants=caller.tenants)
        if tenant and not rows and not source.has_tenant(tenant):
            raise no_tenant(tenant)
    return [view(r, url) for r in rows]


def status(
    source: Rows, url: Callable[[str], str], caller: Principal, ref: str | PodRef
) -> dict[str, Any]:
    pod_ref = guard.seen_pod(caller, ref)
    with source.scoped(caller.tenants):
        (row,) = source.pod_rows(ref=pod_ref)
    guard.require(caller, Scope.PODS_READ, pod_ref.tenant)
    return view(row, url)


def for_cli(settings: Settings) -> tuple[Rows, Callable[[str], str]] | None:
    """A reader on one connection and the pods' public URLs as ``edge_for`` makes them; None
    when the database needs migrations first (the store applies them)."""
    from agentpod.control.proxy import public_side
    from agentpod.services import database, traefik
    from agentpod.services.pod_rows import Reader

    reader = Reader(settings.database_url or database.database_url(settings.home))
    if database.pending(reader.conn):
        reader.close()
        return None
    scheme, port = public_side(settings, traefik.read_state(settings.home))
    return reader, partial(public_url, scheme, settings.domain, port)


def view(row: dict[str, Any], url: Callable[[str], str]) -> dict[str, Any]:
    """The stable JSON of a pod, from a row of ``pod_rows.select``; ``url``: a subdomain's
    public URL."""
    return {
        "ref": f"{row['tenant']}/{row['name']}",
        "tenant": row["tenant"],
        "name": row["name"],
        "adapter": row["adapter"],
        "image": row["image"],
        "subdomain": row["subdomain"],
        "url": url(row["subdomain"]),
        "domains": row["domains"],
        "desired_status": row["desired_status"],
        "actual_status": row["actual_status"] or "pending",
        "ready": bool(row["ready"]),
        "health": row["health_message"],
        "last_health_at": row["last_health_at"],
        "container_id": row["container_id"],
        "memory_mb": row["memory_mb"],
        "cpus": row["cpus"],
        "pids": row["pids_limit"],
        "memory_bytes": row["memory_bytes"],
        "cpu_percent": row["cpu_percent"],
        "last_error": row["last_error"],
        "attempts": row["attempts"] or 0,
        "adopted": row["adopted_container_id"] is not None,
        "config_version": row["config_version"],
        "created_at": row["created_at"],
    }
