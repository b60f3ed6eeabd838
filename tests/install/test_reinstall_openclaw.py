"""Disaster recovery with the real OpenClaw gateway (LIVE=1), on a fresh VPS: AgentPod installed
with ``curl | bash``, an OpenClaw pod whose gateway paired a device (a real handshake through the
VPS's Traefik from this machine, approved with ``pod devices approve``) and holds a file the
agent wrote; ``backup create``, the archive kept off the machine, ``uninstall --purge --yes``,
a new ``curl | bash``, ``backup restore``: the file byte for byte, the same token, and the same
device's handshake accepted without pairing again."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from tests.live.claw import START
from tests.live.gateway_client import ConnectResult, DeviceIdentity, connect
from tests.support.proc import wait_until
from tests.support.vps import Vps, get_agentpod
from tests.support.vps_cli import (
    agentpod,
    agentpod_json,
    check_purged,
    host_of,
    put_files,
    volume_files,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.live,
    pytest.mark.skipif(os.environ.get("LIVE") != "1", reason="live tests need LIVE=1"),
]

CLAW = "acme/gw"
STATE = "/home/node/.openclaw"
NOTES = "workspace/notes-from-the-agent.md"


def hello(vps: Vps, token: str, device: DeviceIdentity) -> ConnectResult:
    """The gateway's handshake through the VPS's Traefik (port 80), from this machine."""
    found = connect(f"ws://{vps.address()}:80", token, host=host_of(vps, CLAW), device=device)
    assert isinstance(found, ConnectResult)
    return found


def answered(vps: Vps) -> bool:
    return vps.http(host_of(vps, CLAW), "/readyz")[0] == 200


def test_a_real_gateway_keeps_its_token_and_paired_device(
    vps: Vps, served: str, tmp_path: Path
) -> None:
    from tests.live.images.openclaw.build import ensure_openclaw_image

    timings: dict[str, float] = {}
    started = time.monotonic()

    def lap(name: str) -> None:
        timings[name] = round(time.monotonic() - started - sum(timings.values()), 1)

    image = ensure_openclaw_image()
    get_agentpod(vps, served)
    vps.load_image(image)
    lap("install, image loaded")

    agentpod(vps, "tenant", "create", "acme")
    agentpod(vps, "pod", "create", CLAW, "--type", "openclaw", "--image", image, "--timeout", START)
    wait_until(lambda: answered(vps), timeout=120, every=1)
    token = agentpod_json(vps, "pod", "token", CLAW)["token"]
    device = DeviceIdentity.generate()
    first = hello(vps, token, device)
    assert not first.ok and first.error and first.error["code"] == "NOT_PAIRED", first
    assert first.request_id
    agentpod(vps, "pod", "devices", "approve", CLAW, first.request_id)
    assert hello(vps, token, device).ok
    notes = os.urandom(4096)
    put_files(vps, CLAW, STATE, {NOTES: notes})
    assert volume_files(vps, CLAW, f"{STATE}/{NOTES}")[Path(NOTES).name][0] == notes
    lap("pod made, device paired")

    agentpod(vps, "backup", "create", "--to", "/root/all.tar.gz")
    archive = tmp_path / "all.tar.gz"  # kept off the machine
    archive.write_bytes(vps.pipe("cat /root/all.tar.gz && rm /root/all.tar.gz"))
    agentpod(vps, "uninstall", "--purge", "--yes")
    check_purged(vps)
    get_agentpod(vps, served)
    lap("backup, purge, reinstall")

    vps.pipe("cat > /root/all.tar.gz", archive.read_bytes())
    restored = agentpod_json(vps, "backup", "restore", "/root/all.tar.gz")
    assert restored["pods"] == [CLAW]
    wait_until(lambda: answered(vps), timeout=int(START), every=1)
    lap("restore")

    assert agentpod_json(vps, "pod", "token", CLAW)["token"] == token
    again = hello(vps, token, device)  # no new pairing request: the device is still paired
    assert again.ok and again.role == "operator", again
    paired = [d["device_id"] for d in agentpod_json(vps, "pod", "devices", CLAW)]
    assert device.device_id in paired
    assert volume_files(vps, CLAW, f"{STATE}/{NOTES}")[Path(NOTES).name][0] == notes
    print(f"\nreinstall with OpenClaw, timings (s): {json.dumps(timings)}")
