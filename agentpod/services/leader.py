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

from agentpod.services import faults

SERVE_LOCK = 0x4147_5044_0003
SESSION_PREFIX = "agentpod serve "
STANDBY_POLL_S = 0.25
# Over TCP (an external database), the server probes the leader's connection: a leader whose
# machine vanished without closing it loses the lock after ~11 s, not after the OS's 2 hours.
# A Unix socket ignores these (a dead process's socket is closed by the kernel at once).
SERVER_KEEPALIVES = (
    "-c tcp_keepalives_idle=5 -c tcp_keepalives_interval=2 -c tcp_keepalives_count=3"
)


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
        faults.report("database", type(exc).__name__)
        lines = str(exc).strip().splitlines()
        raise SessionLost(lines[0] if lines else type(exc).__name__) from exc


@dataclass
class LeaderSession:
    """The connection that holds (or waits for) the serve lock and, once leading, LISTENs."""

    url: str
    _conn: psycopg.Connection | None = None

    @property
    def conn(self) -> psycopg.Connection:
        assert self._conn is not None, "use LeaderSession as a context manager"
        return self._conn

    def __enter__(self) -> LeaderSession:
        with _guard():
            self._conn = psycopg.connect(
                self.url,
                autocommit=True,
                application_name=session_name(),
                options=SERVER_KEEPALIVES,
            )
        return self

    def __exit__(self, *_: object) -> None:
        if self._conn is not None:
            self._conn.close()  # ends the session: the lock, if held, is released now

    def try_lead(self) -> bool:
        with _guard():
            row = self.conn.execute("SELECT pg_try_advisory_lock(%s)", (SERVE_LOCK,)).fetchone()
        return bool(row and row[0])

    def listen(self, channel: str) -> None:
        with _guard():
            self.conn.execute(f"LISTEN {channel}")

    def notifies(self, timeout: float) -> Iterator[str]:
        """Payloads of the notifications that arrive within ``timeout`` seconds."""
        with _guard():
            for note in self.conn.notifies(timeout=timeout):
                yield note.payload
