"""The real OpenClaw gateway run by AgentPod, reached through Traefik by Host header (LIVE=1).

One ``agentpod serve --with-proxy`` per module (per xdist worker) with its own PostgreSQL and
Traefik; every pod is created, paired, killed, upgraded and re-keyed through AgentPod's CLI.
The test client dials Traefik on loopback, as a browser on the AgentPod machine does: Traefik
names it to the gateway as the host's address on the pod's network (X-Real-Ip), because
OpenClaw refuses a client a trusted proxy names as loopback (403 proxy_attribution_required).
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator

import docker
import pytest

from tests.live.claw import START, Claw, claw_instance
from tests.live.gateway_client import request
from tests.support.proc import wait_until

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(os.environ.get("LIVE") != "1", reason="live tests need LIVE=1"),
]

STATE = "/home/node/.openclaw"


@pytest.fixture(scope="module")
def claw(docker_client: docker.DockerClient) -> Iterator[Claw]:
    with claw_instance(docker_client) as c:
        yield c


def test_ready_and_handshake_through_traefik(claw: Claw) -> None:
    status, body = claw.get(claw.ref, "/readyz")  # a client on this machine (loopback)
    assert status == 200 and json.loads(body)["ready"] is True
    # a client that names itself gets the same: Traefik rebuilds X-Forwarded-For
    spoofed = {"X-Forwarded-For": "203.0.113.9", "X-Real-Ip": "127.0.0.1", "Forwarded": "for=x"}
    assert claw.get(claw.ref, "/readyz", spoofed)[0] == 200

    result = claw.hello(claw.ref, claw.token(claw.ref))
    assert result.challenge["event"] == "connect.challenge"
    assert result.ok and result.hello and result.hello["type"] == "hello-ok"
    assert result.hello["protocol"] == 4


def test_container_is_what_the_adapter_promised(claw: Claw) -> None:
    pod = claw.status(claw.ref)
    container = claw.docker.containers.get(pod["container_id"])
    assert container.attrs["HostConfig"]["Memory"] == pod["memory_mb"] * 1024 * 1024
    assert container.attrs["HostConfig"]["ReadonlyRootfs"] is True
    assert container.attrs["Config"]["Healthcheck"]["Test"] == ["NONE"]
    assert container.attrs["Config"]["Hostname"] == container.name  # the state lease's key
    owner = container.exec_run(["stat", "-c", "%u:%g %a", STATE]).output.decode().strip()
    assert owner == "1000:1000 700"
    config = json.loads(container.exec_run(["cat", f"{STATE}/openclaw.json"]).output)
    gateway_ip = claw.host_address(claw.ref)
    assert config["gateway"]["trustedProxies"] == [gateway_ip]  # where host Traefik comes from
    assert config["gateway"]["allowRealIpFallback"] is True  # how it names local clients
    assert config["gateway"]["controlUi"]["allowedOrigins"] == [pod["url"]]


def test_tokens_are_per_pod_and_open_websockets_survive_churn(claw: Claw) -> None:
    opened = claw.connect(claw.ref, claw.token(claw.ref), keep_open=True)
    assert isinstance(opened, tuple)
    result, ws = opened
    try:
        assert result.ok
        other = f"{claw.tenant}/other"
        claw.create(other)
        mine, theirs = claw.token(claw.ref), claw.token(other)
        assert claw.hello(claw.ref, theirs).code == "AUTH_TOKEN_MISMATCH"
        assert claw.hello(other, mine).code == "AUTH_TOKEN_MISMATCH"
        assert claw.hello(other, theirs).ok
        claw.cli("pod", "delete", other, "--yes")
        # and a pod of another tenant, on another network, comes and goes
        neighbour = f"n{uuid.uuid4().hex[:8]}"
        claw.cli("tenant", "create", neighbour)
        claw.create(f"{neighbour}/gw")
        claw.cli("pod", "delete", f"{neighbour}/gw", "--yes")
        claw.cli("tenant", "delete", neighbour)
        health = request(ws, "health")  # the same connection, still served
        assert health["ok"] and health["payload"]["ok"] is True
    finally:
        ws.close()


def test_device_pairing_through_the_cli(claw: Claw, test_image: str) -> None:
    device, token, request_id = claw.pairing_request(claw.ref)
    pending = [d for d in claw.px.env.json("pod", "devices", claw.ref) if d["status"] == "pending"]
    assert [(d["request_id"], d["device_id"]) for d in pending] == [(request_id, device.device_id)]
    assert pending[0]["remote_ip"] == claw.host_address(claw.ref)  # this machine, as pods see it
    table = claw.cli("pod", "devices", claw.ref).stdout
    assert request_id in table  # whole, so it can be copied into approve

    wrong = claw.cli("pod", "devices", "approve", claw.ref, "no-such-request", check=False)
    assert wrong.returncode == 1
    assert wrong.stderr.strip().splitlines() == [
        f"error: pod {claw.ref}: no pending pairing request no-such-request: "
        "see 'agentpod pod devices'"
    ]
    claw.cli("pod", "devices", "approve", claw.ref, request_id)

    second = claw.hello(claw.ref, token, device=device)
    assert second.ok and "operator.admin" in second.scopes and second.role == "operator"
    paired = [d["device_id"] for d in claw.px.env.json("pod", "devices", claw.ref)]
    assert device.device_id in paired

    web = f"{claw.tenant}/web"
    claw.cli("pod", "create", web, "--type", "generic", "--image", test_image)
    refused = claw.cli("pod", "devices", web, check=False)
    assert refused.returncode == 1
    assert "only openclaw pods pair devices" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    claw.cli("pod", "delete", web, "--yes")


def test_docker_kill_comes_back_healthy(claw: Claw) -> None:
    cid = claw.status(claw.ref)["container_id"]
    before = claw.docker.api.inspect_container(cid)["State"]["StartedAt"]
    claw.docker.api.kill(cid)

    def restarted() -> bool:
        state = claw.docker.api.inspect_container(cid)["State"]
        return state["Running"] and state["StartedAt"] != before

    with claw.explained(claw.ref):
        wait_until(restarted, timeout=60)  # serve saw the "die" event and started it again
    claw.ready_via_traefik(claw.ref)
    assert claw.hello(claw.ref, claw.token(claw.ref)).ok
    with claw.explained(claw.ref):
        wait_until(lambda: claw.status(claw.ref)["ready"], timeout=30)


def test_upgrade_keeps_the_state_dir(claw: Claw) -> None:
    device = claw.pair(claw.ref)
    old = claw.status(claw.ref)["container_id"]
    target = claw.image_b if claw.status(claw.ref)["image"] != claw.image_b else claw.image
    claw.cli("pod", "upgrade", claw.ref, "--image", target, "--timeout", START)

    pod = claw.status(claw.ref)
    assert pod["container_id"] != old and pod["image"] == target
    assert claw.docker.containers.get(pod["container_id"]).image.id == (
        claw.docker.images.get(target).id
    )
    claw.ready_via_traefik(claw.ref)
    again = claw.hello(claw.ref, claw.token(claw.ref), device=device)  # no new pairing needed
    assert again.ok and "operator.admin" in again.scopes


def test_token_rotation(claw: Claw) -> None:
    device = claw.pair(claw.ref)
    old = claw.token(claw.ref)
    out = claw.px.env.json("pod", "token", claw.ref, "--rotate", "--timeout", START)
    assert out["rotated"] is True and out["token"] != old
    claw.ready_via_traefik(claw.ref)
    assert claw.hello(claw.ref, old).code == "AUTH_TOKEN_MISMATCH"
    assert claw.hello(claw.ref, old, device=device).code == "AUTH_TOKEN_MISMATCH"
    assert claw.hello(claw.ref, out["token"]).ok
    assert claw.token(claw.ref) == out["token"]
    # a paired device stays paired: the shared token changed, not its pairing
    kept = claw.hello(claw.ref, out["token"], device=device)
    assert kept.ok and "operator.admin" in kept.scopes


def test_backup_restore_keeps_token_and_paired_device(claw: Claw, tmp_path) -> None:
    tenant = f"ob{uuid.uuid4().hex[:8]}"
    ref = f"{tenant}/gw"
    claw.cli("tenant", "create", tenant)
    claw.create(ref)
    device = claw.pair(ref)
    token = claw.token(ref)
    archive = tmp_path / "tenant.tar.gz"
    made = claw.px.env.json("backup", "create", "--to", str(archive), "--tenant", tenant)
    assert made["pods"] == [ref]
    claw.cli("pod", "delete", ref, "--yes")
    claw.cli("tenant", "delete", tenant)

    restored = claw.cli("backup", "restore", str(archive), "--no-wait", "--format", "json")
    assert json.loads(restored.stdout)["pods"] == [ref]
    claw.ready_via_traefik(ref, timeout=float(START))
    assert claw.token(ref) == token
    again = claw.hello(ref, token, device=device)  # the same device, no new pairing
    assert again.ok and "operator.admin" in again.scopes
    claw.cli("pod", "delete", ref, "--yes")
    claw.cli("tenant", "delete", tenant)
