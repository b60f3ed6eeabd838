"""HTTP API figures: GET of a tenant's pod list (100 pods) by 20 concurrent clients with an API
key, p50/p95 and requests/s; and the resident memory of ``agentpod serve`` serving it.

The pods are recorded stopped (no container is made: the list reads the database only), in a
home of its own with its own embedded PostgreSQL and ``serve``, removed afterwards.
Run: ``python benchmarks/api.py [--pods 100] [--clients 20] [--requests 2000]``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from agentpod.control import apikeys, users  # noqa: E402
from agentpod.control.context import Context  # noqa: E402
from agentpod.core.authz import Principal  # noqa: E402
from agentpod.core.models import DesiredStatus, Limits  # noqa: E402
from agentpod.core.names import PodRef  # noqa: E402
from agentpod.services.database import stop_embedded  # noqa: E402
from agentpod.settings import load_settings  # noqa: E402
from benchmarks.dataplane import pct  # noqa: E402

ROOT_CALLER = Principal.root("bench")


def populate(env: dict[str, str], pods: int) -> str:
    """The tenant ``bench`` with ``pods`` stopped pods; an admin's API key."""
    ctx = Context(load_settings(env))
    try:
        ctx.store.create_tenant("bench")
        limits = Limits(memory_mb=64, cpus=0.5)
        for i in range(pods):
            ref = PodRef("bench", f"p{i:03d}")
            ctx.store.create_pod(
                ref, "generic", ref.default_subdomain, "example/bench:1", limits, {},
                desired=DesiredStatus.STOPPED,
            )  # fmt: skip
        users.create_user(ctx, ROOT_CALLER, "bench", "admin", [], "bench password")
        return apikeys.create_key(ctx, ROOT_CALLER, "bench", ["pods:read", "tenants:read"])[0]
    finally:
        ctx.close()


async def load(url: str, key: str, clients: int, requests: int) -> tuple[list[float], float]:
    headers = {"Authorization": f"Bearer {key}"}
    took: list[float] = []
    todo = iter(range(requests))
    limits = httpx.Limits(max_connections=clients)
    async with httpx.AsyncClient(headers=headers, limits=limits, timeout=30) as client:

        async def worker() -> None:
            for _ in todo:
                start = time.perf_counter()
                response = await client.get(url)
                took.append((time.perf_counter() - start) * 1000)
                assert response.status_code == 200 and len(response.json()) > 0, response.text

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
    return took, requests / (time.perf_counter() - started)


def cpu_s(pid: int) -> float:
    """User + system CPU seconds the process has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)) / 1024  # type: ignore[union-attr]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pods", type=int, default=100)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="apibench-", dir="/tmp"))
    env = {
        **os.environ,
        "AGENTPOD_HOME": str(base / "home"),
        "AGENTPOD_CONFIG": str(base / "none.toml"),
        "PYTHONPATH": str(ROOT),
    }
    env.pop("AGENTPOD_DATABASE_URL", None)
    log = base / "serve.log"
    serve = None
    try:
        key = populate(env, args.pods)
        with log.open("w") as out:
            serve = subprocess.Popen(
                [sys.executable, "-m", "agentpod", "serve", "--api-listen", "127.0.0.1:0"],
                env=env, stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
        deadline = time.monotonic() + 60
        while not (found := re.search(r'"api.listening", "address": "([^"]+)"', log.read_text())):
            if time.monotonic() > deadline or serve.poll() is not None:
                raise SystemExit(f"serve did not start:\n{log.read_text()}")
            time.sleep(0.2)
        url = f"http://{found.group(1)}/api/v1/tenants/bench/pods"
        idle = rss_mb(serve.pid)
        asyncio.run(load(url, key, args.clients, 100))  # warm-up
        cpu_before = cpu_s(serve.pid)
        took, rate = asyncio.run(load(url, key, args.clients, args.requests))
        cpu_ms = (cpu_s(serve.pid) - cpu_before) / args.requests * 1000
        print(
            f"GET {args.pods} pods, {args.clients} clients, {args.requests} requests: "
            f"p50 {pct(took, 50):.1f} ms, p95 {pct(took, 95):.1f} ms, {rate:.0f} req/s, "
            f"serve CPU {cpu_ms:.1f} ms a request"
        )
        print(f"serve RSS: {idle:.0f} MB idle, {rss_mb(serve.pid):.0f} MB after the load")
    finally:
        if serve is not None:
            serve.terminate()
            serve.wait(30)
        stop_embedded(base / "home")
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
