"""OpenClaw's Control UI in real headless Chromium, at the address ``agentpod pod open`` prints:
from this machine (Traefik on loopback) and from a client elsewhere (a network namespace of the
test's own). Pairing goes through ``agentpod pod devices``; the gateway's own device list says
which address it saw. LIVE=1; screenshots are saved as artifacts (their paths are printed).

The instance's domain is a real name (``.test``, RFC 6761), not ``localhost``: a page on plain
HTTP there is no secure context (no ``crypto.subtle``), as for any remote user without TLS, and
the Control UI must pair and connect anyway (it signs with its own Ed25519 code). The pod also
answers on a ``*.localhost`` name (a custom domain, allowed as an origin), the secure context a
browser on this machine gets from a local install (``domain = "localhost"``)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import docker
import pytest

from tests.live.browser import Watch, chromium, goto, screenshot
from tests.live.claw import Claw, claw_instance
from tests.live.gateway_client import DeviceIdentity
from tests.support.netns import Netns, network_namespace
from tests.support.proc import wait_until
from tests.support.proxied import Proxied

pytestmark = [
    pytest.mark.live,
    pytest.mark.slow,
    pytest.mark.skipif(os.environ.get("LIVE") != "1", reason="live tests need LIVE=1"),
]

ROOT = Path(__file__).resolve().parents[2]
DOMAIN = "agentpod.test"
LOCALHOST = "control-ui.localhost"  # Chromium resolves *.localhost to loopback itself
UI_WAIT_S = 150  # the UI retries with a growing back-off while a request waits
PAIRING = "Approve this browser"  # the Control UI's own words, here and below
LOST = "needs a matching token or password"  # the UI without a token
APPROVE = re.compile(r"openclaw devices approve (\S+)")
REJECTED = "rejected the supplied Gateway secret"
SPOOFED = {"X-Real-Ip": "203.0.113.65", "Forwarded": "for=203.0.113.64"}


def on_localhost_too(px: Proxied) -> tuple[str, ...]:
    origin = json.dumps([f"http://{LOCALHOST}:{px.port}"])
    return ("--domain", LOCALHOST, "--set", f"allowed_origins={origin}")


@pytest.fixture(scope="module")
def claw(docker_client: docker.DockerClient) -> Iterator[Claw]:
    # Traefik on every address: reachable from a namespace
    with claw_instance(docker_client, "0.0.0.0", on_localhost_too, AGENTPOD_DOMAIN=DOMAIN) as c:
        yield c


@pytest.fixture
def netns() -> Iterator[Netns]:
    with network_namespace() as ns:
        yield ns


def open_url(claw: Claw, ref: str) -> str:
    url = claw.cli("pod", "open", ref, "--no-open").stdout.strip()
    assert url == f"{claw.status(ref)['url']}/#token={claw.token(ref)}"
    return url


def text(page: Any) -> str:
    return page.inner_text("body")


def until(page: Any, url: str, watch: Watch, goal: Callable[[], bool], what: str) -> None:
    """Wait until ``goal()`` holds for the page opened at ``url``. The UI keeps the token from
    the fragment in memory until it connects: when Chromium aborts the page's loads with
    ERR_NETWORK_CHANGED (see ``Watch``), the UI reloads itself without it or says "This view
    could not load". Then, and only then, the URL is opened again, as a person would."""
    seen = 0  # the network changes before the page was last opened

    def reached() -> bool:
        nonlocal seen
        if goal():
            return True
        body = text(page)
        if watch.network_changes > seen and (LOST in body or "could not load" in body):
            seen = watch.network_changes
            goto(page, "about:blank")  # else only the fragment changes: no new page
            goto(page, url)
        return False

    try:
        wait_until(reached, timeout=UI_WAIT_S, every=1)
    except AssertionError:
        raise AssertionError(f"never {what}; the page:\n{text(page)[:800]}\n{watch}") from None


def pair_and_connect(
    claw: Claw, url: str, browser: Any, name: str, secure: bool = False
) -> dict[str, Any]:
    """The UI passes gateway auth with the token from the fragment and asks to be paired;
    ``agentpod pod devices`` lists the very request the page names, ``pod devices approve``
    approves it, and the page, left open, connects on its own. Returns the request."""
    page = browser.new_page()
    watch = Watch(page)
    goto(page, url)
    until(page, url, watch, lambda: PAIRING in text(page), "the pairing step")
    screenshot(page, f"{name}-pairing")
    request_id = APPROVE.search(text(page)).group(1)  # the command the page tells you to run
    listed = [d for d in claw.devices(claw.ref) if d["request_id"] == request_id]
    assert [(d["status"], d["client"]) for d in listed] == [("pending", "openclaw-control-ui")]
    claw.cli("pod", "devices", "approve", claw.ref, request_id)

    gateway = page.get_by_role("link", name="Gateway", exact=True)  # in the connected app only
    until(page, url, watch, lambda: gateway.count() > 0, "connected after approval")
    gateway.first.click()
    connected = f"Connected to {urlsplit(url).netloc}"
    page.get_by_text(connected).wait_for(timeout=30_000)  # the Gateway settings' own status
    assert PAIRING not in text(page), watch
    assert page.evaluate("window.isSecureContext") is secure
    screenshot(page, f"{name}-connected")
    paired = [d for d in claw.devices(claw.ref) if d["device_id"] == listed[0]["device_id"]]
    assert [d["status"] for d in paired] == ["paired"]
    page.close()
    return listed[0]


@pytest.mark.parametrize("secure", [False, True], ids=["real-domain", "localhost"])
def test_local_browser_pairs_and_connects(claw: Claw, secure: bool) -> None:
    url = open_url(claw, claw.ref)
    if secure:
        url = url.replace(claw.host(claw.ref), LOCALHOST)
    name = f"control-ui-local-{'localhost' if secure else 'domain'}-{claw.tenant}"
    with chromium(DOMAIN, "127.0.0.1") as browser:
        request = pair_and_connect(claw, url, browser, name, secure)
    assert request["remote_ip"] == claw.host_address(claw.ref)  # this machine, as pods see it


def test_remote_browser_pairs_and_connects(claw: Claw, netns: Netns) -> None:
    url = open_url(claw, claw.ref)
    with chromium(DOMAIN, netns.host_ip, netns) as browser:
        request = pair_and_connect(claw, url, browser, f"control-ui-remote-{claw.tenant}")
    assert request["remote_ip"] == netns.client_ip  # its own address, as today


def test_wrong_or_foreign_token_shows_the_auth_error(claw: Claw) -> None:
    other = f"{claw.tenant}/other"
    claw.create(other)
    try:
        base = open_url(claw, claw.ref).split("#", 1)[0]
        wrong = {"wrong": "not-the-token", "foreign": claw.token(other)}
        with chromium(DOMAIN, "127.0.0.1") as browser:
            for name, token in wrong.items():
                page, url = browser.new_page(), f"{base}#token={token}"
                watch = Watch(page)
                goto(page, url)
                until(page, url, watch, lambda p=page: REJECTED in text(p), "rejected")
                assert PAIRING not in text(page)
                screenshot(page, f"control-ui-{name}-token-{claw.tenant}")
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
    assert result["code"] == "PAIRING_REQUIRED" and result["request_id"], result
    return result["request_id"]


def test_spoofed_forwarded_headers_do_not_move_the_client(claw: Claw, netns: Netns) -> None:
    host, token = claw.host(claw.ref), claw.token(claw.ref)
    url = f"ws://{netns.host_ip}:{claw.px.port}"
    as_local = spoofing_client(netns, url, host, token, forwarded_for="127.0.0.1")
    as_other = spoofing_client(netns, url, host, token, forwarded_for="203.0.113.66")
    seen = {d["request_id"]: d["remote_ip"] for d in claw.devices(claw.ref)}
    assert seen[as_local] == seen[as_other] == netns.client_ip  # the gateway's own record
    # and from this machine: Traefik's own X-Real-Ip, not the one sent
    device = DeviceIdentity.generate()
    local = claw.hello(
        claw.ref, token, device=device, forwarded_for="203.0.113.66", extra_headers=SPOOFED
    )
    seen = {d["request_id"]: d["remote_ip"] for d in claw.devices(claw.ref)}
    assert seen[local.request_id] == claw.host_address(claw.ref)
