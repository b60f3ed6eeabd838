"""HTTP API figures: GET of a tenant's pod list (100 pods) by 20 concurrent clients with an API
key, p50/p95 and requests/s; and the resident memory of ``agentpod serve`` serving it.

The pods are recorded stopped (no container is made: the list reads the database only), in a
home of its own with its own embedded PostgreSQL and ``serve``, removed afterwards.
Run: ``python benchmarks/api.py [--pods 100] [--clients 20] [--seconds 15]`` (needs ``wrk``).
"""

from __future__ import annotations

import argparse
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


WRK_SCRIPT = """
wrk.headers["Authorization"] = "Bearer %s"
done = function(summary, latency, requests)
  io.write(string.format("WRK %%d %%d %%d %%.3f %%.3f %%.3f\\n", summary.requests,
    summary.duration, summary.errors.status, latency:percentile(50) / 1000,
    latency:percentile(95) / 1000, latency:percentile(99) / 1000))
end
"""


def load(url: str, key: str, clients: int, seconds: int) -> dict[str, float]:
    """``wrk`` (C: the load generator's own CPU does not queue the requests) with ``clients``
    connections for ``seconds``: requests, non-2xx, req/s, p50/p95/p99 in ms."""
    script = Path(tempfile.mkstemp(suffix=".lua")[1])
    script.write_text(WRK_SCRIPT % key)
    try:
        out = subprocess.run(
            ["wrk", "-t2", f"-c{clients}", f"-d{seconds}s", "-s", str(script), url],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
    finally:
        script.unlink()
    found = re.search(r"^WRK (\d+) (\d+) (\d+) ([\d.]+) ([\d.]+) ([\d.]+)$", out, re.M)
    if found is None:
        raise SystemExit(f"cannot read wrk's output:\n{out}")
    n, micros, bad, p50, p95, p99 = (float(x) for x in found.groups())
    if bad:
        raise SystemExit(f"{bad:.0f} of {n:.0f} answers were not 2xx")
    return {"requests": n, "rate": n / (micros / 1e6), "p50": p50, "p95": p95, "p99": p99}


def check(url: str, key: str, pods: int) -> None:
    """One request as a client sees it: the whole list, every pod."""
    response = httpx.get(url, headers={"Authorization": f"Bearer {key}"}, timeout=30)
    assert response.status_code == 200 and len(response.json()) == pods, response.text


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
    parser.add_argument("--seconds", type=int, default=15)
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
        check(url, key, args.pods)
        load(url, key, args.clients, 2)  # warm-up
        cpu_before = cpu_s(serve.pid)
        got = load(url, key, args.clients, args.seconds)
        cpu_ms = (cpu_s(serve.pid) - cpu_before) / got["requests"] * 1000
        print(
            f"GET {args.pods} pods, {args.clients} clients, {got['requests']:.0f} requests: "
            f"p50 {got['p50']:.1f} ms, p95 {got['p95']:.1f} ms, p99 {got['p99']:.1f} ms, "
            f"{got['rate']:.0f} req/s, serve CPU {cpu_ms:.2f} ms a request"
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
