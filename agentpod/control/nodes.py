"""Swarm node use cases (runtime = "swarm"): nodes span every tenant, so only a caller who sees
every tenant may read them, and writes need tenants:write. Writes are audited.

nodes.list_(ctx: Context, caller: Principal) -> list[dict]
nodes.label(ctx: Context, caller: Principal, node: str, add: dict[str, str],
            remove: list[str]) -> dict[str, str]
nodes.set_availability(ctx: Context, caller: Principal, node: str, availability: str) -> list[str]
nodes.join_command(ctx: Context, caller: Principal, rotate: bool = False) -> dict[str, str]
nodes.move_pod(ctx: Context, caller: Principal, ref: str, to: str | None = None) -> dict
nodes.drain(ctx: Context, caller: Principal, node: str) -> list[dict]
nodes.pool_of(ctx: Context, text: str) -> str | None   (a pool as stored; "" clears it)
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from agentpod.control import guard
from agentpod.control.audit import audited
from agentpod.control.context import Context
from agentpod.control.errors import BadInput, checked
from agentpod.core.authz import Principal, Scope
from agentpod.core.models import Pod

if TYPE_CHECKING:
    from agentpod.services.swarm_runtime import Nodes

AVAILABILITIES = ("active", "drain", "pause")


def _nodes(ctx: Context) -> Nodes:
    from agentpod.services.swarm_runtime import Nodes, SwarmRuntime

    if not isinstance(ctx.runtime, SwarmRuntime):
        raise BadInput("nodes are swarm nodes: this install runs one engine (runtime = docker)")
    return Nodes(ctx.runtime)


def pool_of(ctx: Context, text: str) -> str | None:
    """``text`` (``zone=eu,ssd``) as a pool is stored, None for ""; refused on one engine."""
    from agentpod.core.placement import normalize_pool

    if not text:
        return None
    if ctx.settings.runtime != "swarm":
        raise BadInput(
            "a pool is a set of swarm node labels: this install runs one engine (runtime = docker)"
        )
    return checked(lambda: normalize_pool(text))


def _pool_of_pod(ctx: Context, pod: Pod) -> dict[str, str]:
    from agentpod.core.placement import parse_pool

    return parse_pool(pod.pool or ctx.store.get_tenant(pod.tenant).settings.pool)


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
        _nodes(ctx).update(node_id, None, availability)
        return _pinned(ctx, node_id)


def _pinned(ctx: Context, node_id: str) -> list[str]:
    runtime = _nodes(ctx).runtime
    runtime.list_pods()  # refreshes where each pod is pinned
    return sorted(name for name, pin in runtime.pins.items() if pin == node_id)


def move_pod(ctx: Context, caller: Principal, ref: str, to: str | None = None) -> dict[str, str]:
    """Copy the pod's volume to node ``to`` (or the strategy's choice), checksummed, and run
    it there: one restart of downtime. Nothing is deleted until the copy is verified."""
    with audited(ctx, caller, "pod.move", ref, ref.partition("/")[0] or None):
        guard.require_all(caller, Scope.TENANTS_WRITE)
        pod = guard.pod_of(ctx, caller, ref, Scope.PODS_WRITE)
        with ctx.store.reconcile_lock():  # no pass starts the pod while it moves
            return _move(ctx, pod, resolve(ctx, to) if to else None)


def _move(ctx: Context, pod: Pod, target: str | None) -> dict[str, str]:
    from agentpod.core.placement import place
    from agentpod.services.swarm_move import Move, move

    rt = _nodes(ctx).runtime
    status = ctx.store.get_status(pod.id)
    rt.list_pods()
    source = rt.pins.get(pod.ref.container)
    if not status.container_id or source is None:
        raise BadInput(f"pod {pod.ref} has no service yet")
    others = [n for n in rt.nodes() if n.id != source and (target is None or n.id == target)]
    if target == source:
        raise BadInput(f"pod {pod.ref} is on that node already")
    # PlacementError: no room, or no node of its pool
    chosen = place(pod.limits.memory_mb, others, rt.strategy, _pool_of_pod(ctx, pod)).id
    network = ctx.reconciler.network_for(pod.tenant)
    digest = move(rt, Move(status.container_id, pod.ref.volume, pod.image, network, source, chosen))
    ctx.store.update_status(
        pod, ("move", f"moved to node {chosen} (sha256 {digest[:12]})"), ready=False
    )
    return {"pod": str(pod.ref), "from": source, "to": chosen, "sha256": digest}


def drain(ctx: Context, caller: Principal, node: str) -> list[dict[str, str]]:
    """Move each pod of the node (with its data) elsewhere, then take no new pods there (a
    drained node runs no task, the copies' included). A pod that cannot move (no room, the
    node is down) stays, with the reason."""
    guard.require_all(caller, Scope.TENANTS_WRITE)
    by_name = {p.ref.container: p for p in ctx.store.list_pods()}
    moved = []
    for name in _pinned(ctx, resolve(ctx, node)):
        pod = by_name.get(name)
        if pod is None:
            continue
        try:
            moved.append(move_pod(ctx, caller, str(pod.ref)))
        except Exception as exc:
            moved.append({"pod": str(pod.ref), "error": str(exc).splitlines()[0][:300]})
    set_availability(ctx, caller, node, "drain")
    return moved


def join_command(ctx: Context, caller: Principal, rotate: bool = False) -> dict[str, str]:
    """The one line a new server runs to join (``command``: the installer with ``--join``, which
    also installs Docker; ``docker``: the bare ``docker swarm join``); ``rotate`` first revokes
    the current token."""
    import shlex

    with audited(ctx, caller, "node.join-command", "swarm"):
        guard.require_all(caller, Scope.TENANTS_WRITE)
        token, manager = _nodes(ctx).join_token(rotate)
    url = shlex.quote(ctx.settings.installer_url)
    return {
        "command": f"curl -fsSL {url} | bash -s -- --join {token}@{manager}",
        "docker": f"docker swarm join --token {token} {manager}",
        "manager": manager,
    }
