"""The issue's browser test 3: a member sees only its tenant (another tenant's pod is a 404
page), a viewer sees no action controls, and the server refuses what the page does not offer."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from agentpod.control import users
from tests.integration.dashboard.dash import ROOT, Dash

pytestmark = pytest.mark.slow


def _csrf(page: Any) -> str:
    return next(c["value"] for c in page.context.cookies() if c["name"] == "agentpod_csrf")


@pytest.fixture(scope="module")
def two_tenants(dash: Dash) -> tuple[str, str]:
    mine, other = (f"t{uuid.uuid4().hex[:8]}" for _ in range(2))
    for tenant in (mine, other):
        dash.env.run("tenant", "create", tenant)
        dash.create_pod(f"{tenant}/agent", "--no-wait")
    return mine, other


def test_a_member_sees_only_its_tenant(dash: Dash, browser: Any, two_tenants: tuple) -> None:
    mine, other = two_tenants
    page = dash.login(browser, "member", (mine,))
    page.goto(f"{dash.url}/pods")
    assert page.locator(f'tr[data-pod="{mine}/agent"]').count() == 1
    assert other not in page.inner_text("main")
    page.goto(f"{dash.url}/tenants")
    assert other not in page.inner_text("main")

    response = page.goto(f"{dash.url}/pods/{other}/agent")
    assert response.status == 404
    assert page.get_by_role("heading", name="404 · Not Found").is_visible()
    assert page.goto(f"{dash.url}/tenants/{other}").status == 404
    # as for a pod that does not exist at all
    assert page.goto(f"{dash.url}/pods/{mine}/no-such-pod").status == 404

    page.goto(f"{dash.url}/pods/{mine}/agent")  # its own pod: the actions are there
    assert page.get_by_role("button", name="Stop").is_visible()
    forged = page.request.post(
        f"{dash.url}/pods/{other}/agent/stop", form={"csrf_token": _csrf(page)}
    )
    assert forged.status == 404
    no_token = page.request.post(f"{dash.url}/pods/{mine}/agent/stop", form={})
    assert no_token.status == 403
    assert dash.env.json("pod", "status", f"{other}/agent")["desired_status"] == "running"
    assert dash.env.json("pod", "status", f"{mine}/agent")["desired_status"] == "running"


def test_a_viewer_sees_no_action_and_a_forged_post_is_refused(
    dash: Dash, browser: Any, two_tenants: tuple
) -> None:
    mine, _ = two_tenants
    page = dash.login(browser, "viewer", (mine,))
    for path in ("/pods", f"/pods/{mine}/agent", "/tenants", f"/tenants/{mine}", "/"):
        page.goto(dash.url + path)
        assert page.locator("main form[method=post]").count() == 0, path
        assert page.locator("main button").count() <= 2, path  # the log's pause, the filter
        assert page.get_by_role("link", name="New pod").count() == 0, path
    page.goto(f"{dash.url}/pods/{mine}/agent")
    assert page.locator("#pod-status [data-status]").is_visible()

    for action in ("stop", "delete", "restart", "token/reveal", "config/edit"):
        forged = page.request.post(
            f"{dash.url}/pods/{mine}/agent/{action}", form={"csrf_token": _csrf(page)}
        )
        assert forged.status == 403, (action, forged.status)
        assert "not allowed" in forged.text() or "403" in forged.text()
    page.goto(f"{dash.url}/pods/new")
    assert page.locator("main form[method=post]").count() == 0
    assert dash.env.json("pod", "status", f"{mine}/agent")["desired_status"] == "running"


def test_an_ended_session_leads_back_to_the_login_page(dash: Dash, browser: Any) -> None:
    page = dash.login(browser, "viewer")
    page.goto(f"{dash.url}/pods")
    users.set_password(dash.ctx, ROOT, page.user, "another long passphrase")  # ends sessions
    # the open page notices by itself (its next live update), and says why
    page.wait_for_url(f"{dash.url}/login?next=/pods&expired=1", timeout=15_000)
    assert page.get_by_text("Your session has ended: sign in again.").is_visible()
    page.get_by_label("Username").fill(page.user)
    page.get_by_label("Password").fill("another long passphrase")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{dash.url}/pods")


def test_an_operator_adds_and_removes_a_tenant_s_member(
    dash: Dash, browser: Any, two_tenants: tuple
) -> None:
    mine, _ = two_tenants
    newcomer = dash.user("member")
    page = dash.login(browser, "operator")
    page.on("dialog", lambda d: d.accept())
    page.goto(f"{dash.url}/tenants/{mine}")
    page.get_by_label("User to add").select_option(newcomer)
    page.get_by_role("button", name="Add member").click()
    page.wait_for_url(f"{dash.url}/tenants/{mine}?saved=1")
    assert mine in users.get_user(dash.ctx, ROOT, newcomer).tenants
    page.get_by_role("button", name=f"Remove {newcomer}").click()
    page.wait_for_url(f"{dash.url}/tenants/{mine}?saved=1")
    assert mine not in users.get_user(dash.ctx, ROOT, newcomer).tenants
