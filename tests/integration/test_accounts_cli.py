"""``agentpod user`` and ``agentpod apikey`` as scripts use them (the fixed points), and the
first admin an install makes."""

from __future__ import annotations

import json

import docker

from agentpod.control import users
from agentpod.control.context import Context
from agentpod.settings import load_settings
from tests.conftest import Env, fresh_env
from tests.support.api import ROOT


def test_user_and_apikey_lifecycle(agentpod_env: Env, tenant: str) -> None:
    run = agentpod_env.run
    run("tenant", "create", tenant)
    name = f"cli{tenant}"
    run("user", "create", name, "--role", "member", "--tenant", tenant, "--password-stdin",
        input="a fine password\n")  # fmt: skip
    users = {u["name"]: u for u in agentpod_env.json("user", "list")}
    assert (users[name]["role"], users[name]["tenants"]) == ("member", [tenant])
    made = json.loads(
        run(
            "apikey", "create", "--user", name, "--scope", "pods:read", "--scope", "pods:write",
            "--tenant", tenant, "--expires", "30d", "--format", "json",
        ).stdout
    )  # fmt: skip
    assert made["key"].startswith(f"agp_{made['id']}_")
    listed = [k for k in agentpod_env.json("apikey", "list") if k["id"] == made["id"]]
    assert listed == [{k: v for k, v in made.items() if k != "key"}]
    assert made["key"] not in run("apikey", "list", "--format", "json").stdout
    run("apikey", "revoke", made["id"])
    assert agentpod_env.json("apikey", "list", "--user", name)[0]["state"] == "revoked"
    run("user", "delete", name)
    assert agentpod_env.json("apikey", "list", "--user", name) == []


def test_bad_account_input_is_one_line_exit_2(agentpod_env: Env, tenant: str) -> None:
    cases = [
        (("user", "create", "Bad", "--role", "viewer", "--password-stdin"), "a fine password",
         "error: user name 'Bad': use 1-63 lowercase letters"),
        (("user", "create", f"s{tenant}", "--role", "viewer", "--password-stdin"), "short",
         "error: password too short: use at least 8 characters"),
        (("apikey", "create", "--user", "x", "--scope", "pods:eat"), None,
         "error: scope 'pods:eat': use one of pods:read"),
    ]  # fmt: skip
    for args, stdin, start in cases:
        proc = agentpod_env.run(*args, check=False, input=stdin)
        assert proc.returncode == 2, proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1 and proc.stderr.startswith(start)
    gone = agentpod_env.run("apikey", "revoke", "0123456789ab", check=False)
    assert gone.returncode == 1
    assert gone.stderr.strip() == "error: no API key '0123456789ab': see 'agentpod apikey list'"


def test_an_install_makes_the_first_admin_once(docker_client: docker.DockerClient) -> None:
    with fresh_env(docker_client) as env:
        ctx = Context(load_settings(env.env))
        try:
            assert users.ensure_first_admin(ctx, ROOT, "first password")
            assert not users.ensure_first_admin(ctx, ROOT, "second password")
            admins = [u.name for u in users.list_users(ctx, ROOT) if u.role.value == "admin"]
            assert admins == ["admin"]
        finally:
            ctx.close()
