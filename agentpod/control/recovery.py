"""Backups, snapshots and their restores as use cases: the caller's rights checked, each
write audited. A whole-machine backup or restore needs a caller who sees every tenant (the
archive holds them all, secrets included); a pod's snapshots need the right to change it.

recovery.backup(ctx: Context, caller: Principal, dest: Path, tenant: str | None = None,
                stop: bool = False, progress: Progress = quiet) -> Manifest
recovery.restore(ctx: Context, caller: Principal, archive: Path, replace: bool = False,
                 progress: Progress = quiet) -> Restored
recovery.snapshot(ctx: Context, caller: Principal, ref: str | PodRef,
                  progress: Progress = quiet) -> tuple[str, Manifest]
recovery.snapshots(ctx: Context, caller: Principal, ref: str | PodRef)
                   -> list[tuple[str, Manifest]]
recovery.restore_pod(ctx: Context, caller: Principal, ref: str | PodRef, snap: str,
                     progress: Progress = quiet) -> tuple[str, Restored]
"""

from __future__ import annotations

from pathlib import Path

from agentpod.control import backup as engine
from agentpod.control import guard
from agentpod.control.audit import audited, audited_pod
from agentpod.control.backup import Progress, Restored, quiet
from agentpod.control.context import Context
from agentpod.core.authz import Principal, Scope
from agentpod.core.backup import Manifest
from agentpod.core.names import PodRef


def backup(
    ctx: Context,
    caller: Principal,
    dest: Path,
    tenant: str | None = None,
    stop: bool = False,
    progress: Progress = quiet,
) -> Manifest:
    with audited(ctx, caller, "backup.create", str(dest), tenant):
        if tenant:
            guard.tenant_of(ctx, caller, tenant, Scope.TENANTS_WRITE)
        else:
            guard.require_all(caller, Scope.TENANTS_WRITE)
        return engine.create_backup(ctx, dest, tenant=tenant, stop=stop, progress=progress)


def restore(
    ctx: Context,
    caller: Principal,
    archive: Path,
    replace: bool = False,
    progress: Progress = quiet,
) -> Restored:
    with audited(ctx, caller, "backup.restore", str(archive)):
        guard.require_all(caller, Scope.TENANTS_WRITE)
        return engine.restore_backup(ctx, archive, replace=replace, progress=progress)


def snapshot(
    ctx: Context, caller: Principal, ref: str | PodRef, progress: Progress = quiet
) -> tuple[str, Manifest]:
    with audited_pod(ctx, caller, "pod.snapshot", ref):
        pod = guard.pod_of(ctx, caller, ref, Scope.PODS_WRITE)
        return engine.snapshot_pod(ctx, pod.ref, progress)


def snapshots(ctx: Context, caller: Principal, ref: str | PodRef) -> list[tuple[str, Manifest]]:
    pod = guard.pod_of(ctx, caller, ref, Scope.PODS_READ)
    return engine.list_snapshots(ctx, pod.ref)


def restore_pod(
    ctx: Context,
    caller: Principal,
    ref: str | PodRef,
    snap: str,
    progress: Progress = quiet,
) -> tuple[str, Restored]:
    with audited_pod(ctx, caller, "pod.restore", ref):
        pod = guard.pod_of(ctx, caller, ref, Scope.PODS_WRITE)
        return engine.restore_snapshot(ctx, pod.ref, snap, progress)
