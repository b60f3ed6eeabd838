"""Errors of the outside world (Docker, PostgreSQL) as the services meet them, told to whoever
listens: ``agentpod serve``'s metrics. Plain callbacks, so a CLI command pays nothing."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

Listener = Callable[[str, str], None]  # (system: "docker" | "database", reason)
_listeners: set[Listener] = set()


def listen(listener: Listener) -> None:
    _listeners.add(listener)


def report(system: str, reason: str) -> None:
    for listener in list(_listeners):
        listener(system, reason)


def watch_docker(api: Any) -> None:
    """Report every failed request of this Docker API client (a ``requests`` session): no
    answer at all, or an error status other than 404 (a container that is gone is an outcome,
    see ``docker_runtime``)."""
    send = api.send

    def send_and_report(request: Any, **kwargs: Any) -> Any:
        try:
            response = send(request, **kwargs)
        except Exception as exc:
            report("docker", type(exc).__name__)
            raise
        if response.status_code >= 400 and response.status_code != 404:
            report("docker", str(response.status_code))
        return response

    api.send = send_and_report


class ReportingPool(ConnectionPool):
    """A connection pool that reports database errors (not integrity errors: a name taken is
    the user's conflict, not the database's failure)."""

    @contextmanager
    def connection(self, timeout: float | None = None) -> Iterator[psycopg.Connection[Any]]:
        try:
            with super().connection(timeout) as conn:
                yield conn
        except psycopg.IntegrityError:
            raise
        except psycopg.Error as exc:  # PoolTimeout is an OperationalError
            report("database", type(exc).__name__)
            raise
