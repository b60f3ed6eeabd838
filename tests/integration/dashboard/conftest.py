"""A real ``agentpod serve`` (reconcile loop, health loop, API and dashboard) on a fresh home of
its own, users made through the same use cases, and a real headless Chromium."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from tests.conftest import fresh_env
from tests.integration.dashboard.dash import Dash
from tests.live.browser import chromium
from tests.support.proc import serving, wait_until


@pytest.fixture(scope="session")
def dash(docker_client: docker.DockerClient, test_image: str) -> Iterator[Dash]:
    with fresh_env(docker_client) as env:
        env.run("db", "migrate")  # the database made first: serve then starts in seconds
        with serving(env.env, "--api-listen", "127.0.0.1:0") as (_, log):
            address = wait_until(lambda: _listening(log))
            with Dash.open(env, f"http://{address}", test_image) as d:
                yield d


def _listening(log: Path) -> str | None:
    found = re.findall(r'"api.listening", "address": "([^"]+)"', log.read_text())
    return found[0] if found else None


@pytest.fixture(scope="module")  # not longer: other modules start Playwright's sync API too
def browser() -> Iterator[Any]:
    with chromium("agentpod.test", "127.0.0.1") as b:
        yield b
