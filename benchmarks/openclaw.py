"""Real OpenClaw gateways (or ``--type open-webui``: Open WebUI) run by AgentPod, measured through
Traefik on this machine.

Prints: cold start (``pod create --no-wait`` -> first 200 from the type's health path, ``/readyz``
or ``/health``, through Traefik by Host header, p50 over ``--cold`` pods, one at a time); memory
per pod ``--settle`` seconds after start (working set = cgroup usage minus inactive file cache,
and the cgroup's peak); then a ramp: one more pod at a time until one fails to become ready (or
an earlier one stops answering), host memory reaches ``--max-memory`` % used, or
``--ramp-minutes`` run out.
Runs its own ``serve --with-proxy`` on a free loopback port and removes everything afterwards.
Run: ``python benchmarks/openclaw.py [--type open-webui] [--cold 5] [--settle 180]
[--ramp-minutes 15]`` (``--ramp-minutes 0``: no ramp).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import docker  # noqa: E402

from tests.live.images.openclaw.build import ensure_openclaw_image  # noqa: E402
from tests.live.images.openwebui.build import ensure_openwebui_image  # noqa: E402
from tests.support.proxied import Proxied, proxied_instance  # noqa: E402

MIB = 1024 * 1024
# agent type -> (its image, built here; the path that answers 200 once it is ready)
TYPES: dict[str, tuple[Callable[[], str], str]] = {
    "openclaw": (ensure_openclaw_image, "/readyz"),
    "open-webui": (ensure_openwebui_image, "/health"),
}


@dataclass(frozen=True)
class Agent:
    type: str
    image: str
    ready_path: str


def readyz(p: Proxied, agent: Agent, subdomain: str) -> int:
    """A client on this machine, as Traefik names it to the gateway (see README, Client
    addresses): no forwarded header of its own is needed, nor kept."""
    try:
        return p.get(subdomain, agent.ready_path, timeout=3)[0]
    except OSError:
        return 0


def start(p: Proxied, agent: Agent, name: str, timeout: float) -> float | None:
    """Seconds from ``pod create`` to the first 200 through Traefik; None if not in time."""
    began = time.monotonic()
    kind = ("--type", agent.type, "--image", agent.image)
    p.env.run("pod", "create", f"bench/{name}", *kind, "--no-wait")
    while time.monotonic() - began < timeout:
        if readyz(p, agent, f"bench-{name}") == 200:
            return time.monotonic() - began
        time.sleep(0.2)
    return None


def memory(client: docker.DockerClient, name: str) -> tuple[float, float]:
    """(working set, peak) in MiB of a pod's container (cgroup v1 and v2 field names)."""
    stats = client.api.stats(f"agentpod-bench-{name}", stream=False)
    mem = stats.get("memory_stats") or {}
    inner = mem.get("stats") or {}
    cache = inner.get("total_inactive_file", inner.get("inactive_file", 0))
    return (mem.get("usage", 0) - cache) / MIB, mem.get("max_usage", 0) / MIB


def host_memory_used() -> float:
    info = {}
    for line in Path("/proc/meminfo").read_text().splitlines():
        key, value = line.split(":", 1)
        info[key] = int(value.split()[0])
    return 100.0 * (1 - info["MemAvailable"] / info["MemTotal"])


def all_ready(p: Proxied, agent: Agent, names: list[str]) -> list[str]:
    """Names that do not answer 200, each given a second chance a few seconds later."""
    failing = [n for n in names if readyz(p, agent, f"bench-{n}") != 200]
    if failing:
        time.sleep(5)
        failing = [n for n in failing if readyz(p, agent, f"bench-{n}") != 200]
    return failing


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--type", choices=sorted(TYPES), default="openclaw")
    parser.add_argument("--cold", type=int, default=5, help="gateways for the cold-start p50")
    parser.add_argument("--settle", type=float, default=180, help="seconds before measuring RSS")
    parser.add_argument("--ramp-minutes", type=float, default=15, help="cap on the ramp")
    parser.add_argument("--max-memory", type=float, default=80, help="stop at this %% used")
    parser.add_argument("--ready-timeout", type=float, default=240)
    args = parser.parse_args()

    client = docker.from_env(timeout=120)
    build, ready_path = TYPES[args.type]
    agent = Agent(args.type, build(), ready_path)
    others = [c.name for c in client.containers.list()]
    print(f"host: {len(others)} other container(s) running, {host_memory_used():.0f}% memory used")
    with proxied_instance(client) as p:
        p.env.run("tenant", "create", "bench")
        names: list[str] = []
        cold: list[float] = []
        for i in range(args.cold):
            name = f"g{i}"
            took = start(p, agent, name, args.ready_timeout)
            if took is None:
                sys.exit(f"{name} was not ready within {args.ready_timeout:.0f}s")
            names.append(name)
            cold.append(took)
        print(
            f"cold start to {agent.ready_path} via Traefik: p50 {statistics.median(cold):.1f}s "
            f"(min {min(cold):.1f}, max {max(cold):.1f}, n={len(cold)})"
        )
        time.sleep(max(0.0, args.settle - cold[-1]))
        usage = [memory(client, n) for n in names]
        ws = [u[0] for u in usage]
        print(
            f"memory after {args.settle:.0f}s: working set median {statistics.median(ws):.0f} MiB "
            f"(min {min(ws):.0f}, max {max(ws):.0f}); cgroup peak max "
            f"{max(u[1] for u in usage):.0f} MiB"
        )

        deadline = time.monotonic() + args.ramp_minutes * 60
        reason = f"time cap ({args.ramp_minutes:.0f} min)"
        ramp: list[float] = []
        while time.monotonic() < deadline:
            used = host_memory_used()
            if used >= args.max_memory:
                reason = f"host memory {used:.0f}% used"
                break
            name = f"g{len(names)}"
            took = start(p, agent, name, args.ready_timeout)
            if took is None:
                reason = f"{name} not ready within {args.ready_timeout:.0f}s"
                break
            names.append(name)
            ramp.append(took)
            failing = all_ready(p, agent, names)
            print(
                f"  {len(names):3d} gateways ready ({took:.0f}s to start), "
                f"host memory {host_memory_used():.0f}% used"
                + (f", failing: {failing}" if failing else "")
            )
            if failing:
                reason = f"{failing} stopped answering"
                names = [n for n in names if n not in failing]
                break
        healthy = len(all_ready(p, agent, names)) == 0
        usage = [memory(client, n) for n in names]
        ws = [u[0] for u in usage]
        print(
            f"density: {len(names)} gateways healthy at once (stopped: {reason}); "
            f"all healthy at the end: {healthy}; working set median "
            f"{statistics.median(ws):.0f} MiB, total {sum(ws) / 1024:.1f} GiB; host memory "
            f"{host_memory_used():.0f}% used; last start took "
            f"{ramp[-1] if ramp else cold[-1]:.0f}s"
        )


if __name__ == "__main__":
    main()
