"""Swarm node use cases (runtime = "swarm"): nodes span every tenant, so only a caller who sees
every tenant may read them, and writes need tenants:write. Writes are audited.

nodes.list_(ctx: Context, caller: Principal) -> list[dict]
nodes.label(ctx: Context, caller: Principal, node: str, add: dict[str, str],
            remove: list[str]) -> dict[str, str]
nodes.set_availability(ctx: Context, caller: Principal, node: str, availability: str) -> list[str]
nodes.join_command(ctx: Context, caller: Principal, rotate: bool = False) -> str
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from agentpod.control import guard
from agentpod.control.audit import audited
from agentpod.control.context import Context
from agentpod.control.errors import BadInput
from agentpod.core.authz import Principal, Scope

if TYPE_CHECKING:
    from agentpod.services.swarm_runtime import Nodes

AVAILABILITIES = ("active", "drain", "pause")


def _nodes(ctx: Context) -> Nodes:
    from agentpod.services.swarm_runtime import Nodes, SwarmRuntime

    if not isinstance(ctx.runtime, SwarmRuntime):
        raise BadInput("nodes are swarm nodes: this install runs one engine (runtime = docker)")
    return Nodes(ctx.runtime)


def list_(ctx: Context, caller: Principal) -> list[dict[str, Any]]:
    """Every node: hostname, role, state, availability, labels, pods, memory, heartbeat age."""
    guard.require_all(caller, Scope.TENANTS_READ)
    nodes = _nodes(ctx)
    placed = {n.id: n for n in nodes.runtime.nodes()}
    now = datetime.now(UTC)
    return [_row(raw, placed[raw["ID"]], now) for raw in nodes.raw() if raw["ID"] in placed]


def _row(raw: dict[str, Any], node: Any, now: datetime) -> dict[str, Any]:
    spec, status = raw.get("Spec") or {}, raw.get("Status") or {}
    updated = datetime.fromisoformat(raw["UpdatedAt"][:26].rstrip("Z") + "+00:00")
    leader = (raw.get("ManagerStatus") or {}).get("Leader", False)
    role = spec.get("Role", "?") + (" (leader)" if leader else "")
    return {
        "id": raw["ID"],
        "hostname": node.hostname,
        "role": role,
        "state": status.get("State", "?"),
        "address": status.get("Addr"),
        "availability": spec.get("Availability", "?"),
        "labels": node.labels,
        "pods": node.pods,
        "memory_mb": node.memory_mb,
        "used_mb": node.used_mb,
        "free_mb": node.free_mb,
        "heartbeat_age_s": round((now - updated).total_seconds(), 1),
    }


def resolve(ctx: Context, node: str) -> str:
    """A node's id from its id, a unique id prefix or a unique hostname."""
    raw = _nodes(ctx).raw()
    exact = [n["ID"] for n in raw if n["ID"] == node]
    named = [n["ID"] for n in raw if (n.get("Description") or {}).get("Hostname") == node]
    prefixed = [n["ID"] for n in raw if n["ID"].startswith(node)]
    for found in (exact, named, prefixed):
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            raise BadInput(f"node {node!r} names {len(found)} nodes: give its id")
    raise BadInput(f"no node {node!r} in the swarm: see 'agentpod node list'")


def label(
    ctx: Context, caller: Principal, node: str, add: dict[str, str], remove: list[str]
) -> dict[str, str]:
    """Add and remove labels (pools are sets of labels); returns the node's labels."""
    with audited(ctx, caller, "node.label", node):
        guard.require_all(caller, Scope.TENANTS_WRITE)
        node_id = resolve(ctx, node)
        nodes = _nodes(ctx)
        labels = dict(nodes.inspect(node_id)["Spec"].get("Labels") or {})
        labels.update(add)
        for key in remove:
            labels.pop(key, None)
        nodes.update(node_id, labels, None)
        return labels


def set_availability(ctx: Context, caller: Principal, node: str, availability: str) -> list[str]:
    """``active``, ``drain`` or ``pause``; returns the pods still pinned to the node (their
    data is there: a drained node takes no new pod, and keeps these until they are moved)."""
    if availability not in AVAILABILITIES:
        raise BadInput(f"availability {availability!r}: use one of {', '.join(AVAILABILITIES)}")
    with audited(ctx, caller, f"node.{availability}", node):
        guard.require_all(caller, Scope.TENANTS_WRITE)
        node_id = resolve(ctx, node)
        nodes = _nodes(ctx)
        nodes.update(node_id, None, availability)
        nodes.runtime.list_pods()  # refreshes where each pod is pinned
        return sorted(name for name, pin in nodes.runtime.pins.items() if pin == node_id)


def join_command(ctx: Context, caller: Principal, rotate: bool = False) -> str:
    """The one line a new server runs to join; ``rotate`` first revokes the current token."""
    with audited(ctx, caller, "node.join-command", "swarm"):
        guard.require_all(caller, Scope.TENANTS_WRITE)
        return _nodes(ctx).join_command(rotate)
