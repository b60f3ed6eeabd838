"""The reconciler and CLI against the real engine and database: failures, orphans, refusals."""

from __future__ import annotations

import time
from collections.abc import Iterator

import docker
import pytest

from agentpod.control.context import Context
from agentpod.core.models import DesiredStatus, Limits
from agentpod.core.names import PodRef
from agentpod.settings import Settings
from tests.conftest import Env
from tests.integration.dataplane.helpers import create_pod
from tests.support.proc import serving, wait_until

LIMITS = Limits(memory_mb=128, cpus=0.5, pids=64)


@pytest.fixture
def ctx(agentpod_env: Env) -> Iterator[Context]:
    c = Context(Settings(home=agentpod_env.home))
    yield c
    c.close()


def add_pod(ctx: Context, ref: PodRef, image: str, **config: object):
    if ref.tenant not in {t.name for t in ctx.store.list_tenants()}:
        ctx.store.create_tenant(ref.tenant)
    cfg = {"health_path": "/readyz", **config}
    return ctx.store.create_pod(ref, "generic", ref.default_subdomain, image, LIMITS, cfg)


def test_failing_pod_records_error_backs_off_and_does_not_block_others(
    ctx: Context, tenant: str, test_image: str, docker_client: docker.DockerClient
) -> None:
    bad = add_pod(ctx, PodRef(tenant, "bad"), "agentpod-test/missing:nope")
    good = add_pod(ctx, PodRef(tenant, "good"), test_image)
    frozen = time.time()
    ctx.reconciler.clock = lambda: frozen  # the retry time never comes while frozen
    outcomes = {o.action.ref: o for o in ctx.reconciler.run_once()}
    assert outcomes[f"{tenant}/good"].ok
    assert not outcomes[f"{tenant}/bad"].ok
    assert "cannot be pulled" in (outcomes[f"{tenant}/bad"].error or "")
    status = ctx.store.get_status(bad.id)
    assert status.attempts == 1 and status.last_error and status.next_attempt_at
    assert status.actual_status == "failed"
    assert docker_client.containers.get(f"agentpod-{tenant}-good").status == "running"
    # the next pass backs off instead of hammering
    again = {o.action.ref: o for o in ctx.reconciler.run_once()}
    assert again[f"{tenant}/bad"].skipped == "backing off after an error"
    assert ctx.store.get_status(bad.id).attempts == 1
    events = [e.type for e in ctx.store.list_events(10, PodRef(tenant, "bad"))]
    assert "error" in events
    ctx.store.set_desired(good, DesiredStatus.DELETED)
    ctx.store.set_desired(bad, DesiredStatus.DELETED)
    ctx.reconciler.run_once(force=True)
    assert ctx.store.list_pods(tenant) == []


def test_orphans_removed_but_foreign_containers_untouched(
    ctx: Context, tenant: str, test_image: str, docker_client: docker.DockerClient
) -> None:
    instance = ctx.runtime.instance
    ours = docker_client.containers.create(
        test_image,
        name=f"agentpod-{tenant}-ghost",
        labels={
            "agentpod.managed": "true",
            "agentpod.instance": instance,
            "agentpod.pod-id": "999999",
        },
    )
    other_instance = docker_client.containers.create(
        test_image,
        name=f"other-{tenant}",
        labels={"agentpod.managed": "true", "agentpod.instance": f"x{tenant}"},
    )
    unmanaged = docker_client.containers.create(test_image, name=f"hand-{tenant}")
    try:
        plan = ctx.reconciler.run_once(dry_run=True)
        assert [
            (o.action.kind.value, o.action.container_id)
            for o in plan
            if o.action.ref.endswith("ghost")
        ] == [("remove", ours.id)]
        docker_client.containers.get(ours.id)  # dry run removed nothing
        ctx.reconciler.run_once()
        with pytest.raises(docker.errors.NotFound):
            docker_client.containers.get(ours.id)
        docker_client.containers.get(other_instance.id)
        docker_client.containers.get(unmanaged.id)
        assert "orphan.removed" in [e.type for e in ctx.store.list_events(20)]
    finally:
        for c in (other_instance, unmanaged):
            c.remove(force=True)


def test_spec_drift_recreates_and_keeps_data(
    ctx: Context, tenant: str, test_image: str, docker_client: docker.DockerClient
) -> None:
    pod = add_pod(ctx, PodRef(tenant, "keep"), test_image)
    ctx.reconciler.run_once(only={pod.id})
    name = pod.ref.container
    first = docker_client.containers.get(name)
    first.exec_run(["sh", "-c", "echo precious > /data/file"], user="1000")
    ctx.store.set_config(pod, {"health_path": "/readyz", "env": {"X": "1"}})
    (outcome,) = ctx.reconciler.run_once(only={pod.id})
    assert (outcome.action.kind.value, outcome.action.reason) == ("recreate", "spec changed")
    second = docker_client.containers.get(name)
    assert second.id != first.id
    assert second.exec_run(["cat", "/data/file"]).output == b"precious\n"
    ctx.store.set_desired(ctx.store.get_pod(pod.ref), DesiredStatus.DELETED, keep_data=True)
    ctx.reconciler.run_once(only={pod.id})
    assert docker_client.volumes.get(pod.ref.volume)  # --keep-data
    docker_client.volumes.get(pod.ref.volume).remove()


def test_unhealthy_pod_is_restarted_after_threshold(
    ctx: Context, tenant: str, test_image: str, docker_client: docker.DockerClient
) -> None:
    from agentpod.control.health import HealthChecker

    pod = add_pod(ctx, PodRef(tenant, "sick"), test_image, env={"MODE": "unhealthy"})
    ctx.reconciler.run_once(only={pod.id})
    starting = HealthChecker(ctx.store, ctx.runtime)  # in its start period: nothing counted
    wait_until(lambda: "404" in starting.check([pod])[0].message, timeout=30)  # it listens
    restarted: list[str] = []
    later = time.time() + 3600  # past the start period
    checker = HealthChecker(
        ctx.store, ctx.runtime, clock=lambda: later, restart=lambda p, why: restarted.append(why)
    )
    for _ in range(3):
        (result,) = checker.check([pod])
        assert not result.ready and "404" in result.message
    assert len(restarted) == 1 and "unhealthy 3 times" in restarted[0]
    assert ctx.store.get_status(pod.id).ready is False
    ctx.store.set_desired(pod, DesiredStatus.DELETED)
    ctx.reconciler.run_once(only={pod.id})


def test_cli_refuses_bad_input_without_partial_state(
    agentpod_env: Env, tenant: str, test_image: str
) -> None:
    run = agentpod_env.run
    for bad in ["a`) || Host(`evil", "../x", "UPPER", "x" * 64, ""]:
        proc = run("tenant", "create", bad, check=False)
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    a, b = f"{tenant}-b", tenant
    run("tenant", "create", a)
    run("tenant", "create", b)
    args = ["--type", "generic", "--image", test_image, "--no-wait"]
    run("pod", "create", f"{a}/c", *args)
    clash = run("pod", "create", f"{b}/b-c", *args, check=False)
    assert clash.returncode == 1
    assert f"same container and volume names (agentpod-{a}-c)" in clash.stderr
    taken = run("pod", "create", f"{b}/x", *args, "--subdomain", f"{a}-c", check=False)
    assert taken.returncode == 1 and "already used by pod" in taken.stderr
    console = run("pod", "create", f"{b}/w", *args, "--subdomain", "console", check=False)
    assert console.returncode == 2 and "AgentPod's own" in console.stderr, console.stderr
    badcfg = run("pod", "create", f"{b}/y", *args, "--set", "port=99999", check=False)
    assert badcfg.returncode == 1 and "port: Input should be less" in badcfg.stderr
    nokind = run("pod", "create", f"{b}/z", "--type", "nope", check=False)
    assert nokind.returncode == 1 and "unknown agent type" in nokind.stderr
    assert [p["ref"] for p in agentpod_env.json("pod", "list", "--tenant", b)] == []
    dup = run("tenant", "create", a, check=False)
    assert dup.returncode == 1 and "already exists" in dup.stderr
    run("tenant", "delete", a, "--force", "--yes")
    run("tenant", "delete", b)


def test_cli_write_wakes_serve(
    agentpod_env: Env, tenant: str, test_image: str, docker_client: docker.DockerClient
) -> None:
    """With serve running the CLI only records and notifies; serve does the work."""
    with serving(agentpod_env.env, "--interval", "600") as (_, log):
        agentpod_env.run("tenant", "create", tenant)
        create_pod(agentpod_env, f"{tenant}/woke", test_image)
        wait_until(lambda: '"action": "create"' in log.read_text(), 10)
        assert docker_client.containers.get(f"agentpod-{tenant}-woke").status == "running"
        agentpod_env.run("pod", "delete", f"{tenant}/woke", "--yes")
        agentpod_env.run("tenant", "delete", tenant)


@pytest.mark.slow
def test_serve_survives_a_database_restart(
    agentpod_env: Env, tenant: str, test_image: str, docker_client: docker.DockerClient
) -> None:
    from agentpod.services.database import embedded_url
    from tests.conftest import _stop_embedded

    run = agentpod_env.run
    run("tenant", "create", tenant)
    create_pod(agentpod_env, f"{tenant}/db", test_image)
    name = f"agentpod-{tenant}-db"
    with serving(agentpod_env.env, "--interval", "2") as (proc, log):
        _stop_embedded(agentpod_env.home)
        time.sleep(3)
        assert proc.poll() is None, log.read_text()
        embedded_url(agentpod_env.home)  # started again, as the next CLI call would
        wait_until(lambda: "db.disconnected" in log.read_text(), 10)
        docker_client.api.kill(name)
        wait_until(lambda: docker_client.containers.get(name).status == "running", 20)
    run("pod", "delete", f"{tenant}/db", "--yes")
    run("tenant", "delete", tenant)


@pytest.mark.slow
def test_serve_survives_a_docker_outage(
    agentpod_env: Env, tenant: str, test_image: str, docker_client: docker.DockerClient
) -> None:
    from tests.support.sockproxy import UnixProxy

    run = agentpod_env.run
    run("tenant", "create", tenant)
    create_pod(agentpod_env, f"{tenant}/dk", test_image)
    name = f"agentpod-{tenant}-dk"
    proxy = UnixProxy()
    proxy.start()
    env = {**agentpod_env.env, "DOCKER_HOST": proxy.url}
    try:
        with serving(env, "--interval", "2") as (proc, log):
            proxy.stop()
            wait_until(lambda: "docker.events.lost" in log.read_text(), 10)
            time.sleep(3)  # a few failed passes
            assert proc.poll() is None, log.read_text()
            proxy.start()
            time.sleep(3)  # events stream re-subscribed
            docker_client.api.kill(name)
            wait_until(lambda: docker_client.containers.get(name).status == "running", 20)
    finally:
        proxy.stop()
    run("pod", "delete", f"{tenant}/dk", "--yes")
    run("tenant", "delete", tenant)


def test_upgrade_all_of_a_tenant(
    agentpod_env: Env, tenant: str, test_image: str, docker_client: docker.DockerClient
) -> None:
    run, js = agentpod_env.run, agentpod_env.json
    run("tenant", "create", tenant)
    for name in ("one", "two"):
        run(
            "pod",
            "create",
            f"{tenant}/{name}",
            "--type",
            "generic",
            "--image",
            test_image,
            "--set",
            "health_path=/readyz",
        )
    docker_client.images.get(test_image).tag("agentpod-test/web", f"all-{tenant}")
    new = f"agentpod-test/web:all-{tenant}"
    out = run("pod", "upgrade", "--all", "--tenant", tenant, "--image", new)
    assert "2 pod(s) on" in out.stderr
    assert {p["image"] for p in js("pod", "list", "--tenant", tenant)} == {new}
    assert all(p["ready"] for p in js("pod", "list", "--tenant", tenant))
    assert docker_client.containers.get(f"agentpod-{tenant}-two").image.tags
    usage = run("pod", "upgrade", "--image", new, check=False)
    assert usage.returncode == 2 and "TENANT/POD or --all" in usage.stderr
    run("tenant", "delete", tenant, "--force", "--yes")
    assert [
        c.name
        for c in docker_client.containers.list(all=True)
        if c.name.startswith(f"agentpod-{tenant}-")
    ] == []
    docker_client.images.remove(new)


def test_pod_tokens_are_sealed_at_rest(ctx: Context, tenant: str, test_image: str) -> None:
    import psycopg

    pod = add_pod(ctx, PodRef(tenant, "sealed"), test_image)
    with psycopg.connect(ctx.store.url) as conn:
        (raw,) = conn.execute("SELECT gateway_token FROM pods WHERE id = %s", (pod.id,)).fetchone()
    assert raw.startswith("enc:v1:") and pod.gateway_token not in raw
    assert ctx.store.get_pod(pod.ref).gateway_token == pod.gateway_token
    assert (ctx.settings.home / "secret.key").exists()
    ctx.store.set_desired(pod, DesiredStatus.DELETED)
    ctx.reconciler.run_once(only={pod.id})


def _old_events(ctx: Context, tenant: str, pod: str, count: int) -> None:
    with ctx.store.tx() as conn:
        for i in range(count):
            conn.execute(
                "INSERT INTO events (at, tenant, pod, type, message) VALUES"
                " (now() - interval '40 days' + %s * interval '1 second', %s, %s, 'x', 'old')",
                (i, tenant, pod),
            )


def test_old_events_are_pruned_but_each_pod_keeps_its_latest(
    ctx: Context, agentpod_env: Env, tenant: str
) -> None:
    _old_events(ctx, tenant, "busy", 25)
    _old_events(ctx, tenant, "quiet", 3)
    ctx.store.add_event("recent", "kept")  # no pod: recent, so kept
    assert ctx.store.prune_events(30) >= 5
    kept = ctx.store.list_events(1000, tenant=tenant)
    assert len([e for e in kept if e.pod == "busy"]) == 20
    assert len([e for e in kept if e.pod == "quiet"]) == 3
    assert ctx.store.list_events(1)[-1].type == "recent"

    _old_events(ctx, tenant, "later", 30)
    with serving(agentpod_env.env, "--interval", "600") as (_, log):
        wait_until(lambda: '"events.pruned"' in log.read_text(), 15)
    assert len([e for e in ctx.store.list_events(1000, tenant=tenant) if e.pod == "later"]) == 20
