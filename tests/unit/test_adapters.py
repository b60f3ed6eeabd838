from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from agentpod.core.adapters import ConfigError, UnknownAdapter, all_adapters, get_adapter
from agentpod.core.adapters.base import PodContext
from agentpod.core.models import Limits, Pod
from agentpod.core.routing import Edge
from agentpod.core.spec import MANAGED, POD_ID, SPEC_HASH, build_spec

CTX = PodContext(
    tenant="acme",
    pod="agent",
    gateway_token="tok-123",
    public_url="http://acme-agent.localhost:8080",
    limits=Limits(memory_mb=1536, cpus=1),
    proxy_addresses=("172.18.0.1",),
)


def make_pod(**over: object) -> Pod:
    now = datetime.now(UTC)
    fields: dict[str, object] = dict(
        id=5,
        tenant_id=1,
        tenant="acme",
        name="agent",
        adapter="generic",
        subdomain="acme-agent",
        desired_status="running",
        image="img:1",
        limits=Limits(memory_mb=256, cpus=0.5, pids=128),
        gateway_token="tok",
        config={},
        created_at=now,
        updated_at=now,
    )
    fields.update(over)
    return Pod(**fields)


def test_builtins_are_registered() -> None:
    assert {"openclaw", "open-webui", "generic"} <= set(all_adapters())
    with pytest.raises(UnknownAdapter, match="use one of"):
        get_adapter("nope")


def test_openclaw_renders_what_the_gateway_needs() -> None:
    oc = get_adapter("openclaw")
    cfg = oc.validate_config(
        {
            "env": {"OPENAI_API_KEY": "sk"},
            "allowed_origins": ["https://x"],
            "settings": {"gateway": {"bind": "loopback"}, "agents": {"a": 1}},
        }
    )
    out = oc.render(CTX, cfg)
    (f,) = out.files
    doc = json.loads(f.content)
    gw = doc["gateway"]
    assert gw["mode"] == "local" and gw["bind"] == "lan"  # ours win over user settings
    assert gw["auth"] == {"mode": "token", "token": "tok-123"}
    assert gw["controlUi"]["allowedOrigins"] == ["http://acme-agent.localhost:8080", "https://x"]
    assert gw["trustedProxies"] == ["172.18.0.1"]
    assert gw["allowRealIpFallback"] is True  # X-Real-Ip names a client on this machine
    assert doc["agents"] == {"a": 1}
    assert f.path == "openclaw.json" and f.mode == 0o600
    assert out.env["OPENCLAW_DISABLE_BONJOUR"] == "1"
    assert out.env["OPENAI_API_KEY"] == "sk"
    assert out.env["NODE_OPTIONS"] == "--max-old-space-size=1152"  # below the 1536 MB cap
    assert "tok-123" not in json.dumps(out.env)  # the token lives in the 0600 file only
    assert oc.health_check(cfg).path == "/readyz"
    assert oc.default_limits.memory_mb >= 1200  # measured peak ~900 MB at start


@pytest.mark.parametrize(
    ("adapter", "config", "message"),
    [
        ("openclaw", {"nope": 1}, "nope: Extra inputs are not permitted"),
        ("openclaw", {"env": {"A": 1}}, "env.A: Input should be a valid string"),
        ("generic", {"port": 70000}, "port: Input should be less than or equal to 65535"),
        ("generic", {"health_path": "x"}, "health_path: String should match pattern"),
        ("open-webui", {"env": []}, "env: Input should be a valid dictionary"),
    ],
)
def test_config_errors_say_where(adapter: str, config: dict, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        get_adapter(adapter).validate_config(config)
    assert message in str(err.value)


def test_generic_port_and_health_from_config() -> None:
    g = get_adapter("generic")
    cfg = g.validate_config({"port": 9000, "health_path": "/ok", "env": {"A": "b"}})
    assert g.port(cfg) == 9000
    assert (g.health_check(cfg).port, g.health_check(cfg).path) == (9000, "/ok")
    assert g.render(CTX, cfg).env == {"PORT": "9000", "A": "b"}


def test_openwebui_gets_public_url() -> None:
    w = get_adapter("open-webui")
    env = w.render(CTX, w.validate_config({})).env
    assert env["WEBUI_URL"] == CTX.public_url


def test_openwebui_runs_offline_on_a_read_only_root() -> None:
    w = get_adapter("open-webui")
    env = w.render(CTX, w.validate_config({"env": {"OPENAI_API_KEY": "k"}})).env
    assert (w.user, w.state_owner, w.read_only_rootfs) == ("1000:1000", (1000, 1000), True)
    assert env["DATA_DIR"] == env["HOME"] == w.state_dir
    assert env["STATIC_DIR"].startswith("/tmp/")  # written at every start
    assert env["OFFLINE_MODE"] == "true" and env["HF_HUB_OFFLINE"] == "1"
    assert env["WEBUI_SECRET_KEY"] == CTX.gateway_token and env["OPENAI_API_KEY"] == "k"


def test_json_schema_is_exposed() -> None:
    schema = get_adapter("generic").json_schema()
    assert schema["properties"]["port"]["maximum"] == 65535


def test_spec_labels_and_hardening() -> None:
    spec = build_spec(make_pod(), "inst1", "agentpod-net-acme", Edge())
    labels = spec.final_labels()
    assert labels[MANAGED] == "true" and labels[POD_ID] == "5"
    assert labels["agentpod.instance"] == "inst1"
    assert labels[SPEC_HASH] == spec.hash
    assert spec.name == "agentpod-acme-agent" and spec.volume == "agentpod-data-acme-agent"
    assert spec.read_only and spec.user == "1000:1000"
    assert spec.env["AGENTPOD_TENANT"] == "acme"


@pytest.mark.parametrize(
    "change",
    [
        {"image": "img:2"},
        {"limits": Limits(memory_mb=512, cpus=0.5, pids=128)},
        {"config": {"env": {"A": "1"}}},
        {"gateway_token": "other"},
        {"subdomain": "other"},
    ],
)
def test_spec_hash_changes_with_what_forces_a_recreate(change: dict) -> None:
    base = build_spec(make_pod(adapter="openclaw"), "i", "n", Edge()).hash
    changed = build_spec(make_pod(adapter="openclaw", **change), "i", "n", Edge()).hash
    assert changed != base


def test_spec_hash_is_stable() -> None:
    a = build_spec(make_pod(), "i", "n", Edge()).hash
    b = build_spec(make_pod(desired_status="stopped"), "i", "n", Edge()).hash
    assert a == b


def test_spec_hash_is_the_released_one() -> None:
    """The hash the code released before pools computed for the same pods: a change that
    moves it recreates every pod of every install on upgrade, so it must be deliberate."""
    assert build_spec(make_pod(), "i", "n", Edge()).hash == "4d35b332b803094e"
    assert build_spec(make_pod(adapter="openclaw"), "i", "n", Edge()).hash == "a839fa5f67660ef8"


def test_openclaw_trusts_the_host_and_front_proxies_and_names_local_clients() -> None:
    """The gateway trusts forwarded headers from where host Traefik comes and from configured
    front proxies; Traefik's X-Real-Ip for its pods is the host's address on their network."""
    oc = get_adapter("openclaw")
    ctx = CTX.model_copy(update={"front_proxies": ("10.0.0.0/8",)})
    gw = json.loads(oc.render(ctx, oc.validate_config({})).files[0].content)["gateway"]
    assert gw["trustedProxies"] == ["172.18.0.1", "10.0.0.0/8"]
    edge = Edge(proxy_addresses=("172.18.0.1",), front_proxies=("10.0.0.0/8",))
    claw = build_spec(make_pod(adapter="openclaw"), "inst", "net", edge)
    generic = build_spec(make_pod(), "inst", "net", edge)
    header = "traefik.http.middlewares.agentpod-acme-agent-headers.headers.customrequestheaders."
    assert claw.labels[header + "X-Real-Ip"] == "172.18.0.1"
    assert header + "X-Real-Ip" not in generic.labels  # others see the client's own address
    assert claw.labels[header + "Forwarded"] == generic.labels[header + "Forwarded"] == ""
    # no proxy known (a dry run before the network exists): nothing to trust or name
    bare = json.loads(
        oc.render(CTX.model_copy(update={"proxy_addresses": ()}), oc.validate_config({}))
        .files[0]
        .content
    )
    assert (
        bare["gateway"]["trustedProxies"] == [] and bare["gateway"]["allowRealIpFallback"] is False
    )


@pytest.mark.parametrize(
    ("token", "fragment"),
    [
        ("AbC-_09", "#token=AbC-_09"),
        ("a b&c#d/é", "#token=a%20b%26c%23d%2F%C3%A9"),  # an adopted gateway's token
    ],
)
def test_openclaw_open_url_carries_the_token_in_the_fragment(token: str, fragment: str) -> None:
    url = get_adapter("openclaw").open_url("http://acme-agent.localhost:8080", token)
    assert url == f"http://acme-agent.localhost:8080/{fragment}"
    assert url.split("#", 1)[0] == "http://acme-agent.localhost:8080/"  # nothing in the request


def test_other_web_uis_open_without_the_token() -> None:
    assert get_adapter("open-webui").open_url("https://w.example.com", "tok") == (
        "https://w.example.com/"
    )
