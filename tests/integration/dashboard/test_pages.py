"""The issue's browser tests 4 and 5: every page at 390 px and 1440 px (screenshots saved as
artifacts, none blank, no horizontal scrolling of the page, no console error or failed
request), and axe-core finding no serious accessibility violation on any of them."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.integration.dashboard import axe
from tests.integration.dashboard.dash import Dash
from tests.live.browser import ARTIFACTS

pytestmark = pytest.mark.slow
SHOTS = ARTIFACTS / "agentpod-dashboard-shots"
WIDTHS = (390, 1440)


@pytest.fixture(scope="module")
def running(dash: Dash) -> str:
    tenant = f"t{uuid.uuid4().hex[:8]}"
    dash.env.run("tenant", "create", tenant, "--rate-average", "50")
    ref = f"{tenant}/agent"
    dash.create_pod(ref, "--set", "health_path=/readyz")
    return ref


def _pages(ref: str) -> dict[str, str]:
    tenant = ref.split("/")[0]
    return {
        "overview": "/",
        "pods": "/pods",
        "pod-new": "/pods/new?type=generic",
        "pod-detail": f"/pods/{ref}",
        "tenants": "/tenants",
        "tenant": f"/tenants/{tenant}",
        "adapters": "/adapters",
        "users": "/users",
        "audit": "/audit",
        "settings": "/settings",
    }


def _check(page: Any, name: str, width: int) -> list[str]:
    SHOTS.mkdir(parents=True, exist_ok=True)
    shot = SHOTS / f"{name}-{width}.png"
    page.screenshot(path=str(shot), full_page=True)
    found = []
    if len(page.inner_text("main").strip()) < 20 or shot.stat().st_size < 5000:
        found.append(f"{name} at {width} px looks blank ({shot})")
    overflow = page.evaluate("document.documentElement.scrollWidth")
    if overflow > width + 1:
        found.append(f"{name} at {width} px is {overflow} px wide ({shot})")
    return found + [f"{name} at {width} px: {v}" for v in axe.serious_violations(page)]


@pytest.mark.parametrize("width", WIDTHS)
def test_every_page_reads_well_and_passes_axe(
    dash: Dash, browser: Any, running: str, width: int
) -> None:
    opts = {"viewport": {"width": width, "height": 900}}
    anonymous = browser.new_context(**opts)
    anonymous.add_init_script(axe.source())  # injected by the browser: the page's CSP allows it
    login = anonymous.new_page()
    login.goto(dash.url + "/login")
    found = _check(login, "login", width)

    page = dash.login(browser, "admin", **opts)
    page.context.add_init_script(axe.source())
    for name, path in _pages(running).items():
        response = page.goto(dash.url + path)
        assert response.status == 200, (path, response.status)
        if name == "pod-detail":
            page.locator("#pod-log li", has_text="serving on").first.wait_for(timeout=30_000)
            page.locator("#pod-usage svg").first.wait_for(timeout=45_000)  # its chart too
        found += _check(page, name, width)
    found += page.watch.found
    print(f"screenshots: {SHOTS}")
    assert found == [], "\n".join(found)
