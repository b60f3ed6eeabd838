"""Driving the dashboard of a running serve: users, logging in, and what a page did wrong
(console errors, failed requests)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from agentpod.control import users
from agentpod.control.context import Context
from agentpod.core.authz import Principal
from agentpod.settings import load_settings
from tests.conftest import Env

ROOT = Principal.root("tests")
PASSWORD = "correct horse battery"


@dataclass
class Dash:
    env: Env
    url: str
    image: str
    ctx: Context

    @classmethod
    @contextmanager
    def open(cls, env: Env, url: str, image: str) -> Iterator[Dash]:
        ctx = Context(load_settings(env.env))
        try:
            yield cls(env, url, image, ctx)
        finally:
            ctx.close()

    def create_pod(self, ref: str, *options: str) -> None:
        """``agentpod pod create`` of a small generic pod on the test image."""
        args = ("--type", "generic", "--image", self.image, "--memory", "64m", *options)
        self.env.run("pod", "create", ref, *args)

    def user(self, role: str, tenants: tuple[str, ...] = ()) -> str:
        name = f"u{uuid.uuid4().hex[:8]}"
        users.create_user(self.ctx, ROOT, name, role, list(tenants), PASSWORD)
        return name

    def login(self, browser: Any, role: str, tenants: tuple[str, ...] = (), **opts: Any) -> Any:
        """A new page (its own cookies) signed in as a new user of ``role``."""
        page = browser.new_context(**opts).new_page()
        page.watch = Problems(page)
        page.goto(self.url + "/")
        assert page.url.startswith(self.url + "/login"), page.url
        page.user = self.user(role, tenants)
        page.get_by_label("Username").fill(page.user)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(self.url + "/")
        return page


@dataclass
class Problems:
    """Console errors and failed requests of a page (a live update or stream cut by leaving
    the page is not one)."""

    page: Any
    found: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.page.on("console", self._console)
        self.page.on("requestfailed", self._failed)
        self.page.on("response", self._response)

    def _console(self, message: Any) -> None:
        if message.type == "error":
            self.found.append(f"console: {message.text}")

    def _failed(self, request: Any) -> None:
        background = request.resource_type in ("fetch", "eventsource")
        if not (request.failure == "net::ERR_ABORTED" and background):
            self.found.append(f"failed: {request.url} {request.failure}")

    def _response(self, response: Any) -> None:
        if response.status >= 400:
            self.found.append(f"{response.status}: {response.request.method} {response.url}")
