"""Secret fields of a pod's config (``writeOnly`` in its type's schema: ``secret_env``): sealed
in the database, masked by ``config get`` and the API, revealed on request (audited), and given
to the container in clear."""

from __future__ import annotations

import json
import uuid

import docker

from agentpod.control.context import Context
from agentpod.settings import Settings
from tests.conftest import Env
from tests.integration.dataplane.helpers import create_pod
from tests.support.proc import wait_until

MASK = "********"


def _container_env(client: docker.DockerClient, ref: str) -> dict[str, str]:
    container = client.containers.get(f"agentpod-{ref.replace('/', '-')}")
    return dict(p.split("=", 1) for p in container.attrs["Config"]["Env"])


def _stored(env: Env, ref: str) -> str:
    tenant, pod = ref.split("/")
    ctx = Context(Settings(home=env.home))
    try:
        with ctx.store.connection() as conn:
            row = conn.execute(
                "SELECT c.config::text AS config FROM pod_configs c JOIN pods p ON p.id = c.pod_id"
                " JOIN tenants t ON t.id = p.tenant_id WHERE t.name = %s AND p.name = %s",
                (tenant, pod),
            ).fetchone()
    finally:
        ctx.close()
    return row["config"]


def test_a_secret_in_a_pods_config(
    agentpod_env: Env, tenant: str, test_image: str, docker_client: docker.DockerClient
) -> None:
    env, ref = agentpod_env, f"{tenant}/agent"
    secret = f"s3cret-{uuid.uuid4().hex}"
    env.run("tenant", "create", tenant)
    create_pod(env, ref, test_image, "--set", "env.GREETING=hi")
    schema = env.run("config", "get", ref, "--schema").stdout
    assert json.loads(schema)["properties"]["secret_env"]["writeOnly"] is True

    env.run("config", "set", ref, "--key", "secret_env.API_TOKEN", "--value", secret)
    assert secret not in _stored(env, ref) and "API_TOKEN" in _stored(env, ref)
    shown = env.json("config", "get", ref)
    assert shown["secret_env"] == {"API_TOKEN": MASK} and shown["env"] == {"GREETING": "hi"}
    assert secret not in env.run("config", "get", ref, "--key", "secret_env").stdout

    # the running container has the real value
    def has_it() -> bool:
        return _container_env(docker_client, ref).get("API_TOKEN") == secret

    assert wait_until(has_it, 60)

    # the config written back as shown keeps the secret (no change, no recreate)
    written = env.run("config", "set", ref, "--key", "env.GREETING", "--value", "hello")
    assert secret not in written.stdout + written.stderr
    assert env.json("config", "get", ref, "--reveal")["secret_env"] == {"API_TOKEN": secret}
    assert wait_until(lambda: _container_env(docker_client, ref).get("GREETING") == "hello", 60)
    assert _container_env(docker_client, ref)["API_TOKEN"] == secret

    audit = env.json("audit", "--tail", "50")
    revealed = [a for a in audit if a["action"] == "config.reveal" and a["target"] == ref]
    assert revealed and revealed[0]["outcome"] == "ok"
    everything = json.dumps(audit) + env.run("events", "--tenant", tenant, "--tail", "100").stdout
    assert secret not in everything
    env.run("pod", "delete", ref, "--yes")
