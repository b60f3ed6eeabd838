"""The LLM gateway's overhead: a pod calls a fake provider directly and through the gateway of
a real ``agentpod serve``, same pod, same provider, same run.

Prints, per case (non-streamed requests one at a time; streams at 1 and 50 at once): p50/p95
of the time to the first body byte (TTFT) and of the whole request, direct vs gateway, the
difference; the daemon's CPU time (user + system, all its threads) per gateway request, less
what it spends meanwhile when the gateway is idle (measured during the direct run) — a figure
that means something on a loaded machine where wall times do not; and the daemon's RSS before
and at its peak under load. The load client runs inside
the pod (the gateway only answers a pod's own address) with Python's asyncio, one connection
per request. Cleans up after itself.
Run: ``python benchmarks/llm_gateway.py [--requests 200] [--streams 50]``.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import docker  # noqa: E402

from tests.conftest import fresh_env  # noqa: E402
from tests.integration.dataplane.helpers import create_pod  # noqa: E402
from tests.support.fakellm import FakeProvider  # noqa: E402
from tests.support.proc import serving  # noqa: E402
from tests.support.wsimage import ws_image  # noqa: E402

LOAD = r"""
import asyncio, json, sys, time
host, port, path, key, conc, total, stream, spread = sys.argv[1:9]
conc, total, stream, spread = int(conc), int(total), stream == "1", float(spread)
body = json.dumps({"model": "gpt-fake", "stream": stream,
                   "messages": [{"role": "user", "content": "hi"}]}).encode()
head = (f"POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n").encode()
out = {"ttft": [], "total": [], "bad": 0}

async def one():
    t0 = time.perf_counter()
    r, w = await asyncio.open_connection(host, int(port))
    w.write(head + body)
    await w.drain()
    status = await r.readuntil(b"\r\n\r\n")
    await r.readexactly(1)
    ttft = time.perf_counter() - t0
    await r.read()
    out["total"].append((time.perf_counter() - t0) * 1000)
    out["ttft"].append(ttft * 1000)
    out["bad"] += b" 200 " not in status.split(b"\r\n")[0]
    w.close()

async def worker(i, n):
    await asyncio.sleep(spread * i / conc)  # spread > 0: starts evenly apart, a steady state
    for _ in range(n):
        await one()

async def main():
    await asyncio.gather(*(worker(i, total // conc) for i in range(conc)))

asyncio.run(main())
print(json.dumps(out))
"""


STREAM_S = 0.1  # how long the fake provider's streamed answer takes


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]


def cpu_s(pid: int) -> float:
    """The process's user + system CPU time so far, every thread included."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timed_load(pid: int, *args: Any) -> tuple[dict, float, float]:
    """``load(*args)`` and the daemon's CPU seconds and the wall seconds it took."""
    cpu, wall = cpu_s(pid), time.monotonic()
    result = load(*args)
    return result, cpu_s(pid) - cpu, time.monotonic() - wall


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Peak(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak, self.done = pid, 0.0, threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.1):
            self.peak = max(self.peak, rss_mb(self.pid))


def load(
    container, target: tuple[str, int, str], key: str, conc: int, total: int, stream: bool,
    spread: float,
):  # fmt: skip
    host, port, path = target
    argv = ["/py/bin/python3", "-c", LOAD, host, str(port), path, key, str(conc), str(total)]
    code, out = container.exec_run([*argv, "1" if stream else "0", str(spread)])
    if code != 0:
        raise SystemExit(out.decode(errors="replace"))
    result = json.loads(out)
    if result["bad"]:
        raise SystemExit(f"{result['bad']} requests did not answer 200")
    return result


def report(name: str, direct: dict, gateway: dict) -> None:
    print(f"{name}:")
    for metric in ("ttft", "total"):
        d50, d95 = pct(direct[metric], 50), pct(direct[metric], 95)
        g50, g95 = pct(gateway[metric], 50), pct(gateway[metric], 95)
        print(
            f"  {metric:5}  direct p50 {d50:7.2f} ms p95 {d95:7.2f} ms | gateway p50 {g50:7.2f} ms"
            f" p95 {g95:7.2f} ms | added p50 {g50 - d50:+6.2f} ms p95 {g95 - d95:+6.2f} ms"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--streams", type=int, default=50)
    args = parser.parse_args()
    client = docker.from_env()
    with socket.socket() as s:
        s.bind(("0.0.0.0", 0))
        port = s.getsockname()[1]
    fake = FakeProvider(gap_s=STREAM_S / 5, events=5, host="0.0.0.0").start()
    with fresh_env(client, AGENTPOD_LLM_GATEWAY_PORT=str(port)) as env:
        tenant = f"bench{uuid.uuid4().hex[:6]}"
        env.run("tenant", "create", tenant)
        env.run(
            "llm", "provider", "add", "oai", "--tenant", tenant, "--kind", "openai",
            "--base-url", f"http://127.0.0.1:{fake.port}/v1", "--key-stdin", input="sk-bench-0000",
        )  # fmt: skip
        with serving(env.env) as (proc, _log):
            ref = f"{tenant}/load"
            create_pod(env, ref, ws_image())
            container = client.containers.get(f"agentpod-{tenant}-load")
            pod_env = dict(e.split("=", 1) for e in container.attrs["Config"]["Env"])
            key = pod_env["AGENTPOD_LLM_API_KEY"]
            gw_host = pod_env["AGENTPOD_LLM_BASE_URL"].split("//")[1].split(":")[0]
            direct = (gw_host, fake.port, "/v1/chat/completions")
            via = (gw_host, port, "/oai/chat/completions")
            load(container, via, key, 1, 20, False, 0)  # warm both paths
            load(container, direct, key, 1, 20, False, 0)
            before = rss_mb(proc.pid)
            peak = Peak(proc.pid)
            peak.start()
            n = args.requests
            many = args.streams
            cases = [
                ("non-streamed, 1 at a time", 1, n, False, 0),
                ("streamed, 1 at a time", 1, n // 4, True, 0),
                (f"streamed, {many} at once, started evenly apart", many, many * 8, True, STREAM_S),
                (f"streamed, {many} at once, all started together", many, many * 8, True, 0),
            ]
            for name, conc, total, stream, spread in cases:
                d, idle_cpu, idle_wall = timed_load(
                    proc.pid, container, direct, key, conc, total, stream, spread
                )
                g, cpu, wall = timed_load(
                    proc.pid, container, via, key, conc, total, stream, spread
                )
                report(f"{name} ({total} requests)", d, g)
                per = (cpu - idle_cpu / idle_wall * wall) / total * 1000
                print(
                    f"  daemon CPU per gateway request: {per:.2f} ms ({cpu:.2f} s in {wall:.1f} s)"
                )
            peak.done.set()
            print(f"daemon RSS: {before:.0f} MiB before, {max(peak.peak, before):.0f} MiB peak")
            rows = env.json("llm", "usage", "--tenant", tenant)
            print(f"usage rows metered: {sum(r['requests'] for r in rows)} requests")
            env.run("pod", "delete", ref, "--yes")
    fake.stop()


if __name__ == "__main__":
    main()
