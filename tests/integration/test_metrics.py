"""``GET /metrics`` of a real ``agentpod serve``: parsed with Prometheus' own text parser, its
values move when a pod's container is killed and the loop brings it back."""

from __future__ import annotations

import ipaddress
import re
import socket
import urllib.error
import urllib.request
from pathlib import Path

import docker
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import Env
from tests.integration.dataplane.helpers import create_pod
from tests.support.proc import serving, wait_until

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def api_address(log: Path) -> str:
    """Where this serve's API listens (it was asked for port 0: any free one)."""
    found = wait_until(lambda: re.search(r'"api.listening", "address": "([^"]+)"', log.read_text()))
    return found.group(1)


def scrape(address: str, headers: dict[str, str] | None = None) -> Samples:
    request = urllib.request.Request(f"http://{address}/metrics", headers=headers or {})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = response.read().decode()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sample's value, or the sum over the samples whose labels include ``labels``."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= ls)


def test_metrics_move_when_a_pod_is_killed_and_healed(
    agentpod_env: Env, docker_client: docker.DockerClient, test_image: str, tenant: str
) -> None:
    agentpod_env.run("tenant", "create", tenant)
    create_pod(agentpod_env, f"{tenant}/web", test_image)
    env = {**agentpod_env.env, "AGENTPOD_HEALTH_INTERVAL": "0.5"}
    pod = {"tenant": tenant, "pod": "web"}
    try:
        with serving(env, "--interval", "5", "--api-listen", "127.0.0.1:0") as (_, log):
            address = api_address(log)

            def healthy() -> Samples | None:
                s = scrape(address)
                up = value(s, "agentpod_pods", tenant=tenant, state="running") == 1
                ready = value(s, "agentpod_pod_ready", **pod) == 1
                probed = value(s, "agentpod_health_probe_seconds_count") > 0
                return s if up and ready and probed else None

            before = wait_until(healthy, 30)
            assert value(before, "agentpod_serve_leader") == 1
            assert value(before, "agentpod_pod_memory_bytes", **pod) > 0
            assert value(before, "agentpod_pod_cpu_seconds_total", **pod) > 0
            assert value(before, "agentpod_pod_restarts_total", **pod) == 0
            passes = value(before, "agentpod_reconcile_pass_seconds_count")
            assert passes >= 1

            docker_client.containers.get(f"agentpod-{tenant}-web").kill()

            def restarted() -> Samples | None:
                s = scrape(address)
                counted = value(s, "agentpod_pod_restarts_total", **pod, reason="exited") == 1
                return s if counted and healthy() else None

            after = wait_until(restarted, 30)
            assert value(after, "agentpod_pods", tenant=tenant, state="exited") == 0
            assert value(after, "agentpod_reconcile_pass_seconds_count") > passes
            assert value(after, "agentpod_reconcile_actions_total", action="start", outcome="ok")
            assert value(after, "agentpod_api_requests_total", route="/metrics", status="200")
            assert status_of(f"http://{address}/api/v1/tenants/{tenant}") == 401
            template = {"route": "/api/v1/tenants/{tenant}", "method": "GET", "status": "401"}
            assert value(scrape(address), "agentpod_api_requests_total", **template) == 1
            assert status_of(f"http://{address}/nowhere", method="PROPFIND") == 404
            odd = value(scrape(address), "agentpod_api_requests_total", method="other")
            assert odd == 1  # any token is a method to HTTP: not one label value each
    finally:
        agentpod_env.run("pod", "delete", f"{tenant}/web", "--yes")
        agentpod_env.run("tenant", "delete", tenant)


def listening(log: Path, host: str) -> str:
    pattern = rf'"api.listening", "address": "({re.escape(host)}:\d+)"'
    return wait_until(lambda: re.search(pattern, log.read_text())).group(1)


def host_address(client: docker.DockerClient) -> str:
    """An address of this machine that is not loopback: its side of Docker's default bridge
    (the address a UDP socket aimed into that subnet is bound to; no packet is sent)."""
    subnet = ipaddress.ip_network(
        client.networks.get("bridge").attrs["IPAM"]["Config"][0]["Subnet"]
    )
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect((str(subnet.network_address + 2), 9))
        return probe.getsockname()[0]


def status_of(
    url: str, key: str | None = None, headers: dict[str, str] | None = None, method: str = "GET"
) -> int:
    headers = {**(headers or {}), **({"Authorization": f"Bearer {key}"} if key else {})}
    request = urllib.request.Request(url, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10):
            return 200
    except urllib.error.HTTPError as exc:
        return exc.code


def test_metrics_need_a_key_that_sees_every_tenant_except_on_loopback_and_the_scraper_listener(
    agentpod_env: Env, docker_client: docker.DockerClient, tenant: str
) -> None:
    host = host_address(docker_client)
    agentpod_env.run("tenant", "create", tenant)
    keys = {}
    for role, extra in (("admin", ()), ("member", ("--tenant", tenant))):
        user = f"{tenant}-{role}"
        agentpod_env.run("user", "create", user, "--role", role, *extra)
        made = agentpod_env.json("apikey", "create", "--user", user, "--scope", "pods:read")
        keys[role] = made["key"]
    env = {**agentpod_env.env, "AGENTPOD_METRICS_LISTEN": f"{host}:0"}
    try:
        with serving(env, "--api-listen", "0.0.0.0:0") as (_, log):
            api = f"http://{host}:{listening(log, '0.0.0.0').split(':')[1]}/metrics"
            assert status_of(api) == 401
            assert status_of(api, "apk-nonsense") == 401
            assert status_of(api, keys["member"]) == 403
            assert status_of(api, keys["admin"]) == 200
            loopback = api.replace(host, "127.0.0.1")
            assert status_of(loopback) == 200
            # what the console route gets from our Traefik: loopback, the client in the header
            assert status_of(loopback, headers={"X-Forwarded-For": "203.0.113.7"}) == 401
            assert status_of(f"http://{listening(log, host)}/metrics") == 200
            assert status_of(f"http://{listening(log, host)}/api/v1/health") == 404
    finally:
        for role in keys:
            agentpod_env.run("user", "delete", f"{tenant}-{role}")
        agentpod_env.run("tenant", "delete", tenant)


def test_docker_outage_counts_errors_and_an_event_stream_reconnect(agentpod_env: Env) -> None:
    from tests.support.sockproxy import UnixProxy

    proxy = UnixProxy()
    proxy.start()
    env = {**agentpod_env.env, "DOCKER_HOST": proxy.url, "AGENTPOD_RECONCILE_INTERVAL": "1"}
    try:
        with serving(env, "--api-listen", "127.0.0.1:0") as (_, log):
            address = api_address(log)
            before = scrape(address)
            assert value(before, "agentpod_docker_event_stream_reconnects_total") == 0
            proxy.stop()
            wait_until(lambda: "docker.events.lost" in log.read_text(), 10)
            wait_until(lambda: value(scrape(address), "agentpod_docker_errors_total") > 0, 10)
            proxy.start()
            wait_until(
                lambda: value(scrape(address), "agentpod_docker_event_stream_reconnects_total"), 15
            )
    finally:
        proxy.stop()
