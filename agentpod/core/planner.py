"""The reconcile planner: ``plan(desired, actual) -> actions``, pure and table-tested."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from agentpod.core.models import DesiredStatus


class ActionKind(StrEnum):
    CREATE = "create"
    START = "start"
    STOP = "stop"
    RECREATE = "recreate"
    REMOVE = "remove"
    NOOP = "noop"


@dataclass(frozen=True)
class Desired:
    """One pod as the database wants it, with the hash of the container it should have."""

    pod_id: int
    ref: str
    status: DesiredStatus
    spec_hash: str
    adopted_container_id: str | None = None
    replaces_container_id: str | None = None  # an adopted container to convert on recreate
    holder_hash: str | None = None  # its network holder's (core/netns.py); None: it has none


@dataclass(frozen=True)
class Actual:
    """One container as Docker reports it (from a single list call, no inspect)."""

    container_id: str
    name: str
    state: str  # created|running|paused|restarting|removing|exited|dead
    pod_id: int | None
    spec_hash: str | None
    ip: str | None = None  # a pod's address (its network holder's, when it has one)
    holder: bool = False  # a pod's network holder, not the pod's own container


@dataclass(frozen=True)
class Action:
    kind: ActionKind
    pod_id: int | None
    ref: str
    container_id: str | None = None
    reason: str = ""
    holder: Actual | None = None  # the pod's network holder as listed: started, reused, removed


STOPPED_STATES = {"created", "exited"}


def plan(desired: Iterable[Desired], actual: Iterable[Actual]) -> list[Action]:
    """Decide, for each pod and each of our containers, what must happen to converge."""
    actual = list(actual)
    by_pod: dict[int, list[Actual]] = {}
    holders: dict[int, list[Actual]] = {}
    by_id = {a.container_id: a for a in actual}
    for a in actual:
        if a.pod_id is not None:
            (holders if a.holder else by_pod).setdefault(a.pod_id, []).append(a)
    actions: list[Action] = []
    claimed: set[str] = set()
    for d in desired:
        containers = _containers_of(d, by_pod, by_id)
        claimed.update(c.container_id for c in containers)
        current, extra = (containers[0], containers[1:]) if containers else (None, [])
        replaced = by_id.get(d.replaces_container_id or "")
        if replaced is not None and replaced is not current:  # a conversion cut short
            claimed.add(replaced.container_id)
            extra = [*extra, replaced]
        holder, spare = _holder_of(d, holders)
        claimed.update(h.container_id for h in (holder, *spare) if h)
        actions.extend(
            Action(ActionKind.REMOVE, d.pod_id, d.ref, c.container_id, "duplicate container")
            for c in extra
        )
        actions.extend(
            Action(ActionKind.REMOVE, d.pod_id, d.ref, h.container_id, "duplicate network holder")
            for h in spare
        )
        actions.append(_plan_pod(d, current, holder))
    actions.extend(
        Action(ActionKind.REMOVE, None, a.name, a.container_id, "orphan: no such pod")
        for a in actual
        if a.container_id not in claimed
    )
    return actions


def _containers_of(
    d: Desired, by_pod: dict[int, list[Actual]], by_id: dict[str, Actual]
) -> list[Actual]:
    if d.adopted_container_id:
        adopted = by_id.get(d.adopted_container_id)
        return [adopted] if adopted else []
    # prefer the running one so a duplicate never replaces a healthy container
    own = sorted(by_pod.get(d.pod_id, []), key=lambda a: a.state != "running")
    replaced = by_id.get(d.replaces_container_id or "")
    if not own and replaced is not None:
        return [replaced]
    return own


def _holder_of(d: Desired, holders: dict[int, list[Actual]]) -> tuple[Actual | None, list[Actual]]:
    """A pod's network holder (the running one first) and any others; none for a pod that has
    no holder (an adopted container's, a swarm service's): those are orphans."""
    if d.holder_hash is None and d.status is not DesiredStatus.DELETED:
        return None, []
    mine = sorted(holders.get(d.pod_id, []), key=lambda a: a.state != "running")
    return (mine[0], mine[1:]) if mine else (None, [])


def _holder_problem(d: Desired, c: Actual, h: Actual | None) -> str | None:
    """Why a pod's container must be made again for its holder (None: it need not)."""
    if d.holder_hash is None or d.adopted_container_id:
        return None
    if h is None or h.state == "removing":
        return "network holder missing"
    if h.spec_hash != d.holder_hash:
        return "network holder changed"
    if h.state != "running" and c.state not in STOPPED_STATES:  # its namespace went with it
        return "network holder not running"
    return None


def _plan_pod(d: Desired, c: Actual | None, h: Actual | None = None) -> Action:
    def act(kind: ActionKind, reason: str) -> Action:
        return Action(kind, d.pod_id, d.ref, c.container_id if c else None, reason, h)

    if d.status is DesiredStatus.DELETED:
        return act(ActionKind.REMOVE, "pod deleted")
    if c is None:
        if d.status is DesiredStatus.RUNNING:
            return act(ActionKind.CREATE, "no container")
        return act(ActionKind.NOOP, "stopped, no container")
    adopted = d.adopted_container_id is not None
    if c.container_id == d.replaces_container_id:
        if d.status is DesiredStatus.RUNNING:
            return act(ActionKind.RECREATE, "convert the adopted container")
        return act(ActionKind.NOOP, "adopted container kept until the pod runs")
    changed = not adopted and c.spec_hash != d.spec_hash
    if d.status is DesiredStatus.STOPPED:
        if c.state in ("running", "restarting", "paused"):
            return act(ActionKind.STOP, "pod stopped")
        return act(ActionKind.NOOP, "stopped")
    if c.state == "dead" or (changed and c.state != "removing"):
        return act(ActionKind.RECREATE, "container dead" if c.state == "dead" else "spec changed")
    problem = _holder_problem(d, c, h)
    if problem and c.state != "removing":
        return act(ActionKind.RECREATE, problem)
    if c.state in STOPPED_STATES:
        return act(ActionKind.START, f"container {c.state}")
    return act(ActionKind.NOOP, f"container {c.state}")
