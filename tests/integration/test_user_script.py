"""The user script of the core issue, end to end through the CLI, against real Docker and the
real embedded PostgreSQL."""

from __future__ import annotations

import json
import time

import docker
import pytest

from tests.conftest import Env
from tests.support.pod_networks import pod_networks
from tests.support.proc import serving, wait_until


@pytest.mark.slow
def test_user_script(
    agentpod_env: Env, tenant: str, test_image: str, docker_client: docker.DockerClient
) -> None:
    run, js = agentpod_env.run, agentpod_env.json
    pod = f"{tenant}/agent"
    name = f"agentpod-{tenant}-agent"

    doctor = run("doctor")
    assert "✓ docker engine" in doctor.stdout and "✓ database" in doctor.stdout

    run("tenant", "create", tenant)
    created = run(
        "pod",
        "create",
        pod,
        "--type",
        "generic",
        "--image",
        test_image,
        "--memory",
        "256m",
        "--cpus",
        "0.5",
        "--set",
        "health_path=/readyz",
        "--set",
        "env.BODY=hello",
    )
    assert "running and healthy" in created.stderr

    status = js("pod", "status", pod)
    assert status["actual_status"] == "running" and status["ready"] is True
    assert status["subdomain"] == f"{tenant}-agent"
    c = docker_client.containers.get(name)
    assert c.id == status["container_id"]
    assert c.labels["agentpod.managed"] == "true" and c.labels["agentpod.tenant"] == tenant
    host = c.attrs["HostConfig"]
    assert host["Memory"] == 256 * 1024 * 1024 and host["NanoCpus"] == 500_000_000
    assert host["CapDrop"] == ["ALL"] and host["ReadonlyRootfs"] is True
    assert "no-new-privileges:true" in host["SecurityOpt"]
    assert host["RestartPolicy"]["Name"] == "unless-stopped"
    assert host["PortBindings"] in (None, {})
    holder = docker_client.containers.get(f"{name}.net")  # the pod's network namespace
    assert host["NetworkMode"] == f"container:{holder.id}"
    assert list(pod_networks(docker_client, c)) == [f"agentpod-net-{tenant}"]

    # crash -> running again within seconds, driven by Docker events
    with serving(agentpod_env.env, "--interval", "5"):
        old_id = c.id
        docker_client.api.kill(name)
        killed_at = time.monotonic()
        wait_until(lambda: docker_client.containers.get(name).status == "running", timeout=10)
        assert time.monotonic() - killed_at < 5
        assert docker_client.containers.get(name).id == old_id
        types = [e["type"] for e in js("events", "--pod", pod, "--tail", "5")]
        assert types.index("crash") < types.index("restart"), types

        listed = js("pod", "list", "--tenant", tenant)
        assert [p["ref"] for p in listed] == [pod]
        assert js("tenant", "status", tenant)["pods"] == 1
        assert tenant in [t["name"] for t in js("tenant", "list")]

        run("pod", "restart", pod)
        assert docker_client.containers.get(name).status == "running"

        # upgrade to the "same" image under another tag: recreated (new id), data volume kept
        docker_client.images.get(test_image).tag("agentpod-test/web", f"up-{tenant}")
        run("pod", "upgrade", pod, "--image", f"agentpod-test/web:up-{tenant}")
        upgraded = js("pod", "status", pod)
        assert upgraded["image"] == f"agentpod-test/web:up-{tenant}" and upgraded["ready"]
        assert upgraded["container_id"] != old_id

        logs = run("pod", "logs", pod, "--tail", "5").stdout
        assert "serving on 8080" in logs

        run("config", "set", pod, "--key", "env.BODY", "--value", '"changed"', "--wait")
        assert js("config", "get", pod)["env"]["BODY"] == "changed"
        env = docker_client.containers.get(name).attrs["Config"]["Env"]
        assert "BODY=changed" in env

        plan = js("reconcile", "--dry-run")
        assert [a for a in plan["actions"] if a["pod"].startswith(tenant)] == []
        health = js("health", tenant)
        assert health[0]["ready"] is True

        run("pod", "stop", pod)
        wait_until(lambda: docker_client.containers.get(name).status == "exited")
        assert js("pod", "status", pod)["desired_status"] == "stopped"
        run("pod", "start", pod)
        assert docker_client.containers.get(name).status == "running"

    refused = run("tenant", "delete", tenant, check=False)
    assert refused.returncode == 1 and "still has 1 pod" in refused.stderr

    run("pod", "delete", pod, "--yes")
    with pytest.raises(docker.errors.NotFound):
        docker_client.containers.get(name)
    with pytest.raises(docker.errors.NotFound):
        docker_client.volumes.get(f"agentpod-data-{tenant}-agent")
    run("tenant", "delete", tenant)
    assert docker_client.networks.list(names=[f"agentpod-net-{tenant}"]) == []
    events = [e["type"] for e in js("events", "--tail", "50")]
    assert "deleted" in events and "tenant.deleted" in events
    assert json.loads(run("pod", "list", "--format", "json").stdout) == [] or all(
        p["tenant"] != tenant for p in js("pod", "list")
    )
