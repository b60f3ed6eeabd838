"""Backup and restore of everything (or a tenant), and snapshots of one pod.

An archive holds the database dump, the key that seals the tokens in it, and the data volume
of every pod in scope, each checked against the manifest's sha256 before a restore touches
anything. A restore writes the pods into the target's database (its instance id, other tenants
and key stay; tokens are sealed again with its key), their volumes onto the engine, and lets
the reconciler (``serve``, or this process) create their containers.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from agentpod import __version__
from agentpod.control.context import Context
from agentpod.core.adapters import get_adapter
from agentpod.core.backup import (
    DATABASE,
    LAST_BACKUP,
    SECRET_KEY,
    BackupError,
    DumpContents,
    Manifest,
    PodEntry,
    refusals,
    to_prune,
    volume_member,
)
from agentpod.core.models import DesiredStatus, Pod
from agentpod.core.names import PodRef
from agentpod.services import archive, dbdump
from agentpod.services.volumes import Volumes

Progress = Callable[[str], None]
SNAPSHOTS_KEPT = 10


def quiet(_: str) -> None:
    pass


def stamp(at: datetime) -> str:
    """A file-name timestamp that sorts in time order: 20261202T013012.345Z."""
    return at.strftime("%Y%m%dT%H%M%S.%f")[:-3] + "Z"


@contextmanager
def _workdir(near: Path | None = None) -> Iterator[Path]:
    work = Path(tempfile.mkdtemp(prefix=".agentpod-backup-", dir=near))
    try:
        yield work
    finally:
        shutil.rmtree(work, ignore_errors=True)


# -- backup -----------------------------------------------------------------------------


def _in_scope(ctx: Context, tenant: str | None, only: PodRef | None) -> list[Pod]:
    if tenant:
        ctx.store.get_tenant(tenant)  # a clear error for an unknown tenant
    pods = [ctx.store.get_pod(only)] if only else ctx.store.list_pods(tenant)
    return [p for p in pods if p.desired_status is not DesiredStatus.DELETED]


def _entry(pod: Pod) -> PodEntry:
    volume = pod.data_source.source if pod.data_source else pod.ref.volume
    return PodEntry(
        ref=str(pod.ref),
        adapter=pod.adapter,
        image=pod.image,
        subdomain=pod.subdomain,
        domains=pod.domains,
        volume=volume,
        state_dir=get_adapter(pod.adapter).state_dir,
    )


@contextmanager
def _cold(ctx: Context, pods: list[Pod], stop: bool) -> Iterator[None]:
    """With ``stop``: the running pods stopped (and no reconcile healing them) until the block
    ends, then started again."""
    if not stop:
        yield
        return
    runtime = ctx.runtime
    with ctx.store.reconcile_lock():
        running = [
            cid
            for p in pods
            if p.desired_status is DesiredStatus.RUNNING
            and (cid := p.adopted_container_id or ctx.store.get_status(p.id).container_id)
        ]
        with ThreadPoolExecutor(max_workers=8) as pool:  # each may take its stop timeout
            list(pool.map(runtime.stop, running))
        try:
            yield
        finally:
            for cid in running:
                runtime.start(cid)


def create_backup(
    ctx: Context,
    dest: Path,
    tenant: str | None = None,
    only: PodRef | None = None,
    stop: bool = False,
    progress: Progress = quiet,
) -> Manifest:
    """Write the archive ``dest``; returns its manifest."""
    pods = _in_scope(ctx, tenant, only)
    store = ctx.store
    volumes = Volumes(ctx.runtime)
    dest.parent.mkdir(parents=True, exist_ok=True)
    with _workdir(dest.parent) as work:
        progress("dumping the database")
        dbdump.dump(store.url, work / DATABASE)
        assert store.box is not None
        (work / SECRET_KEY).write_bytes(store.box.key() + b"\n")
        entries = []
        with _cold(ctx, pods, stop):
            for p in pods:
                entry = _entry(p)
                if volumes.exists(entry.volume):
                    progress(f"copying the volume of {p.ref}")
                    member = volume_member(p.ref)
                    (work / member).parent.mkdir(parents=True, exist_ok=True)
                    volumes.export(entry.volume, entry.state_dir, p.image, work / member)
                    entry = entry.model_copy(update={"data": member})
                entries.append(entry)
        names = [DATABASE, SECRET_KEY] + [e.data for e in entries if e.data]
        scope = f"pod {only}" if only else (f"tenant {tenant}" if tenant else "all")
        manifest = Manifest(
            agentpod_version=__version__,
            postgres_version=dbdump.server_version(store.url),
            created_at=datetime.now(UTC),
            instance=ctx.runtime.instance,
            scope=scope,
            stopped=stop,
            pods=entries,
            members={name: archive.digest(work / name) for name in names},
        )
        progress(f"writing {dest}")
        archive.write(dest, manifest, work)
    return manifest


def record_last(home: Path, dest: Path, manifest: Manifest) -> None:
    """Remember the last good backup (what ``doctor`` reports)."""
    data = {"at": manifest.created_at.isoformat(), "path": str(dest), "pods": len(manifest.pods)}
    tmp = home / f".{LAST_BACKUP}.{os.getpid()}"
    tmp.write_text(json.dumps(data) + "\n")
    tmp.replace(home / LAST_BACKUP)  # also over a file root wrote, for the timer's service user


def prune(directory: Path, keep: int) -> list[Path]:
    """Delete the backups in ``directory`` beyond the newest ``keep``; returns them."""
    found = [p.name for p in directory.glob("agentpod-*.tar*") if not p.name.startswith(".")]
    gone = [directory / name for name in to_prune(found, keep)]
    for path in gone:
        path.unlink(missing_ok=True)
    return gone


# -- restore ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Restored:
    manifest: Manifest
    pods: list[Pod]
    replaced: list[str]


def _check(ctx: Context, entries: list[PodEntry], replace: bool) -> dict[str, Pod]:
    """The target's pods that the restore replaces; raises if it must not go on."""
    current = {str(p.ref): p for p in ctx.store.list_pods()}
    volumes = Volumes(ctx.runtime)
    existing = {ref: (p.subdomain, p.domains) for ref, p in current.items()}
    present = {e.volume for e in entries if volumes.exists(e.volume)}
    foreign = {
        e.pod_ref.container
        for e in entries
        if e.ref not in current and volumes.container_exists(e.pod_ref.container)
    }
    reasons = refusals(entries, existing, present, foreign, replace)
    if reasons:
        raise BackupError("; ".join(reasons))
    for image in sorted({e.image for e in entries}):
        if not ctx.runtime.image_exists(image):
            ctx.runtime.pull(image)
    return {e.ref: current[e.ref] for e in entries if e.ref in current}


def _contents(
    ctx: Context, work: Path, manifest: Manifest, entries: list[PodEntry], only: PodRef | None
) -> DumpContents:
    wanted = {e.ref for e in entries}
    dumped = dbdump.read_dump(ctx.store.url, work / DATABASE, work / SECRET_KEY)
    contents = dumped.scoped(manifest.scope, wanted, only)
    missing = wanted - {str(r.ref) for r in contents.pods}
    if missing:
        raise BackupError(f"the archive's database has no pod {', '.join(sorted(missing))}")
    return contents


def _write(
    ctx: Context, work: Path, entries: list[PodEntry], replaced: dict[str, Pod], made: list[str]
) -> None:
    """Stop and remove the replaced pods' containers, then write every volume (adding the
    ones that did not exist to ``made``)."""
    volumes = Volumes(ctx.runtime)
    for pod in replaced.values():
        cid = pod.adopted_container_id or ctx.store.get_status(pod.id).container_id
        if cid:
            ctx.runtime.stop(cid)
            ctx.runtime.remove(cid)
    for e in entries:
        if e.data:
            new = e.ref not in replaced and not volumes.exists(e.volume)
            volumes.replace(e.volume, e.state_dir, e.image, work / e.data)
            made += [e.volume] if new else []


def restore_backup(
    ctx: Context,
    path: Path,
    replace: bool = False,
    only: PodRef | None = None,
    progress: Progress = quiet,
) -> Restored:
    """Check the whole archive, then bring its pods (or only one) back; raises BackupError
    (nothing changed) when the archive is damaged or the restore would overwrite something
    without ``replace``."""
    with _workdir() as work:
        progress(f"checking {path}")
        manifest = archive.unpack(path, work)
        entries = [e for e in manifest.pods if only is None or e.ref == str(only)]
        if only is not None and not entries:
            raise BackupError(f"{path} holds no pod {only}")
        progress("reading the database dump")
        contents = _contents(ctx, work, manifest, entries, only)
        with ctx.store.reconcile_lock():
            replaced = _check(ctx, entries, replace)
            progress(f"writing {len(entries)} volume(s)")
            made: list[str] = []
            try:
                _write(ctx, work, entries, replaced, made)
                pods = ctx.store.restore(contents)
            except BaseException:  # no half-restored pods: the volumes made go again
                for volume in made:
                    Volumes(ctx.runtime).remove(volume)
                raise
    ctx.apply(pods)
    return Restored(manifest, pods, sorted(replaced))


# -- snapshots of one pod -----------------------------------------------------------------


def snapshot_dir(ctx: Context, ref: PodRef) -> Path:
    return ctx.settings.home / "snapshots" / ref.tenant / ref.name


def snapshot_pod(ctx: Context, ref: PodRef, progress: Progress = quiet) -> tuple[str, Manifest]:
    """A snapshot of the pod (its rows and volume) in the home; the oldest beyond
    SNAPSHOTS_KEPT are deleted. Returns its id."""
    directory = snapshot_dir(ctx, ref)
    snap = stamp(datetime.now(UTC))
    manifest = create_backup(ctx, directory / f"{snap}.tar.gz", only=ref, progress=progress)
    names = [p.name for p in directory.glob("*.tar.gz")]
    for name in to_prune(names, SNAPSHOTS_KEPT):
        (directory / name).unlink(missing_ok=True)
    ctx.store.add_event("snapshot", f"snapshot {snap} taken", ctx.store.get_pod(ref))
    return snap, manifest


def list_snapshots(ctx: Context, ref: PodRef) -> list[tuple[str, Manifest]]:
    ctx.store.get_pod(ref)
    paths = sorted(snapshot_dir(ctx, ref).glob("*.tar.gz"))
    return [(p.name.removesuffix(".tar.gz"), archive.read_manifest(p)) for p in paths]


def restore_snapshot(
    ctx: Context, ref: PodRef, snap: str, progress: Progress = quiet
) -> tuple[str, Restored]:
    """Put the pod back as the snapshot has it, after a snapshot of how it is now (so the
    restore itself can be undone); returns that new snapshot's id too."""
    path = snapshot_dir(ctx, ref) / f"{snap}.tar.gz"
    if "/" in snap or not path.is_file():
        raise BackupError(f"no snapshot {snap!r} of {ref}: see 'agentpod pod snapshots {ref}'")
    before, _ = snapshot_pod(ctx, ref, progress)
    return before, restore_backup(ctx, path, replace=True, only=ref, progress=progress)
