"""The API outlives its database: while PostgreSQL is away every answer is a 503 problem (no
500, no dead thread), and once it is back the same API answers again."""

from __future__ import annotations

import docker

from agentpod.services.database import embedded_url, stop_embedded
from tests.conftest import fresh_env
from tests.support.api import serving_api
from tests.support.proc import wait_until


def test_the_api_answers_503_while_the_database_is_away(
    docker_client: docker.DockerClient,
) -> None:
    with fresh_env(docker_client) as env, serving_api(env) as api:
        client = api.bearer(api.key(api.user("viewer"), ["pods:read"]))
        assert client.get("/api/v1/me").status_code == 200
        assert stop_embedded(env.home)
        health = client.get("/api/v1/health")
        assert health.status_code == 503 and health.json()["status"] == "unavailable"
        me = client.get("/api/v1/me")
        assert me.status_code == 503, me.text
        assert me.headers["content-type"] == "application/problem+json"
        embedded_url(env.home)  # started again
        wait_until(lambda: client.get("/api/v1/me").status_code == 200, 30)
        assert client.get("/api/v1/health").json()["database"] == "ok"
