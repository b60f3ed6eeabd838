"""Disaster recovery end to end, on a "fresh VPS" (tests/support/vps.py): AgentPod installed with
``curl | bash``, pods with files in their volumes (a generic one with a custom domain, an
OpenClaw-type one with a paired device in its state dir), ``backup create --to``, the archive
copied off the machine, ``uninstall --purge --yes`` (the machine is clean afterwards), a new
``curl | bash`` whose first admin logs in, a damaged archive refused with nothing changed, then
``backup restore``: every file byte for byte, the same URLs answering, tenant settings, domains,
configs, the same gateway token in the re-rendered config; a second restore refuses to
overwrite.

The OpenClaw pod here runs the gateway-shaped stand-in image (quick to load into the VPS's
engine); test_reinstall_openclaw.py does the same with the real gateway (LIVE=1): its token,
a device paired by a real handshake, and its files, through purge, reinstall and restore."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from tests.support.backups import corrupt
from tests.support.images import fake_openclaw_image, web_image
from tests.support.vps import Vps, first_admin, get_agentpod
from tests.support.vps_cli import (
    agentpod,
    agentpod_json,
    check_purged,
    host_of,
    put_files,
    volume_files,
)

pytestmark = pytest.mark.slow

CLAW_DIR = "/home/node/.openclaw"
WEB, CLAW = "acme/web", "acme/gw"


def test_backup_purge_reinstall_restore(vps: Vps, served: str, tmp_path: Path) -> None:
    timings: dict[str, float] = {}
    started = time.monotonic()

    def lap(name: str) -> None:
        timings[name] = round(time.monotonic() - started - sum(timings.values()), 1)

    get_agentpod(vps, served)
    for image in (web_image(), fake_openclaw_image()):
        vps.load_image(image)
    lap("install, images loaded")

    agentpod(vps, "tenant", "create", "acme", "--rate-average", "7", "--rate-burst", "9")
    web = ("--type", "generic", "--image", web_image(), "--domain", "web.example.test")
    agentpod(vps, "pod", "create", WEB, *web)
    blob = os.urandom(2_000_000)
    put_files(vps, WEB, "/data", {"notes.txt": b"hello\n", "deep/er/blob.bin": blob})
    before = {WEB: volume_files(vps, WEB, "/data")}
    agentpod(vps, "pod", "create", CLAW, "--image", fake_openclaw_image(), "--memory", "64m")
    paired = b'{"device-1": {"approved": true}}'
    put_files(vps, CLAW, CLAW_DIR, {"devices/paired.json": paired, "MEMORY.md": os.urandom(5000)})
    before[CLAW] = volume_files(vps, CLAW, CLAW_DIR)
    token = agentpod_json(vps, "pod", "token", CLAW)["token"]
    urls = {ref: agentpod_json(vps, "pod", "status", ref)["url"] for ref in before}
    # last: the pod is recreated with it (writing files just after raced the recreation)
    agentpod(vps, "config", "set", WEB, "--key", "env.GREETING", "--value", "hello")
    lap("pods made")

    made = agentpod_json(vps, "backup", "create", "--to", "/root/all.tar.gz")
    assert sorted(made["pods"]) == sorted(before)
    archive = tmp_path / "all.tar.gz"  # kept off the machine, as it should be
    archive.write_bytes(vps.pipe("cat /root/all.tar.gz && rm /root/all.tar.gz"))
    lap("backup")

    agentpod(vps, "uninstall", "--purge", "--yes")
    check_purged(vps)
    me = first_admin(vps, get_agentpod(vps, served))
    assert (me["name"], me["role"]) == ("admin", "admin")
    lap("purge, reinstall")

    bad = corrupt(archive, blob[:64], tmp_path / "bad.tar")
    vps.pipe("cat > /root/bad.tar", bad.read_bytes())
    failed = agentpod(vps, "backup", "restore", "/root/bad.tar", "--yes", check=False)
    assert failed.returncode == 1
    assert failed.stderr.count("error:") == 1 and "Traceback" not in failed.stderr
    assert "volumes/acme/web.tar is corrupted" in failed.stderr.strip().splitlines()[-1]
    assert agentpod_json(vps, "tenant", "list") == []
    assert vps.exec("docker volume ls -q; docker ps -aq").stdout.strip() == ""

    vps.pipe("cat > /root/all.tar.gz", archive.read_bytes())
    restored = agentpod_json(vps, "backup", "restore", "/root/all.tar.gz")
    assert sorted(restored["pods"]) == sorted(before)
    lap("restore")

    assert {ref: agentpod_json(vps, "pod", "status", ref)["url"] for ref in urls} == urls
    assert vps.wait_http(host_of(vps, WEB)) == f"{WEB}\n"
    assert vps.wait_http("web.example.test") == f"{WEB}\n"
    assert volume_files(vps, WEB, "/data") == before[WEB]
    settings = agentpod_json(vps, "tenant", "status", "acme")["settings"]
    assert (settings["rate_average"], settings["rate_burst"]) == (7, 9)
    assert agentpod_json(vps, "pod", "status", WEB)["domains"] == ["web.example.test"]
    assert json.loads(agentpod(vps, "config", "get", WEB).stdout)["env"]["GREETING"] == "hello"
    assert vps.wait_http(host_of(vps, CLAW))
    assert agentpod_json(vps, "pod", "token", CLAW)["token"] == token
    rendered = ("/openclaw.json", "/last-start")  # rendered again at each start
    after = volume_files(vps, CLAW, CLAW_DIR)
    assert {k: v for k, v in after.items() if not k.endswith(rendered)} == {
        k: v for k, v in before[CLAW].items() if not k.endswith(rendered)
    }
    config = json.loads(after[".openclaw/openclaw.json"][0])
    assert config["gateway"]["auth"]["token"] == token

    twice = agentpod(vps, "backup", "restore", "/root/all.tar.gz", check=False)
    assert twice.returncode == 1
    assert f"pod {WEB} exists (pass --yes to replace it)" in twice.stderr
    lap("checks")
    print(f"\nreinstall-restore timings (s): {json.dumps(timings)}")
