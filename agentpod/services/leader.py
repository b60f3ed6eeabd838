"""The serve lock: one ``agentpod serve`` leads, any other stands by on the same database.

The lock is a session advisory lock held on a dedicated connection, so it lives exactly as long
as the leader's database session: a leader that stops, crashes or is killed with SIGKILL loses
it at once (the kernel closes its socket, the backend sees EOF and ends, PostgreSQL releases
its locks). A standby asks for it again every ``STANDBY_POLL_S`` on its own connection; asking
(``pg_try_advisory_lock``) never blocks, so a standby stops as soon as it is told to.

Each serve names its session ``agentpod serve pid N on HOST`` (``application_name``), which is
how ``agentpod doctor`` and a standby's log tell who leads and who stands by.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg

SERVE_LOCK = 0x4147_5044_0003
SESSION_PREFIX = "agentpod serve "
STANDBY_POLL_S = 0.25


class SessionLost(RuntimeError):
    """The leader session's connection failed (database restarted or unreachable)."""


def session_name() -> str:
    """This process's session name (PostgreSQL keeps 63 bytes of it)."""
    return f"{SESSION_PREFIX}pid {os.getpid()} on {socket.gethostname()}"[:63]


@contextmanager
def _guard() -> Iterator[None]:
    try:
        yield
    except psycopg.Error as exc:
        lines = str(exc).strip().splitlines()
        raise SessionLost(lines[0] if lines else type(exc).__name__) from exc


@dataclass
class LeaderSession:
    """The connection that holds (or waits for) the serve lock and, once leading, LISTENs."""

    url: str
    conn: psycopg.Connection | None = None

    def __enter__(self) -> LeaderSession:
        with _guard():
            self.conn = psycopg.connect(self.url, autocommit=True, application_name=session_name())
        return self

    def __exit__(self, *_: object) -> None:
        if self.conn is not None:
            self.conn.close()  # ends the session: the lock, if held, is released now

    def _execute(self, sql: str, params: tuple[object, ...] = ()) -> tuple | None:
        assert self.conn is not None
        with _guard():
            return self.conn.execute(sql, params).fetchone()

    def try_lead(self) -> bool:
        row = self._execute("SELECT pg_try_advisory_lock(%s)", (SERVE_LOCK,))
        return bool(row and row[0])

    def listen(self, channel: str) -> None:
        assert self.conn is not None
        with _guard():
            self.conn.execute(f"LISTEN {channel}")

    def notifies(self, timeout: float) -> Iterator[str]:
        """Payloads of the notifications that arrive within ``timeout`` seconds."""
        assert self.conn is not None
        with _guard():
            for note in self.conn.notifies(timeout=timeout):
                yield note.payload
