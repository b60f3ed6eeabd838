"""Routes through the real Traefik follow the pods: create -> 200, stop -> 404, start -> 200."""

from __future__ import annotations

import pytest

from tests.conftest import Env
from tests.integration.dataplane.helpers import create_pod, new_tenant
from tests.support.proxied import Proxied


@pytest.mark.slow
def test_route_follows_pod_lifecycle(proxied: Proxied, test_image: str) -> None:
    env = proxied.env
    tenant = new_tenant(env)
    ref, sub = f"{tenant}/web", f"{tenant}-web"
    status = create_pod(env, ref, test_image)

    assert status["url"] == f"http://{sub}.localhost:{proxied.port}"
    assert proxied.wait_status(sub, 200).strip() == ref
    code, _, headers = proxied.get(sub)
    assert code == 200
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "SAMEORIGIN"
    assert "Content-Encoding" not in headers

    health = env.json("health", tenant)
    assert [(h["pod"], h["ready"], h["route_ok"]) for h in health] == [(ref, True, True)]

    env.run("pod", "stop", ref)
    proxied.wait_status(sub, 404)
    env.run("pod", "start", ref)
    assert proxied.wait_status(sub, 200).strip() == ref

    env.run("pod", "delete", ref, "--yes")
    proxied.wait_status(sub, 404)


def test_health_fails_when_route_is_missing(proxied: Proxied, test_image: str) -> None:
    """A pod healthy on its container but not routed (here: another domain) fails health."""
    env = proxied.env
    tenant = new_tenant(env)
    ref = f"{tenant}/web"
    create_pod(env, ref, test_image)
    proxied.wait_status(f"{tenant}-web", 200)
    other = Env(env.home, {**env.env, "AGENTPOD_DOMAIN": "elsewhere.test"})
    proc = other.run("health", tenant, "--format", "json", check=False)
    assert proc.returncode == 1, proc.stderr
    assert "404 (no route)" in proc.stdout
    env.run("pod", "delete", ref, "--yes")


def test_other_instances_pods_are_not_routed(
    proxied: Proxied, agentpod_env: Env, test_image: str
) -> None:
    """Another AgentPod instance on the same engine: its pods carry Traefik labels too, but
    this instance's Traefik must never route them."""
    tenant = new_tenant(agentpod_env)
    ref = f"{tenant}/web"
    create_pod(agentpod_env, ref, test_image)
    mine = new_tenant(proxied.env)
    create_pod(proxied.env, f"{mine}/web", test_image)
    proxied.wait_status(f"{mine}-web", 200)  # our routes are live, so theirs had time too
    assert proxied.get(f"{tenant}-web")[0] == 404
    agentpod_env.run("pod", "delete", ref, "--yes")
    proxied.env.run("pod", "delete", f"{mine}/web", "--yes")


def _status_for_host(proxied: Proxied, host: str) -> tuple[int, str]:
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", proxied.port, timeout=5)
    try:
        conn.request("GET", "/", headers={"Host": host})
        resp = conn.getresponse()
        return resp.status, resp.read().decode()
    finally:
        conn.close()


@pytest.mark.slow
def test_custom_domains_route_and_clash(proxied: Proxied, test_image: str) -> None:
    from tests.support.proc import wait_until

    env = proxied.env
    tenant = new_tenant(env)
    ref, custom = f"{tenant}/web", f"claw.{tenant}.example.com"
    create_pod(env, ref, test_image, "--domain", custom)
    assert env.json("pod", "status", ref)["domains"] == [custom]
    wait_until(lambda: _status_for_host(proxied, custom) == (200, f"{ref}\n"), 15)
    clash = env.run(
        "pod",
        "create",
        f"{tenant}/other",
        "--type",
        "generic",
        "--image",
        test_image,
        "--domain",
        custom,
        "--no-wait",
        check=False,
    )
    assert clash.returncode == 1 and f"already routed to pod {ref}" in clash.stderr
    env.run("pod", "domains", ref, "--remove", custom)
    wait_until(lambda: _status_for_host(proxied, custom)[0] == 404, 15)
    assert proxied.wait_status(f"{tenant}-web", 200).strip() == ref
    env.run("pod", "delete", ref, "--yes")
