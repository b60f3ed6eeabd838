"""The control layer's use cases with callers other than root, against the real database:
another tenant's pod or tenant is missing (the very NotFound of one that does not exist), a
visible one without the right is Forbidden, lists hold the caller's tenants only, and every
write is audited (refused ones too) without a secret in audit rows, events or serve's log."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from agentpod.control import (
    access,
    adoption,
    audit,
    llm,
    observe,
    pod_config,
    pods,
    recovery,
    tenants,
)
from agentpod.control.context import Context
from agentpod.control.errors import Forbidden
from agentpod.core.authz import Principal, Role, Scope
from agentpod.core.backup import BackupError
from agentpod.core.models import DesiredStatus, Limits
from agentpod.core.names import PodRef
from agentpod.services.store import NotFound
from agentpod.settings import Settings
from tests.conftest import Env
from tests.support.images import fake_openclaw_image
from tests.support.proc import serving

LIMITS = Limits(memory_mb=64, cpus=0.25, pids=64)


@pytest.fixture
def world(agentpod_env: Env, test_image: str) -> Iterator[tuple[Context, str, str]]:
    """Two tenants with one stopped pod each (no containers); removed afterwards."""
    ctx = Context(Settings(home=agentpod_env.home))
    mine, other = f"t{uuid.uuid4().hex[:8]}", f"t{uuid.uuid4().hex[:8]}"
    for name in (mine, other):
        ctx.store.create_tenant(name)
        ref = PodRef(name, "p")
        ctx.store.create_pod(
            ref, "generic", ref.default_subdomain, test_image, LIMITS, {}, DesiredStatus.STOPPED
        )
    yield ctx, mine, other
    for name in (mine, other):
        tenants.delete(ctx, Principal.root("test"), name, force=True)
    ctx.close()


def member(tenant: str) -> Principal:
    return Principal.user("mia", Role.MEMBER, frozenset({tenant})).at("198.51.100.4")


def viewer(tenant: str) -> Principal:
    return Principal.user("vic", Role.VIEWER, frozenset({tenant}))


Call = Callable[[Context, Principal, str], Any]
# (who, the use case on a pod ref, what it raises); who: "member"/"viewer" of the first tenant
CASES: list[tuple[str, str, Call, type[Exception] | None]] = [
    ("member", "other", lambda c, p, r: pods.status(c, p, r), NotFound),
    ("member", "other", lambda c, p, r: pods.start(c, p, r), NotFound),
    ("member", "other", lambda c, p, r: pod_config.get(c, p, r), NotFound),
    ("member", "other", lambda c, p, r: access.reveal_token(c, p, r), NotFound),
    ("member", "other", lambda c, p, r: pods.logs(c, p, r), NotFound),
    ("member", "mine", lambda c, p, r: pods.status(c, p, r), None),
    ("member", "mine", lambda c, p, r: pods.set_domains(c, p, r, ["a.example.com"]), None),
    ("member", "mine", lambda c, p, r: tenants.update(c, p, r.split("/")[0], 5), Forbidden),
    ("viewer", "mine", lambda c, p, r: pods.status(c, p, r), None),
    ("viewer", "mine", lambda c, p, r: pods.stop(c, p, r), Forbidden),
    ("viewer", "mine", lambda c, p, r: access.reveal_token(c, p, r), Forbidden),
    ("viewer", "mine", lambda c, p, r: pod_config.set_key(c, p, r, "port", "81"), Forbidden),
    ("viewer", "other", lambda c, p, r: pods.stop(c, p, r), NotFound),
    ("viewer", "mine", lambda c, p, r: pod_config.get(c, p, r, reveal=True), Forbidden),
    ("viewer", "mine", lambda c, p, r: llm.usage(c, p, _tenant(r), "p", "1h", False), None),
    ("member", "mine", lambda c, p, r: llm.budgets(c, p, _tenant(r)), None),
    ("member", "mine", lambda c, p, r: llm.set_budget(c, p, r, {"daily_usd": 1}), Forbidden),
    ("member", "mine", lambda c, p, r: llm.rotate_provider(c, p, _tenant(r), "x", "k"), Forbidden),
]


def _tenant(ref: str) -> str:
    return ref.split("/")[0]


@pytest.mark.parametrize(("who", "whose", "call", "raises"), CASES)
def test_rights_of_callers(
    world: tuple[Context, str, str],
    who: str,
    whose: str,
    call: Call,
    raises: type[Exception] | None,
) -> None:
    ctx, mine, other = world
    caller = member(mine) if who == "member" else viewer(mine)
    ref = f"{mine if whose == 'mine' else other}/p"
    if raises is None:
        call(ctx, caller, ref)
        return
    with pytest.raises(raises) as caught:
        call(ctx, caller, ref)
    if raises is NotFound:  # word for word what a pod that does not exist gives
        with pytest.raises(NotFound) as missing:
            pods.status(ctx, Principal.root("test"), f"{ref}zz")
        assert str(caught.value) == str(missing.value).replace(f"{ref}zz", ref)


def test_lists_hold_the_callers_tenants_only(world: tuple[Context, str, str]) -> None:
    ctx, mine, other = world
    caller = member(mine)
    assert {p["tenant"] for p in pods.list_(ctx, caller)} == {mine}
    assert [t["name"] for t in tenants.list_(ctx, caller)] == [mine]
    assert {e["pod"].split("/")[0] for e in observe.events(ctx, caller, 500)} == {mine}
    with pytest.raises(NotFound, match=f"no tenant '{other}'"):
        pods.list_(ctx, caller, other)
    with pytest.raises(NotFound, match=f"no tenant '{other}'"):
        llm.usage(ctx, caller, other, None, None, False)
    with pytest.raises(NotFound, match=f"no tenant '{other}'"):
        pods.create(ctx, caller, f"{other}/new", pods.PodRequest("generic", "img:1"))
    with pytest.raises(Forbidden):
        tenants.create(ctx, caller, f"t{uuid.uuid4().hex[:8]}")
    with pytest.raises(Forbidden):
        audit.tail(ctx, caller)


def test_what_spans_the_machine_needs_a_caller_of_every_tenant(
    world: tuple[Context, str, str], tmp_path: Path
) -> None:
    ctx, mine, _other = world
    operator = Principal.user("ops", Role.OPERATOR, frozenset())
    for caller in (
        member(mine),
        Principal.apikey("k1", "ops", Role.OPERATOR, frozenset(), frozenset(Scope), mine),
    ):
        with pytest.raises(Forbidden, match=r"lacks tenants:write|does not see every tenant"):
            recovery.restore(ctx, caller, tmp_path / "none.tar.gz")
        with pytest.raises(Forbidden):
            adoption.discover(ctx, caller)
        with pytest.raises(Forbidden):  # a key bound to one tenant makes no other
            tenants.create(ctx, caller, f"{mine}x")
        with pytest.raises(Forbidden):  # prices and platform providers are every tenant's
            llm.set_price(ctx, caller, "gpt-x", 1, 1)
        with pytest.raises(Forbidden):
            llm.add_provider(ctx, caller, None, "shared", "openai", "https://x", "sk-12345678")
        with pytest.raises(Forbidden):
            llm.share_provider(ctx, caller, "shared", mine)
    with pytest.raises(BackupError):  # the operator may: then the archive is checked
        recovery.restore(ctx, operator, tmp_path / "none.tar.gz")
    rows = [r for r in audit.tail(ctx, operator, 20) if r.action == "backup.restore"]
    assert [r.outcome for r in rows[-3:]] == ["refused", "refused", "failed"]


def test_writes_are_audited_with_actor_address_and_outcome(
    world: tuple[Context, str, str],
) -> None:
    ctx, mine, other = world
    caller = member(mine)
    pods.set_domains(ctx, caller, f"{mine}/p", ["b.example.com"])
    with pytest.raises(NotFound):
        pods.start(ctx, caller, f"{other}/p")
    with pytest.raises(Forbidden):
        pods.stop(ctx, viewer(mine), f"{mine}/p")
    rows = [e for e in audit.tail(ctx, Principal.root("test"), 50) if e.tenant in (mine, other)]
    seen = [(r.actor, r.action, r.target, r.outcome, r.address) for r in rows[-3:]]
    assert seen == [
        ("user:mia", "pod.domains", f"{mine}/p", "ok", "198.51.100.4"),
        ("user:mia", "pod.start", f"{other}/p", "refused", "198.51.100.4"),
        ("user:vic", "pod.stop", f"{mine}/p", "refused", None),
    ]
    assert rows[-2].reason == f"no pod {other}/p: see 'agentpod pod list'"
    assert rows[-1].reason == f"user:vic (viewer) lacks pods:write on tenant {mine}"
    assert [r.target for r in audit.tail(ctx, Principal.user("o", Role.OPERATOR, frozenset()))]


def test_the_cli_audits_as_the_os_user_and_refusals_too(agentpod_env: Env, tenant: str) -> None:
    import getpass

    env = agentpod_env
    env.run("tenant", "create", tenant)
    env.run("tenant", "set", tenant, "--max-pods", "0")
    refused = env.run(
        "pod", "create", f"{tenant}/a", "--type", "generic", "--image", "x:1", check=False
    )
    assert refused.returncode == 1
    env.run("tenant", "delete", tenant)
    rows = [r for r in env.json("audit", "--tail", "200") if r["tenant"] == tenant]
    assert [(r["action"], r["outcome"]) for r in rows] == [
        ("tenant.create", "ok"),
        ("tenant.set", "ok"),
        ("pod.create", "refused"),
        ("tenant.delete", "ok"),
    ]
    assert {r["actor"] for r in rows} == {f"root:{getpass.getuser()}"}
    assert rows[2]["reason"].startswith(f"tenant {tenant}: 0 of 0 pods used")
    table = env.run("audit", "--tail", "200").stdout
    assert f"refused: tenant {tenant}: 0 of 0 pods used" in table


def test_no_secret_in_audit_events_or_serve_log(agentpod_env: Env, tenant: str) -> None:
    env = agentpod_env
    secret = "sk-live-" + uuid.uuid4().hex
    image = fake_openclaw_image()
    env.run("tenant", "create", tenant)
    with serving(env.env) as (_proc, log):
        for name in ("a", "b"):
            env.run("pod", "create", f"{tenant}/{name}", "--image", image, "--memory", "64m")
        ref = f"{tenant}/a"
        tokens = [env.json("pod", "token", ref)["token"]]
        tokens.append(env.json("pod", "token", ref, "--rotate", "--no-wait")["token"])
        tokens.append(env.json("pod", "token", f"{tenant}/b")["token"])
        env.run("config", "set", ref, "--key", "env.SERVICE_TOKEN", "--value", secret)
        provider = env.run(
            "config", "set", ref, "--key", "env.OPENAI_API_KEY", "--value", secret, check=False
        )
        assert provider.returncode == 1 and secret not in provider.stderr
        key = "sk-proj-" + uuid.uuid4().hex
        env.run(
            "llm",
            "provider",
            "add",
            "openai",
            "--tenant",
            tenant,
            "--kind",
            "openai",
            "--base-url",
            "https://api.openai.com/v1",
            "--key-stdin",
            input=key + "\n",
        )
        env.run(
            "llm",
            "provider",
            "rotate",
            "openai",
            "--tenant",
            tenant,
            "--key-stdin",
            input=key + "x\n",
        )
        env.run("tenant", "delete", tenant, "--force", "--yes")
        serve_log = log.read_text()
    assert len(set(tokens)) == 3 and all(len(t) > 20 for t in tokens)
    audit_rows = env.run("audit", "--tail", "500", "--format", "json").stdout
    events = env.run("events", "--tail", "1000", "--format", "json").stdout
    actions = {r["action"] for r in json.loads(audit_rows) if r["tenant"] == tenant}
    assert {"token.rotate", "config.set", "llm.provider.add", "llm.provider.rotate"} <= actions
    for text in (audit_rows, events, serve_log):
        for value in (*tokens, secret, key):
            assert value not in text
