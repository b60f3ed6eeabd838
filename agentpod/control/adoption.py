"""``agentpod migrate``: find hand-deployed OpenClaw gateways and adopt them without touching
them (no stop, no restart, no recreate). The database records the container's id; the
reconciler matches it by id until a change needs a new container. Adoption scans the whole
engine: it needs a caller who sees every tenant; each adoption (not a dry run) is audited.

adoption.discover(ctx: Context, caller: Principal, default_tenant: str = "adopted")
                  -> list[Candidate]
adoption.adopt(ctx: Context, caller: Principal, c: Candidate, ref: PodRef | None = None,
               allow_ephemeral: bool = False, dry_run: bool = False) -> AdoptResult
adoption.release(ctx: Context, caller: Principal, ref: str | PodRef) -> str
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from agentpod.control import audit, guard
from agentpod.control.context import Context
from agentpod.core import discovery
from agentpod.core.adapters import get_adapter
from agentpod.core.authz import Principal, Scope
from agentpod.core.discovery import Candidate
from agentpod.core.models import DesiredStatus
from agentpod.core.names import PodRef
from agentpod.services.store import NotFound


@dataclass(frozen=True)
class AdoptResult:
    container: str
    pod: str | None
    result: str  # adopted | already | would-adopt | refused | failed
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "container": self.container,
            "pod": self.pod,
            "result": self.result,
            "message": self.message,
        }


def _read_config(ctx: Context, info: dict[str, Any]) -> tuple[dict | None, str | None]:
    import json5

    env = dict(p.split("=", 1) for p in (info.get("Config") or {}).get("Env") or [] if "=" in p)
    path = env.get("OPENCLAW_CONFIG_PATH") or f"{discovery.state_dir(info)}/openclaw.json"
    try:
        raw = ctx.runtime.read_file(info["Id"], path)
        if raw is None:
            return None, None
        data = json5.loads(raw.decode())
    except Exception as exc:
        return None, f"{path}: {str(exc).splitlines()[0][:120]}"
    if not isinstance(data, dict):
        return None, f"{path} is not an object"
    return data, None


def discover(ctx: Context, caller: Principal, default_tenant: str = "adopted") -> list[Candidate]:
    """Every unmanaged OpenClaw-looking container, with the pod it would become and problems."""
    guard.require_all(caller, Scope.TENANTS_READ)
    adopted = {p.adopted_container_id: p for p in ctx.store.list_pods() if p.adopted_container_id}
    found = []
    for info in ctx.runtime.inspect_all():
        if not discovery.evidence(info) or discovery.is_ours(info):
            continue
        config, error = _read_config(ctx, info)
        c = discovery.candidate(info, config, error, default_tenant)
        if c is None:
            continue
        if c.container_id in adopted:
            c.proposed = adopted[c.container_id].ref
            c.problems.insert(0, f"already adopted as {c.proposed}")
        else:
            _check_name(ctx, c)
        found.append(c)
    return sorted(found, key=lambda c: c.name)


def _check_name(ctx: Context, c: Candidate) -> None:
    assert c.proposed is not None
    try:
        other = ctx.store.get_pod(c.proposed)
    except NotFound:
        return
    c.problems.insert(0, f"name clash: pod {other.ref} exists (adopt it with --as TENANT/POD)")


# an adoption's result -> its audit outcome
OUTCOMES = {"adopted": "ok", "already": "refused", "refused": "refused", "failed": "failed"}


def adopt(
    ctx: Context,
    caller: Principal,
    c: Candidate,
    ref: PodRef | None = None,
    allow_ephemeral: bool = False,
    dry_run: bool = False,
) -> AdoptResult:
    """Record one container as a pod; the container itself is not touched."""
    guard.require_all(caller, Scope.TENANTS_WRITE)
    done = _adopt(ctx, c, ref, allow_ephemeral, dry_run)
    if not dry_run:
        outcome = OUTCOMES[done.result]
        why = None if outcome == "ok" else done.message
        tenant = done.pod.partition("/")[0] if done.pod else None
        audit.record(ctx, caller, "pod.adopt", done.pod or c.name, outcome, why, tenant)
    return done


def _adopt(
    ctx: Context,
    c: Candidate,
    ref: PodRef | None,
    allow_ephemeral: bool,
    dry_run: bool,
) -> AdoptResult:
    target = ref or c.proposed
    assert target is not None
    blocking = [p for p in c.problems if p.startswith(("already adopted", "name clash"))]
    if blocking and blocking[0].startswith("already adopted"):
        return AdoptResult(c.name, str(c.proposed), "already", blocking[0])
    why = None
    if blocking and ref is None:
        why = blocking[0]
    elif c.data is None and not allow_ephemeral:
        why = c.problems[0]
    if dry_run:
        return AdoptResult(
            c.name,
            str(target),
            "would-refuse" if why else "would-adopt",
            why or "; ".join(c.evidence),
        )
    if why:
        return _refuse(ctx, c, target, why)
    try:
        pod = _record(ctx, c, target)
    except Exception as exc:
        return _refuse(ctx, c, target, str(exc).splitlines()[0], "failed")
    return AdoptResult(
        c.name, str(pod.ref), "adopted", f"container {c.container_id[:12]} kept as is ({c.state})"
    )


def _record(ctx: Context, c: Candidate, target: PodRef):
    store = ctx.store
    if target.tenant not in {t.name for t in store.list_tenants()}:
        store.create_tenant(target.tenant)
    adapter = get_adapter("openclaw")
    config = discovery.imported_config(c)
    adapter.validate_config(config)
    desired = (
        DesiredStatus.RUNNING if c.state in ("running", "restarting") else (DesiredStatus.STOPPED)
    )
    pod = store.create_pod(
        target,
        adapter.id,
        target.default_subdomain,
        c.image,
        adapter.default_limits,
        config,
        desired=desired,
        adopted_container_id=c.container_id,
        token=c.token,
        data_source=c.data,
        event=(
            "adopted",
            f"adopted container {c.name} ({c.container_id[:12]}, {c.image}); "
            f"data in {c.data.source if c.data else 'the container only'}",
        ),
    )
    status = "running" if desired is DesiredStatus.RUNNING else "stopped"
    store.update_status(pod, None, container_id=c.container_id, actual_status=status)
    return pod


def _refuse(
    ctx: Context, c: Candidate, target: PodRef, why: str, result: str = "refused"
) -> AdoptResult:
    ctx.store.add_event("adopt.failed", f"{c.name} -> {target}: {why}")
    return AdoptResult(c.name, str(target), result, why)


def release(ctx: Context, caller: Principal, ref: str | PodRef) -> str:
    """Stop managing an adopted pod; its container is left exactly as it is."""
    with audit.audited_pod(ctx, caller, "pod.release", ref):
        pod = guard.pod_of(ctx, caller, ref, Scope.PODS_WRITE)
        cid = pod.adopted_container_id
        if not cid:
            raise NotFound(
                f"pod {pod.ref} was not adopted (or was converted): 'agentpod pod delete "
                f"{pod.ref} --keep-data' removes its container and keeps its data"
            )
        ctx.store.forget_pod(pod, f"released container {cid[:12]}; left as it is", "released")
    return cid
