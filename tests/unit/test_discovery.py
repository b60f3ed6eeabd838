"""Recognising hand-deployed OpenClaw gateways from inspect data: shapes seen in the wild."""

from __future__ import annotations

from typing import Any

import pytest

from agentpod.core import discovery


def inspect(
    name: str = "/claw",
    image: str = "alpine:3",
    cmd: list[str] | None = None,
    entrypoint: list[str] | None = None,
    env: list[str] | None = None,
    mounts: list[dict[str, Any]] | None = None,
    ports: dict[str, Any] | None = None,
    labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    return {
        "Id": "c" * 64,
        "Name": name,
        "Config": {
            "Image": image,
            "Cmd": cmd,
            "Entrypoint": entrypoint,
            "Env": env or [],
            "Labels": labels or {},
            "ExposedPorts": {},
        },
        "HostConfig": {"PortBindings": ports or {}},
        "Mounts": mounts or [],
        "State": {"Status": "running", "StartedAt": "2026-01-01T00:00:00Z"},
    }


BIND = {"Type": "bind", "Source": "/srv/claw", "Destination": "/home/node/.openclaw"}
VOLUME = {
    "Type": "volume",
    "Name": "clawdata",
    "Source": "/var/lib/docker/volumes/x",
    "Destination": "/home/node/.openclaw",
}

SHAPES = [
    ("ghcr image", inspect(image="ghcr.io/openclaw/openclaw:2026.9.6"), True),
    ("slim image", inspect(image="ghcr.io/openclaw/openclaw:2026.9.6-slim"), True),
    ("local build", inspect(image="openclaw:local"), True),
    (
        "node openclaw.mjs",
        inspect(cmd=["node", "openclaw.mjs", "gateway", "--allow-unconfigured"]),
        True,
    ),
    (
        "node dist/index.js",
        inspect(cmd=["node", "dist/index.js", "gateway", "--bind", "lan", "--port", "18789"]),
        True,
    ),
    ("openclaw gateway run", inspect(entrypoint=["openclaw"], cmd=["gateway", "run"]), True),
    ("state mount only", inspect(mounts=[BIND]), True),
    ("port alone is not enough", inspect(ports={"18789/tcp": [{"HostPort": "18789"}]}), False),
    ("unrelated", inspect(image="nginx", cmd=["nginx", "-g", "daemon off;"]), False),
    ("a gateway of something else", inspect(cmd=["node", "server.js", "gateway"]), False),
]


@pytest.mark.parametrize(("label", "info", "found"), SHAPES, ids=[s[0] for s in SHAPES])
def test_detection(label: str, info: dict[str, Any], found: bool) -> None:
    assert bool(discovery.evidence(info)) is found


def test_managed_and_seed_containers_are_never_candidates() -> None:
    ours = inspect(image="openclaw:local", labels={"agentpod.managed": "true"})
    seed = inspect(image="openclaw:local", labels={"agentpod.role": "seed"})
    assert discovery.candidate(ours, None, None, "t") is None
    assert discovery.candidate(seed, None, None, "t") is None


@pytest.mark.parametrize(
    ("name", "label"),
    [
        ("My_Claw.1", "my-claw-1"),
        ("claw", "claw"),
        ("__x__", "x"),
        ("...", "gateway"),
        ("A" * 80, "a" * 63),
    ],
)
def test_names_become_dns_labels(name: str, label: str) -> None:
    assert discovery.to_label(name) == label


def test_bind_state_env_token_and_published_port() -> None:
    info = inspect(
        name="/My_Claw.1",
        image="openclaw:local",
        mounts=[BIND],
        env=["OPENCLAW_GATEWAY_TOKEN=tok"],
        ports={"18789/tcp": [{"HostIp": "127.0.0.1", "HostPort": "18789"}]},
    )
    c = discovery.candidate(info, None, None, "adopted")
    assert c is not None
    assert str(c.proposed) == "adopted/my-claw-1"
    assert c.data and (c.data.type, c.data.source) == ("bind", "/srv/claw")
    assert (c.token, c.token_source) == ("tok", "env")
    assert c.ports == ["127.0.0.1:18789->18789/tcp"]
    assert c.problems == []


def test_config_token_wins_and_port_and_origins_are_imported() -> None:
    config = {
        "gateway": {
            "port": 7000,
            "auth": {"token": "cfg"},
            "bind": "lan",
            "controlUi": {"allowedOrigins": ["https://a"], "basePath": "/x"},
        },
        "agents": {"x": 1},
    }
    info = inspect(image="openclaw:local", mounts=[VOLUME], env=["OPENCLAW_GATEWAY_TOKEN=env"])
    c = discovery.candidate(info, config, None, "t")
    assert c is not None and (c.token, c.token_source, c.port) == ("cfg", "config", 7000)
    assert discovery.imported_config(c) == {
        "port": 7000,
        "allowed_origins": ["https://a"],
        "settings": {"gateway": {"controlUi": {"basePath": "/x"}}, "agents": {"x": 1}},
    }


def test_port_flag_beats_config() -> None:
    info = inspect(cmd=["node", "dist/index.js", "gateway", "--port=7860"], mounts=[VOLUME])
    c = discovery.candidate(info, {"gateway": {"port": 1}}, None, "t")
    assert c is not None and c.port == 7860


def test_problems_are_reported() -> None:
    info = inspect(image="openclaw:local")
    c = discovery.candidate(info, None, "openclaw.json: bad", "t")
    assert c is not None
    assert any("data would be lost" in p for p in c.problems)
    assert any("config unreadable" in p for p in c.problems)
    assert any("no gateway token" in p for p in c.problems)


def test_compose_project_and_service_name_the_pod() -> None:
    info = inspect(
        name="/proj-claw-1",
        image="openclaw:local",
        mounts=[VOLUME],
        labels={"com.docker.compose.project": "Acme", "com.docker.compose.service": "gateway"},
    )
    c = discovery.candidate(info, None, None, "t")
    assert c is not None and str(c.proposed) == "acme/gateway"


def test_state_dir_from_env_and_root_home() -> None:
    moved = inspect(
        image="openclaw:local",
        env=["OPENCLAW_STATE_DIR=/state"],
        mounts=[{"Type": "volume", "Name": "s", "Destination": "/state"}],
    )
    assert discovery.data_source(moved) is not None
    root = inspect(
        image="openclaw:local",
        mounts=[{"Type": "bind", "Source": "/x", "Destination": "/root/.openclaw"}],
    )
    assert discovery.state_dir(root) == "/root/.openclaw"
