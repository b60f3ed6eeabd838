"""Reconcile and CLI figures at growing pod counts, against the real engine and embedded PostgreSQL.

At each size (busybox pods, one tenant): the no-change full pass (p50, max, per pod, Docker API
calls), a /metrics scrape, the CLI's wall time (``pod list`` JSON and table, ``pod status``,
``--help``, ``--version``), and with ``serve`` running: its RSS, and how long containers killed
at once take to run again (10 at once; 100 at once at the last size). At 100 pods, ``pod
upgrade --all`` to another tag of the image. Run: ``python benchmarks/reconcile.py [--sizes
10,100,500,1000] [--soak MIN] [--baseline OTHER_CHECKOUT]`` (1,000 pods take 5-10 min to create
here). Cleans up after itself (by the instance label).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import docker  # noqa: E402

from agentpod.control.context import Context  # noqa: E402
from agentpod.core.models import DesiredStatus, Limits  # noqa: E402
from agentpod.core.names import PodRef  # noqa: E402
from agentpod.settings import Settings  # noqa: E402
from tests.support.images import web_image  # noqa: E402
from tests.support.proc import serving  # noqa: E402

LIMITS = Limits(memory_mb=64, cpus=0.25, pids=64)
NETWORK_PREFIX = 21  # 2,045 addresses
STOPPED = DesiredStatus.STOPPED


SHIM = """import sys
sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in repr(f).lower()]
sys.path.insert(0, {root!r})
"""


def checkout_path(root: str | Path) -> str:
    """A PYTHONPATH that runs the code of ``root``: an editable install's finder (as in this
    venv) comes before PYTHONPATH and would run this checkout's code whatever it says; a
    ``sitecustomize`` takes it out and puts ``root`` first."""
    root = str(Path(root).resolve())
    shim = Path(tempfile.gettempdir()) / f"agentpod-bench-{abs(hash(root)):x}"
    shim.mkdir(exist_ok=True)
    (shim / "sitecustomize.py").write_text(SHIM.format(root=root))
    return str(shim)


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def count_api_calls(ctx: Context) -> list[int]:
    counter = [0]
    ctx.runtime.client.api.hooks["response"].append(
        lambda r, *a, **k: counter.__setitem__(0, counter[0] + 1)
    )
    return counter


def grow_to(ctx: Context, image: str, n: int) -> float:
    started = time.monotonic()
    have = len(ctx.store.list_pods("bench"))
    config = {"health_path": "/readyz"}
    for i in range(have, n):
        ref = PodRef("bench", f"p{i}")
        ctx.store.create_pod(ref, "generic", f"bench-p{i}", image, LIMITS, config)
    ctx.reconciler.run_once()
    return time.monotonic() - started


def no_change_pass(ctx: Context, n: int, calls: list[int]) -> None:
    ctx.reconciler.run_once()  # settle
    times, cpu, per_pass = [], [], set()
    for _ in range(10):
        calls[0] = 0
        t, c = time.perf_counter(), time.process_time()
        outcomes = ctx.reconciler.run_once()
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
        per_pass.add(calls[0])
        assert not outcomes, outcomes
    p50 = statistics.median(times)
    print(
        f"  no-change full pass: p50 {p50 * 1000:.1f} ms, max {max(times) * 1000:.1f} ms, "
        f"CPU p50 {statistics.median(cpu) * 1000:.1f} ms, {p50 / n * 1e6:.0f} µs/pod, "
        f"Docker API calls/pass {sorted(per_pass)}"
    )


def scrape(ctx: Context, n: int) -> None:
    """What one ``GET /metrics`` costs serve, HTTP aside: one query, each pod's cgroup files."""
    from agentpod.control.metrics import exposition

    times = []
    for _ in range(10):
        t = time.perf_counter()
        text = exposition(ctx.store)
        times.append(time.perf_counter() - t)
    p50 = statistics.median(times)
    print(
        f"  /metrics: p50 {p50 * 1000:.1f} ms, max {max(times) * 1000:.1f} ms, "
        f"{p50 / n * 1e6:.0f} µs/pod, {len(text) / 1024:.0f} KB"
    )


BASELINE_PASS = """
import statistics, sys, time
from pathlib import Path
from agentpod.control.context import Context
from agentpod.settings import Settings
ctx = Context(Settings(home=Path(sys.argv[1])))
ctx.reconciler.run_once()
times, cpu = [], []
for _ in range(10):
    t, c = time.perf_counter(), time.process_time()
    assert not ctx.reconciler.run_once()
    times.append(time.perf_counter() - t)
    cpu.append(time.process_time() - c)
print(f"p50 {statistics.median(times) * 1000:.1f} ms, max {max(times) * 1000:.1f} ms, "
      f"CPU p50 {statistics.median(cpu) * 1000:.1f} ms")
ctx.close()
"""


def baseline_pass(env: dict[str, str]) -> None:
    """The same pass by another checkout's code (``--baseline``), on the same pods."""
    out = subprocess.run(
        [sys.executable, "-c", BASELINE_PASS, env["AGENTPOD_HOME"]],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    print(f"  no-change full pass: {out.stdout.strip()}")


def timed_cli(env: dict[str, str], args: list[str], runs: int = 3) -> list[float]:
    """Wall time of ``agentpod ARGS``, start-up included (what a user waits)."""
    return [wall for wall, _ in cli_runs(env, args, runs)]


def cli_runs(env: dict[str, str], args: list[str], runs: int) -> list[tuple[float, float]]:
    """(wall, CPU: user + sys of the command's process) of each run of ``agentpod ARGS``."""
    done = []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "agentpod", *args], env=env, check=True, capture_output=True
        )
        wall = time.perf_counter() - t
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
        done.append((wall, cpu))
    return done


READS = [
    ("pod list --format json", ["pod", "list", "--format", "json"]),
    ("pod list", ["pod", "list"]),
    ("pod status", ["pod", "status", "bench/p0"]),
]


def cli(env: dict[str, str], runs: int = 3, served: bool = False) -> None:
    """The CLI's figures; ``served``: the reads while serve runs (asked over its socket)."""
    figures = []
    more = [] if served else [("--help", ["--help"]), ("--version", ["--version"])]
    for label, args in [*READS, *more]:
        walls, cpus = zip(*cli_runs(env, args, runs), strict=True)
        figures.append(f"{label} {ms(statistics.median(walls))} / {ms(statistics.median(cpus))}")
    where = "serve running, over its socket" if served else "no serve, from the database"
    print(f"  CLI p50 (wall / CPU), {where}: {', '.join(figures)}")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def kill_at_once(client: docker.DockerClient, instance: str, names: list[str]) -> list[float]:
    """Kill these containers together; seconds from each kill to its container's next start."""
    starts: dict[str, float] = {}
    since = time.time()
    events = client.api.events(
        since=since, filters={"event": ["start"], "label": [f"agentpod.instance={instance}"]}
    )

    def watch() -> None:
        for raw in events:
            ev = json.loads(raw)
            name = (ev.get("Actor") or {}).get("Attributes", {}).get("name")
            if name in killed and name not in starts:
                starts[name] = ev["timeNano"] / 1e9
            if len(starts) == len(names):
                return

    killed: dict[str, float] = {}
    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()

    def kill(name: str) -> None:
        client.api.kill(name)
        killed[name] = time.time()

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(kill, names))
    watcher.join(timeout=120)
    events.close()
    missing = set(names) - set(starts)
    assert not missing, f"{len(missing)} container(s) not running again after 120 s"
    return [starts[n] - killed[n] for n in names]


def with_serve(ctx: Context, env: dict[str, str], n: int, last: bool, soak: float = 0) -> None:
    client = docker.from_env()
    mine = [f"agentpod.instance={ctx.runtime.instance}", "agentpod.adapter"]  # not holders
    running = lambda: {  # noqa: E731
        r["Names"][0].lstrip("/") for r in client.api.containers(filters={"label": mine})
    }
    names = sorted(running())
    with serving(env, "--interval", "30") as (proc, _):
        time.sleep(5)
        rss = [rss_mb(proc.pid)]
        times = kill_at_once(client, ctx.runtime.instance, names[:10])
        line = f"  10 killed at once -> running: p50 {ms(statistics.median(times))}, "
        line += f"p95 {ms(pct(times, 95))}, all {ms(max(times))}"
        if last and n >= 100:
            hundred = kill_at_once(client, ctx.runtime.instance, names[-100:])
            line += f"; 100 at once: p50 {ms(statistics.median(hundred))}, all {ms(max(hundred))}"
        print(line)
        time.sleep(20)  # a health round or two
        rss.append(rss_mb(proc.pid))
        print(f"  serve RSS: {rss[0]:.0f} MB after 5 s, {rss[1]:.0f} MB after the kills and 20 s")
        cli(env, served=True)
        for minute in range(1, int(soak) + 1):
            time.sleep(60)
            if minute % 5 == 0 or minute == int(soak):
                print(f"  serve RSS {minute} min later, health loop on: {rss_mb(proc.pid):.0f} MB")


def upgrade_all(env: dict[str, str], image: str) -> None:
    client = docker.from_env()
    tag = "agentpod-test/web:bench-upgrade"
    client.images.get(image).tag(tag)
    try:
        (took,) = timed_cli(env, ["pod", "upgrade", "--all", "--image", tag], runs=1)
        print(f"  pod upgrade --all (health-gated): {took:.1f} s")
    finally:
        back = {**env, "PYTHONPATH": checkout_path(ROOT)}  # this checkout: quicker
        timed_cli(back, ["pod", "upgrade", "--all", "--image", image, "--no-wait"], runs=1)
        client.images.remove(tag)


def stopped(
    ctx: Context, env: dict[str, str], n: int, calls: list[int], baseline: str | None
) -> None:
    """Pods in the database only: what the pass and the CLI cost, Docker aside."""
    for i in range(n):
        ref = PodRef("bench", f"p{i}")
        ctx.store.create_pod(ref, "generic", f"bench-p{i}", "none:1", LIMITS, {}, STOPPED)
    print(f"{n} stopped pods:")
    no_change_pass(ctx, n, calls)
    cli(env, runs=5)
    if baseline:
        print(f" baseline {baseline}:")
        other = {**env, "PYTHONPATH": checkout_path(baseline)}
        baseline_pass(other)
        cli(other, runs=5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="10,100,500,1000")
    parser.add_argument("--soak", type=float, default=0, help="minutes of serve at the last size")
    parser.add_argument(
        "--baseline", help="another checkout (e.g. main's) measured on the same pods too"
    )
    parser.add_argument(
        "--stopped",
        type=int,
        help="only this many stopped pods (no container): the pass and the CLI, then exit",
    )
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # still clean up when stopped
    base = Path(tempfile.mkdtemp(prefix="apb-", dir="/tmp"))
    home = base / "home"
    os.chdir(base)  # ``python -m`` puts the working directory first: no checkout's code here
    env = {
        **os.environ,
        "AGENTPOD_HOME": str(home),
        "AGENTPOD_CONFIG": str(base / "none"),
        # one tenant of 1,000 pods: a /24 tenant network holds 253 (README "Configuration")
        "AGENTPOD_NETWORK_PREFIX": str(NETWORK_PREFIX),
        "PYTHONPATH": checkout_path(ROOT),
    }
    ctx = Context(Settings(home=home, network_prefix=NETWORK_PREFIX))
    image = web_image()
    ctx.store.create_tenant("bench")
    calls = count_api_calls(ctx)
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start")
    try:
        if args.stopped:
            stopped(ctx, env, args.stopped, calls, args.baseline)
            return
        sizes = [int(s) for s in args.sizes.split(",")]
        for n in sizes:
            built = grow_to(ctx, image, n)
            print(f"{n} pods (grown in {built:.0f} s):")
            no_change_pass(ctx, n, calls)
            scrape(ctx, n)
            cli(env)
            last = n == sizes[-1]
            with_serve(ctx, env, n, last, args.soak if last else 0)
            if n == 100:
                upgrade_all(env, image)
            if args.baseline:
                print(f" baseline {args.baseline}, {n} pods:")
                other = {**env, "PYTHONPATH": checkout_path(args.baseline)}
                baseline_pass(other)
                cli(other)
                with_serve(ctx, other, n, last)
                if n == 100:
                    upgrade_all(other, image)
    finally:
        from tests.conftest import _remove_instance, _stop_embedded

        _remove_instance(ctx.runtime.client, ctx.runtime.instance)
        ctx.close()
        _stop_embedded(home)


if __name__ == "__main__":
    main()
