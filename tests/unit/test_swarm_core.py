"""Placement strategies and the service spec a pod renders to in swarm mode (pure)."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentpod.control.doctor import has_ipvs
from agentpod.core.models import TenantSettings
from agentpod.core.placement import (
    Node,
    PlacementError,
    Strategy,
    normalize_pool,
    parse_pool,
    place,
)
from agentpod.core.routing import Edge
from agentpod.core.spec import INSTANCE, SPEC_HASH, build_spec
from agentpod.core.swarm_spec import NODE_LABEL, EndpointMode, service_spec
from agentpod.settings import load_settings
from tests.unit.test_adapters import make_pod

A = Node("a", "alpha", memory_mb=4096, used_mb=3000, pods=1, labels={"zone": "eu"})
B = Node("b", "beta", memory_mb=4096, used_mb=1000, pods=3, labels={"zone": "eu", "ssd": "true"})
C = Node("c", "gamma", memory_mb=2048, used_mb=0, pods=0, labels={"zone": "us"})
DRAINED = Node("d", "delta", memory_mb=8192, active=False)
DOWN = Node("e", "epsilon", memory_mb=8192, ready=False)
ALL = [A, B, C, DRAINED, DOWN]

PLACED = [
    # strategy, memory, pool, chosen
    (Strategy.SPREAD, 512, {}, "c"),  # fewest pods
    (Strategy.SPREAD, 512, {"zone": "eu"}, "a"),  # fewest pods in the pool
    (Strategy.SPREAD, 2000, {"zone": "eu"}, "b"),  # a has no room for 2000
    (Strategy.LEAST_BUSY, 512, {}, "b"),  # most free memory (3096)
    (Strategy.LEAST_BUSY, 512, {"zone": "us"}, "c"),
    (Strategy.LABEL, 512, {"ssd": "true"}, "b"),
    (Strategy.LABEL, 512, {"zone": "eu"}, "a"),  # first match by hostname
    (Strategy.SPREAD, 2048, {}, "c"),  # exactly the room it has
]


@pytest.mark.parametrize(("strategy", "memory", "pool", "chosen"), PLACED)
def test_each_strategy_picks_its_node(
    strategy: Strategy, memory: int, pool: dict[str, str], chosen: str
) -> None:
    assert place(memory, ALL, strategy, pool).id == chosen


REFUSED = [
    # nodes, memory, pool, message
    ([A, B, C], 4000, {}, "no node has 4000 MiB free .* most free is 3096 MiB"),
    ([A, B], 3500, {"zone": "eu"}, "no node has 3500 MiB free"),
    ([A, B, C], 100, {"zone": "asia"}, "no ready, active node carries the pool labels zone=asia"),
    ([DRAINED, DOWN], 100, {}, "no ready, active node in the swarm"),
    ([], 100, {}, "no ready, active node in the swarm"),
]


@pytest.mark.parametrize(("nodes", "memory", "pool", "message"), REFUSED)
def test_impossible_placement_is_a_clear_error(
    nodes: list[Node], memory: int, pool: dict[str, str], message: str
) -> None:
    for strategy in Strategy:
        with pytest.raises(PlacementError, match=message):
            place(memory, nodes, strategy, pool)


@pytest.mark.parametrize(
    ("text", "pool"),
    [
        ("", {}),
        (None, {}),
        ("zone=eu", {"zone": "eu"}),
        ("zone=eu, ssd", {"zone": "eu", "ssd": "true"}),
        (" , gpu= ,", {"gpu": "true"}),
    ],
)
def test_pool_text(text: str | None, pool: dict[str, str]) -> None:
    assert parse_pool(text) == pool


@pytest.mark.parametrize(
    ("text", "stored"),
    [
        ("zone=eu", "zone=eu"),
        ("zone=eu, ssd", "ssd=true,zone=eu"),
        ("node.kind=gpu_a-1", "node.kind=gpu_a-1"),
    ],
)
def test_pool_as_stored(text: str, stored: str) -> None:
    assert normalize_pool(text) == stored
    assert parse_pool(stored) == parse_pool(text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (" , ", "names no label"),
        ("zone=e u", "not a node label"),
        ("-zone=eu", "not a node label"),
        ("zone=eu;rm", "not a node label"),
        ("zone=" + "x" * 101, "not a node label"),
    ],
)
def test_pool_that_no_node_can_carry_is_refused(text: str, message: str) -> None:
    with pytest.raises(PlacementError, match=message):
        normalize_pool(text)


@pytest.mark.parametrize(
    ("pod_pool", "tenant_pool", "pool"),
    [
        (None, None, None),
        (None, "zone=eu", "zone=eu"),
        ("ssd=true", "zone=eu", "ssd=true"),
        ("ssd=true", None, "ssd=true"),
    ],
)
def test_a_pods_pool_wins_and_never_forces_a_recreate(
    pod_pool: str | None, tenant_pool: str | None, pool: str | None
) -> None:
    """The spec carries the pool placement reads, outside its hash: a pool set later moves no
    pod and restarts none (and adding the field changed no existing pod's hash)."""
    plain = build_spec(make_pod(), "i", "n", Edge())
    tenant = TenantSettings(pool=tenant_pool)
    spec = build_spec(make_pod(pool=pod_pool), "i", "n", Edge(), tenant)
    assert spec.pool == pool
    assert spec.hash == plain.hash
    assert spec.final_labels() == plain.final_labels()


def test_service_spec_carries_the_pods_container_spec() -> None:
    spec = build_spec(make_pod(adapter="openclaw"), "inst1", "agentpod-net-acme", Edge())
    body = service_spec(spec, "node-2")
    task = body["TaskTemplate"]
    container = task["ContainerSpec"]
    assert body["Name"] == spec.name
    assert body["Mode"] == {"Replicated": {"Replicas": 1}}
    assert body["EndpointSpec"] == {"Mode": "dnsrr"}
    assert body["Labels"][SPEC_HASH] == spec.hash == container["Labels"][SPEC_HASH]
    assert body["Labels"][NODE_LABEL] == "node-2"
    assert body["Labels"]["traefik.swarm.network"] == "agentpod-net-acme"
    assert body["Labels"]["traefik.swarm.lbswarm"] == "false"
    assert not [k for k in body["Labels"] if k.startswith("traefik.docker.")]  # else skipped
    assert task["Placement"]["Constraints"] == ["node.id==node-2"]
    assert task["Networks"] == [{"Target": "agentpod-net-acme", "Aliases": [spec.name]}]
    assert task["RestartPolicy"]["Condition"] == "any"
    mib = 1024 * 1024
    assert task["Resources"]["Limits"] == {
        "MemoryBytes": 256 * mib,
        "NanoCPUs": 500_000_000,
        "Pids": 128,
    }
    assert task["Resources"]["Reservations"] == {"MemoryBytes": 256 * mib}
    assert container["CapabilityDrop"] == ["ALL"]
    assert container["ReadOnly"] is spec.read_only
    assert container["Hostname"] == spec.name
    assert sorted(container["Env"]) == sorted(f"{k}={v}" for k, v in spec.env.items())
    state = container["Mounts"][0]
    assert (state["Type"], state["Source"], state["Target"]) == (
        "volume",
        spec.volume,
        spec.state_dir,
    )
    assert state["VolumeOptions"]["Labels"][INSTANCE] == "inst1"
    assert container.get("Args") == (list(spec.command) if spec.command else None)


def test_service_spec_options() -> None:
    spec = build_spec(make_pod(), "inst1", "net", Edge())
    vip = service_spec(spec, "n1", EndpointMode.VIP)
    assert vip["EndpointSpec"] == {"Mode": "vip"}
    assert "traefik.swarm.lbswarm" not in vip["Labels"]
    adopted = build_spec(
        make_pod(data_source={"type": "bind", "source": "/srv/a", "destination": "/data"}),
        "i",
        "n",
        Edge(),
    )
    mount = service_spec(adopted, "n1")["TaskTemplate"]["ContainerSpec"]["Mounts"][0]
    assert (mount["Type"], mount["Source"]) == ("bind", "/srv/a")
    # the pin is no part of the spec hash: moving a pod is not a spec change
    assert (
        service_spec(spec, "n1")["Labels"][SPEC_HASH]
        == service_spec(spec, "n2")["Labels"][SPEC_HASH]
    )


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"AGENTPOD_RUNTIME": "k8s"}, "runtime 'k8s': use one of docker, swarm"),
        ({"AGENTPOD_PLACEMENT": "random"}, "placement 'random': use one of spread, least-busy"),
        ({"AGENTPOD_SWARM_ENDPOINT_MODE": "ipvs"}, "swarm_endpoint_mode 'ipvs': use one of"),
    ],
)
def test_swarm_settings_are_checked(tmp_path: Path, env: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        load_settings({"AGENTPOD_CONFIG": str(tmp_path / "none.toml"), **env})


def test_swarm_settings_defaults(tmp_path: Path) -> None:
    settings = load_settings({"AGENTPOD_CONFIG": str(tmp_path / "none.toml")})
    assert (settings.runtime, settings.placement, settings.swarm_endpoint_mode) == (
        "docker",
        "spread",
        "dnsrr",
    )


@pytest.mark.parametrize(
    ("modules", "ip_vs_file", "found"),
    [
        ("nf_nat 1 0 - Live\n", False, False),
        ("ip_vs 1 0 - Live\nnf_nat 1 0 - Live\n", False, True),
        ("ip_vs_rr 1 0 - Live\n", False, False),
        ("", True, True),
    ],
)
def test_ipvs_is_detected(tmp_path: Path, modules: str, ip_vs_file: bool, found: bool) -> None:
    (tmp_path / "modules").write_text(modules)
    if ip_vs_file:
        (tmp_path / "net").mkdir()
        (tmp_path / "net" / "ip_vs").write_text("")
    assert has_ipvs(tmp_path) is found
