"""Every row of the planner's table: (desired, actual) -> action."""

from __future__ import annotations

import pytest

from agentpod.core.models import DesiredStatus as D
from agentpod.core.planner import ActionKind as K
from agentpod.core.planner import Actual, Desired, plan

H = "hash-1"


def desired(status: D, spec_hash: str = H, adopted: str | None = None) -> Desired:
    return Desired(1, "acme/agent", status, spec_hash, adopted)


def container(state: str, spec_hash: str = H, pod_id: int | None = 1, cid: str = "c1") -> Actual:
    return Actual(cid, "agentpod-acme-agent", state, pod_id, spec_hash)


ROWS = [
    # desired running
    (D.RUNNING, None, K.CREATE, "no container"),
    (D.RUNNING, container("exited"), K.START, "container exited"),
    (D.RUNNING, container("created"), K.START, "container created"),
    (D.RUNNING, container("running"), K.NOOP, "container running"),
    (D.RUNNING, container("restarting"), K.NOOP, "container restarting"),
    (D.RUNNING, container("running", "other"), K.RECREATE, "spec changed"),
    (D.RUNNING, container("exited", "other"), K.RECREATE, "spec changed"),
    (D.RUNNING, container("dead"), K.RECREATE, "container dead"),
    # desired stopped
    (D.STOPPED, None, K.NOOP, "stopped, no container"),
    (D.STOPPED, container("running"), K.STOP, "pod stopped"),
    (D.STOPPED, container("restarting"), K.STOP, "pod stopped"),
    (D.STOPPED, container("exited"), K.NOOP, "stopped"),
    (D.STOPPED, container("exited", "other"), K.NOOP, "stopped"),
    # desired deleted
    (D.DELETED, container("running"), K.REMOVE, "pod deleted"),
    (D.DELETED, container("exited"), K.REMOVE, "pod deleted"),
    (D.DELETED, None, K.REMOVE, "pod deleted"),
]


@pytest.mark.parametrize(("status", "actual", "kind", "reason"), ROWS)
def test_one_pod(status: D, actual: Actual | None, kind: K, reason: str) -> None:
    actions = plan([desired(status)], [actual] if actual else [])
    assert [(a.kind, a.reason) for a in actions] == [(kind, reason)]
    assert actions[0].pod_id == 1
    assert actions[0].container_id == (actual.container_id if actual else None)


def test_orphan_is_removed() -> None:
    orphan = container("running", pod_id=7, cid="c7")
    actions = plan([], [orphan])
    assert [(a.kind, a.container_id, a.reason) for a in actions] == [
        (K.REMOVE, "c7", "orphan: no such pod")
    ]


def test_container_without_pod_label_is_an_orphan_too() -> None:
    actions = plan([], [container("exited", pod_id=None, cid="cx")])
    assert [(a.kind, a.container_id) for a in actions] == [(K.REMOVE, "cx")]


def test_duplicate_container_removed_and_running_one_kept() -> None:
    dup = container("exited", cid="old")
    live = container("running", cid="live")
    actions = plan([desired(D.RUNNING)], [dup, live])
    kinds = sorted((a.kind, a.container_id) for a in actions)
    assert kinds == [(K.NOOP, "live"), (K.REMOVE, "old")]


def test_adopted_pod_matched_by_id_never_recreated_for_hash() -> None:
    theirs = Actual("abc", "my-claw", "running", None, None)
    actions = plan([desired(D.RUNNING, adopted="abc")], [theirs])
    assert [(a.kind, a.container_id) for a in actions] == [(K.NOOP, "abc")]


def test_adopted_pod_crashed_is_started_not_recreated() -> None:
    theirs = Actual("abc", "my-claw", "exited", None, None)
    actions = plan([desired(D.RUNNING, adopted="abc")], [theirs])
    assert [(a.kind, a.container_id) for a in actions] == [(K.START, "abc")]


def test_pods_are_independent() -> None:
    ds = [Desired(1, "a/x", D.RUNNING, H), Desired(2, "a/y", D.STOPPED, H)]
    acts = [Actual("c2", "agentpod-a-y", "running", 2, H)]
    actions = {a.pod_id: a.kind for a in plan(ds, acts)}
    assert actions == {1: K.CREATE, 2: K.STOP}


def test_converting_an_adopted_pod_recreates_over_the_old_container() -> None:
    old = Actual("theirs", "my-claw", "running", None, None)
    d = Desired(1, "a/x", D.RUNNING, H, None, replaces_container_id="theirs")
    actions = plan([d], [old])
    assert [(a.kind, a.container_id, a.reason) for a in actions] == [
        (K.RECREATE, "theirs", "convert the adopted container")
    ]


def test_conversion_cut_short_is_finished() -> None:
    old = Actual("theirs", "my-claw", "running", None, None)
    mine = container("running")
    d = Desired(1, "a/x", D.RUNNING, H, None, replaces_container_id="theirs")
    kinds = {(a.kind, a.container_id) for a in plan([d], [old, mine])}
    assert kinds == {(K.NOOP, "c1"), (K.REMOVE, "theirs")}


def test_unlabelled_container_fetched_by_id_is_never_an_orphan_if_adopted() -> None:
    theirs = Actual("abc", "my-claw", "running", None, None)
    d = desired(D.STOPPED, adopted="abc")
    assert [(a.kind, a.container_id) for a in plan([d], [theirs])] == [(K.STOP, "abc")]


# -- pods with a network holder (core/netns.py) --------------------------------------------

NH = "holder-hash-1"


def holder(state: str, holder_hash: str = NH, pod_id: int = 1, cid: str = "h1") -> Actual:
    return Actual(cid, "agentpod-acme-agent.net", state, pod_id, holder_hash, holder=True)


def held(status: D) -> Desired:
    return Desired(1, "acme/agent", status, H, holder_hash=NH)


NOT_RUNNING, MISSING, CHANGED = (
    f"network holder {w}" for w in ("not running", "missing", "changed")
)
HOLDER_ROWS = [
    # (desired, the pod's container, its holder) -> the pod's action
    (D.RUNNING, container("running"), holder("running"), K.NOOP, "container running"),
    (D.RUNNING, container("exited"), holder("running"), K.START, "container exited"),
    (D.RUNNING, container("exited"), holder("exited"), K.START, "container exited"),
    (D.RUNNING, container("created"), holder("exited"), K.START, "container created"),
    (D.RUNNING, container("running"), holder("exited"), K.RECREATE, NOT_RUNNING),
    (
        D.RUNNING,
        container("restarting"),
        holder("exited"),
        K.RECREATE,
        "network holder not running",
    ),
    (D.RUNNING, container("running"), None, K.RECREATE, MISSING),
    (D.RUNNING, container("exited"), None, K.RECREATE, MISSING),
    (D.RUNNING, container("running"), holder("removing"), K.RECREATE, MISSING),
    (
        D.RUNNING,
        container("running"),
        holder("running", "old"),
        K.RECREATE,
        "network holder changed",
    ),
    (D.RUNNING, container("running", "other"), holder("running"), K.RECREATE, "spec changed"),
    (D.RUNNING, container("dead"), holder("running"), K.RECREATE, "container dead"),
    (D.RUNNING, container("removing"), None, K.NOOP, "container removing"),
    (D.RUNNING, None, holder("running"), K.CREATE, "no container"),
    (D.RUNNING, None, holder("exited", "old"), K.CREATE, "no container"),
    (D.RUNNING, None, None, K.CREATE, "no container"),
    (D.STOPPED, container("running"), holder("running"), K.STOP, "pod stopped"),
    (D.STOPPED, container("exited"), None, K.NOOP, "stopped"),
    (D.STOPPED, None, holder("running"), K.NOOP, "stopped, no container"),
    (D.DELETED, container("running"), holder("running"), K.REMOVE, "pod deleted"),
    (D.DELETED, None, holder("exited"), K.REMOVE, "pod deleted"),
]


@pytest.mark.parametrize(("status", "pod", "netns", "kind", "reason"), HOLDER_ROWS)
def test_one_pod_with_a_holder(
    status: D, pod: Actual | None, netns: Actual | None, kind: K, reason: str
) -> None:
    actions = plan([held(status)], [a for a in (pod, netns) if a])
    assert [(a.kind, a.reason) for a in actions] == [(kind, reason)]
    assert actions[0].container_id == (pod.container_id if pod else None)
    assert actions[0].holder == netns  # what the runtime starts, reuses or removes


def test_a_holder_is_never_taken_for_the_pod_itself() -> None:
    actions = plan([held(D.RUNNING)], [holder("running")])
    assert [(a.kind, a.container_id) for a in actions] == [(K.CREATE, None)]


def test_a_holder_without_its_pod_is_an_orphan() -> None:
    actions = plan([], [holder("running", pod_id=7, cid="h7")])
    assert [(a.kind, a.container_id, a.reason) for a in actions] == [
        (K.REMOVE, "h7", "orphan: no such pod")
    ]


def test_a_pod_without_holders_leaves_a_holder_of_its_id_an_orphan() -> None:
    """An adopted container or a swarm service has no holder: one found is not its own."""
    actions = plan([desired(D.RUNNING)], [container("running"), holder("running")])
    assert sorted((a.kind, a.container_id) for a in actions) == [(K.NOOP, "c1"), (K.REMOVE, "h1")]


def test_a_second_holder_is_removed_and_the_running_one_kept() -> None:
    spare, live = holder("exited", cid="h-old"), holder("running", cid="h-live")
    actions = plan([held(D.RUNNING)], [container("running"), spare, live])
    assert sorted((a.kind, a.container_id, a.reason) for a in actions) == [
        (K.NOOP, "c1", "container running"),
        (K.REMOVE, "h-old", "duplicate network holder"),
    ]
    assert next(a for a in actions if a.kind is K.NOOP).holder == live
