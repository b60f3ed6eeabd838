"""Pod use cases, for every shell: each checks the caller's rights, records an audit row for a
write, changes the desired state and has it applied (by a running serve, or here).

pods.create(ctx: Context, caller: Principal, ref: str | PodRef, request: PodRequest) -> Changed
pods.list_(ctx: Context, caller: Principal, tenant: str | None = None) -> list[dict]
pods.list_json(ctx: Context, caller: Principal, tenant: str | None, limit: int, offset: int) -> str
pods.status(ctx: Context, caller: Principal, ref: str | PodRef) -> dict
pods.get(ctx: Context, caller: Principal, ref: str | PodRef) -> Pod
pods.start(ctx: Context, caller: Principal, ref: str | PodRef) -> Changed
pods.stop(ctx: Context, caller: Principal, ref: str | PodRef) -> Changed
pods.restart(ctx: Context, caller: Principal, ref: str | PodRef) -> Changed
pods.upgrade(ctx: Context, caller: Principal, ref: str | PodRef, image: str,
             snapshot: bool = True, progress: Callable[[str], None] | None = None) -> Changed
pods.upgrade_all(ctx: Context, caller: Principal, image: str, tenant: str | None = None,
                 parallel: int = 10, timeout: float = 300, wait: bool = True,
                 snapshot: bool = True, progress: Callable[[str], None] | None = None)
                 -> RolloutResult
pods.set_limits(ctx: Context, caller: Principal, ref: str | PodRef, memory: str | int | None = None,
                cpus: float | None = None, pids: int | None = None) -> Changed
pods.set_domains(ctx: Context, caller: Principal, ref: str | PodRef, add: Iterable[str] = (),
                 remove: Iterable[str] = ()) -> Changed
pods.logs(ctx: Context, caller: Principal, ref: str | PodRef, tail: int = 100,
          follow: bool = False) -> Iterator[bytes]
pods.delete(ctx: Context, caller: Principal, ref: str | PodRef, keep_data: bool = False,
            wait: bool = True, confirm: Callable[[Pod], None] | None = None) -> Changed
pods.wait_ready(ctx: Context, pod: Pod, timeout: float | None = None,
                tick: Callable[[PodStatus], None] | None = None) -> None
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from agentpod.control import guard, pod_reads
from agentpod.control.audit import audited, audited_pod
from agentpod.control.context import Context
from agentpod.control.errors import BadInput, QuotaExceeded, checked
from agentpod.core.authz import Principal, Scope
from agentpod.core.models import DesiredStatus, Limits, Pod, PodStatus
from agentpod.core.names import (
    RESERVED_SUBDOMAINS,
    PodRef,
    validate_domain,
    validate_image,
    validate_label,
)
from agentpod.core.netpool import pod_room
from agentpod.core.quota import Quota, Usage, crowded, holds, refusal
from agentpod.services.store import Admit, Conflict

if TYPE_CHECKING:
    from agentpod.control.rollout import RolloutResult


@dataclass(frozen=True)
class PodRequest:
    """A new pod, as the shells' options give it. ``memory``: a size (``512m``) or MiB."""

    adapter: str = "openclaw"
    image: str | None = None
    memory: str | int | None = None
    cpus: float | None = None
    pids: int | None = None
    subdomain: str | None = None
    domains: tuple[str, ...] = ()
    config: dict[str, Any] = field(default_factory=dict)
    sets: tuple[str, ...] = ()  # KEY=VALUE assignments on top of ``config``
    pool: str | None = None  # swarm node labels (``zone=eu``), over its tenant's pool


@dataclass
class Changed:
    """A pod after a change; ``warnings``: what applying it here ran into (retried later)."""

    pod: Pod
    changed: bool = True
    warnings: list[str] = field(default_factory=list)


def _parse(ref: str | PodRef) -> PodRef:
    return PodRef.parse(ref) if isinstance(ref, str) else ref


def apply(ctx: Context, pods: list[Pod]) -> list[str]:
    """Have the change applied; one warning per action that failed here (retried later)."""
    return [
        f"{o.action.ref}: {o.action.kind.value} failed: {o.error} (will retry)"
        for o in ctx.apply(pods)
        if o.error
    ]


def admit(tenant: str, after: Callable[[Usage], Usage], room: int | None = None) -> Admit:
    """The quota check of a change: ``after`` maps what the pod holds now to what it will;
    ``room``: how many pods the tenant's network holds, when the change adds one."""

    def check(quota: Quota, others: Usage, current: Usage) -> None:
        used, demand = others + current, after(current) - current
        why = refusal(tenant, quota, used, demand)
        if why is None and room is not None:
            why = crowded(tenant, used.pods + demand.pods, room)
        if why:
            raise QuotaExceeded(why)

    return check


def _limits(base: Limits, memory: str | int | None, cpus: float | None, pids: int | None) -> Limits:
    from agentpod.core.units import parse_memory_mb

    mb = checked(lambda: parse_memory_mb(memory)) if isinstance(memory, str) else memory
    return checked(
        lambda: Limits(
            memory_mb=mb or base.memory_mb, cpus=cpus or base.cpus, pids=pids or base.pids
        )
    )


def create(ctx: Context, caller: Principal, ref: str | PodRef, request: PodRequest) -> Changed:
    with audited_pod(ctx, caller, "pod.create", ref):
        pod_ref = _parse(ref)
        guard.tenant_of(ctx, caller, pod_ref.tenant, Scope.PODS_WRITE)
        new = _create(ctx, pod_ref, request)
    return Changed(new, warnings=apply(ctx, [new]))


def _create(ctx: Context, ref: PodRef, r: PodRequest) -> Pod:
    from agentpod.control.llm import refuse_provider_keys
    from agentpod.control.nodes import pool_of
    from agentpod.core.adapters import get_adapter
    from agentpod.core.configpath import apply_assignments

    adapter = get_adapter(r.adapter)
    sub = validate_label(r.subdomain, "subdomain") if r.subdomain else ref.default_subdomain
    if sub in RESERVED_SUBDOMAINS:
        raise BadInput(f"subdomain {sub} is AgentPod's own (its console): choose another")
    config = apply_assignments(r.config, list(r.sets))
    adapter.validate_config(config)
    refuse_provider_keys(config)
    image = validate_image(r.image) if r.image else adapter.default_image
    if not image:
        raise BadInput(f"agent type {adapter.id} has no default image: pass --image")
    limits = _limits(adapter.default_limits, r.memory, r.cpus, r.pids)
    domains = sorted({validate_domain(d, "custom domain") for d in r.domains})
    pool = pool_of(ctx, r.pool) if r.pool else None
    new = holds(limits.memory_mb, limits.cpus, True, True)
    return ctx.store.create_pod(
        ref,
        adapter.id,
        sub,
        image,
        limits,
        config,
        domains=domains,
        admit=admit(ref.tenant, lambda _now: new, pod_room(ctx.settings.network_prefix)),
        pool=pool,
    )


def list_(ctx: Context, caller: Principal, tenant: str | None = None) -> list[dict[str, Any]]:
    """The pods the caller sees (of ``tenant`` only, if given); NotFound for a ``tenant`` that
    does not exist or that the caller does not see."""
    return pod_reads.list_(ctx.store, ctx.edge.url_parts(), caller, tenant)


def list_json(ctx: Context, caller: Principal, tenant: str | None, limit: int, offset: int) -> str:
    """``list_`` (a page of it) as JSON encoded by the database."""
    return pod_reads.list_json(ctx.store, ctx.edge.url_parts(), caller, tenant, limit, offset)


def status(ctx: Context, caller: Principal, ref: str | PodRef) -> dict[str, Any]:
    return pod_reads.status(ctx.store, ctx.edge.url_parts(), caller, ref)


def get(ctx: Context, caller: Principal, ref: str | PodRef) -> Pod:
    return guard.pod_of(ctx, caller, ref, Scope.PODS_READ)


def _desire(ctx: Context, caller: Principal, ref: str | PodRef, target: DesiredStatus) -> Changed:
    action = {DesiredStatus.RUNNING: "pod.start", DesiredStatus.STOPPED: "pod.stop"}[target]
    with audited_pod(ctx, caller, action, ref):
        p = guard.pod_of(ctx, caller, ref, Scope.PODS_WRITE)
        changed = p.desired_status is not target
        if changed:
            running = target is DesiredStatus.RUNNING
            after = holds(p.limits.memory_mb, p.limits.cpus, True, running)
            p = ctx.store.set_desired(p, target, admit=admit(p.tenant, lambda _now: after))
    return Changed(p, changed, apply(ctx, [p]))


def start(ctx: Context, caller: Principal, ref: str | PodRef) -> Changed:
    return _desire(ctx, caller, ref, DesiredStatus.RUNNING)


def stop(ctx: Context, caller: Principal, ref: str | PodRef) -> Changed:
    return _desire(ctx, caller, ref, DesiredStatus.STOPPED)


def restart(ctx: Context, caller: Principal, ref: str | PodRef) -> Changed:
    """Restart the container now (a new one when it is gone)."""
    with audited_pod(ctx, caller, "pod.restart", ref):
        p = guard.pod_of(ctx, caller, ref, Scope.PODS_WRITE)
        if p.desired_status is not DesiredStatus.RUNNING:
            raise Conflict(
                f"pod {p.ref} is {p.desired_status.value}: use 'agentpod pod start {p.ref}'"
            )
        with ctx.store.reconcile_lock():
            restarted = ctx.restart_pod(p, "restart requested")
    warnings = [] if restarted else apply(ctx, [p])
    return Changed(p, warnings=warnings)


def upgrade(
    ctx: Context,
    caller: Principal,
    ref: str | PodRef,
    image: str,
    snapshot: bool = True,
    progress: Callable[[str], None] | None = None,
) -> Changed:
    """The pod on a new image (its limits and data kept), after a snapshot unless told not;
    ``progress`` gets a line about the snapshot."""
    with audited_pod(ctx, caller, "pod.upgrade", ref):
        validate_image(image)
        p = guard.pod_of(ctx, caller, ref, Scope.PODS_WRITE)
        moved = _set_image(ctx, p, image, snapshot, progress or _quiet)
    return Changed(moved, moved is not p, apply(ctx, [moved]))


def _quiet(_line: str) -> None:
    pass


def _set_image(ctx: Context, p: Pod, image: str, snapshot: bool, say: Callable[[str], None]) -> Pod:
    """Recreating on a new image keeps the pod's limits: its usage does not grow, so the quota
    check (under the tenant's lock, like every change) admits it even over a lowered quota."""
    if p.image == image:
        return p
    if snapshot:
        from agentpod.control.backup import snapshot_pod

        snap, _ = snapshot_pod(ctx, p.ref)
        say(f"snapshot {snap} of {p.ref} taken (undo: agentpod pod restore {p.ref} {snap})")
    return ctx.store.set_image(p, image, admit=admit(p.tenant, lambda now: now))


def upgrade_all(
    ctx: Context,
    caller: Principal,
    image: str,
    tenant: str | None = None,
    parallel: int = 10,
    timeout: float = 300,
    wait: bool = True,
    snapshot: bool = True,
    progress: Callable[[str], None] | None = None,
) -> RolloutResult:
    """Every pod the caller sees (of ``tenant``, if given) moved to ``image`` in health-gated
    batches; ``progress`` gets a line per snapshot and per pod done."""
    from agentpod.control.rollout import rollout

    say = progress or _quiet
    with audited(ctx, caller, "pod.upgrade_all", tenant or "*", tenant) as outcome:
        validate_image(image)
        guard.visible(caller, tenant)
        pods = [p for p in ctx.store.list_pods(tenant) if p.desired_status.value != "deleted"]
        pods = [p for p in pods if caller.sees(p.tenant)]
        for name in sorted({p.tenant for p in pods}):
            guard.require(caller, Scope.PODS_WRITE, name)

        def set_image(p: Pod, new: str) -> Pod:
            return _set_image(ctx, p, new, snapshot, say)

        def each(ref: str, ok: bool) -> None:
            say(f"{'upgraded' if ok else 'failed'} {ref}")

        result = rollout(ctx, pods, image, parallel, timeout, wait, each, set_image)
        outcome.failed = result.failure()
    return result


def set_limits(
    ctx: Context,
    caller: Principal,
    ref: str | PodRef,
    memory: str | int | None = None,
    cpus: float | None = None,
    pids: int | None = None,
) -> Changed:
    """New memory/CPU/process limits (None: keep); the container is recreated with them."""
    with audited_pod(ctx, caller, "pod.limits", ref):
        p = guard.pod_of(ctx, caller, ref, Scope.PODS_WRITE)
        limits = _limits(p.limits, memory, cpus, pids)
        if limits == p.limits:
            return Changed(p, changed=False)
        running = p.desired_status is DesiredStatus.RUNNING

        def after(now: Usage) -> Usage:
            return holds(limits.memory_mb, limits.cpus, bool(now.pods), running)

        p = ctx.store.set_limits(p, limits, admit=admit(p.tenant, after))
    return Changed(p, warnings=apply(ctx, [p]))


def set_domains(
    ctx: Context,
    caller: Principal,
    ref: str | PodRef,
    add: Iterable[str] = (),
    remove: Iterable[str] = (),
) -> Changed:
    """The custom domains the pod answers on, besides its subdomain."""
    with audited_pod(ctx, caller, "pod.domains", ref):
        p = guard.pod_of(ctx, caller, ref, Scope.PODS_WRITE)
        wanted = set(p.domains) | {validate_domain(d, "custom domain") for d in add}
        wanted -= {validate_domain(d, "custom domain") for d in remove}
        if sorted(wanted) == sorted(p.domains):
            return Changed(p, changed=False)
        p = ctx.store.set_domains(p, sorted(wanted))
    return Changed(p, warnings=apply(ctx, [p]))


def logs(
    ctx: Context, caller: Principal, ref: str | PodRef, tail: int = 100, follow: bool = False
) -> Iterator[bytes]:
    """The container's log, as it comes."""
    p = guard.pod_of(ctx, caller, ref, Scope.PODS_READ)
    cid = p.adopted_container_id or ctx.store.get_status(p.id).container_id
    if not cid:
        raise Conflict(f"pod {p.ref} has no container yet")
    stream = ctx.runtime.logs(cid, tail, follow)
    if stream is None:
        raise Conflict(f"pod {p.ref}: its container is gone; see 'agentpod pod status {p.ref}'")
    return stream


def delete(
    ctx: Context,
    caller: Principal,
    ref: str | PodRef,
    keep_data: bool = False,
    wait: bool = True,
    confirm: Callable[[Pod], None] | None = None,
) -> Changed:
    """Delete the pod: its container and, unless ``keep_data``, its volume. ``confirm`` may
    raise to stop before anything changes."""
    with audited_pod(ctx, caller, "pod.delete", ref):
        p = guard.pod_of(ctx, caller, ref, Scope.PODS_WRITE)
        if confirm:
            confirm(p)
        p = ctx.store.set_desired(p, DesiredStatus.DELETED, keep_data=keep_data)
        warnings = apply(ctx, [p])
        if wait:
            ctx.wait_gone(p, timeout=120)
    return Changed(p, warnings=warnings)


def wait_ready(
    ctx: Context,
    pod: Pod,
    timeout: float | None = None,
    tick: Callable[[PodStatus], None] | None = None,
) -> None:
    """Until the pod runs and is healthy; the default timeout is its type's start period."""
    from agentpod.core.adapters import get_adapter

    adapter = get_adapter(pod.adapter)
    limit = timeout or adapter.health_check(adapter.validate_config(pod.config)).start_period_s
    ctx.wait_ready(pod, limit, tick)
