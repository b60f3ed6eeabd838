"""Where serve's metrics come from: the health checker's hooks, failed Docker and PostgreSQL
requests as the services meet them, and a container's usage from its cgroup files."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import docker
import psycopg
import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from agentpod.control.context import Context
from agentpod.control.health import HealthChecker
from agentpod.control.metrics import Metrics, exposition
from agentpod.core.models import DesiredStatus, Limits
from agentpod.core.names import PodRef
from agentpod.services import cgroups
from agentpod.services.database import embedded_url
from agentpod.services.docker_runtime import DockerRuntime
from agentpod.services.store import Conflict, Store
from agentpod.settings import Settings
from tests.conftest import Env


@pytest.fixture
def store(agentpod_env: Env) -> Iterator[Store]:
    agentpod_env.run("tenant", "list")  # the embedded server runs
    opened = Store(embedded_url(agentpod_env.home)).open()
    yield opened
    opened.close()


def samples(store: Store, name: str) -> list[Sample]:
    text = exposition(store).decode()
    return [s for f in text_string_to_metric_families(text) for s in f.samples if s.name == name]


def errors(store: Store, system: str) -> dict[str, float]:
    return {s.labels["reason"]: s.value for s in samples(store, f"agentpod_{system}_errors_total")}


def test_an_unhealthy_pod_counts_failed_probes_and_its_restart(
    agentpod_env: Env, store: Store, test_image: str, tenant: str
) -> None:
    ctx = Context(Settings(home=agentpod_env.home))
    ref = PodRef(tenant, "sick")
    ctx.store.create_tenant(tenant)
    config = {"health_path": "/readyz", "env": {"MODE": "unhealthy"}}  # the image answers 404
    limits = Limits(memory_mb=64, cpus=0.25, pids=64)
    pod = ctx.store.create_pod(ref, "generic", ref.default_subdomain, test_image, limits, config)
    try:
        ctx.reconciler.run_once(only={pod.id})
        later = time.time() + 3600  # past the start period
        checker = HealthChecker(
            ctx.store,
            ctx.runtime,
            lambda: later,
            restart=ctx.restart_pod,
            hooks=Metrics(lambda: False),
        )
        failed = "agentpod_health_probe_seconds_count"
        before = sum(s.value for s in samples(store, failed) if s.labels["result"] == "failed")
        for _ in range(3):
            checker.check([pod])
        after = sum(s.value for s in samples(store, failed) if s.labels["result"] == "failed")
        assert after == before + 3
        (restarts,) = [
            s
            for s in samples(store, "agentpod_pod_restarts_total")
            if s.labels["pod"] == "sick" and s.labels["tenant"] == tenant
        ]
        assert (restarts.labels["reason"], restarts.value) == ("unhealthy", 1)
    finally:
        ctx.store.set_desired(pod, DesiredStatus.DELETED)
        ctx.reconciler.run_once(only={pod.id})
        ctx.store.delete_tenant(tenant)
        ctx.close()


def test_failed_requests_are_counted_and_gone_containers_and_conflicts_are_not(
    store: Store, docker_client: docker.DockerClient, test_image: str, tenant: str
) -> None:
    Metrics(lambda: False)
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
