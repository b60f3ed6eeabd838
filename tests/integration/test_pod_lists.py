"""The API's pod lists kept between requests (migration 0015): answered again only while
nothing they show has changed, never stale after a commit, a writer still running included."""

from __future__ import annotations

import json
from collections.abc import Iterator

import psycopg
import pytest

from agentpod.control import tenants
from agentpod.control.context import Context
from agentpod.core.authz import Principal
from agentpod.core.models import DesiredStatus, Limits
from agentpod.core.names import PodRef
from agentpod.services.database import embedded_url
from agentpod.settings import Settings
from tests.conftest import Env

URL = ("http://", ".localhost")


@pytest.fixture
def world(agentpod_env: Env, tenant: str) -> Iterator[tuple[Context, psycopg.Connection]]:
    """A tenant with one stopped pod, and a connection of another process's kind."""
    ctx = Context(Settings(home=agentpod_env.home))
    root = Principal.root("test")
    tenants.create(ctx, root, tenant)
    ref = PodRef(tenant, "p")
    limits = Limits(memory_mb=64, cpus=0.25)
    ctx.store.create_pod(ref, "generic", ref.default_subdomain, "a:1", limits, {},
                         DesiredStatus.STOPPED)  # fmt: skip
    other = psycopg.connect(embedded_url(agentpod_env.home), autocommit=True)
    yield ctx, other
    other.close()
    tenants.delete(ctx, root, tenant, force=True)
    ctx.close()


def _images(ctx: Context, tenant: str) -> list[str]:
    return [p["image"] for p in json.loads(ctx.store.pod_views_json(URL, tenant))]


def _set_image(conn: psycopg.Connection, tenant: str, image: str) -> None:
    conn.execute(
        "UPDATE pods SET image = %s WHERE tenant_id = (SELECT id FROM tenants WHERE name = %s)",
        (image, tenant),
    )


def test_a_kept_list_is_answered_until_a_change(
    world: tuple[Context, psycopg.Connection], tenant: str
) -> None:
    ctx, other = world
    assert _images(ctx, tenant) == ["a:1"]
    # a change that does not advance the counter (triggers off): the kept list is answered
    other.execute("SET session_replication_role = replica")
    _set_image(other, tenant, "hidden:1")
    assert _images(ctx, tenant) == ["a:1"]
    other.execute("SET session_replication_role = DEFAULT")
    _set_image(other, tenant, "b:1")
    assert _images(ctx, tenant) == ["b:1"]


def test_a_list_read_while_a_writer_runs_is_not_kept(
    world: tuple[Context, psycopg.Connection], tenant: str
) -> None:
    ctx, other = world
    assert _images(ctx, tenant) == ["a:1"]
    with other.transaction():
        _set_image(other, tenant, "c:1")  # the counter moves now, the row at the commit
        assert _images(ctx, tenant) == ["a:1"]
    assert _images(ctx, tenant) == ["c:1"]
