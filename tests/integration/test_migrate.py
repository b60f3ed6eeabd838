"""``agentpod migrate``: hand-deployed gateway-shaped containers, adopted with zero downtime."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from tests.conftest import Env
from tests.support.images import fake_openclaw_image
from tests.support.proc import serving, wait_until

CONFIG_JSON5 = """{
  // written by hand, JSON5 as OpenClaw allows
  gateway: {
    mode: "local",
    port: 18790,
    auth: { mode: "token", token: "from-config-file" },
    controlUi: { allowedOrigins: ["https://claw.example.com"] },
  },
  agents: { defaults: { model: "x/y" } },
}
"""


class Shapes:
    """Containers deployed the ways people really do it, named with a per-test suffix."""

    def __init__(self, client: docker.DockerClient, suffix: str) -> None:
        self.client, self.suffix = client, suffix
        self.image = fake_openclaw_image()
        self.containers: list[docker.models.containers.Container] = []
        self.volumes: list[str] = []
        self.bind = Path(tempfile.mkdtemp(prefix="claw-", dir="/tmp"))
        os.chown(self.bind, 1000, 1000)

    def run(self, name: str, **kw: object):
        c = self.client.containers.run(self.image, name=f"{name}{self.suffix}", detach=True, **kw)
        self.containers.append(c)
        return c

    def volume_with_config(self) -> str:
        name = f"clawdata{self.suffix}"
        self.volumes.append(name)
        self.client.containers.run(
            self.image,
            ["sh", "-c", f"cat > /home/node/.openclaw/openclaw.json <<'E'\n{CONFIG_JSON5}E"],
            volumes={name: {"bind": "/home/node/.openclaw", "mode": "rw"}},
            remove=True,
        )
        return name

    def cleanup(self) -> None:
        for c in self.containers:
            with contextlib.suppress(docker.errors.NotFound):
                c.remove(force=True)
        for v in self.volumes:
            with contextlib.suppress(docker.errors.NotFound):
                self.client.volumes.get(v).remove(force=True)


@pytest.fixture
def shapes(docker_client: docker.DockerClient, tenant: str) -> Iterator[Shapes]:
    s = Shapes(docker_client, f"-{tenant}")
    yield s
    s.cleanup()


def started_at(client: docker.DockerClient, cid: str) -> str:
    return client.api.inspect_container(cid)["State"]["StartedAt"]


@pytest.mark.slow
def test_discover_adopt_heal_upgrade_release(
    agentpod_env: Env,
    tenant: str,
    shapes: Shapes,
    docker_client: docker.DockerClient,
    test_image: str,
) -> None:
    run, js = agentpod_env.run, agentpod_env.json
    bound = shapes.run(
        "My_Claw.1",
        environment={"OPENCLAW_GATEWAY_TOKEN": "from-env"},
        volumes={str(shapes.bind): {"bind": "/home/node/.openclaw", "mode": "rw"}},
        ports={"18789/tcp": ("127.0.0.1", None)},
    )
    vol = shapes.run(
        "claw-vol",
        command=["node", "dist/index.js", "gateway", "--bind", "lan", "--port", "18790"],
        volumes={shapes.volume_with_config(): {"bind": "/home/node/.openclaw", "mode": "rw"}},
    )
    stopped = shapes.run(
        "claw-stopped",
        command=["openclaw", "gateway", "run"],
        volumes={f"clawstop{shapes.suffix}": {"bind": "/home/node/.openclaw"}},
    )
    shapes.volumes.append(f"clawstop{shapes.suffix}")
    stopped.stop(timeout=1)
    ephemeral = shapes.run("claw-tmp", tmpfs={"/home/node/.openclaw": ""})
    shapes.containers.append(
        docker_client.containers.run(test_image, name=f"unrelated{shapes.suffix}", detach=True)
    )
    # one of our own managed pods, same image: never listed
    run("tenant", "create", f"{tenant}-own")
    run(
        "pod",
        "create",
        f"{tenant}-own/p",
        "--type",
        "openclaw",
        "--image",
        shapes.image,
        "--memory",
        "128m",
        "--no-wait",
    )
    before = {c.id: started_at(docker_client, c.id) for c in (bound, vol, stopped, ephemeral)}

    found = {
        r["container"]: r
        for r in js("migrate", "discover", "--tenant", tenant)
        if r["container"].endswith(shapes.suffix)
    }
    assert set(found) == {c.name for c in (bound, vol, stopped, ephemeral)}
    b = found[bound.name]
    assert b["data"] == {
        "type": "bind",
        "source": str(shapes.bind),
        "destination": "/home/node/.openclaw",
    }
    assert b["token_source"] == "env" and b["proposed"] == f"{tenant}/my-claw-1-{tenant}"
    assert b["ports"][0].startswith("127.0.0.1:") and b["ports"][0].endswith("->18789/tcp")
    v = found[vol.name]
    assert v["token_source"] == "config" and v["config_found"] and v["data"]["type"] == "volume"
    assert found[stopped.name]["state"] == "exited"
    assert "data would be lost" in found[ephemeral.name]["problems"][0]

    dry = js("migrate", "adopt", "--all", "--dry-run", "--tenant", tenant)
    assert not any(r["result"] == "adopted" for r in dry["results"])
    assert [p for p in js("pod", "list") if p["tenant"] == tenant] == []

    adopted = run("migrate", "adopt", "--all", "--tenant", tenant, "--format", "json", check=False)
    assert adopted.returncode == 1  # the ephemeral one is refused
    import json

    results = {r["container"]: r["result"] for r in json.loads(adopted.stdout)["results"]}
    assert {k: v for k, v in results.items() if k.endswith(shapes.suffix)} == {
        bound.name: "adopted",
        vol.name: "adopted",
        stopped.name: "adopted",
        ephemeral.name: "refused",
    }
    for c in (bound, vol, stopped, ephemeral):  # zero downtime: nothing touched
        assert docker_client.containers.get(c.name).id == c.id
        assert started_at(docker_client, c.id) == before[c.id]

    again = json.loads(
        run("migrate", "adopt", "--all", "--tenant", tenant, "--format", "json", check=False).stdout
    )["results"]
    assert {r["result"] for r in again if r["container"] in (bound.name, vol.name)} == {"already"}

    pods = {p["name"]: p for p in js("pod", "list", "--tenant", tenant)}
    bref, vref = f"{tenant}/my-claw-1-{tenant}", f"{tenant}/claw-vol-{tenant}"
    assert (
        pods[f"my-claw-1-{tenant}"]["adopted"]
        and pods[f"claw-stopped-{tenant}"]["desired_status"] == "stopped"
    )
    assert js("config", "get", vref)["port"] == 18790
    assert js("config", "get", vref)["allowed_origins"] == ["https://claw.example.com"]
    assert js("config", "get", vref)["settings"]["agents"] == {"defaults": {"model": "x/y"}}
    health = {h["pod"]: h for h in js("health", tenant)}
    assert health[vref]["ready"], health

    with serving(agentpod_env.env, "--interval", "30") as (_, log):
        docker_client.api.kill(bound.id)
        try:
            wait_until(
                lambda: docker_client.api.inspect_container(bound.id)["State"]["Running"], 10
            )
        except AssertionError:
            raise AssertionError(log.read_text()) from None
        assert docker_client.containers.get(bound.name).id == bound.id  # the same container

    (shapes.bind / "precious.txt").write_text("keep me\n")
    os.chown(shapes.bind / "precious.txt", 1000, 1000)
    docker_client.images.get(shapes.image).tag("agentpod-test/fakeclaw", f"v2-{tenant}")
    run("pod", "upgrade", bref, "--image", f"agentpod-test/fakeclaw:v2-{tenant}")
    with pytest.raises(docker.errors.NotFound):
        docker_client.containers.get(bound.id)
    new = docker_client.containers.get(f"agentpod-{bref.replace('/', '-')}")
    assert new.labels["agentpod.managed"] == "true"
    assert new.attrs["HostConfig"]["ReadonlyRootfs"] and new.attrs["HostConfig"]["CapDrop"]
    assert new.exec_run(["cat", "/home/node/.openclaw/precious.txt"]).output == b"keep me\n"
    status = js("pod", "status", bref)
    assert not status["adopted"] and status["ready"]
    written = json.loads((shapes.bind / "openclaw.json").read_text())
    assert written["gateway"]["auth"]["token"] == "from-env"  # clients keep their token

    run("migrate", "release", vref)
    assert vref not in [p["ref"] for p in js("pod", "list")]
    assert started_at(docker_client, vol.id) == before[vol.id]
    refused = run("migrate", "release", bref, check=False)
    assert refused.returncode == 1 and "was not adopted" in refused.stderr

    types = [e["type"] for e in js("events", "--tail", "100")]
    assert {"adopted", "adopt.failed", "released", "convert"} <= set(types)
    run("pod", "delete", bref, "--yes")
    assert (shapes.bind / "precious.txt").exists()  # data we did not make is never deleted
