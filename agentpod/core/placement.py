"""Where a pod goes in a swarm: pure, table-tested.

A pool is a set of node labels; a node belongs to it when it carries every one. A node takes a
pod only when it is ready, active, in the pool and has room for the pod's memory limit (its
memory less the limits of the pods it already holds). Among those, the strategy picks:
``spread`` the fewest pods, ``least-busy`` the most free memory, ``label`` the first match in a
stable order (by hostname). An impossible placement is an error that says why, never a pod left
pending forever.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

LABEL_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,99}$")
LABEL_VALUE = re.compile(r"^[A-Za-z0-9._-]{0,100}$")


class Strategy(StrEnum):
    SPREAD = "spread"
    LEAST_BUSY = "least-busy"
    LABEL = "label"


class PlacementError(ValueError):
    pass


@dataclass(frozen=True)
class Node:
    """One swarm node as placement sees it."""

    id: str
    hostname: str
    memory_mb: int
    used_mb: int = 0  # the memory limits of the pods it holds
    pods: int = 0
    labels: dict[str, str] = field(default_factory=dict)
    ready: bool = True
    active: bool = True  # availability: active (not drained, not paused)

    @property
    def free_mb(self) -> int:
        return self.memory_mb - self.used_mb


def parse_pool(text: str | None) -> dict[str, str]:
    """``"zone=eu,ssd"`` -> ``{"zone": "eu", "ssd": "true"}`` (a bare label means ``true``)."""
    pool: dict[str, str] = {}
    for part in (text or "").split(","):
        key, _, value = part.strip().partition("=")
        if key:
            pool[key.strip()] = value.strip() or "true"
    return pool


def normalize_pool(text: str) -> str:
    """A pool as stored: ``"ssd, zone=eu"`` -> ``"ssd=true,zone=eu"``; PlacementError when a
    label is not one a node can carry."""
    pool = parse_pool(text)
    if not pool:
        raise PlacementError(f"pool {text!r} names no label: use LABEL[=VALUE][,...], e.g. zone=eu")
    for key, value in pool.items():
        if not LABEL_KEY.match(key) or not LABEL_VALUE.match(value):
            raise PlacementError(
                f"pool label {key}={value} is not a node label: use letters, digits, '.', '_'"
                " and '-' (e.g. zone=eu)"
            )
    return ",".join(f"{k}={v}" for k, v in sorted(pool.items()))


def in_pool(node: Node, pool: dict[str, str]) -> bool:
    return all(node.labels.get(k) == v for k, v in pool.items())


def place(
    memory_mb: int,
    nodes: list[Node],
    strategy: Strategy = Strategy.SPREAD,
    pool: dict[str, str] | None = None,
) -> Node:
    """The node for a pod needing ``memory_mb``, or PlacementError saying why there is none."""
    pool = pool or {}
    usable = [n for n in nodes if n.ready and n.active]
    if not usable:
        raise PlacementError("no ready, active node in the swarm")
    pooled = [n for n in usable if in_pool(n, pool)]
    if not pooled:
        wanted = ",".join(f"{k}={v}" for k, v in sorted(pool.items()))
        raise PlacementError(f"no ready, active node carries the pool labels {wanted}")
    roomy = [n for n in pooled if n.free_mb >= memory_mb]
    if not roomy:
        most = max(n.free_mb for n in pooled)
        raise PlacementError(
            f"no node has {memory_mb} MiB free for this pod (the most free is {most} MiB): "
            "add a server, lower the pod's memory limit or move pods"
        )
    return min(roomy, key=_ranking(strategy))


def _ranking(strategy: Strategy) -> Callable[[Node], tuple[object, ...]]:
    if strategy is Strategy.SPREAD:
        return lambda n: (n.pods, -n.free_mb, n.hostname, n.id)
    if strategy is Strategy.LEAST_BUSY:
        return lambda n: (-n.free_mb, n.pods, n.hostname, n.id)
    return lambda n: (n.hostname, n.id)
