"""Backup and restore for real: pods with files in their volumes, an archive, everything deleted,
a new AgentPod home (with its own ``serve --with-proxy``) restored from it; one pod's snapshots."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from agentpod.control.context import Context
from agentpod.services.llm_store import LlmStore
from agentpod.settings import load_settings
from tests.conftest import Env, fresh_env
from tests.integration.dataplane.helpers import create_pod
from tests.support.backups import corrupt, put_files, volume_files
from tests.support.images import fake_openclaw_image
from tests.support.proxied import proxied_instance

CLAW_DIR = "/home/node/.openclaw"


def container_of(env: Env, ref: str) -> str:
    return env.json("pod", "status", ref)["container_id"]


@pytest.mark.slow
def test_backup_then_restore_into_a_new_home(
    agentpod_env: Env, docker_client: docker.DockerClient, test_image: str, tenant: str, tmp_path
) -> None:
    env = agentpod_env
    env.run("tenant", "create", tenant, "--rate-average", "7", "--rate-burst", "9")
    web, claw, idle = f"{tenant}/web", f"{tenant}/claw", f"{tenant}/idle"
    create_pod(env, web, test_image, "--domain", f"{tenant}.example.test")
    env.run("pod", "create", claw, "--image", fake_openclaw_image(), "--memory", "64m")
    create_pod(env, idle, test_image)
    env.run("pod", "stop", idle)
    set_pools(env, tenant, {"": "ssd=true", "idle": "zone=eu"})  # as a swarm install has them
    blob = os.urandom(300_000)
    put_files(docker_client, container_of(env, web), "/data", {"notes.txt": b"hi", "d/b.bin": blob})
    paired = b'{"device-1": {"approved": true}}'
    put_files(docker_client, container_of(env, claw), CLAW_DIR, {"devices/paired.json": paired})
    before = {
        web: volume_files(docker_client, container_of(env, web), "/data"),
        claw: volume_files(docker_client, container_of(env, claw), CLAW_DIR),
    }
    token = env.json("pod", "token", claw)["token"]

    archive = tmp_path / "all.tar.gz"
    made = env.json("backup", "create", "--to", str(archive))
    assert sorted(made["pods"]) == sorted([web, claw, idle])
    checks = json.loads(env.run("doctor", "--format", "json", check=False).stdout)
    backup = next(c for c in checks if c["check"] == "backup")
    assert backup["ok"] and str(archive) in backup["detail"], backup
    for ref in (web, claw, idle):
        env.run("pod", "delete", ref, "--yes")
    env.run("tenant", "delete", tenant)
    bad = corrupt(archive, blob[:64], tmp_path / "bad.tar")

    with proxied_instance(docker_client) as new:
        failed = new.env.run("backup", "restore", str(bad), check=False)
        assert failed.returncode == 1
        assert "volumes/" in failed.stderr and "is corrupted" in failed.stderr
        assert failed.stderr.count("error:") == 1 and "Traceback" not in failed.stderr
        assert new.env.json("tenant", "list") == []
        assert not docker_client.volumes.list(filters={"name": f"agentpod-data-{tenant}-"})

        restored = new.env.json("backup", "restore", str(archive))
        assert sorted(restored["pods"]) == sorted([web, claw, idle])
        assert new.wait_status(f"{tenant}-web", 200) == f"{web}\n"
        assert new.wait_status(f"{tenant}-claw", 200) is not None
        assert new.env.json("pod", "token", claw)["token"] == token
        after_web = volume_files(docker_client, container_of(new.env, web), "/data")
        after_claw = volume_files(docker_client, container_of(new.env, claw), CLAW_DIR)
        assert after_web == before[web]
        # rendered again for this machine (its proxy address), and rewritten at each start
        fresh = ("/openclaw.json", "/last-start")
        assert {k: v for k, v in after_claw.items() if not k.endswith(fresh)} == {
            k: v for k, v in before[claw].items() if not k.endswith(fresh)
        }
        config = json.loads(after_claw[f"{Path(CLAW_DIR).name}/openclaw.json"][0])
        assert config["gateway"]["auth"]["token"] == token
        settings = new.env.json("tenant", "status", tenant)["settings"]
        assert (settings["rate_average"], settings["rate_burst"]) == (7, 9)
        assert new.env.json("pod", "status", web)["domains"] == [f"{tenant}.example.test"]
        assert new.env.json("pod", "status", idle)["desired_status"] == "stopped"
        pools = {r: new.env.json("pod", "status", r)["pool"] for r in (web, idle)}
        assert pools == {web: "ssd=true", idle: "zone=eu"}  # the tenant's; its own

        again = new.env.run("backup", "restore", str(archive), check=False)
        assert again.returncode == 1
        assert f"pod {web} exists (pass --yes to replace it)" in again.stderr


def set_pools(env: Env, tenant: str, pools: dict[str, str]) -> None:
    """Pools straight in the database (this engine is no swarm): "" is the tenant's."""
    ctx = Context(load_settings(env.env))
    with ctx.store.tx() as conn:
        conn.execute(
            "UPDATE tenants SET settings = settings || jsonb_build_object('pool', %s::text)"
            " WHERE name = %s",
            (pools.pop(""), tenant),
        )
        for name, pool in pools.items():
            conn.execute(
                "UPDATE pods SET pool = %s FROM tenants t"
                " WHERE t.id = pods.tenant_id AND t.name = %s AND pods.name = %s",
                (pool, tenant, name),
            )
    ctx.close()


@pytest.fixture
def web_pod(agentpod_env: Env, test_image: str, tenant: str) -> Iterator[str]:
    """A generic pod of its own tenant; deleted afterwards."""
    ref = f"{tenant}/web"
    agentpod_env.run("tenant", "create", tenant)
    create_pod(agentpod_env, ref, test_image)
    yield ref
    agentpod_env.run("pod", "delete", ref, "--yes")


@pytest.mark.slow
def test_pod_snapshot_and_restore_undo_a_change(
    agentpod_env: Env, docker_client: docker.DockerClient, web_pod: str
) -> None:
    env, ref = agentpod_env, web_pod
    put_files(docker_client, container_of(env, ref), "/data", {"notes.txt": b"v1"})
    snap = env.json("pod", "snapshot", ref)["snapshot"]

    put_files(docker_client, container_of(env, ref), "/data", {"notes.txt": b"v2", "x": b"!"})
    env.run("config", "set", ref, "--key", "env.FOO", "--value", '"bar"')
    out = env.json("pod", "restore", ref, snap)
    assert out["replaced"] == [ref]
    files = volume_files(docker_client, container_of(env, ref), "/data")
    assert files["data/notes.txt"][0] == b"v1"
    assert "data/x" not in files
    assert "FOO" not in json.loads(env.run("config", "get", ref).stdout).get("env", {})
    listed = [s["snapshot"] for s in env.json("pod", "snapshots", ref)]
    assert listed == [snap, out["snapshot_before"]]
    kinds = [e["type"] for e in env.json("events", "--pod", ref, "--tail", "50")]
    assert kinds.count("snapshot") == 2 and "restored" in kinds

    missing = env.run("pod", "restore", ref, "20990101T000000.000Z", check=False)
    assert missing.returncode == 1 and "no snapshot" in missing.stderr


@pytest.mark.slow
def test_pod_upgrade_takes_a_snapshot_first(
    agentpod_env: Env, docker_client: docker.DockerClient, test_image: str, web_pod: str
) -> None:
    env, ref = agentpod_env, web_pod
    retagged = f"agentpod-backup-test/{web_pod.replace('/', '-')}:v2"
    docker_client.images.get(test_image).tag(retagged)
    try:
        upgraded = env.run("pod", "upgrade", ref, "--image", retagged)
        snaps = env.json("pod", "snapshots", ref)
        assert len(snaps) == 1 and snaps[0]["snapshot"] in upgraded.stderr
        env.run("pod", "upgrade", ref, "--image", test_image, "--no-snapshot")
        assert len(env.json("pod", "snapshots", ref)) == 1
    finally:
        docker_client.images.remove(retagged)


def test_a_whole_restore_brings_back_quotas_llm_providers_budgets_prices_and_accounts(
    docker_client: docker.DockerClient, tmp_path: Path
) -> None:
    key = "sk-live-" + os.urandom(12).hex()
    archive = tmp_path / "all.tar.gz"
    with fresh_env(docker_client) as old:
        old.run("tenant", "create", "acme")
        old.run("tenant", "set", "acme", "--max-pods", "3", "--max-memory", "2g")
        old.run("tenant", "create", "empty")
        old.run(
            "llm", "provider", "add", "openai", "--tenant", "acme", "--kind", "openai",
            "--base-url", "http://llm.example.test/v1", "--key-stdin", input=key,
        )  # fmt: skip
        old.run(
            "llm", "provider", "add", "shared", "--platform", "--kind", "anthropic",
            "--base-url", "http://llm.example.test/a", "--key-stdin", input=key + "p",
        )  # fmt: skip
        old.run("llm", "provider", "share", "shared", "--tenant", "acme")
        old.run("llm", "budget", "set", "acme", "--requests-per-minute", "5")
        old.run("llm", "prices", "set", "m-1", "--input", "1.5", "--output", "6")
        for user, role in (("ann", "member"), ("bob", "member")):
            old.run("user", "create", user, "--role", role, "--tenant", "acme",
                    "--password-stdin", input=f"{user}'s password")  # fmt: skip
        old.run("backup", "create", "--to", str(archive))
    with fresh_env(docker_client) as new:
        new.run(
            "user", "create", "ann", "--role", "viewer", "--password-stdin", input="other password"
        )
        new.run("backup", "restore", str(archive), "--no-wait")
        assert {t["name"] for t in new.json("tenant", "list")} == {"acme", "empty"}
        quota = new.json("tenant", "status", "acme")["quota"]
        assert (quota["max_pods"], quota["max_memory_mb"]) == (3, 2048), quota
        provider, shared = new.json("llm", "provider", "list", "--tenant", "acme")
        assert (provider["name"], provider["base_url"]) == ("openai", "http://llm.example.test/v1")
        assert (shared["name"], shared["platform"]) == ("shared", True)
        (platform,) = new.json("llm", "provider", "list", "--platform")
        assert (platform["name"], platform["tenants"]) == ("shared", ["acme"])
        assert provider["key"] == f"…{key[-4:]}"
        assert new.json("llm", "budget", "show", "acme")[0]["requests_per_minute"] == 5
        assert {p["model"]: p["input_usd_per_mt"] for p in new.json("llm", "prices", "list")} == {
            "m-1": 1.5
        }
        users = {u["name"]: (u["role"], u["tenants"]) for u in new.json("user", "list")}
        assert users["bob"] == ("member", ["acme"])
        assert users["ann"] == ("viewer", [])  # one of the same name here stays as it was
        ctx = Context(load_settings(new.env))
        try:  # sealed again with this home's key
            upstreams = LlmStore(ctx.store).upstreams()
            assert upstreams[("acme", "openai")].key == key
            assert upstreams[("acme", "shared")].key == key + "p"
        finally:
            ctx.close()
