"""`agentpod db stop` stops the embedded PostgreSQL this home started; the next command starts it
again. Tests and benchmarks rely on it to leave no server behind."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import Env


def _postmaster_pid(home: Path) -> int:
    return int((home / "pgdata" / "postmaster.pid").read_text().split("\n", 1)[0])


def _running(pid: int) -> bool:
    """Alive and not a zombie (a stopped postmaster whose parent has not reaped it)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_db_stop_stops_the_server_and_the_next_command_starts_it(agentpod_env: Env) -> None:
    agentpod_env.run("tenant", "list")
    pid = _postmaster_pid(agentpod_env.home)
    assert _running(pid)

    stopped = agentpod_env.run("db", "stop")
    assert "stopped" in stopped.stderr
    assert not _running(pid)
    assert not (agentpod_env.home / "pgdata" / "postmaster.pid").exists()
    assert "was not running" in agentpod_env.run("db", "stop").stderr

    agentpod_env.run("tenant", "list")  # started again on first use
    assert _running(_postmaster_pid(agentpod_env.home))


def test_db_stop_refuses_an_external_database(agentpod_env: Env) -> None:
    proc = agentpod_env.run(
        "db", "stop", env={"AGENTPOD_DATABASE_URL": "postgresql://x@/y"}, check=False
    )
    assert proc.returncode == 1
    assert "the database is external" in proc.stderr
