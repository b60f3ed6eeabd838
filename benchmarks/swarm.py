"""Swarm runtime figures on a real three-node swarm (fresh-VPS containers, tests/support/swarm.py):
pods placed per second (service created, its volume seeded on its node, started, running), the
list pass the reconciler makes (Docker API calls and time), the edge (Traefik in a container on
the manager, on the overlay: its start, its first route, request latency to pods on the manager
and on other nodes), heal time after a task is killed, and how long Swarm takes to see a stopped
worker as down. Run:
``python benchmarks/swarm.py [--pods 12]`` (~3 min here). Removes the VPS containers it boots.
"""

from __future__ import annotations

import argparse
import http.client
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from agentpod.control.proxy import SwarmProxy  # noqa: E402
from agentpod.core.models import Limits, Pod  # noqa: E402
from agentpod.core.routing import Edge  # noqa: E402
from agentpod.core.spec import build_spec  # noqa: E402
from agentpod.services.swarm_runtime import SwarmRuntime  # noqa: E402
from agentpod.settings import Settings  # noqa: E402
from tests.support.images import web_image  # noqa: E402
from tests.support.proc import wait_until  # noqa: E402
from tests.support.swarm import Swarm, swarm  # noqa: E402

LIMITS = Limits(memory_mb=64, cpus=0.25, pids=64)
EDGE_PORT = 18080
REQUESTS = 200
NETWORK = "agentpod-net-bench"


def pod(i: int, image: str) -> Pod:
    now = datetime.now(UTC)
    return Pod(
        id=i,
        tenant_id=1,
        tenant="bench",
        name=f"p{i}",
        adapter="generic",
        subdomain=f"bench-p{i}",
        desired_status="running",
        image=image,
        limits=LIMITS,
        gateway_token="t",
        config={"health_path": "/readyz"},
        created_at=now,
        updated_at=now,
    )


def running(rt: SwarmRuntime) -> dict[str, str]:
    return {a.name: a.container_id for a in rt.list_pods() if a.state == "running"}


def place_all(rt: SwarmRuntime, n: int, image: str) -> float:
    rt.ensure_network(NETWORK)
    specs = [build_spec(pod(i, image), rt.instance, NETWORK, Edge()) for i in range(n)]
    started = time.monotonic()

    def one(spec):  # type: ignore[no-untyped-def]
        rt.start(rt.create(spec))

    with ThreadPoolExecutor(4) as workers:  # as the reconciler does
        list(workers.map(one, specs))
    wait_until(lambda: len(running(rt)) == n, timeout=300, every=0.2)
    return time.monotonic() - started


def list_pass(rt: SwarmRuntime) -> tuple[int, float]:
    calls = [0]
    rt.client.api.hooks["response"].append(lambda r, *a, **k: calls.__setitem__(0, calls[0] + 1))
    times = []
    for _ in range(10):
        t = time.monotonic()
        rt.list_pods()
        times.append(time.monotonic() - t)
    rt.client.api.hooks["response"].clear()
    return calls[0] // 10, statistics.median(times)


def heal_after_kill(group: Swarm, rt: SwarmRuntime, name: str) -> float:
    node = rt.pins[name]
    vps = group.vps_of(node)
    label = f"com.docker.swarm.service.name={name}"
    first = vps.exec(f"docker ps -q --filter label={label}").stdout.strip()
    started = time.monotonic()
    vps.exec(f"docker kill {first}")
    wait_until(
        lambda: vps.exec(f"docker ps -q --filter label={label}").stdout.strip() not in ("", first),
        timeout=60,
        every=0.1,
    )
    return time.monotonic() - started


def node_down(group: Swarm) -> float:
    worker = group.nodes[-1]
    node = group.node_id(worker)
    started = time.monotonic()
    worker.exec("systemctl stop docker", check=False)
    wait_until(
        lambda: (
            group.manager.exec(
                f"docker node inspect -f '{{{{.Status.State}}}}' {node}"
            ).stdout.strip()
            == "down"
        ),
        timeout=120,
        every=0.5,
    )
    return time.monotonic() - started


def status(conn: http.client.HTTPConnection, host: str) -> int:
    try:
        conn.request("GET", "/", headers={"Host": host})
        response = conn.getresponse()
        response.read()
        return response.status
    except OSError:
        conn.close()
        return 0


def edge_figures(group: Swarm, rt: SwarmRuntime, n: int) -> None:
    """Start the edge, wait for its first route, then time requests through it (one kept-alive
    connection, as a browser's) to the pods on the manager and to those on other nodes."""
    settings = Settings(home=Path(tempfile.mkdtemp()), proxy_http_port=EDGE_PORT)
    proxy = SwarmProxy(settings, rt, "0.0.0.0")
    t = time.monotonic()
    proxy.start()
    print(f"edge started (image import included) in {time.monotonic() - t:.1f} s")
    conn = http.client.HTTPConnection(group.manager.address(), EDGE_PORT, timeout=5)
    t = time.monotonic()
    wait_until(lambda: status(conn, "bench-p0.localhost") == 200, timeout=60, every=0.1)
    print(f"first route through the edge answered {time.monotonic() - t:.1f} s after its start")
    manager = group.node_id(group.manager)
    took: dict[bool, list[float]] = {True: [], False: []}
    for i in range(REQUESTS):
        k = i % n
        t = time.monotonic()
        assert status(conn, f"bench-p{k}.localhost") == 200
        took[rt.pins[f"agentpod-bench-p{k}"] == manager].append(time.monotonic() - t)
    for local, times in took.items():
        q = statistics.quantiles(times, n=20)
        where = "on the manager" if local else "on other nodes"
        figures = f"p50 {q[9] * 1000:.1f} ms, p95 {q[18] * 1000:.1f} ms"
        print(f"through the edge to pods {where}: {figures}")
    proxy.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pods", type=int, default=12)
    args = parser.parse_args()
    image = web_image()
    t = time.monotonic()
    with swarm(3, [image]) as group:
        print(f"3-node swarm booted and joined in {time.monotonic() - t:.0f} s")
        rt = SwarmRuntime("bench", group.client())
        took = place_all(rt, args.pods, image)
        per_node = sorted(rt.nodes(), key=lambda n: n.hostname)
        print(f"placed {args.pods} pods in {took:.1f} s: {args.pods / took:.2f} pods/s")
        print("pods per node (spread): " + ", ".join(str(n.pods) for n in per_node))
        calls, median = list_pass(rt)
        print(f"list pass at {args.pods} pods: {calls} API calls, {median * 1000:.0f} ms")
        edge_figures(group, rt, args.pods)
        heals = [heal_after_kill(group, rt, f"agentpod-bench-p{i}") for i in range(3)]
        print("heal after a task kill: " + ", ".join(f"{h:.1f} s" for h in heals))
        print(f"a stopped worker is seen down after {node_down(group):.1f} s")


if __name__ == "__main__":
    main()
