"""Reconcile figures against the real engine and embedded PostgreSQL.

Prints: no-change cycle time and Docker API calls per cycle at 10/50/100 pods; docker kill ->
running again with ``serve`` (p50/p95); pod create -> healthy; ``agentpod pod list`` wall time.
Run: ``python benchmarks/reconcile.py [--sizes 10,50,100] [--kills 10]``. Cleans up after itself.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from agentpod.control.context import Context  # noqa: E402
from agentpod.core.models import Limits  # noqa: E402
from agentpod.core.names import PodRef  # noqa: E402
from agentpod.settings import Settings  # noqa: E402
from tests.support.images import web_image  # noqa: E402
from tests.support.proc import serving, wait_until  # noqa: E402

LIMITS = Limits(memory_mb=64, cpus=0.25, pids=64)


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]


def count_api_calls(ctx: Context) -> list[int]:
    counter = [0]
    ctx.runtime.client.api.hooks["response"].append(
        lambda r, *a, **k: counter.__setitem__(0, counter[0] + 1)
    )
    return counter


def grow_to(ctx: Context, image: str, n: int) -> None:
    have = len(ctx.store.list_pods("bench"))
    for i in range(have, n):
        ctx.store.create_pod(
            PodRef("bench", f"p{i}"),
            "generic",
            f"bench-p{i}",
            image,
            LIMITS,
            {"health_path": "/readyz"},
        )
    ctx.reconciler.run_once()


def cycles(ctx: Context, sizes: list[int], image: str) -> None:
    calls = count_api_calls(ctx)
    print("no-change reconcile cycle (full pass):")
    for n in sizes:
        started = time.monotonic()
        grow_to(ctx, image, n)
        built = time.monotonic() - started
        ctx.reconciler.run_once()  # settle
        times, per_cycle = [], []
        for _ in range(10):
            calls[0] = 0
            t = time.perf_counter()
            outcomes = ctx.reconciler.run_once()
            times.append((time.perf_counter() - t) * 1000)
            per_cycle.append(calls[0])
            assert not outcomes, outcomes
        print(
            f"  {n:4d} pods: p50 {statistics.median(times):6.1f} ms, max {max(times):6.1f} ms, "
            f"Docker API calls/cycle {sorted(set(per_cycle))} (created in {built:.1f}s)"
        )


def timed_cli(env: dict[str, str], runs: list[list[str]]) -> list[float]:
    """Wall time of each ``agentpod ARGS`` run, start-up included (what a user waits)."""
    times = []
    for args in runs:
        t = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "agentpod", *args], env=env, check=True, capture_output=True
        )
        times.append(time.perf_counter() - t)
    return times


def report(label: str, times: list[float]) -> None:
    print(
        f"{label} ({len(times)} runs): p50 {statistics.median(times) * 1000:.0f} ms, "
        f"max {max(times) * 1000:.0f} ms"
    )


def pod_list_wall(env: dict[str, str]) -> None:
    report("agentpod pod list (wall)", timed_cli(env, [["pod", "list"]] * 5))


def recovery(ctx: Context, env: dict[str, str], kills: int) -> None:
    import docker

    client = docker.from_env()
    name = "agentpod-bench-p0"
    with serving(env, "--interval", "30"):
        times = []
        for _ in range(kills):
            wait_until(lambda: client.containers.get(name).status == "running", 10)
            client.api.kill(name)
            t = time.perf_counter()
            wait_until(
                lambda: (
                    client.api.inspect_container(name)["State"]["Running"]
                    and client.api.inspect_container(name)["State"]["Pid"] > 0
                ),
                30,
                0.02,
            )
            times.append(time.perf_counter() - t)
            time.sleep(0.5)
    print(
        f"docker kill -> running again ({kills} kills, serve running): "
        f"p50 {statistics.median(times) * 1000:.0f} ms, p95 {pct(times, 95) * 1000:.0f} ms"
    )


def create_to_healthy(env: dict[str, str], image: str) -> None:
    runs = [
        [
            "pod",
            "create",
            f"bench/new{i}",
            "--type",
            "generic",
            "--image",
            image,
            "--set",
            "health_path=/readyz",
        ]
        for i in range(5)
    ]
    report("pod create -> healthy (CLI wall, no serve)", timed_cli(env, runs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="10,50,100")
    parser.add_argument("--kills", type=int, default=10)
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="apb-", dir="/tmp"))
    home = base / "home"
    env = {
        **os.environ,
        "AGENTPOD_HOME": str(home),
        "AGENTPOD_CONFIG": str(base / "none"),
        "PYTHONPATH": str(ROOT),
    }
    ctx = Context(Settings(home=home))
    image = web_image()
    ctx.store.create_tenant("bench")
    try:
        cycles(ctx, [int(s) for s in args.sizes.split(",")], image)
        pod_list_wall(env)
        recovery(ctx, env, args.kills)
        create_to_healthy(env, image)
    finally:
        from tests.conftest import _remove_instance, _stop_embedded

        _remove_instance(ctx.runtime.client, ctx.runtime.instance)
        ctx.close()
        _stop_embedded(home)


if __name__ == "__main__":
    main()
