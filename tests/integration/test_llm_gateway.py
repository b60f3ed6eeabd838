"""The LLM gateway end to end: a real ``agentpod serve``, real pods calling it from inside,
and a fake provider on the host that records what it got."""

from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import docker
import pytest

from tests.conftest import Env, fresh_env
from tests.integration.dataplane.helpers import create_pod
from tests.support.fakellm import FakeProvider
from tests.support.proc import serving, wait_until
from tests.support.wsimage import ws_image

CLIENT = (Path(__file__).parent.parent / "support" / "llmclient.py").read_text()
CHAT = {"model": "gpt-fake", "messages": [{"role": "user", "content": "hi"}]}
PLATFORM_ADD = ("llm", "provider", "add", "--platform")
READ_ALL_FILES = (
    "import glob, os\n"
    "for f in glob.glob('/data/**', recursive=True):\n"
    "    print(open(f).read() if os.path.isfile(f) else f)"
)
MESSAGES = {
    "model": "claude-fake",
    "max_tokens": 64,
    "messages": [{"role": "user", "content": "hi"}],
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("0.0.0.0", 0))
        return s.getsockname()[1]


@dataclass
class World:
    env: Env
    fake: FakeProvider
    docker: docker.DockerClient
    a: str
    b: str
    keys: dict[str, str]  # provider name -> its real key now
    serve_log: Path

    def container(self, ref: str):
        return self.docker.containers.get(f"agentpod-{ref.replace('/', '-')}")

    def call(
        self,
        ref: str,
        path: str,
        body: dict | None,
        key: str = "",
        header: str = "bearer",
        lines: int = -1,
    ) -> dict:
        """One request from inside pod ``ref`` (its own env: gateway URL and virtual key)."""
        argv = [
            "/py/bin/python3",
            "-c",
            CLIENT,
            path,
            json.dumps(body) if body else "",
            key,
            header,
            str(lines),
        ]
        code, out = self.container(ref).exec_run(argv)
        assert code == 0, out.decode(errors="replace")
        return json.loads(out)

    def pod_env(self, ref: str) -> dict[str, str]:
        pairs = self.container(ref).attrs["Config"]["Env"]
        return dict(p.split("=", 1) for p in pairs)


@pytest.fixture(scope="module")
def world(docker_client: docker.DockerClient) -> Iterator[World]:
    port = str(_free_port())
    fake = FakeProvider().start()
    image = ws_image()
    with fresh_env(docker_client, AGENTPOD_LLM_GATEWAY_PORT=port) as env:
        a, b = (f"t{uuid.uuid4().hex[:8]}" for _ in range(2))
        keys = {
            "oai": f"sk-real-{uuid.uuid4().hex}",
            "ant": f"sk-ant-{uuid.uuid4().hex}",
            "bprov": f"sk-b-{uuid.uuid4().hex}",
        }
        for t in (a, b):
            env.run("tenant", "create", t)
        providers = [("oai", a, "openai"), ("ant", a, "anthropic"), ("bprov", b, "openai")]
        for name, tenant, kind in providers:
            url = f"{fake.url}/v1" + ("/" if kind == "anthropic" else "")  # a slash is dropped
            env.run(
                *("llm", "provider", "add", name, "--tenant", tenant, "--kind", kind),
                *("--base-url", url, "--key-stdin"),
                input=keys[name],
            )
        with serving(env.env) as (_proc, log):
            for ref in (f"{a}/p1", f"{a}/p2", f"{b}/q1"):
                create_pod(env, ref, image)
            w = World(env, fake, docker_client, a, b, keys, log)
            wait_until(lambda: w.call(f"{a}/p1", "/oai/models", None)["status"] == 200, 20)
            yield w
        fake.stop()


@pytest.mark.slow
def test_pods_reach_their_providers_with_the_real_key_they_never_see(world: World) -> None:
    a, fake = world.a, world.fake
    env = world.pod_env(f"{a}/p1")
    vkey = env["AGENTPOD_LLM_API_KEY"]
    assert vkey.startswith("apk-") and env["AGENTPOD_LLM_BASE_URL"].startswith("http://")
    assert world.pod_env(f"{a}/p2")["AGENTPOD_LLM_API_KEY"] != vkey

    # OpenAI shape, not streamed: the provider sees the real key, the pod the answer as sent
    fake.seen.clear()
    got = world.call(f"{a}/p1", "/oai/chat/completions", CHAT)
    assert got["status"] == 200
    assert got["body"].encode() == fake.sent[-1]
    seen = fake.seen[-1]
    assert seen.path == "/v1/chat/completions"
    assert seen.headers["Authorization"] == f"Bearer {world.keys['oai']}"
    assert seen.body == json.dumps(CHAT).encode()
    assert vkey not in json.dumps(seen.headers)

    # the provider's own errors pass through as they are
    failed = world.call(f"{a}/p1", "/oai/chat/completions", {**CHAT, "model": "fail"})
    assert failed["status"] == 404 and failed["body"].encode() == fake.sent[-1]

    # Anthropic shape: x-api-key swapped, streamed events arrive one by one (no buffering)
    got = world.call(f"{a}/p1", "/ant/messages", {**MESSAGES, "stream": True}, header="x-api-key")
    assert got["status"] == 200, got
    assert fake.seen[-1].headers["x-api-key"] == world.keys["ant"]
    assert "Authorization" not in fake.seen[-1].headers
    assert "message_delta" in got["body"]
    spread = fake.gap_s * (fake.events + 1)
    data_lines = [
        t
        for t, line in zip(got["times"], got["body"].splitlines(), strict=False)
        if line.startswith("data:")
    ]
    assert data_lines[-1] - data_lines[0] > 0.8 * spread, got["times"]

    got = world.call(f"{a}/p1", "/ant/messages", MESSAGES, header="x-api-key")
    assert got["status"] == 200 and json.loads(got["body"])["usage"]["input_tokens"] == 13

    stream = {**CHAT, "stream": True, "stream_options": {"include_usage": True}}
    got = world.call(f"{a}/p1", "/oai/chat/completions", stream)
    assert got["status"] == 200 and got["body"].rstrip().endswith("data: [DONE]")

    # usage as the provider reported it: 3 OpenAI requests (one failed), 2 Anthropic; a
    # stream's usage is written when it ends, after the pod has its answer: wait for both
    def usage() -> dict[tuple[str, str, str], dict]:
        rows = world.env.json("llm", "usage", "--tenant", a)
        found = {(r["pod"], r["provider"], r["model"]): r for r in rows}
        wanted = [(f"{a}/p1", "oai", "gpt-fake"), (f"{a}/p1", "ant", "claude-fake")]
        return found if all(found.get(k, {}).get("requests", 0) >= 2 for k in wanted) else {}

    rows = wait_until(usage, 10)
    oai = rows[(f"{a}/p1", "oai", "gpt-fake")]
    assert (oai["requests"], oai["input_tokens"], oai["output_tokens"]) == (2, 22, 14)
    ant = rows[(f"{a}/p1", "ant", "claude-fake")]
    assert (ant["requests"], ant["input_tokens"], ant["output_tokens"]) == (2, 26, 10)
    assert rows[(f"{a}/p1", "oai", "fail")]["errors"] == 1


@pytest.mark.slow
def test_virtual_keys_work_only_from_their_own_pod_and_tenant(world: World) -> None:
    a, b = world.a, world.b
    p1_key = world.pod_env(f"{a}/p1")["AGENTPOD_LLM_API_KEY"]
    # another pod of the same tenant, with p1's key: refused (source address is not p1's)
    stolen = world.call(f"{a}/p2", "/oai/chat/completions", CHAT, key=p1_key)
    assert stolen["status"] == 403 and "only works from that pod" in stolen["body"]
    # from the host itself
    base = world.pod_env(f"{a}/p1")["AGENTPOD_LLM_BASE_URL"]
    request = urllib.request.Request(
        f"{base}/oai/chat/completions",
        data=json.dumps(CHAT).encode(),
        headers={"Authorization": f"Bearer {p1_key}", "Content-Type": "application/json"},
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 403
    assert json.loads(refused.value.read())["error"]["code"] == "forbidden"
    # and nothing listens beyond the networks' gateway addresses (no loopback, no public IP)
    port = int(base.rsplit(":", 1)[1])
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=5)
    # a made-up key, and no key
    bad = world.call(f"{a}/p1", "/oai/chat/completions", CHAT, key=p1_key[:-4] + "AAAA")
    assert bad["status"] == 401 and json.loads(bad["body"])["error"]["code"] == "invalid_api_key"
    # tenant A's pod cannot use tenant B's provider, and B's pod not A's
    assert world.call(f"{a}/p1", "/bprov/chat/completions", CHAT)["status"] == 404
    assert world.call(f"{b}/q1", "/oai/chat/completions", CHAT)["status"] == 404
    assert world.call(f"{b}/q1", "/bprov/chat/completions", CHAT)["status"] == 200


@pytest.mark.slow
def test_requests_per_minute_budget_gives_exactly_n_then_429(world: World) -> None:
    a = world.a
    world.env.run("llm", "budget", "set", f"{a}/p2", "--requests-per-minute", "3")
    time.sleep(2.5)  # the gateway reloads budgets every second
    codes = [world.call(f"{a}/p2", "/oai/chat/completions", CHAT) for _ in range(5)]
    assert [c["status"] for c in codes] == [200, 200, 200, 429, 429]
    error = json.loads(codes[3]["body"])["error"]
    assert error["limit"] == "requests_per_minute" and error["scope"] == f"pod {a}/p2"
    assert error["code"] == "rate_limit_exceeded" and 0 < error["reset_seconds"] <= 60
    assert codes[3]["headers"]["Retry-After"]
    # Anthropic's shape for Anthropic's clients
    refused = world.call(f"{a}/p2", "/ant/messages", MESSAGES, header="x-api-key")
    assert refused["status"] == 429
    assert json.loads(refused["body"])["error"]["type"] == "rate_limit_error"
    # the other pod of the tenant is not limited
    assert world.call(f"{a}/p1", "/oai/chat/completions", CHAT)["status"] == 200
    events = world.env.json("events", "--tenant", a, "--tail", "50")
    assert any(e["type"] == "llm.budget.exceeded" and e["pod"] == f"{a}/p2" for e in events)
    world.env.run("llm", "budget", "set", f"{a}/p2", "--clear", "requests-per-minute")


@pytest.mark.slow
def test_a_daily_spend_limit_from_the_price_table(world: World) -> None:
    b = world.b
    ref = f"{b}/q1"
    # $1 per token in and out: one request (11 + 7 tokens) costs $18
    world.env.run("llm", "prices", "set", "gpt-spendy", "--input", "1000000", "--output", "1000000")
    world.env.run("llm", "budget", "set", ref, "--daily-usd", "10")
    time.sleep(1.5)
    spendy = {**CHAT, "model": "gpt-spendy"}
    assert world.call(ref, "/bprov/chat/completions", spendy)["status"] == 200

    def refused() -> dict:
        got = world.call(ref, "/bprov/chat/completions", spendy)
        return got if got["status"] == 429 else {}

    error = json.loads(wait_until(refused, 15, every=1)["body"])["error"]
    assert error["limit"] == "daily_usd" and error["scope"] == f"pod {ref}"
    rows = world.env.json("llm", "usage", "--tenant", b, "--pod", "q1")
    assert sum(r["cost_usd"] for r in rows if r["model"] == "gpt-spendy") >= 18
    world.env.run("llm", "budget", "set", ref, "--clear", "daily-usd")
    time.sleep(1.5)  # the gateway reloads budgets every second


@pytest.mark.slow
def test_a_pod_that_hangs_up_cancels_the_provider_request(world: World) -> None:
    ref = f"{world.b}/q1"
    stream = {**CHAT, "stream": True}
    got = world.call(ref, "/bprov/chat/completions", stream, lines=2)
    assert got["status"] == 200 and len(got["times"]) == 2
    # the provider sees its client (the gateway) go away long before its last event
    wait_until(lambda: world.fake.streams and world.fake.streams[-1] == "aborted", 5)


@pytest.mark.slow
def test_rotating_the_provider_key_needs_no_pod_restart(world: World) -> None:
    a = world.a
    before = world.container(f"{a}/p1").id
    new = f"sk-rotated-{uuid.uuid4().hex}"
    world.env.run("llm", "provider", "rotate", "oai", "--tenant", a, "--key-stdin", input=new)
    world.keys["oai"] = new

    def sees_new_key() -> bool:
        assert world.call(f"{a}/p1", "/oai/chat/completions", CHAT)["status"] == 200
        return world.fake.seen[-1].headers["Authorization"] == f"Bearer {new}"

    wait_until(sees_new_key, 10, every=0.5)
    assert world.container(f"{a}/p1").id == before
    listed = world.env.json("llm", "provider", "list", "--tenant", a)
    assert {p["name"]: p["key"] for p in listed}["oai"] == f"…{new[-4:]}"


@pytest.mark.slow
def test_token_rotation_and_deletion_revoke_the_virtual_key(world: World) -> None:
    a = world.a
    ref = f"{a}/p3"
    create_pod(world.env, ref, ws_image())
    old = world.pod_env(ref)["AGENTPOD_LLM_API_KEY"]
    assert world.call(ref, "/oai/chat/completions", CHAT)["status"] == 200
    # --no-wait: main's wait can trip over the replaced container (NotFound; being fixed apart)
    world.env.run("pod", "token", ref, "--rotate", "--no-wait")

    def rotated() -> str:
        """The new container's key, once it runs and its key works."""
        try:
            key = world.pod_env(ref)["AGENTPOD_LLM_API_KEY"]
            ok = key != old and world.call(ref, "/oai/chat/completions", CHAT)["status"] == 200
        except docker.errors.APIError:  # NotFound too: the container is being replaced
            return ""
        return key if ok else ""

    new = wait_until(rotated, 120, every=1)
    wait_until(lambda: world.call(ref, "/oai/chat/completions", CHAT, key=old)["status"] == 401, 10)
    assert world.call(ref, "/oai/chat/completions", CHAT)["status"] == 200
    world.env.run("pod", "delete", ref, "--yes")
    # the deleted pod's key, presented by a live pod of the tenant: not a key any more
    wait_until(
        lambda: world.call(f"{a}/p1", "/oai/chat/completions", CHAT, key=new)["status"] == 401, 10
    )


@pytest.mark.slow
def test_a_platform_provider_reaches_only_the_tenants_it_is_shared_with(world: World) -> None:
    a, b, env, fake = world.a, world.b, world.env, world.fake
    platform = [f"{fake.url}/v1", "--key-stdin"]
    key, shadow = f"sk-platform-{uuid.uuid4().hex}", f"sk-shadow-{uuid.uuid4().hex}"
    world.keys |= {"plat": key, "oai-platform": shadow}  # never in any output either
    env.run(*PLATFORM_ADD, "plat", "--kind", "openai", "--base-url", *platform, input=key)
    env.run("llm", "provider", "share", "plat", "--tenant", a)
    plat = {**CHAT, "model": "gpt-plat"}
    wait_until(lambda: world.call(f"{a}/p1", "/plat/chat/completions", plat)["status"] == 200, 10)
    assert fake.seen[-1].headers["Authorization"] == f"Bearer {key}"
    assert world.call(f"{b}/q1", "/plat/chat/completions", plat)["status"] == 404  # not shared
    listed = {p["name"]: p for p in env.json("llm", "provider", "list", "--tenant", a)}
    assert listed["plat"]["platform"] is True and listed["oai"]["platform"] is False

    # a tenant with no provider of its own: sharing gives its pods the gateway (recreated)
    c = f"t{uuid.uuid4().hex[:8]}"
    env.run("tenant", "create", c)
    create_pod(env, f"{c}/r1", ws_image())
    assert "AGENTPOD_LLM_API_KEY" not in world.pod_env(f"{c}/r1")
    env.run("llm", "provider", "share", "plat", "--tenant", c)

    def reaches() -> bool:
        try:
            return world.call(f"{c}/r1", "/plat/chat/completions", plat)["status"] == 200
        except (docker.errors.APIError, KeyError, AssertionError):  # being recreated
            return False

    assert wait_until(reaches, 120, every=1)
    env.run("tenant", "delete", c, "--force", "--yes")

    def used() -> bool:
        rows = env.json("llm", "usage", "--tenant", a, "--pod", "p1")
        return any(r["provider"] == "plat" and r["model"] == "gpt-plat" for r in rows)

    assert wait_until(used, 10)

    # a platform provider named like tenant A's own: A keeps its own, B (no such) gets it
    env.run(*PLATFORM_ADD, "oai", "--kind", "openai", "--base-url", *platform, input=shadow)
    shared = env.run("llm", "provider", "share", "oai", "--tenant", a)
    assert "its own provider 'oai'" in shared.stderr
    env.run("llm", "provider", "share", "oai", "--tenant", b)
    reached = wait_until(
        lambda: world.call(f"{b}/q1", "/oai/chat/completions", CHAT)["status"] == 200, 10
    )
    assert reached and fake.seen[-1].headers["Authorization"] == f"Bearer {shadow}"
    assert world.call(f"{a}/p1", "/oai/chat/completions", CHAT)["status"] == 200
    assert fake.seen[-1].headers["Authorization"] == f"Bearer {world.keys['oai']}"
    shown = {p["name"]: p for p in env.json("llm", "provider", "list", "--platform")}
    assert shown["oai"]["tenants"] == sorted([a, b]) and shown["plat"]["tenants"] == [a]

    # unshared: A's pods get 404 within a second or two; removed: B's too
    env.run("llm", "provider", "unshare", "plat", "--tenant", a)
    wait_until(lambda: world.call(f"{a}/p1", "/plat/chat/completions", plat)["status"] == 404, 10)
    env.run("llm", "provider", "rm", "oai", "--platform")
    wait_until(lambda: world.call(f"{b}/q1", "/oai/chat/completions", CHAT)["status"] == 404, 10)
    neither = ("llm", "provider", "add", "x", "--kind", "openai", "--base-url", *platform)
    refused = env.run(*neither, input=key, check=False)
    assert refused.returncode == 2 and "--platform" in refused.stderr
    env.run("llm", "provider", "rm", "plat", "--platform")


@pytest.mark.slow
def test_real_keys_never_leave_the_control_plane(world: World) -> None:
    a, b = world.a, world.b
    secrets = list(world.keys.values())
    seen: list[str] = []
    for ref in (f"{a}/p1", f"{a}/p2", f"{b}/q1"):
        c = world.container(ref)
        seen.append(json.dumps(c.attrs))
        seen.append(
            c.exec_run(["/py/bin/python3", "-c", "import os; print(os.environ)"])[1].decode()
        )
        files = c.exec_run(
            [
                "/py/bin/python3",
                "-c",
                READ_ALL_FILES,
            ]
        )
        seen.append(files[1].decode(errors="replace"))
        seen.append(world.env.run("config", "get", ref).stdout)
        seen.append(world.env.run("pod", "logs", ref).stdout)
    for t in (a, b):
        seen.append(
            world.env.run("events", "--tenant", t, "--tail", "200", "--format", "json").stdout
        )
        seen.append(
            world.env.run("llm", "provider", "list", "--tenant", t, "--format", "json").stdout
        )
        seen.append(world.env.run("llm", "keys", "--tenant", t, "--format", "json").stdout)
    seen.append(world.env.run("llm", "provider", "list", "--platform", "--format", "json").stdout)
    seen.append(world.env.run("audit", "--tail", "500", "--format", "json").stdout)
    seen.append(world.serve_log.read_text())
    text = "\n".join(seen)
    for secret in secrets:
        assert secret not in text
    # and in the database only sealed
    out = subprocess.run(
        ["grep", "-rl", secrets[0], str(world.env.home)], capture_output=True, text=True
    )
    assert out.stdout == "", out.stdout


def test_a_provider_key_in_a_pods_config_is_refused(world: World) -> None:
    ref = f"{world.a}/p1"
    proc = world.env.run(
        "config", "set", ref, "--key", "env.OPENAI_API_KEY", "--value", "sk-x", check=False
    )
    assert proc.returncode == 1 and "agentpod llm provider add" in proc.stderr
    assert "Traceback" not in proc.stderr
    proc = world.env.run(
        "llm",
        "provider",
        "add",
        "x",
        "--tenant",
        world.a,
        "--kind",
        "openai",
        "--base-url",
        "ftp://nope",
        "--key-stdin",
        input="sk-123456789012",
        check=False,
    )
    assert proc.returncode == 1 and "base URL" in proc.stderr
