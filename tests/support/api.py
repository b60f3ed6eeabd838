"""The real API app served by uvicorn (our ApiThread) on a free port, in the test process,
against a real AgentPod home; helpers to make users, log in and make keys."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx

from agentpod.api.app import DB_TIMEOUT_S, create_app
from agentpod.api.server import ApiThread
from agentpod.control import apikeys, users
from agentpod.control.context import Context
from agentpod.core.authz import Principal
from agentpod.settings import load_settings
from tests.conftest import Env

ROOT = Principal.root("tests")
PASSWORD = "correct horse battery"


def random_address() -> str:
    """A client address of its own (sent as X-Forwarded-For, which uvicorn trusts from
    loopback as it does from our Traefik): failed logins are counted per address."""
    return f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(1, 255)}"


@dataclass
class Api:
    ctx: Context
    url: str

    def client(self, address: str | None = None, **headers: str) -> httpx.Client:
        forwarded = {"X-Forwarded-For": address or random_address()}
        return httpx.Client(base_url=self.url, headers={**forwarded, **headers}, timeout=30)

    def user(self, role: str, tenants: list[str] = ()) -> str:  # type: ignore[assignment]
        name = f"u{uuid.uuid4().hex[:8]}"
        users.create_user(self.ctx, ROOT, name, role, list(tenants), PASSWORD)
        return name

    def session(self, role: str, tenants: list[str] = ()) -> httpx.Client:  # type: ignore[assignment]
        """A client logged in as a new user, sending its CSRF token."""
        client = self.client()
        response = client.post(
            "/api/v1/auth/login", json={"username": self.user(role, tenants), "password": PASSWORD}
        )
        assert response.status_code == 200, response.text
        client.headers["X-CSRF-Token"] = response.json()["csrf_token"]
        return client

    def key(self, user: str, scopes: list[str], tenant: str | None = None) -> str:
        return apikeys.create_key(self.ctx, ROOT, user, scopes, tenant)[0]

    def bearer(self, key: str) -> httpx.Client:
        return self.client(Authorization=f"Bearer {key}")


@contextmanager
def serving_api(env: Env) -> Iterator[Api]:
    ctx = Context(load_settings(env.env), db_timeout=DB_TIMEOUT_S)
    thread = ApiThread(create_app(ctx), "127.0.0.1", 0)
    thread.start()
    try:
        assert thread.listening.wait(30), "the API did not start"
        yield Api(ctx, f"http://127.0.0.1:{thread.port}")
    finally:
        thread.stop()
        ctx.close()
