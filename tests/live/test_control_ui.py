"""OpenClaw's Control UI in real headless Chromium, at the address ``agentpod pod open`` prints:
from this machine (Traefik on loopback) and from a client elsewhere (a network namespace of the
test's own). Pairing goes through ``agentpod pod devices``; the gateway's own device list says
which address it saw. LIVE=1; screenshots are saved as artifacts (their paths are printed)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from tests.live.browser import chromium, screenshot
from tests.live.claw import Claw, claw_instance
from tests.live.gateway_client import DeviceIdentity
from tests.support.netns import Netns, network_namespace
from tests.support.proc import wait_until

pytestmark = [
    pytest.mark.live,
    pytest.mark.slow,
    pytest.mark.skipif(os.environ.get("LIVE") != "1", reason="live tests need LIVE=1"),
]

ROOT = Path(__file__).resolve().parents[2]
UI_WAIT_MS = 60_000
TOKEN_ERROR = "This Gateway expects its token"  # the Control UI's own words
SPOOFED = {"X-Real-Ip": "203.0.113.65", "Forwarded": "for=203.0.113.64"}


@pytest.fixture(scope="module")
def claw(docker_client: docker.DockerClient) -> Iterator[Claw]:
    with claw_instance(docker_client, bind="0.0.0.0") as c:  # reachable from a namespace
        yield c


@pytest.fixture
def netns() -> Iterator[Netns]:
    with network_namespace() as ns:
        yield ns


def open_url(claw: Claw, ref: str) -> str:
    url = claw.cli("pod", "open", ref, "--no-open").stdout.strip()
    assert url == f"{claw.status(ref)['url']}/#token={claw.token(ref)}"
    return url


def load(page, url: str, until, timeout: float = 90) -> None:
    """Open ``url`` until ``until()`` holds. Chromium aborts loads with ERR_NETWORK_CHANGED
    whenever an interface comes or goes on this shared machine (Docker networks, veths): the
    UI then says "This view could not load", and the page is loaded again."""

    def settled() -> bool:
        if "could not load" in page.inner_text("body"):
            page.goto("about:blank")
            page.goto(url)
        return bool(until())

    page.goto(url)
    wait_until(settled, timeout=timeout, every=1)


def pending_browser(claw: Claw, ref: str) -> dict | None:
    """The Control UI's pairing request, as ``agentpod pod devices`` lists it."""
    pending = [d for d in claw.devices(ref) if d["status"] == "pending"]
    return next((d for d in pending if d["client"] == "openclaw-control-ui"), None)


def pair_in_browser(claw: Claw, ref: str, url: str, browser, name: str) -> dict:
    """The UI passes gateway auth with the token from the fragment and asks to be paired;
    ``agentpod pod devices approve`` pairs it."""
    page = browser.new_page()
    load(page, url, lambda: pending_browser(claw, ref))
    screenshot(page, f"{name}-pairing")
    request = pending_browser(claw, ref)
    assert request
    claw.cli("pod", "devices", "approve", ref, request["request_id"])
    paired = [d for d in claw.devices(ref) if d["device_id"] == request["device_id"]]
    assert [d["status"] for d in paired] == ["paired"]
    page.close()
    return request


def test_local_browser_pairs_and_connects(claw: Claw) -> None:
    url = open_url(claw, claw.ref)
    with chromium("127.0.0.1") as browser:
        request = pair_in_browser(claw, claw.ref, url, browser, "control-ui-local")
    assert request["remote_ip"] == claw.host_address(claw.ref)  # this machine, as pods see it


def test_remote_browser_pairs_and_connects(claw: Claw, netns: Netns) -> None:
    url = open_url(claw, claw.ref).replace("127.0.0.1", netns.host_ip)
    with chromium(netns.host_ip, netns) as browser:
        request = pair_in_browser(claw, claw.ref, url, browser, "control-ui-remote")
    assert request["remote_ip"] == netns.client_ip  # its own address, as today


def test_wrong_or_foreign_token_shows_the_auth_error(claw: Claw) -> None:
    other = f"{claw.tenant}/other"
    claw.create(other)
    try:
        mine = open_url(claw, claw.ref)
        base = mine.split("#", 1)[0]
        foreign = f"{base}#token={claw.token(other)}"
        with chromium("127.0.0.1") as browser:
            for name, url in (("wrong", f"{base}#token=not-the-token"), ("foreign", foreign)):
                page = browser.new_page()
                load(page, url, lambda page=page: TOKEN_ERROR in page.inner_text("body"))
                screenshot(page, f"control-ui-{name}-token")
                page.close()
        assert not [d for d in claw.devices(claw.ref) if d["status"] == "pending"]
    finally:
        claw.cli("pod", "delete", other, "--yes")


def spoofing_client(ns: Netns, url: str, host: str, token: str, forwarded_for: str) -> str:
    """A device-identity handshake from the namespace that names another client in every
    header it can; returns the pairing request id the gateway gave it."""
    code = (
        "import json, sys\n"
        "from tests.live.gateway_client import DeviceIdentity, connect\n"
        "url, host, token, xff, extra = sys.argv[1:6]\n"
        "r = connect(url, token, host=host, device=DeviceIdentity.generate(),\n"
        "            forwarded_for=xff, extra_headers=json.loads(extra))\n"
        "print(json.dumps({'code': r.code, 'request_id': r.request_id}))\n"
    )
    argv = ns.argv(sys.executable, "-c", code, url, host, token, forwarded_for, json.dumps(SPOOFED))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["code"] in ("NOT_PAIRED", "PAIRING_REQUIRED"), result
    return result["request_id"]


def test_spoofed_forwarded_headers_do_not_move_the_client(claw: Claw, netns: Netns) -> None:
    host, token = claw.host(claw.ref), claw.token(claw.ref)
    url = f"ws://{netns.host_ip}:{claw.px.port}"
    remote = spoofing_client(netns, url, host, token, forwarded_for="127.0.0.1")
    elsewhere = spoofing_client(netns, url, host, token, forwarded_for="203.0.113.66")
    seen = {d["request_id"]: d["remote_ip"] for d in claw.devices(claw.ref)}
    assert seen[remote] == seen[elsewhere] == netns.client_ip
    # and from this machine: Traefik's own X-Real-Ip, not the one sent
    device = DeviceIdentity.generate()
    local = claw.hello(
        claw.ref, token, device=device, forwarded_for="203.0.113.66", extra_headers=SPOOFED
    )
    seen = {d["request_id"]: d["remote_ip"] for d in claw.devices(claw.ref)}
    assert seen[local.request_id] == claw.host_address(claw.ref)
