"""``agentpod backup``: one archive of everything (or a tenant), and its restore;
``agentpod pod snapshot|snapshots|restore``: the same for one pod, kept in the home."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from agentpod.cli.app import FORMAT, App, Failure
from agentpod.cli.pod import TIMEOUT, WAIT, wait_for

if TYPE_CHECKING:
    from agentpod.control.backup import Progress, Restored
    from agentpod.core.backup import Manifest


@contextmanager
def steps(app: App) -> Iterator[Progress]:
    """A spinner on stderr that shows the current step (plain lines when not interactive);
    BackupError becomes a one-line failure."""
    from agentpod.core.backup import BackupError

    try:
        if not app.interactive:
            yield app.info
            return
        with app.err.status("working…") as spinner:
            yield lambda text: spinner.update(f"{text}…")
    except BackupError as exc:
        raise Failure(str(exc)) from None


def _ref(text: str):  # -> PodRef
    from agentpod.core.names import PodRef

    return PodRef.parse(text)


def _target(app: App, to: str | None) -> Path:
    """A file as given, or a timestamped archive in a directory (default <home>/backups)."""
    from agentpod.control.backup import stamp

    path = Path(to) if to else app.settings.home / "backups"
    if to is None or path.is_dir() or to.endswith("/"):
        return path / f"agentpod-{stamp(datetime.now(UTC))}.tar.gz"
    return path


def _size(n: int) -> str:
    return f"{n / 1048576:.1f} MiB" if n >= 1048576 else f"{n / 1024:.0f} KiB"


def manifest_json(m: Manifest) -> dict[str, Any]:
    return {
        "created_at": m.created_at,
        "scope": m.scope,
        "stopped": m.stopped,
        "agentpod_version": m.agentpod_version,
        "postgres_version": m.postgres_version,
        "pods": [e.ref for e in m.pods],
        "size": m.size,
    }


@click.group()
def backup() -> None:
    """Back up everything (or a tenant) into one archive, and restore it."""


@backup.command("create")
@click.option(
    "--to",
    metavar="FILE|DIR",
    help="The archive (.tar or .tar.gz), or a directory for a timestamped one "
    "(default: <home>/backups).",
)
@click.option("--tenant", help="Only this tenant's pods.")
@click.option("--stop", is_flag=True, help="Stop the pods for a cold copy, then start them.")
@click.option("--keep", type=click.IntRange(min=1), help="Keep only the newest N in the directory.")
@FORMAT
@click.pass_obj
def create(
    app: App, to: str | None, tenant: str | None, stop: bool, keep: int | None, fmt: str
) -> None:
    """Write a backup: database dump, token key and every pod's volume, with checksums."""
    from agentpod.control.backup import prune, record_last
    from agentpod.control.recovery import backup as make_backup

    dest = _target(app, to)
    started = time.monotonic()
    with steps(app) as progress:
        manifest = make_backup(app.ctx, app.caller, dest, tenant, stop, progress)
    record_last(app.settings.home, dest, manifest)
    pruned = prune(dest.parent, keep) if keep else []
    seconds = round(time.monotonic() - started, 2)
    if fmt == "json":
        app.json(
            {
                "archive": str(dest),
                **manifest_json(manifest),
                "seconds": seconds,
                "pruned": [str(p) for p in pruned],
            }
        )
        return
    app.ok(
        f"{dest}: {len(manifest.pods)} pod(s), {_size(dest.stat().st_size)} in {seconds:.1f}s"
        + (f", {len(pruned)} old backup(s) removed" if pruned else "")
    )


@backup.command("restore")
@click.argument("archive", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Replace pods (and volumes) that exist already.")
@WAIT
@TIMEOUT
@FORMAT
@click.pass_obj
def restore(
    app: App, archive: Path, yes: bool, wait: bool, timeout: float | None, fmt: str
) -> None:
    """Check every checksum, then bring the archive's tenants, pods and volumes back."""
    from agentpod.control.recovery import restore as restore_archive

    with steps(app) as progress:
        restored = restore_archive(app.ctx, app.caller, archive, yes, progress)
    _report(app, restored, fmt, None, wait, timeout)


def _report(
    app: App,
    restored: Restored,
    fmt: str,
    before: str | None,
    wait: bool,
    timeout: float | None,
) -> None:
    """The result, once (with ``wait``) the restored running pods are healthy."""
    if wait:
        wait_for(app, [p for p in restored.pods if p.desired_status.value == "running"], timeout)
    if fmt == "json":
        data = {
            **manifest_json(restored.manifest),
            "pods": [str(p.ref) for p in restored.pods],
            "replaced": restored.replaced,
        }
        app.json({**data, "snapshot_before": before} if before else data)
        return
    app.ok(
        f"restored {len(restored.pods)} pod(s) from {restored.manifest.created_at:%Y-%m-%d %H:%M}"
        + (f", replaced {', '.join(restored.replaced)}" if restored.replaced else "")
    )


# -- one pod (attached to the ``pod`` group) ----------------------------------------------


@click.command("snapshot")
@click.argument("ref")
@FORMAT
@click.pass_obj
def snapshot(app: App, ref: str, fmt: str) -> None:
    """Snapshot a pod (its config, token and volume) to restore later."""
    from agentpod.control.recovery import snapshot as take_snapshot

    pod_ref = _ref(ref)
    with steps(app) as progress:
        snap, manifest = take_snapshot(app.ctx, app.caller, pod_ref, progress)
    if fmt == "json":
        app.json({"pod": str(pod_ref), "snapshot": snap, **manifest_json(manifest)})
    else:
        app.ok(f"snapshot {snap} of {pod_ref} ({_size(manifest.size)})")


@click.command("snapshots")
@click.argument("ref")
@FORMAT
@click.pass_obj
def snapshots(app: App, ref: str, fmt: str) -> None:
    """List a pod's snapshots, oldest first."""
    from agentpod.cli.output import simple_table
    from agentpod.control.recovery import snapshots as list_snapshots

    with steps(app):
        found = list_snapshots(app.ctx, app.caller, _ref(ref))
    rows = [{"snapshot": snap, **manifest_json(m)} for snap, m in found]
    app.emit(
        rows,
        fmt,
        lambda rs: simple_table(
            ["SNAPSHOT", "TAKEN", "SIZE"],
            [[r["snapshot"], f"{r['created_at']:%Y-%m-%d %H:%M:%S}", _size(r["size"])] for r in rs],
        ),
    )


@click.command("restore")
@click.argument("ref")
@click.argument("snapshot_id", metavar="SNAPSHOT")
@WAIT
@TIMEOUT
@FORMAT
@click.pass_obj
def restore_pod(
    app: App, ref: str, snapshot_id: str, wait: bool, timeout: float | None, fmt: str
) -> None:
    """Put a pod back as a snapshot has it (a snapshot of it as it is now is taken first)."""
    from agentpod.control.recovery import restore_pod as restore_snapshot

    with steps(app) as progress:
        before, restored = restore_snapshot(app.ctx, app.caller, _ref(ref), snapshot_id, progress)
    if fmt != "json":
        app.info(f"the state before the restore is snapshot {before}")
    _report(app, restored, fmt, before, wait, timeout)


POD_COMMANDS = [snapshot, snapshots, restore_pod]
