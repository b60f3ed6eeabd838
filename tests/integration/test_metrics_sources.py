"""Where serve's metrics come from besides the loop's hooks: failed Docker and PostgreSQL
requests as the services meet them, and a container's usage from its cgroup files."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import docker
import psycopg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from agentpod.control.metrics import Metrics, exposition
from agentpod.services import cgroups
from agentpod.services.database import embedded_url
from agentpod.services.docker_runtime import DockerRuntime
from agentpod.services.store import Conflict, Store
from tests.conftest import Env


@pytest.fixture
def store(agentpod_env: Env) -> Iterator[Store]:
    agentpod_env.run("tenant", "list")  # the embedded server runs
    opened = Store(embedded_url(agentpod_env.home)).open()
    yield opened
    opened.close()


def errors(store: Store, system: str) -> dict[str, float]:
    text = exposition(store).decode()
    family = next(
        f for f in text_string_to_metric_families(text) if f.name == f"agentpod_{system}_errors"
    )
    return {s.labels["reason"]: s.value for s in family.samples if s.name.endswith("_total")}


def test_failed_requests_are_counted_and_gone_containers_and_conflicts_are_not(
    store: Store, docker_client: docker.DockerClient, test_image: str, tenant: str
) -> None:
    Metrics(lambda: True)
    runtime = DockerRuntime(f"test-{uuid.uuid4().hex[:8]}")
    docker_before, db_before = errors(store, "docker"), errors(store, "database")

    assert runtime.inspect("no-such-container") is None  # 404: gone, an outcome
    created = docker_client.containers.create(test_image, name=f"metrics-{tenant}")
    try:
        with pytest.raises(docker.errors.APIError):
            runtime.client.api.kill(created.id)  # not running: 409
    finally:
        created.remove(force=True)
    store.create_tenant(tenant)
    with pytest.raises(Conflict):  # the user's conflict, not the database's failure
        store.create_tenant(tenant)
    with pytest.raises(psycopg.errors.DivisionByZero), store.pool.connection() as conn:
        conn.execute("SELECT 1/0")
    store.delete_tenant(tenant)

    docker_after, db_after = errors(store, "docker"), errors(store, "database")
    assert docker_after.get("409", 0) == docker_before.get("409", 0) + 1
    assert "404" not in docker_after
    assert db_after.get("DivisionByZero", 0) == db_before.get("DivisionByZero", 0) + 1
    assert "UniqueViolation" not in db_after


def test_usage_of_a_running_container_from_its_cgroup(
    docker_client: docker.DockerClient, test_image: str, tenant: str
) -> None:
    running = docker_client.containers.run(test_image, name=f"metrics-{tenant}", detach=True)
    try:
        first = cgroups.usage(running.id)
        assert first is not None, "no cgroup found for a running container"
        assert 0 < first.memory_bytes < 64 << 20
        assert first.cpu_seconds > 0
    finally:
        running.remove(force=True)
    assert cgroups.usage(running.id) is None  # gone: no figures, no error
