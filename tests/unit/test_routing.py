"""Routing labels and the Traefik static config, without Docker or Traefik."""

from __future__ import annotations

import random
import re
import string
from pathlib import Path

import pytest
from pydantic import ValidationError

from agentpod.control.proxy import check_routes, edge_for, proxy_config, uses_tls
from agentpod.core.models import TenantSettings
from agentpod.core.names import InvalidName, PodRef
from agentpod.core.routing import Edge, routing_labels
from agentpod.services import traefik
from agentpod.settings import Settings, cidrs, load_settings

# one Host() matcher with one backquoted DNS name, and nothing around it
HOST_RULE = re.compile(r"Host\(`([a-z0-9.-]+)`\)")
ALPHABET = string.ascii_lowercase + string.digits + "-"


def random_label(rng: random.Random) -> str:
    size = rng.choice([1, 2, 3, 10, 62, 63])
    if size == 1:
        return rng.choice(string.ascii_lowercase + string.digits)
    inner = "".join(rng.choice(ALPHABET) for _ in range(size - 2))
    ends = string.ascii_lowercase + string.digits
    return rng.choice(ends) + inner + rng.choice(ends)


def valid_names() -> list[tuple[str, str, str]]:
    rng = random.Random(3)
    fixed = [("a", "b", "a-b"), ("0", "9", "x"), ("a" * 63, "b" * 63, "c" * 63), ("a--b", "c", "d")]
    return fixed + [(random_label(rng), random_label(rng), random_label(rng)) for _ in range(300)]


@pytest.mark.parametrize("domain", ["localhost", "agents.example.com", "x.y.z.localhost"])
def test_every_valid_name_renders_exactly_one_host_rule(domain: str) -> None:
    edge = Edge(domain=domain)
    for tenant, pod, sub in valid_names():
        labels = routing_labels(PodRef(tenant, pod), sub, 8080, "net", edge)
        rules = [v for k, v in labels.items() if k.endswith(".rule")]
        assert len(rules) == 1
        match = HOST_RULE.fullmatch(rules[0])
        assert match, rules[0]
        assert match.group(1) == f"{sub}.{domain}"
        assert rules[0].count("Host(") == 1 and "`" not in match.group(1)


@pytest.mark.parametrize(
    "subdomain", ["", "A", "a_b", "-a", "a-", "a.b", "a`) || Host(`evil", "x" * 64, "é"]
)
def test_hostile_subdomains_never_reach_a_rule(subdomain: str) -> None:
    with pytest.raises(InvalidName):
        routing_labels(PodRef("a", "b"), subdomain, 8080, "net", Edge())


@pytest.mark.parametrize(
    "domain", ["", "a..b", "a b", "evil`)", "-a.com", "a_b.com", "x" * 64 + ".com"]
)
def test_hostile_domains_are_refused(domain: str) -> None:
    with pytest.raises(ValidationError):
        Edge(domain=domain)


def test_domain_is_normalised() -> None:
    assert Edge(domain="Agents.Example.COM.").domain == "agents.example.com"


def test_labels_carry_tenant_limits_and_safe_middlewares_only() -> None:
    ref = PodRef("acme", "agent")
    labels = routing_labels(
        ref,
        "acme-agent",
        18789,
        "agentpod-net-acme",
        Edge(),
        TenantSettings(rate_average=7, rate_burst=9),
    )
    name = ref.container
    assert labels[f"traefik.http.routers.{name}.middlewares"] == f"{name}-ratelimit,{name}-headers"
    assert labels[f"traefik.http.middlewares.{name}-ratelimit.ratelimit.average"] == "7"
    assert labels[f"traefik.http.middlewares.{name}-ratelimit.ratelimit.burst"] == "9"
    assert labels[f"traefik.http.services.{name}.loadbalancer.server.port"] == "18789"
    assert labels[f"traefik.http.services.{name}.loadbalancer.passhostheader"] == "true"
    assert labels["traefik.docker.network"] == "agentpod-net-acme"
    text = " ".join(labels).lower()
    for forbidden in ("compress", "buffering", "retry", "framedeny", "x-real-ip"):
        assert forbidden not in text
    assert not any("stsseconds" in k for k in labels)  # no HSTS on plain HTTP
    # the one request header rewrite: a client's own RFC 7239 Forwarded is removed (Host and
    # Origin arrive as the browser sent them)
    rewrites = {k: v for k, v in labels.items() if ".customrequestheaders." in k}
    assert rewrites == {
        f"traefik.http.middlewares.{name}-headers.headers.customrequestheaders.Forwarded": ""
    }


def test_local_clients_are_named_only_when_asked() -> None:
    labels = routing_labels(PodRef("a", "b"), "x", 80, "n", Edge(), local_client="172.18.0.1")
    prefix = "traefik.http.middlewares.agentpod-a-b-headers.headers.customrequestheaders."
    assert labels[prefix + "X-Real-Ip"] == "172.18.0.1"
    assert labels[prefix + "Forwarded"] == ""


def test_tls_edge_adds_resolver_and_hsts() -> None:
    s = Settings(domain="agents.example.com", acme_email="ops@example.com")
    edge = edge_for(s)
    assert (edge.scheme, edge.entrypoint, edge.public_url("x")) == (
        "https",
        "websecure",
        "https://x.agents.example.com",
    )
    labels = routing_labels(PodRef("a", "b"), "x", 80, "n", edge)
    assert labels["traefik.http.routers.agentpod-a-b.tls.certresolver"] == "letsencrypt"
    assert labels["traefik.http.middlewares.agentpod-a-b-headers.headers.stsseconds"] == "31536000"


def test_localhost_never_uses_acme() -> None:
    assert not uses_tls(Settings(domain="localhost", acme_email="ops@example.com"))
    assert not uses_tls(Settings(domain="dev.localhost", acme_email="ops@example.com"))


def test_running_proxy_port_wins_for_urls() -> None:
    s = Settings(domain="localhost", proxy_http_port=8080)
    assert edge_for(s).public_url("a-b") == "http://a-b.localhost:8080"
    running = traefik.ProxyState(1, 2, "127.0.0.1:18081", "127.0.0.1:9")
    assert edge_for(s, running).public_url("a-b") == "http://a-b.localhost:18081"
    assert edge_for(Settings(proxy_http_port=80)).public_url("a-b") == "http://a-b.localhost"


def test_static_config_renders_the_required_settings() -> None:
    cfg = traefik.ProxyConfig(
        instance="abc123", http_address="127.0.0.1:18080", ping_address="127.0.0.1:9"
    )
    text = traefik.render(cfg)
    for line in (
        'address: "127.0.0.1:18080"',
        "readTimeout: 0s",
        "writeTimeout: 0s",
        "idleTimeout: 180s",
        "exposedByDefault: false",
        'constraints: "Label(`agentpod.instance`,`abc123`)"',
        "providersThrottleDuration: 200ms",
    ):
        assert line in text
    assert "websecure" not in text and "acme" not in text


def test_static_config_with_tls_and_hostile_values() -> None:
    cfg = traefik.ProxyConfig(
        instance="abc",
        http_address=":80",
        ping_address="127.0.0.1:9",
        https_address=":443",
        acme_email='ops@example.com"\nevil: true',
    )
    text = traefik.render(cfg)
    assert "websecure:" in text and "certResolver: letsencrypt" in text
    assert "\nevil: true" not in text  # quoted as one JSON/YAML string
    with pytest.raises(ValueError, match="instance id"):
        traefik.render(traefik.ProxyConfig(instance="a`b", http_address=":1", ping_address=":2"))


def test_route_check_without_any_proxy_is_reported_not_failed() -> None:
    from tests.unit.test_adapters import make_pod

    address = f"127.0.0.1:{traefik.free_port()}"  # nothing listens there
    pod = make_pod(config={"health_path": "/readyz"})
    (quiet,) = check_routes([pod], Edge(), address, expected=False).values()
    assert quiet.ok is None and "not checked" in quiet.message
    (loud,) = check_routes([pod], Edge(), address, expected=True).values()
    assert loud.ok is False and "refused" in loud.message.lower()


def test_custom_domains_add_exactly_their_host_rules() -> None:
    labels = routing_labels(
        PodRef("a", "b"),
        "a-b",
        8080,
        "net",
        Edge(),
        domains=("claw.example.com", "Chat.Example.org."),
    )
    (rule,) = [v for k, v in labels.items() if k.endswith(".rule")]
    parts = rule.split(" || ")
    assert [HOST_RULE.fullmatch(p).group(1) for p in parts] == [  # type: ignore[union-attr]
        "a-b.localhost",
        "claw.example.com",
        "chat.example.org",
    ]


@pytest.mark.parametrize("domain", ["a`) || Host(`evil.com", "a..b", "-a.com", "a_b.com", ""])
def test_hostile_custom_domains_are_refused(domain: str) -> None:
    with pytest.raises(InvalidName):
        routing_labels(PodRef("a", "b"), "a-b", 8080, "net", Edge(), domains=(domain,))


def test_forwarded_headers_are_trusted_from_configured_front_proxies_only() -> None:
    """By default Traefik rebuilds X-Forwarded-For/X-Real-Ip for every client, loopback
    included; trusted_front_proxies (settings) lists the only sources whose chain it keeps."""
    base = {"instance": "abc", "http_address": ":80", "ping_address": "127.0.0.1:9"}
    assert "forwardedHeaders" not in traefik.render(traefik.ProxyConfig(**base))
    tls = {"https_address": ":443", "acme_email": "ops@example.com"}
    fronted = traefik.ProxyConfig(**base, **tls, trusted_ips=("10.0.0.5/32", "::1/128"))
    text = traefik.render(fronted)
    block = 'forwardedHeaders:\n      trustedIPs: ["10.0.0.5/32", "::1/128"]'
    assert text.count(block) == 2  # web and websecure
    s = Settings(trusted_front_proxies=("10.0.0.5/32",))
    assert (
        proxy_config(s, "abc", ":80", "127.0.0.1:9", Path("/x")).trusted_ips
        == s.trusted_front_proxies
    )
    assert edge_for(s).front_proxies == ("10.0.0.5/32",)


@pytest.mark.parametrize(
    ("raw", "parsed"),
    [
        ("10.0.0.5, 192.168.0.0/16", ("10.0.0.5/32", "192.168.0.0/16")),
        (["::1", "10.1.2.3/8"], ("::1/128", "10.0.0.0/8")),
        ("", ()),
    ],
)
def test_trusted_front_proxies_setting(raw: str | list[str], parsed: tuple[str, ...]) -> None:
    assert cidrs(raw) == parsed


def test_a_front_proxy_that_is_no_network_is_refused(tmp_path: Path) -> None:
    env = {"AGENTPOD_CONFIG": str(tmp_path / "none.toml"), "AGENTPOD_TRUSTED_FRONT_PROXIES": "x"}
    bad = r"trusted_front_proxies \(AGENTPOD_TRUSTED_FRONT_PROXIES\): 'x' is not an IP address"
    with pytest.raises(ValueError, match=bad):
        load_settings(env)
    (tmp_path / "a.toml").write_text('trusted_front_proxies = ["127.0.0.1"]\n')
    assert load_settings({"AGENTPOD_CONFIG": str(tmp_path / "a.toml")}).trusted_front_proxies == (
        "127.0.0.1/32",
    )
