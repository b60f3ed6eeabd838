"""The health checker's restart rule, with a runtime and a store that only answer its calls."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from agentpod.control.health import HealthChecker
from agentpod.core.planner import Actual
from agentpod.services import prober
from tests.unit.test_adapters import make_pod

START_PERIOD = 60  # the generic adapter's


class Runtime:
    """One running container whose start Docker reports as ``started`` (epoch seconds)."""

    edge_address = None  # probed at its own address

    def __init__(self, started: float) -> None:
        self.started = started
        self.container = Actual("c1", "agentpod-acme-agent", "running", 5, "h", ip="10.0.0.2")

    def list_pods(self, extra_ids: list[str] | None = None) -> list[Actual]:
        return [self.container]

    def inspect(self, cid: str) -> dict[str, Any]:
        stamp = datetime.fromtimestamp(self.started, UTC).isoformat().replace("+00:00", "Z")
        return {"State": {"StartedAt": stamp}}


class Store:
    def health_states(self, ids: list[int]) -> dict[int, tuple[bool, str | None]]:
        return {}

    def update_status(self, *args: object, **kw: object) -> None:
        pass

    def record_usage(self, *args: object) -> None:
        pass


@pytest.fixture
def probe(monkeypatch: pytest.MonkeyPatch) -> dict[str, bool]:
    answer = {"ok": True}
    monkeypatch.setattr(prober, "probe", lambda ip, check: (answer["ok"], "probed"))
    return answer


def test_a_container_started_again_gets_a_new_start_period(probe: dict[str, bool]) -> None:
    """docker kill, then a start under the same id, long after the first start: the gateway
    starting again must not be restarted as unhealthy (it was, every ~3 s, for ever)."""
    now = 1_000_000.0
    runtime = Runtime(started=now)
    restarts: list[str] = []
    checker = HealthChecker(
        Store(), runtime, clock=lambda: now, restart=lambda p, why: restarts.append(why) or True
    )
    pod = make_pod()
    checker.check([pod], with_stats=False)  # healthy; its start is read once failing only

    probe["ok"] = False  # a failure in its start period: not counted, its start remembered
    checker.check([pod], with_stats=False)
    now += 10 * START_PERIOD
    runtime.started = now - 1  # killed and started again a second ago, the same container id
    for _ in range(5):
        checker.check([pod], with_stats=False)
        now += 1
    assert restarts == []

    now += START_PERIOD  # still failing past its new start period: restarted at the third
    for _ in range(3):
        checker.check([pod], with_stats=False)
    assert len(restarts) == 1 and "unhealthy 3 times in a row" in restarts[0]


def test_failures_before_a_start_again_do_not_count(probe: dict[str, bool]) -> None:
    now = 1_000_000.0
    runtime = Runtime(started=now - 10 * START_PERIOD)
    restarts: list[str] = []
    checker = HealthChecker(
        Store(), runtime, clock=lambda: now, restart=lambda p, why: restarts.append(why) or True
    )
    pod = make_pod()
    probe["ok"] = False
    for _ in range(2):  # two failures in a row, one short of a restart
        checker.check([pod], with_stats=False)
    runtime.started = now  # then started again (killed, or restarted by someone else)
    checker.check([pod], with_stats=False)  # starting: not counted
    now += START_PERIOD
    checker.check([pod], with_stats=False)  # the first failure of this run, not the third
    assert restarts == []
