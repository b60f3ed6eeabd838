"""Tenant isolation in the database itself: raw SQL in a member's scope (the non-owner role
under row-level security) reads and writes its own tenant's rows only, whatever the query;
the owner's connection (serve, the reconciler, the root CLI) still sees every row."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest

from agentpod.control import audit, llm, tenants
from agentpod.control.context import Context
from agentpod.core.authz import Principal
from agentpod.core.models import DesiredStatus, Limits
from agentpod.core.names import PodRef
from agentpod.settings import Settings
from tests.conftest import Env

# table -> how a row names its tenant
TENANT_OF = {
    "tenants": "name",
    "pods": "(SELECT name FROM tenants t WHERE t.id = tenant_id)",
    "pod_configs": "(SELECT t.name FROM pods p JOIN tenants t ON t.id = p.tenant_id"
    " WHERE p.id = pod_id)",
    "pod_status": "(SELECT t.name FROM pods p JOIN tenants t ON t.id = p.tenant_id"
    " WHERE p.id = pod_id)",
    "events": "tenant",
    "audit_log": "tenant",
    "llm_providers": "coalesce((SELECT name FROM tenants t WHERE t.id = tenant_id),"
    " (SELECT t.name FROM llm_provider_shares s JOIN tenants t ON t.id = s.tenant_id"
    " WHERE s.provider_id = llm_providers.id))",  # a platform provider: whom it is shared with
    "llm_provider_shares": "(SELECT name FROM tenants t WHERE t.id = tenant_id)",
}


@pytest.fixture
def two(agentpod_env: Env, test_image: str) -> Iterator[tuple[Context, str, str]]:
    """Two tenants, each with a stopped pod, an LLM provider, a platform provider shared with
    it alone, and an audit row."""
    ctx = Context(Settings(home=agentpod_env.home))
    root = Principal.root("test")
    names = f"t{uuid.uuid4().hex[:8]}", f"t{uuid.uuid4().hex[:8]}"
    for name in names:
        tenants.create(ctx, root, name)
        ref = PodRef(name, "p")
        limits = Limits(memory_mb=64, cpus=0.25)
        ctx.store.create_pod(
            ref, "generic", ref.default_subdomain, test_image, limits, {}, DesiredStatus.STOPPED
        )
        with ctx.store.tx() as conn:
            conn.execute(
                "INSERT INTO llm_providers (tenant_id, name, kind, base_url, api_key, key_hint)"
                " SELECT id, 'openai', 'openai', 'https://x', 'sealed', '1234' FROM tenants"
                " WHERE name = %s",
                (name,),
            )
        llm.add_provider(ctx, root, None, f"x{name}", "openai", "https://x", "sk-rls-123456")
        llm.share_provider(ctx, root, f"x{name}", name)
    yield ctx, *names
    for name in names:
        tenants.delete(ctx, root, name, force=True)
        llm.remove_provider(ctx, root, None, f"x{name}")
    ctx.close()


def _tenants_in(conn: psycopg.Connection, table: str, among: tuple[str, ...]) -> set[str]:
    rows = conn.execute(f"SELECT {TENANT_OF[table]} AS tenant FROM {table}").fetchall()
    return {r["tenant"] for r in rows} & set(among)


@pytest.mark.parametrize("table", sorted(TENANT_OF))
def test_a_members_raw_sql_sees_its_tenants_rows_only(
    two: tuple[Context, str, str], table: str
) -> None:
    ctx, mine, other = two
    with ctx.store.scoped(frozenset({mine})), ctx.store.connection() as conn:
        assert _tenants_in(conn, table, (mine, other)) == {mine}
    with ctx.store.connection() as conn:  # the owner: every row
        assert _tenants_in(conn, table, (mine, other)) == {mine, other}


def test_a_members_writes_cannot_reach_another_tenant(two: tuple[Context, str, str]) -> None:
    ctx, mine, other = two
    with ctx.store.scoped(frozenset({mine})):
        with ctx.store.connection() as conn:
            hit = conn.execute("UPDATE pods SET image = 'evil:1' RETURNING id").fetchall()
            assert len(hit) == 1  # its own pod only
            tokens = conn.execute("SELECT gateway_token FROM pods").fetchall()
            assert len(tokens) == 1
            gone = conn.execute("DELETE FROM events WHERE tenant = %s", (other,))
            assert gone.rowcount == 0
        with pytest.raises(psycopg.errors.InsufficientPrivilege), ctx.store.connection() as conn:
            conn.execute(
                "INSERT INTO events (tenant, type, message) VALUES (%s, 'x', 'forged')", (other,)
            )
    assert ctx.store.get_pod(PodRef(other, "p")).image != "evil:1"
    assert [
        e.message for e in ctx.store.list_events(50, tenant=other) if e.message == "forged"
    ] == []


def test_the_scope_ends_with_its_block(two: tuple[Context, str, str]) -> None:
    ctx, mine, other = two
    with ctx.store.scoped(frozenset()):
        assert ctx.store.list_tenants() == []
        assert audit.tail(ctx, Principal.root("test"), 5)  # root's own call: the owner's view
    assert {mine, other} <= {t.name for t in ctx.store.list_tenants()}
