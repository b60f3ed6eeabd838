"""Per-tenant networks: a pod reaches its own tenant's pods, not another tenant's, and never
the control plane's database."""

from __future__ import annotations

import docker
import psycopg
import pytest

from agentpod.services.database import embedded_url
from tests.integration.dataplane.helpers import create_pod, new_tenant
from tests.support.pod_networks import pod_networks
from tests.support.proxied import Proxied


def _fetch(container, host: str) -> str:
    """GET / on host:8080 from inside the container (busybox nc; its wget -T crashes)."""
    script = f"printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 {host} 8080"
    _, out = container.exec_run(["sh", "-c", script])
    return out.decode(errors="replace")


@pytest.mark.slow
def test_tenant_networks_isolate_pods(
    proxied: Proxied, test_image: str, docker_client: docker.DockerClient
) -> None:
    env = proxied.env
    a, b = new_tenant(env), new_tenant(env)
    refs = [f"{a}/one", f"{a}/two", f"{b}/one"]
    containers = {}
    for ref in refs:
        cid = create_pod(env, ref, test_image)["container_id"]
        containers[ref] = docker_client.containers.get(cid)

    def ip(ref: str) -> str:
        nets = pod_networks(docker_client, containers[ref])
        assert list(nets) == [f"agentpod-net-{ref.split('/')[0]}"]
        return next(iter(nets.values()))["IPAddress"]

    a1, b1 = containers[f"{a}/one"], containers[f"{b}/one"]
    assert f"\n{a}/two" in _fetch(a1, ip(f"{a}/two"))
    assert f"\n{a}/two" in _fetch(a1, f"agentpod-{a}-two")  # by name, on the tenant's network
    assert f"{b}/one" not in _fetch(a1, ip(f"{b}/one")), "tenant A reached tenant B's pod"
    assert f"{a}/one" not in _fetch(b1, ip(f"{a}/one")), "tenant B reached tenant A's pod"

    # the embedded PostgreSQL has no TCP listener at all, so no address of this host works
    with psycopg.connect(embedded_url(env.home)) as conn:
        row = conn.execute("SHOW listen_addresses").fetchone()
        assert row is not None and row[0] == ""
    gateways = {
        cfg["Gateway"]
        for net in docker_client.networks.list(names=[f"agentpod-net-{a}", "bridge"])
        for cfg in net.attrs["IPAM"]["Config"]
        if cfg.get("Gateway")
    }
    assert gateways
    for ref in refs:
        for gw in gateways:
            code, out = containers[ref].exec_run(["sh", "-c", f"nc -w 2 {gw} 5432 </dev/null"])
            assert code != 0, f"{ref} reached {gw}:5432: {out!r}"
    for ref in refs:
        env.run("pod", "delete", ref, "--yes")
