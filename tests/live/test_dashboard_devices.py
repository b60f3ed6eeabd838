"""The dashboard's device pairing page with a real OpenClaw gateway (LIVE=1): a device asks to
pair, a viewer of the tenant sees the request but no Approve button, an operator approves it in
the browser, and the device's next handshake is accepted."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from tests.integration.dashboard.dash import Dash
from tests.live.browser import chromium
from tests.live.claw import Claw, claw_instance
from tests.support.proc import wait_until

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(os.environ.get("LIVE") != "1", reason="live tests need LIVE=1"),
]


def _api_address(log: Path) -> str | None:
    found = re.findall(r'"api.listening", "address": "([^"]+)"', log.read_text())
    return found[0] if found else None


@pytest.fixture(scope="module")
def claw_dash(docker_client: docker.DockerClient) -> Iterator[tuple[Claw, Dash]]:
    """A real OpenClaw pod, and the dashboard of the serve that runs it (on a port of its own)."""
    with claw_instance(docker_client, AGENTPOD_API_LISTEN="127.0.0.1:0") as claw:
        address = wait_until(lambda: _api_address(claw.px.log))
        with Dash.open(claw.px.env, f"http://{address}", claw.image) as dash:
            yield claw, dash


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium("agentpod.test", "127.0.0.1") as b:
        yield b


def test_an_operator_approves_a_pairing_request_in_the_browser(
    claw_dash: tuple[Claw, Dash], browser: Any
) -> None:
    claw, dash = claw_dash
    device, token, request_id = claw.pairing_request(claw.ref)
    approve = f"Approve request {request_id}"

    viewer = dash.login(browser, "viewer", (claw.tenant,))
    viewer.goto(f"{dash.url}/pods/{claw.ref}/devices")
    pending = viewer.locator("li", has_text="pending")
    assert device.device_id[:12] in pending.inner_text()
    assert viewer.get_by_role("button", name=approve).count() == 0  # no action for a viewer

    page = dash.login(browser, "operator")
    page.goto(f"{dash.url}/pods/{claw.ref}")
    page.get_by_role("link", name="Device pairing requests").click()
    page.get_by_role("button", name=approve).click()
    page.wait_for_url(f"{dash.url}/pods/{claw.ref}/devices?approved={request_id}")
    assert page.get_by_role("status").inner_text().startswith(f"Request {request_id} approved")
    paired = page.locator("li", has_text=device.device_id[:12])
    assert paired.inner_text().startswith("paired"), paired.inner_text()

    second = claw.hello(claw.ref, token, device=device)
    assert second.ok and second.role == "operator", second
    assert device.device_id in [d["device_id"] for d in claw.devices(claw.ref)]
    problems = page.watch.found + viewer.watch.found
    assert problems == [], "\n".join(problems)
