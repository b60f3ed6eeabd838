"""The swarm runtime against a real two-node swarm (two fresh-VPS containers, each with its own
engine): the reconciler, with the same planner, makes one-replica services spread over the nodes,
each answering by name over its tenant's overlay from the other node; Swarm heals a killed task;
stop, start, a spec change (kept on its node) and delete converge; an impossible placement is a
clear error."""

from __future__ import annotations

import dataclasses
import http.client
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentpod.control import nodes as nodes_uc
from agentpod.control import pods as pods_uc
from agentpod.control import tenants as tenants_uc
from agentpod.control.context import Context
from agentpod.control.health import HealthChecker
from agentpod.control.proxy import SwarmProxy
from agentpod.core.authz import Principal
from agentpod.core.models import DesiredStatus, Limits
from agentpod.core.names import PodRef
from agentpod.core.placement import PlacementError
from agentpod.core.planner import Actual
from agentpod.core.swarm_spec import NODE_LABEL
from agentpod.services.swarm_runtime import SwarmRuntime
from agentpod.settings import Settings
from tests.conftest import Env, fresh_env
from tests.support.images import web_image
from tests.support.proc import wait_until
from tests.support.swarm import Swarm, swarm
from tests.support.www import served_files

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
LIMITS = Limits(memory_mb=64, cpus=0.5, pids=64)


@pytest.fixture(scope="module")
def nodes(docker_client) -> Iterator[Swarm]:
    with swarm(2, [web_image()]) as group:
        yield group


@pytest.fixture(scope="module")
def swarm_home(docker_client) -> Iterator[Env]:
    """A home of its own: the worker's shared home holds other tests' pods, which a swarm
    pass would try to place (with images the nodes do not have)."""
    with fresh_env(docker_client) as env:
        yield env


@pytest.fixture
def ctx(swarm_home: Env, nodes: Swarm) -> Iterator[Context]:
    c = Context(Settings(home=swarm_home.home, runtime="swarm"))
    selected = c.runtime
    assert type(selected) is SwarmRuntime  # the runtime setting picks it
    c.runtime = SwarmRuntime(selected.instance, nodes.client(), subnets=selected.subnets)
    yield c
    c.close()


def add_pod(ctx: Context, ref: PodRef, limits: Limits = LIMITS):
    if ref.tenant not in {t.name for t in ctx.store.list_tenants()}:
        ctx.store.create_tenant(ref.tenant)
    config = {"health_path": "/readyz"}
    return ctx.store.create_pod(ref, "generic", ref.default_subdomain, web_image(), limits, config)


def running(ctx: Context, names: set[str]) -> dict[str, Actual]:
    found = {a.name: a for a in ctx.runtime.list_pods()}
    return {n: found[n] for n in names if n in found and found[n].state == "running"}


def fetch(ctx: Context, nodes: Swarm, network: str, name: str) -> str:
    """The body of GET / of a pod at its task's address (as Traefik reaches it), from a
    container on the manager attached to the overlay (busybox nc: its wget -T crashes, and a
    static busybox resolves no names)."""
    ip = running(ctx, {name}).get(name, Actual("", name, "", None, None)).ip
    request = "printf 'GET / HTTP/1.0\\r\\n\\r\\n'"
    proc = nodes.manager.exec(
        f'docker run --rm --network {network} {web_image()} sh -c "{request} | nc -w 3 {ip} 8080"',
        check=False,
        timeout=60,
    )
    lines = proc.stdout.strip().splitlines()
    return lines[-1] if lines else f"no answer ({proc.returncode}): {proc.stderr[-300:]}"


def pinned(ctx: Context) -> dict[str, str]:
    runtime = ctx.runtime
    assert isinstance(runtime, SwarmRuntime)
    return {s["Spec"]["Name"]: s["Spec"]["Labels"][NODE_LABEL] for s in runtime.services()}


def test_pods_spread_answer_over_the_overlay_heal_and_converge(
    ctx: Context, nodes: Swarm, tenant: str
) -> None:
    pods = [add_pod(ctx, PodRef(tenant, n)) for n in ("one", "two")]
    names = {p.ref.container for p in pods}
    outcomes = ctx.reconciler.run_once()
    assert [o.error for o in outcomes if not o.ok] == []
    wait_until(lambda: len(running(ctx, names)) == 2, timeout=90)
    where = pinned(ctx)
    assert len({where[n] for n in names}) == 2  # spread: one on each node
    network = ctx.reconciler.network_for(tenant)
    for pod in pods:  # over the overlay, from the manager, wherever the pod runs
        assert fetch(ctx, nodes, network, pod.ref.container) == f"{tenant}/{pod.name}"
    assert [o for o in ctx.reconciler.run_once() if o.action.kind.value != "noop"] == []

    # kill the task's container on the worker: Swarm starts another within seconds
    remote = next(p for p in pods if where[p.ref.container] != nodes.node_id(nodes.manager))
    worker = nodes.vps_of(where[remote.ref.container])
    label = f"com.docker.swarm.service.name={remote.ref.container}"
    first = worker.exec(f"docker ps -q --filter label={label}").stdout.strip()
    killed = time.monotonic()
    worker.exec(f"docker kill {first}")
    wait_until(
        lambda: (
            worker.exec(f"docker ps -q --filter label={label}").stdout.strip() not in ("", first)
        ),
        timeout=60,
    )
    healed = time.monotonic() - killed
    print(f"\nheal after a task kill: {healed:.1f}s")
    wait_until(
        lambda: fetch(ctx, nodes, network, remote.ref.container) == str(remote.ref), timeout=30
    )

    # stop (scaled to 0), start again, a spec change recreates it on the same node
    ctx.store.set_desired(remote, DesiredStatus.STOPPED)
    ctx.reconciler.run_once()
    assert {a.name: a.state for a in ctx.runtime.list_pods()}[remote.ref.container] == "exited"
    ctx.store.set_desired(remote, DesiredStatus.RUNNING)
    ctx.reconciler.run_once()
    wait_until(lambda: len(running(ctx, names)) == 2, timeout=60)
    ctx.store.set_limits(remote, Limits(memory_mb=96, cpus=0.5, pids=64))
    kinds = {o.action.ref: o.action.kind.value for o in ctx.reconciler.run_once()}
    assert kinds == {str(remote.ref): "recreate"}
    assert pinned(ctx)[remote.ref.container] == where[remote.ref.container]
    wait_until(lambda: len(running(ctx, names)) == 2, timeout=60)

    for pod in pods:
        ctx.store.set_desired(pod, DesiredStatus.DELETED)
    ctx.reconciler.run_once(force=True)
    assert ctx.store.list_pods(tenant) == []
    assert not set(pinned(ctx)) & names


def test_impossible_placement_is_a_clear_error(ctx: Context, tenant: str) -> None:
    huge = add_pod(ctx, PodRef(tenant, "huge"), Limits(memory_mb=10_000_000, cpus=0.5))
    outcomes = ctx.reconciler.run_once(only={huge.id})
    assert not outcomes[0].ok
    assert "no node has 10000000 MiB free" in (outcomes[0].error or "")
    assert ctx.store.get_status(huge.id).last_error
    ctx.store.set_desired(huge, DesiredStatus.DELETED)
    ctx.reconciler.run_once(force=True)
    assert ctx.store.list_pods(tenant) == []


def test_pools_place_pods_on_their_nodes(
    ctx: Context, nodes: Swarm, swarm_home: Env, tenant: str
) -> None:
    """A tenant's pool puts its pods on the nodes with its labels (spread alone would split
    them), a pod's own pool wins over it, a pool no node carries is a clear error (and a
    failed doctor check), and `pod move` stays inside the pool."""
    root = Principal.root("test")
    manager_url = f"tcp://{nodes.manager.address()}:2375"
    swarm_env = {"AGENTPOD_RUNTIME": "swarm", "DOCKER_HOST": manager_url}

    def pools_check() -> dict:
        out = swarm_home.run("doctor", "--format", "json", check=False, env=swarm_env).stdout
        return next(c for c in json.loads(out) if c["check"] == "pools")

    manager = nodes.node_id(nodes.manager)
    worker = next(n.id for n in ctx.runtime.nodes() if n.id != manager)
    key = f"pool-{tenant}"  # no other test's node labels match it
    nodes_uc.label(ctx, root, worker, {key: "yes"}, [])
    try:
        tenants_uc.create(ctx, root, tenant, pool=f"{key}=yes")
        pods = [add_pod(ctx, PodRef(tenant, n)) for n in ("one", "two")]
        assert all(o.ok for o in ctx.reconciler.run_once(only={p.id for p in pods}))
        where = pinned(ctx)
        assert [where[p.ref.container] for p in pods] == [worker, worker]
        status = pods_uc.status(ctx, root, str(pods[0].ref))
        assert status["pool"] == f"{key}=yes"
        assert pools_check()["detail"] == f"{key}=yes: 1 node(s)"

        request = pods_uc.PodRequest("generic", web_image(), "64m", 0.5, pool="nowhere")
        odd = pods_uc.create(ctx, root, f"{tenant}/odd", request)
        assert odd.pod.pool == "nowhere=true"
        assert any(
            "no ready, active node carries the pool labels nowhere=true" in w for w in odd.warnings
        ), odd.warnings
        assert "odd" not in {n.rpartition("-")[2] for n in pinned(ctx)}
        check = pools_check()
        assert not check["ok"] and check["fix"].startswith("agentpod node label add NODE")
        assert "no ready, active node carries pool nowhere=true (1 pod(s)" in check["detail"]

        with pytest.raises(PlacementError, match=f"carries the pool labels {key}=yes"):
            nodes_uc.move_pod(ctx, root, str(pods[0].ref))  # the manager is not in the pool
    finally:
        nodes_uc.label(ctx, root, worker, {}, [key])
        for pod in ctx.store.list_pods(tenant):
            ctx.store.set_desired(pod, DesiredStatus.DELETED)
        ctx.reconciler.run_once(force=True)
    assert ctx.store.list_pods(tenant) == []


def test_the_edge_routes_to_pods_on_every_node(ctx: Context, nodes: Swarm, tenant: str) -> None:
    """`serve --with-proxy` on a swarm: Traefik in a container on the manager, on the tenant
    overlays, answers for pods on both nodes by their subdomain (also a tenant made after it
    started); stopped, it is gone and the overlays can be removed."""
    settings = dataclasses.replace(ctx.settings, proxy_http_port=18080)
    runtime = ctx.runtime
    assert isinstance(runtime, SwarmRuntime)
    proxy = SwarmProxy(settings, runtime, "0.0.0.0")
    proxy.start()
    refs = [PodRef(tenant, "one"), PodRef(tenant, "two"), PodRef(f"{tenant}x", "late")]
    try:
        pods = [add_pod(ctx, ref) for ref in refs]
        assert all(o.ok for o in ctx.reconciler.run_once(only={p.id for p in pods}))
        names = {p.ref.container for p in pods}
        wait_until(lambda: len(running(ctx, names)) == 3, timeout=90)
        assert len(set(pinned(ctx).values())) == 2  # both nodes hold pods
        for pod in pods:
            host = f"{pod.subdomain}.{settings.domain}"
            answer = wait_until(
                lambda host=host: through_edge(nodes.manager.address(), 18080, host), timeout=60
            )
            assert answer == f"{pod.ref}\n"
        checker = HealthChecker(ctx.store, runtime, domain=settings.domain)  # through the edge
        results = checker.check(pods, with_stats=False)
        assert {(r.pod, r.ready, r.message) for r in results} == {
            (str(p.ref), True, "edge GET /readyz -> 200") for p in pods
        }
    finally:
        proxy.stop()
        for ref in refs:
            for pod in ctx.store.list_pods(ref.tenant):
                ctx.store.set_desired(pod, DesiredStatus.DELETED)
        ctx.reconciler.run_once(force=True)
    assert runtime.client.api.containers(all=True, filters={"name": proxy_name(ctx)}) == []
    for name in {ctx.reconciler.network_for(r.tenant) for r in refs}:
        runtime.remove_network(name)  # no endpoint of the edge left on it
        assert runtime.network_gateway(name) is None


def proxy_name(ctx: Context) -> str:
    return f"agentpod-edge-{ctx.runtime.instance}"


def through_edge(address: str, port: int, host: str) -> str | None:
    """The body of GET / through the edge by Host header; None until it answers 200."""
    conn = http.client.HTTPConnection(address, port, timeout=5)
    try:
        conn.request("GET", "/", headers={"Host": host})
        response = conn.getresponse()
        return response.read().decode() if response.status == 200 else None
    except OSError:
        return None
    finally:
        conn.close()


def test_node_commands(swarm_home: Env, nodes: Swarm) -> None:
    """``agentpod node``: list, label add/rm, drain/activate, join-command (rotatable), each
    audited; refused with a clear message on a single-engine install."""
    manager_url = f"tcp://{nodes.manager.address()}:2375"
    env = Env(swarm_home.home, {**swarm_home.env, "DOCKER_HOST": manager_url})
    swarm_env = {"AGENTPOD_RUNTIME": "swarm"}
    rows = json.loads(env.run("node", "list", "--format", "json", env=swarm_env).stdout)
    assert sorted(r["role"] for r in rows) == ["manager (leader)", "worker"]
    assert all(r["state"] == "ready" and r["availability"] == "active" for r in rows)
    assert all(r["memory_mb"] > 0 and r["free_mb"] <= r["memory_mb"] for r in rows)
    worker = next(r["id"] for r in rows if r["role"] == "worker")

    env.run("node", "label", "add", worker, "zone=eu", "ssd", env=swarm_env)
    env.run("node", "label", "rm", worker[:8], "ssd", env=swarm_env)
    env.run("node", "drain", worker, env=swarm_env)
    rows = json.loads(env.run("node", "list", "--format", "json", env=swarm_env).stdout)
    mine = next(r for r in rows if r["id"] == worker)
    assert (mine["labels"], mine["availability"]) == ({"zone": "eu"}, "drain")
    env.run("node", "activate", worker, env=swarm_env)
    assert nodes.worker_availability(worker) == "active"

    line = env.run("node", "join-command", "--docker", env=swarm_env).stdout.strip()
    assert line.startswith("docker swarm join --token SWMTKN-")
    assert line.endswith(f"{nodes.manager.address()}:2377")
    rotated = env.run("node", "join-command", "--rotate", "--docker", env=swarm_env).stdout
    assert rotated.strip() != line and rotated.startswith("docker swarm join --token SWMTKN-")

    audit = json.loads(env.run("audit", "--tail", "10", "--format", "json").stdout)
    actions = [a["action"] for a in audit if a["outcome"] == "ok"]
    assert {"node.label", "node.drain", "node.active", "node.join-command"} <= set(actions)
    doctor = env.run("doctor", "--format", "json", check=False, env=swarm_env).stdout
    swarm_check = next(c for c in json.loads(doctor) if c["check"] == "swarm")
    assert swarm_check["ok"], swarm_check
    assert "manager of 2 nodes; endpoint mode dnsrr; IPVS: " in swarm_check["detail"]
    refused = env.run("node", "list", check=False)  # runtime = docker
    assert refused.returncode == 2
    assert "this install runs one engine" in refused.stderr


def test_move_and_drain_carry_the_data(ctx: Context, nodes: Swarm, tenant: str) -> None:
    """``pod move`` copies the volume to the other node (checksummed), runs the pod there
    with its data and wipes the source; ``node drain`` moves it back the same way."""
    pod = add_pod(ctx, PodRef(tenant, "mover"))
    name = pod.ref.container
    assert all(o.ok for o in ctx.reconciler.run_once(only={pod.id}))
    wait_until(lambda: running(ctx, {name}), timeout=90)
    first = pinned(ctx)[name]
    in_task(nodes, first, name, "echo precious > /data/kept && mkdir -p /data/d/e")
    root = Principal.root("test")

    moved = nodes_uc.move_pod(ctx, root, str(pod.ref))
    assert (moved["from"], moved["to"]) == (first, pinned(ctx)[name])
    assert moved["to"] != first and len(moved["sha256"]) == 64
    wait_until(lambda: running(ctx, {name}), timeout=90)
    assert in_task(nodes, moved["to"], name, "cat /data/kept; ls /data/d") == "precious\ne"
    assert fetch(ctx, nodes, ctx.reconciler.network_for(tenant), name) == str(pod.ref)
    assert volume_files(nodes, first, pod.ref.volume) == ""  # wiped once verified

    report = nodes_uc.drain(ctx, root, moved["to"])
    assert [(r["pod"], r.get("to")) for r in report] == [(str(pod.ref), first)], report
    wait_until(lambda: running(ctx, {name}), timeout=90)
    assert in_task(nodes, first, name, "cat /data/kept") == "precious"
    nodes_uc.set_availability(ctx, root, moved["to"], "active")
    events = [e.type for e in ctx.store.list_events(20, pod.ref)]
    assert events.count("move") == 2
    ctx.store.set_desired(pod, DesiredStatus.DELETED)
    ctx.reconciler.run_once(force=True)
    assert ctx.store.list_pods(tenant) == []


def test_a_new_server_joins_with_the_printed_line(swarm_home: Env, tmp_path: Path) -> None:
    """`node join-command` prints the installer line; on a new server (its engine in no swarm)
    a bad token is one clear error, the line as printed joins it as a worker, and the line run
    again changes nothing."""
    with swarm(2, [], join=False) as group:
        new = group.nodes[1]
        with served_files([ROOT / "get-agentpod.sh"], tmp_path, new.gateway()) as url:
            env = Env(
                swarm_home.home,
                {
                    **swarm_home.env,
                    "DOCKER_HOST": f"tcp://{group.manager.address()}:2375",
                    "AGENTPOD_RUNTIME": "swarm",
                    "AGENTPOD_INSTALLER_URL": f"{url}/get-agentpod.sh",
                },
            )
            line = env.run("node", "join-command").stdout.strip()
            assert line.startswith(f"curl -fsSL {url}/get-agentpod.sh | bash -s -- --join SWMTKN-")
            assert line.endswith(f"@{group.manager.address()}:2377")

            bad = new.exec(line.replace("SWMTKN-1-", "SWMTKN-1-0"), check=False, timeout=300)
            assert bad.returncode != 0
            assert "error: docker swarm join failed: " in bad.stderr, bad.stderr
            assert "agentpod node join-command on the manager" in bad.stderr

            joined = new.exec(line, timeout=300)
            assert "joined: " in joined.stderr, joined.stderr
            wait_until(
                lambda: [r["state"] for r in env.json("node", "list")] == ["ready"] * 2,
                timeout=60,
            )
            roles = sorted(r["role"] for r in env.json("node", "list"))
            assert roles == ["manager (leader)", "worker"]
            again = new.exec(line, timeout=300)
            assert "a node of that swarm already" in again.stderr, again.stderr
            assert len(env.json("node", "list")) == 2


def in_task(nodes: Swarm, node: str, service: str, script: str) -> str:
    """Run ``script`` in the service's running container on ``node``."""
    vps = nodes.vps_of(node)
    label = f"com.docker.swarm.service.name={service}"
    cid = wait_until(
        lambda: vps.exec(f"docker ps -q --filter label={label}").stdout.strip(), timeout=60
    )
    return vps.exec(f"docker exec {cid} sh -c '{script}'").stdout.strip()


def volume_files(nodes: Swarm, node: str, volume: str) -> str:
    vps = nodes.vps_of(node)
    return vps.exec(f"docker run --rm -v {volume}:/v {web_image()} ls -A /v").stdout.strip()
