"""Showing pods: the reads behind ``pod list`` and ``pod status``, on the store or, for the
CLI, on one connection of their own (``for_cli``): no models, no pool, no Docker, so a command
that only shows pods imports psycopg and little else.

pod_reads.list_(source: Rows, url, caller, tenant=None) -> list[dict]   (pods' JSON)
pod_reads.list_json(source: Rows, url, caller, tenant=None, limit, offset) -> str   (encoded)
pod_reads.status(source: Rows, url, caller, ref) -> dict
pod_reads.for_cli(settings: Settings) -> (Rows, url) | None   (None: migrations are pending;
    the Rows of a running serve over its socket, else of a connection of the CLI's own)
``url``: what comes before and after a subdomain in its public URL (``Edge.url_parts``).
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any, Protocol

from agentpod.control import guard
from agentpod.core.authz import Principal, Scope
from agentpod.core.names import PodRef, url_parts, validate_label
from agentpod.services.errors import no_tenant
from agentpod.settings import Settings


class Rows(Protocol):
    """Where pods' rows come from: the store, or a ``pod_rows.Reader``."""

    def scoped(self, tenants: frozenset[str] | None) -> AbstractContextManager[None]: ...

    def pod_views(
        self,
        url: tuple[str, str],
        tenant: str | None = None,
        ref: PodRef | None = None,
        tenants: frozenset[str] | None = None,
    ) -> list[dict[str, Any]]: ...

    def pod_views_json(
        self,
        url: tuple[str, str],
        tenant: str | None = None,
        tenants: frozenset[str] | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> str: ...

    def has_tenant(self, name: str) -> bool: ...


def list_(
    source: Rows, url: tuple[str, str], caller: Principal, tenant: str | None = None
) -> list[dict[str, Any]]:
    """The pods the caller sees (of ``tenant`` only, if given); NotFound for a ``tenant`` that
    does not exist or that the caller does not see (asked only when no pod was found)."""
    _may_list(caller, tenant)
    with source.scoped(caller.tenants):
        found = source.pod_views(url, tenant, tenants=caller.tenants)
        _found_or_no_tenant(source, tenant, bool(found))
    return found


def list_json(
    source: Rows,
    url: tuple[str, str],
    caller: Principal,
    tenant: str | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> str:
    """``list_`` (a page of it) as JSON encoded by the database: a polled list costs a query."""
    _may_list(caller, tenant)
    with source.scoped(caller.tenants):
        found = source.pod_views_json(url, tenant, caller.tenants, limit, offset)
        _found_or_no_tenant(source, tenant, found != "[]")
    return found


def _may_list(caller: Principal, tenant: str | None) -> None:
    if tenant:
        validate_label(tenant, "tenant name")
    guard.visible(caller, tenant)
    guard.require(caller, Scope.PODS_READ, tenant)


def _found_or_no_tenant(source: Rows, tenant: str | None, found: bool) -> None:
    if tenant and not found and not source.has_tenant(tenant):
        raise no_tenant(tenant)


def status(
    source: Rows, url: tuple[str, str], caller: Principal, ref: str | PodRef
) -> dict[str, Any]:
    pod_ref = guard.seen_pod(caller, ref)
    with source.scoped(caller.tenants):
        (found,) = source.pod_views(url, ref=pod_ref)
    guard.require(caller, Scope.PODS_READ, pod_ref.tenant)
    return found


def for_cli(settings: Settings) -> tuple[Rows, tuple[str, str]] | None:
    """The running serve's answers (no psycopg then), else a reader on one connection; and
    the pods' public URLs' parts as ``edge_for`` makes them. None when the database needs
    migrations first (the store applies them)."""
    from agentpod.control.proxy import public_side
    from agentpod.services import traefik
    from agentpod.services.reads_socket import SocketRows

    scheme, port = public_side(settings, traefik.read_state(settings.home))
    url = url_parts(scheme, settings.domain, port)
    served = SocketRows.connect(settings.home)
    if served is not None:
        return served, url
    from agentpod.services import database
    from agentpod.services.pod_rows import Reader

    reader = Reader(settings.database_url or database.database_url(settings.home))
    if database.pending(reader.conn):
        reader.close()
        return None
    return reader, url
