"""The dashboard through our Traefik at the console host (``serve --with-proxy``), as a user on
a VPS reaches it: ``http://console.<domain>/``."""

from __future__ import annotations

import socket
from typing import Any

import docker
import httpx
import pytest

from tests.conftest import fresh_env
from tests.integration.dashboard.dash import Dash
from tests.support.proc import serving, wait_until

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _answers(proxy: int) -> bool:
    url = f"http://127.0.0.1:{proxy}/login"
    return httpx.get(url, headers={"Host": "console.localhost"}, timeout=5).status_code == 200


def test_the_console_host_serves_the_dashboard(
    docker_client: docker.DockerClient, browser: Any, test_image: str
) -> None:
    proxy, api = _free_port(), _free_port()
    with fresh_env(docker_client) as env:
        env.run("db", "migrate")
        args = ("--with-proxy", "--proxy-http-port", str(proxy), "--api-listen", f"127.0.0.1:{api}")
        with (
            serving(env.env, *args, until="proxy.started"),
            Dash.open(env, f"http://console.localhost:{proxy}", test_image) as dash,
        ):
            wait_until(lambda: _answers(proxy), 20)  # the route is up (Traefik's throttle)
            page = dash.login(browser, "admin")  # Chromium resolves *.localhost to loopback
            assert page.get_by_role("heading", name="Overview").is_visible()
            assert page.watch.found == [], page.watch.found
