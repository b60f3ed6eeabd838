"""Live checks of the real OpenClaw gateway image, run the way AgentPod runs it (LIVE=1).

Builds (or reuses) agentpod-live/openclaw:2026.9.6 with images/openclaw/build.py, starts one
container with a read-only rootfs, dropped capabilities and a pre-filled state volume, and checks
readiness, the WebSocket handshake, and device pairing through the in-container CLI.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.error
import urllib.request
import uuid

import pytest

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(
        os.environ.get("LIVE") != "1", reason="live tests need LIVE=1 and a Docker engine"
    ),
]

TOKEN = "live-" + uuid.uuid4().hex
FORWARDED_FOR = (
    "203.0.113.7"  # the host reaches the container from a trusted-proxy IP: say who the client is
)
STATE = "/home/node/.openclaw"


def docker(*args: str, check: bool = True, input: str | None = None) -> str:
    proc = subprocess.run(["docker", *args], capture_output=True, text=True, input=input)
    if check and proc.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)} failed: {proc.stderr.strip()}")
    return proc.stdout


def http_get(url: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=2) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


@pytest.fixture(scope="module")
def gateway():
    from tests.live.images.openclaw.build import ensure_openclaw_image

    image = ensure_openclaw_image()
    suffix = uuid.uuid4().hex[:8]
    net, vol, name = f"aplive-net-{suffix}", f"aplive-state-{suffix}", f"aplive-openclaw-{suffix}"
    docker("network", "create", net)
    gateway_ip = json.loads(docker("network", "inspect", net))[0]["IPAM"]["Config"][0]["Gateway"]
    config = {
        "gateway": {
            "mode": "local",
            "bind": "lan",
            "port": 18789,
            "auth": {"mode": "token", "token": TOKEN},
            "controlUi": {"allowedOrigins": ["http://acme-agent.localhost:8080"]},
            "trustedProxies": [gateway_ip],
        }
    }
    try:
        docker("volume", "create", vol)
        docker(
            "run",
            "--rm",
            "-i",
            "--user",
            "0",
            "-v",
            f"{vol}:/s",
            "--entrypoint",
            "/bin/sh",
            image,
            "-c",
            "cat > /s/openclaw.json && chown -R 1000:1000 /s && chmod 700 /s",
            input=json.dumps(config),
        )
        started = time.monotonic()
        docker(
            "run",
            "-d",
            "--name",
            name,
            "--network",
            net,
            "--read-only",
            "--tmpfs",
            "/tmp",
            "--cap-drop",
            "ALL",
            "--security-opt",
            "no-new-privileges",
            "--user",
            "1000:1000",
            "-m",
            "1536m",
            "-v",
            f"{vol}:{STATE}",
            "-e",
            f"OPENCLAW_STATE_DIR={STATE}",
            "-e",
            f"OPENCLAW_CONFIG_PATH={STATE}/openclaw.json",
            "-e",
            "OPENCLAW_DISABLE_BONJOUR=1",
            "-e",
            "HOME=/home/node",
            "-e",
            "XDG_CACHE_HOME=/tmp/.cache",  # ~/.cache is on the read-only rootfs
            "-e",
            "NODE_OPTIONS=--max-old-space-size=1152",
            image,
        )
        ip = docker(
            "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", name
        ).strip()
        base = f"http://{ip}:18789"
        while True:
            try:
                status, _ = http_get(f"{base}/readyz", {"X-Forwarded-For": FORWARDED_FOR})
            except OSError:
                status = 0
            if status == 200:
                break
            state = docker("inspect", "-f", "{{.State.Status}}", name).strip()
            if state != "running" or time.monotonic() - started > 180:
                raise AssertionError(
                    f"gateway not ready ({state}):\n{docker('logs', name, check=False)}"
                )
            time.sleep(0.25)
        yield {
            "name": name,
            "ip": ip,
            "http": base,
            "ws": f"ws://{ip}:18789",
            "network": net,
            "image": image,
            "ready_s": time.monotonic() - started,
        }
    finally:
        docker("rm", "-f", name, check=False)
        docker("volume", "rm", vol, check=False)
        docker("network", "rm", net, check=False)


def test_health_endpoints(gateway):
    assert http_get(f"{gateway['http']}/healthz") == (200, '{"ok":true,"status":"live"}')
    status, body = http_get(f"{gateway['http']}/readyz", {"X-Forwarded-For": FORWARDED_FOR})
    assert status == 200 and json.loads(body)["ready"] is True
    # from a trusted-proxy address without a forwarded client: refused
    status, body = http_get(f"{gateway['http']}/readyz")
    assert status == 403 and json.loads(body)["error"]["type"] == "proxy_attribution_required"


STATUS_JS = (
    "const [url, headers] = process.argv.slice(1);"
    "fetch(url, {headers: JSON.parse(headers)}).then(r => console.log(r.status),"
    " () => console.log(0));"
)


def status_from(node: list[str], url: str, headers: dict[str, str] | None = None) -> int:
    """The status of a GET of ``url`` by node's fetch, run by ``docker *node``."""
    return int(docker(*node, "-e", STATUS_JS, url, json.dumps(headers or {})).strip())


def test_what_the_gateway_makes_of_each_client_address(gateway):
    """The README's *Client addresses*, measured: forwarded headers count only from
    ``gateway.trustedProxies`` (here the network's gateway address, i.e. this host), and
    there only a client that is neither loopback nor a trusted proxy is accepted."""
    ready = f"{gateway['http']}/readyz"
    from_host = [
        ({"X-Forwarded-For": "10.9.8.7"}, 200),  # a private client, named by the proxy
        ({"X-Forwarded-For": "203.0.113.7, 127.0.0.1"}, 200),  # loopback hops are skipped
        ({"X-Forwarded-For": "127.0.0.1"}, 403),  # a loopback client behind a proxy
        ({"X-Real-IP": "203.0.113.7"}, 403),  # read only with allowRealIpFallback
        ({"Forwarded": "for=203.0.113.7"}, 403),  # RFC 7239 is never read for the address
    ]
    assert [http_get(ready, headers)[0] for headers, _ in from_host] == [s for _, s in from_host]
    local = "http://127.0.0.1:18789/readyz"
    inside = ["exec", gateway["name"], "node"]  # loopback: a direct local client...
    assert status_from(inside, local) == 200
    assert status_from(inside, local, {"X-Forwarded-For": "203.0.113.7"}) == 403  # ...or not
    beside = ["run", "--rm", "--network", gateway["network"], "--entrypoint", "node"]
    beside.append(gateway["image"])  # another address on the network, not a trusted proxy
    assert status_from(beside, ready) == 200
    assert status_from(beside, ready, {"X-Forwarded-For": "203.0.113.7"}) == 403


def test_token_handshake(gateway):
    from tests.live.gateway_client import connect

    ok = connect(gateway["ws"], TOKEN, forwarded_for=FORWARDED_FOR)
    assert ok.ok and ok.hello["type"] == "hello-ok" and ok.hello["protocol"] == 4
    assert ok.role == "operator" and ok.scopes == []  # shared token without a device: no scopes
    bad = connect(gateway["ws"], "wrong", forwarded_for=FORWARDED_FOR)
    assert not bad.ok and bad.code == "AUTH_TOKEN_MISMATCH"
    origin = connect(
        gateway["ws"],
        TOKEN,
        forwarded_for=FORWARDED_FOR,
        origin="http://evil.localhost:8080",
        client_id="openclaw-control-ui",
        client_mode="webchat",
    )
    assert origin.code == "CONTROL_UI_ORIGIN_NOT_ALLOWED"


def test_device_pairing_via_cli(gateway):
    from tests.live.gateway_client import DeviceIdentity, connect

    device = DeviceIdentity.generate()
    first = connect(gateway["ws"], TOKEN, device=device, forwarded_for=FORWARDED_FOR)
    assert not first.ok and first.error["code"] == "NOT_PAIRED" and first.code == "PAIRING_REQUIRED"
    request_id = first.request_id
    assert request_id and first.error["details"]["deviceId"] == device.device_id

    listed = json.loads(docker("exec", gateway["name"], "openclaw", "devices", "list", "--json"))
    assert [p["requestId"] for p in listed["pending"]] == [request_id]
    approved = json.loads(
        docker("exec", gateway["name"], "openclaw", "devices", "approve", request_id, "--json")
    )
    assert (
        approved["requestId"] == request_id and approved["device"]["deviceId"] == device.device_id
    )

    second = connect(gateway["ws"], TOKEN, device=device, forwarded_for=FORWARDED_FOR)
    assert second.ok and "operator.admin" in second.scopes and second.hello["auth"]["deviceToken"]
    listed = json.loads(docker("exec", gateway["name"], "openclaw", "devices", "list", "--json"))
    assert listed["pending"] == [] and [p["deviceId"] for p in listed["paired"]] == [
        device.device_id
    ]
