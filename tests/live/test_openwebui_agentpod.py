"""Real Open WebUI run by AgentPod (LIVE=1): ``pod create --type open-webui`` with the image that
images/openwebui/build.py makes here, reached through Traefik by subdomain; a person signs up
and logs in with real headless Chromium, and the account survives ``pod upgrade`` (to a rebuilt
image) and a ``docker kill``.

One test, in steps: each step needs the one before, and a second pod on the other xdist worker
would cost a minute of both cores for nothing."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from typing import Any

import docker
import pytest

from tests.live.browser import chromium, goto, screenshot
from tests.support.proc import wait_until
from tests.support.proxied import Proxied, proxied_instance

pytestmark = [
    pytest.mark.live,
    pytest.mark.slow,
    pytest.mark.skipif(os.environ.get("LIVE") != "1", reason="live tests need LIVE=1"),
]

START = "600"  # seconds Open WebUI may take to answer /health on a busy CI machine
STATE = "/app/backend/data"
UI_WAIT_MS = 60_000


class Pod:
    def __init__(self, px: Proxied, ref: str, client: docker.DockerClient, image_b: str) -> None:
        self.px, self.ref, self.docker, self.image_b = px, ref, client, image_b

    def status(self) -> dict[str, Any]:
        return self.px.env.json("pod", "status", self.ref)

    @property
    def subdomain(self) -> str:
        return self.status()["subdomain"]

    @property
    def url(self) -> str:
        return f"http://{self.px.host(self.subdomain)}:{self.px.port}/"

    def container(self) -> Any:
        return self.docker.containers.get(self.status()["container_id"])

    def healthy_via_traefik(self, timeout: float = float(START)) -> None:
        def healthy() -> bool:
            try:
                status, body, _ = self.px.get(self.subdomain, "/health", timeout=5)
            except OSError:
                return False
            return status == 200 and json.loads(body) == {"status": True}

        wait_until(healthy, timeout=timeout, every=1)


@pytest.fixture(scope="module")
def pod(docker_client: docker.DockerClient) -> Iterator[Pod]:
    from tests.live.images.openwebui.build import VARIANT_B_TAG, ensure_openwebui_image

    image = ensure_openwebui_image()
    image_b = ensure_openwebui_image(VARIANT_B_TAG, variant="b")
    with proxied_instance(docker_client) as px:
        tenant = f"ow{uuid.uuid4().hex[:8]}"
        px.env.run("tenant", "create", tenant)
        ref = f"{tenant}/webui"
        create = ("--type", "open-webui", "--image", image, "--timeout", START)
        px.env.run("pod", "create", ref, *create, timeout=float(START) + 60)
        yield Pod(px, ref, docker_client, image_b)


def open_app(page: Any, url: str, first: Any, tries: int = 4) -> None:
    """Open the app until ``first`` (a locator) shows. Chromium aborts loads with
    ERR_NETWORK_CHANGED whenever an interface comes or goes on this busy machine (Docker
    networks, veths); a script chunk lost that way leaves the app on its splash screen."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for attempt in range(1, tries + 1):
        goto(page, url)
        try:
            first.wait_for(timeout=UI_WAIT_MS / 2)
            return
        except PlaywrightTimeout:
            screenshot(page, f"open-webui-stuck-{attempt}")
            if attempt == tries:
                raise


def sign_up(page: Any, name: str, email: str, password: str) -> None:
    """The first visitor's path: the onboarding page, then the admin account form."""
    page.get_by_role("button", name="Get started", exact=True).click()
    page.get_by_placeholder("Enter Your Full Name").fill(name)
    page.get_by_placeholder("Enter Your Email").fill(email)
    page.get_by_placeholder("Enter Your Password").fill(password)
    page.get_by_role("button", name="Create Admin Account").click()


def sign_in(page: Any, email: str, password: str) -> None:
    page.get_by_placeholder("Enter Your Email").fill(email)
    page.get_by_placeholder("Enter Your Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def logged_in_as(browser: Any, pod: Pod, email: str, password: str, shot: str) -> dict[str, Any]:
    """Log in through the page in a fresh browser context; the session the page then holds,
    as the API tells it to that session's token."""
    context = browser.new_context()
    try:
        page = context.new_page()
        page.set_default_timeout(UI_WAIT_MS)
        # the app sends a visitor without a session to /auth
        open_app(page, pod.url, page.get_by_placeholder("Enter Your Email"))
        try:
            sign_in(page, email, password)
        except Exception:
            screenshot(page, f"{shot}-failed")
            print(page.url, page.inner_text("body")[:500])
            raise
        return session_of(page, pod, shot)
    finally:
        context.close()


def session_of(page: Any, pod: Pod, shot: str) -> dict[str, Any]:
    page.wait_for_function("() => !!localStorage.token")
    page.wait_for_url(lambda url: "/auth" not in url)
    screenshot(page, shot)
    token = page.evaluate("() => localStorage.token")
    answer = page.evaluate(
        """async (token) => {
            const r = await fetch('/api/v1/auths/', {headers: {Authorization: `Bearer ${token}`}});
            return {status: r.status, body: await r.json()};
        }""",
        token,
    )
    assert answer["status"] == 200, answer
    return answer["body"]


def test_open_webui_pod_from_create_to_upgrade_and_kill(pod: Pod, docker_client) -> None:
    # healthy, and its page answers through Traefik by subdomain
    pod.healthy_via_traefik()
    status, body, _ = pod.px.get(pod.subdomain, "/")
    assert status == 200 and "<title>Open WebUI</title>" in body

    # the container is what the adapter promised
    info = pod.status()
    container = pod.container()
    assert container.attrs["HostConfig"]["ReadonlyRootfs"] is True
    assert container.attrs["HostConfig"]["Memory"] == info["memory_mb"] * 1024 * 1024
    assert container.exec_run(["id", "-u"]).output.decode().strip() == "1000"
    owner = container.exec_run(["stat", "-c", "%u:%g", STATE]).output.decode().strip()
    assert owner == "1000:1000"

    email, password = f"ann-{uuid.uuid4().hex[:6]}@example.com", uuid.uuid4().hex
    with chromium(pod.px.domain, "127.0.0.1") as browser:
        context = browser.new_context()
        page = context.new_page()
        page.set_default_timeout(UI_WAIT_MS)
        open_app(page, pod.url, page.get_by_role("button", name="Get started", exact=True))
        sign_up(page, "Ann Admin", email, password)
        me = session_of(page, pod, "open-webui-signed-up")
        assert (me["email"], me["role"]) == (email, "admin")  # the first account is the admin
        context.close()
        assert "webui.db" in container.exec_run(["ls", STATE]).output.decode()

        assert logged_in_as(browser, pod, email, password, "open-webui-login")["email"] == email

        # pod upgrade (to a rebuilt image): a new container, the same data
        old = container.id
        target = pod.image_b
        pod.px.env.run("pod", "upgrade", pod.ref, "--image", target, "--timeout", START)
        assert pod.status()["container_id"] != old and pod.status()["image"] == target
        pod.healthy_via_traefik()
        again = logged_in_as(browser, pod, email, password, "open-webui-after-upgrade")
        assert (again["email"], again["role"]) == (email, "admin")

        # docker kill: serve starts it again, with the same data
        cid = pod.status()["container_id"]
        before = docker_client.api.inspect_container(cid)["State"]["StartedAt"]
        docker_client.api.kill(cid)

        def restarted() -> bool:
            state = docker_client.api.inspect_container(cid)["State"]
            return state["Running"] and state["StartedAt"] != before

        wait_until(restarted, timeout=60)
        pod.healthy_via_traefik()
        after_kill = logged_in_as(browser, pod, email, password, "open-webui-after-kill")
        assert (after_kill["email"], after_kill["role"]) == (email, "admin")
