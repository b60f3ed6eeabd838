from __future__ import annotations

from collections.abc import Iterator

import pytest

from agentpod.control.context import Context
from agentpod.services.docker_runtime import DockerRuntime
from agentpod.settings import Settings
from tests.conftest import Env
from tests.support.fakedocker import FakeApi, FakeClient


@pytest.fixture
def fake_ctx(agentpod_env: Env) -> Iterator[tuple[Context, FakeApi]]:
    """The real store, and a runtime over an in-memory engine that can make containers vanish."""
    ctx = Context(Settings(home=agentpod_env.home))
    api = FakeApi()
    ctx.runtime = DockerRuntime(ctx.store.instance_id(), FakeClient(api))  # before the reconciler
    ctx.reconciler.workers = 1  # one pod after another: the n-th call is the same call every try
    yield ctx, api
    ctx.close()
