"""Data-plane figures against the real engine, Traefik and embedded PostgreSQL.

Prints: route propagation (``pod create --no-wait`` -> first 200 through Traefik, p50/p95);
request latency through Traefik vs straight to the container (``wrk``, p50 ratio); an idle
WebSocket held open through Traefik for N minutes. Runs its own ``serve --with-proxy`` on a
free loopback port and cleans up after itself.
Run: ``python benchmarks/dataplane.py [--pods 20] [--wrk-seconds 10] [--ws-minutes 10]``.
"""

from __future__ import annotations

import argparse
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import docker  # noqa: E402
from websockets.exceptions import ConnectionClosed  # noqa: E402
from websockets.sync.client import connect  # noqa: E402

from tests.support.images import web_image  # noqa: E402
from tests.support.pod_networks import pod_address  # noqa: E402
from tests.support.proxied import Proxied, proxied_instance  # noqa: E402
from tests.support.wsimage import ws_image  # noqa: E402

UNLIMITED = ("--rate-average", "1000000", "--rate-burst", "1000000")  # wrk must not see 429s
UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]


def create(p: Proxied, ref: str, image: str) -> None:
    p.env.run(
        "pod", "create", ref, "--type", "generic", "--image", image,
        "--set", "health_path=/readyz", "--memory", "64m", "--no-wait",
    )  # fmt: skip


def propagation(p: Proxied, image: str, pods: int) -> None:
    took, cli = [], []
    for i in range(pods):
        sub = f"bench-p{i}"
        start = time.monotonic()
        create(p, f"bench/p{i}", image)
        cli.append(time.monotonic() - start)
        while True:
            try:
                if p.get(sub, timeout=2)[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() - start > 60:
                raise SystemExit(f"{sub} never answered through Traefik")
            time.sleep(0.01)
        took.append(time.monotonic() - start)
    print(f"route propagation over {pods} pods (pod create --no-wait -> first 200 via Traefik):")
    print(f"  p50 {pct(took, 50):.2f} s   p95 {pct(took, 95):.2f} s   max {max(took):.2f} s")
    print(f"  of which the CLI itself (process start to exit): p50 {statistics.median(cli):.2f} s")


def wrk_p50(url: str, seconds: int, host: str | None = None) -> tuple[float, float]:
    args = ["wrk", "-t2", "-c8", f"-d{seconds}s", "--latency", url]
    if host:
        args[1:1] = ["-H", f"Host: {host}"]
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    found = re.search(r"^\s+50%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if not found or not rps:
        raise SystemExit(f"cannot read wrk's output:\n{out}")
    if non2xx:
        raise SystemExit(f"{non2xx.group(1)} non-2xx answers from {url}:\n{out}")
    return float(found.group(1)) * UNITS[found.group(2)], float(rps.group(1))


def overhead(p: Proxied, client: docker.DockerClient, seconds: int) -> None:
    if not shutil.which("wrk"):
        raise SystemExit("wrk is missing: apt-get install -y wrk")
    cid = p.env.json("pod", "status", "bench/p0")["container_id"]
    ip = pod_address(client, client.containers.get(cid))
    wrk_p50(f"http://127.0.0.1:{p.port}/", 2, p.host("bench-p0"))  # warm up both paths
    wrk_p50(f"http://{ip}:8080/", 2)
    runs = []
    for _ in range(3):  # interleaved, so that machine noise hits both sides alike
        runs.append(
            (
                wrk_p50(f"http://{ip}:8080/", seconds),
                wrk_p50(f"http://127.0.0.1:{p.port}/", seconds, p.host("bench-p0")),
            )
        )
    (direct, direct_rps), (proxied, proxied_rps) = (
        min(runs, key=lambda r: r[0][0])[0],
        min(runs, key=lambda r: r[1][0])[1],
    )
    print(f"request latency, wrk -t2 -c8, best of 3 x {seconds}s, busybox httpd pod:")
    print(f"  straight to the container: p50 {direct:.3f} ms ({direct_rps:.0f} req/s)")
    print(f"  through Traefik:           p50 {proxied:.3f} ms ({proxied_rps:.0f} req/s)")
    print(f"  ratio at p50: {proxied / direct:.2f}x (+{proxied - direct:.3f} ms)")


def idle_websocket(p: Proxied, image: str, minutes: float) -> None:
    create(p, "bench/ws", image)
    p.wait_status("bench-ws", 200, timeout=60)
    sock = socket.create_connection(("127.0.0.1", p.port), timeout=10)
    uri = f"ws://{p.host('bench-ws')}:{p.port}/"
    start = time.monotonic()
    with connect(uri, sock=sock, ping_interval=None, close_timeout=2) as ws:
        ws.recv(timeout=10)  # the server's hello with the request headers
        deadline = start + minutes * 60
        try:
            while time.monotonic() < deadline:  # no frame either way: a truly idle socket
                try:
                    ws.recv(timeout=min(30.0, max(0.1, deadline - time.monotonic())))
                    raise SystemExit("unexpected message on the idle websocket")
                except TimeoutError:
                    continue
            ws.send("after-idle")
            ok = ws.recv(timeout=10) == "after-idle"
        except ConnectionClosed as exc:
            held = time.monotonic() - start
            print(f"idle websocket via Traefik: DROPPED after {held:.0f} s ({exc})")
            return
    held = time.monotonic() - start
    verdict = "open, echo after idle ok" if ok else "open, but the echo was wrong"
    print(f"idle websocket via Traefik: held {held / 60:.1f} min without a drop ({verdict})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, default=20)
    parser.add_argument("--wrk-seconds", type=int, default=10)
    parser.add_argument("--ws-minutes", type=float, default=10.0)
    args = parser.parse_args()
    client = docker.from_env(timeout=120)
    image, ws = web_image(), ws_image()
    with proxied_instance(client, AGENTPOD_HEALTH_INTERVAL="15") as p:  # probes add noise
        print(f"AgentPod instance {p.instance}, Traefik on 127.0.0.1:{p.port}", flush=True)
        p.env.run("tenant", "create", "bench", *UNLIMITED)
        propagation(p, image, args.pods)
        overhead(p, client, args.wrk_seconds)
        idle_websocket(p, ws, args.ws_minutes)


if __name__ == "__main__":
    main()
