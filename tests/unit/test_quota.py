from __future__ import annotations

import pytest

from agentpod.core.netpool import pod_room
from agentpod.core.quota import Quota, Usage, crowded, holds, refusal

NONE = Quota()
PODS3 = Quota(max_pods=3)
MEM2G = Quota(max_memory_mb=2048)
CPU1 = Quota(max_cpus=1.0)

# quota, used, demand -> the refusal's text (None: admitted)
CASES = [
    (NONE, Usage(100, 10**6, 64), Usage(1, 1024, 1), None),
    (PODS3, Usage(2, 0, 0), Usage(1, 512, 0.5), None),
    (
        PODS3,
        Usage(3, 0, 0),
        Usage(1, 512, 0.5),
        "tenant acme: 3 of 3 pods used, this needs 1 more (1 over); "
        "raise it with agentpod tenant set acme --max-pods N",
    ),
    (PODS3, Usage(5, 0, 0), Usage(0, 0, 0), None),  # over a lowered quota: nothing grows
    (
        MEM2G,
        Usage(1, 1536, 0),
        Usage(1, 1024, 0),
        "tenant acme: 1536 of 2048 MiB memory used, this needs 1024 more (512 over); "
        "raise it with agentpod tenant set acme --max-memory SIZE",
    ),
    (MEM2G, Usage(1, 3000, 0), Usage(0, -512, 0), None),  # shrinking is always allowed
    (CPU1, Usage(1, 0, 0.5), Usage(0, 0, 0.5), None),  # exactly at the limit
    (
        CPU1,
        Usage(1, 0, 0.7),
        Usage(0, 0, 0.4),
        "tenant acme: 0.7 of 1 CPUs used, this needs 0.4 more (0.1 over); "
        "raise it with agentpod tenant set acme --max-cpus N",
    ),
    (
        Quota(max_pods=0),
        Usage(),
        Usage(1, 0, 0),
        "tenant acme: 0 of 0 pods used, this needs 1 more (1 over); "
        "raise it with agentpod tenant set acme --max-pods N",
    ),
]


@pytest.mark.parametrize(("quota", "used", "demand", "expected"), CASES)
def test_refusal(quota: Quota, used: Usage, demand: Usage, expected: str | None) -> None:
    assert refusal("acme", quota, used, demand) == expected


@pytest.mark.parametrize(
    ("counted", "running", "expected"),
    [(True, True, Usage(1, 512, 0.5)), (True, False, Usage(1, 0, 0)), (False, True, Usage())],
)
def test_what_a_pod_holds(counted: bool, running: bool, expected: Usage) -> None:
    assert holds(512, 0.5, counted, running) == expected


@pytest.mark.parametrize(
    ("prefix", "pods", "fits"),
    [(24, 253, True), (24, 254, False), (21, 1000, True), (29, 5, True), (29, 6, False)],
)
def test_a_tenant_network_holds_its_addresses_pods(prefix: int, pods: int, fits: bool) -> None:
    why = crowded("acme", pods, pod_room(prefix))
    assert (why is None) == fits
    if not fits:
        assert why == (
            f"tenant acme: its network holds {pod_room(prefix)} pods, this would be pod {pods}; "
            "networks made with a lower network_prefix hold more (AGENTPOD_NETWORK_PREFIX=22: "
            "1021)"
        )
