"""``agentpod pod``: create, list, status, start/stop/restart, upgrade, logs, delete."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from agentpod.cli.app import FORMAT, App, ExitCode, Failure

if TYPE_CHECKING:
    from agentpod.core.models import Pod, PodStatus

WAIT = click.option(
    "--wait/--no-wait",
    default=True,
    show_default=True,
    help="Wait until the pod is running and healthy.",
)
TIMEOUT = click.option(
    "--timeout",
    type=float,
    default=None,
    help="Seconds to wait (default: the agent type's start period).",
)


def _ref(text: str):  # -> PodRef
    from agentpod.core.names import PodRef

    return PodRef.parse(text)


@click.group()
def pod() -> None:
    """Manage agent pods (addressed TENANT/POD)."""


def read_config_file(path: str) -> dict[str, Any]:
    try:
        data = json.loads(Path(path).read_text())
    except OSError as exc:
        raise Failure(f"cannot read {path}: {exc.strerror}", ExitCode.USAGE) from None
    except json.JSONDecodeError as exc:
        raise Failure(f"{path} is not valid JSON: {exc}", ExitCode.USAGE) from None
    if not isinstance(data, dict):
        raise Failure(f"{path} must hold a JSON object", ExitCode.USAGE)
    return data


def wait_for(app: App, pods: list[Pod], timeout: float | None) -> None:
    """Wait with a spinner (plain lines when not interactive) until each pod is healthy."""
    from rich.markup import escape

    from agentpod.core.adapters import get_adapter

    for p in pods:
        adapter = get_adapter(p.adapter)
        limit = timeout or adapter.health_check(adapter.validate_config(p.config)).start_period_s
        with app.err.status(escape(f"waiting for {p.ref} to be running and healthy…")) as spinner:

            def tick(status: PodStatus, ref: str = str(p.ref)) -> None:
                health = status.health_message or "starting"
                spinner.update(escape(f"{ref}: {status.actual_status.value}, {health}…"))

            app.ctx.wait_ready(p, limit, tick)
        app.ok(f"{p.ref} is running and healthy")


def _image(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    from agentpod.core.names import validate_image

    return validate_image(value) if value else value


@pod.command("create")
@click.argument("ref")
@click.option(
    "--type",
    "adapter_id",
    default="openclaw",
    show_default=True,
    help="Agent type (see 'agentpod adapters list').",
)
@click.option("--image", callback=_image, help="Image to run (default: the agent type's image).")
@click.option("--memory", help="Memory limit, e.g. 512m, 1.5g.")
@click.option("--cpus", type=float, help="CPU limit, e.g. 0.5.")
@click.option("--pids", type=int, help="Process limit.")
@click.option("--subdomain", help="Subdomain (default: TENANT-POD).")
@click.option(
    "--domain",
    "domains",
    multiple=True,
    metavar="NAME",
    help="A custom domain the pod also answers on (repeatable).",
)
@click.option("--config", "config_file", help="JSON file with the pod's config.")
@click.option(
    "--set",
    "sets",
    multiple=True,
    metavar="KEY=VALUE",
    help="Config value by dot path (repeatable); VALUE is JSON or a bare string.",
)
@WAIT
@TIMEOUT
@click.pass_obj
def create(
    app: App,
    ref: str,
    adapter_id: str,
    image: str | None,
    memory: str | None,
    cpus: float | None,
    pids: int | None,
    subdomain: str | None,
    domains: tuple[str, ...],
    config_file: str | None,
    sets: tuple[str, ...],
    wait: bool,
    timeout: float | None,
) -> None:
    """Create a pod and start it."""
    from agentpod.control.llm import refuse_provider_keys
    from agentpod.core.adapters import get_adapter
    from agentpod.core.configpath import apply_assignments
    from agentpod.core.models import Limits
    from agentpod.core.names import validate_domain, validate_label
    from agentpod.core.units import parse_memory_mb

    pod_ref = _ref(ref)
    adapter = get_adapter(adapter_id)
    sub = validate_label(subdomain, "subdomain") if subdomain else pod_ref.default_subdomain
    config = read_config_file(config_file) if config_file else {}
    config = apply_assignments(config, list(sets))
    adapter.validate_config(config)
    refuse_provider_keys(config)
    image = image or adapter.default_image
    if not image:
        raise Failure(f"agent type {adapter.id} has no default image: pass --image", ExitCode.USAGE)
    base = adapter.default_limits
    try:
        limits = Limits(
            memory_mb=parse_memory_mb(memory) if memory else base.memory_mb,
            cpus=cpus or base.cpus,
            pids=pids or base.pids,
        )
    except ValueError as exc:
        raise Failure(str(exc).splitlines()[0], ExitCode.USAGE) from None
    ctx = app.ctx
    custom = sorted({validate_domain(d, "custom domain") for d in domains})
    new = ctx.store.create_pod(pod_ref, adapter.id, sub, image, limits, config, domains=custom)
    app.ok(f"pod {pod_ref} created ({adapter.id}, {image})")
    _apply_and_report(app, [new])
    if wait:
        wait_for(app, [new], timeout)


def _apply_and_report(app: App, pods: list[Pod]) -> None:
    for outcome in app.ctx.apply(pods):
        if outcome.error:
            app.warn(
                f"{outcome.action.ref}: {outcome.action.kind.value} "
                f"failed: {outcome.error} (will retry)"
            )


@pod.command("list")
@click.option("--tenant", help="Only this tenant's pods.")
@click.option("--wide", is_flag=True, help="More columns (container, memory, CPU, last error).")
@FORMAT
@click.pass_obj
def list_(app: App, tenant: str | None, wide: bool, fmt: str) -> None:
    """List pods."""
    from agentpod.cli.output import pod_json, pods_table

    edge = app.ctx.edge
    rows = [pod_json(r, edge) for r in app.ctx.store.pod_rows(tenant)]
    app.emit(rows, fmt, lambda r: pods_table(r, wide))


@pod.command("status")
@click.argument("ref")
@FORMAT
@click.pass_obj
def status(app: App, ref: str, fmt: str) -> None:
    """Show one pod: status, health, container, image, URL, memory/CPU."""
    from agentpod.cli.output import pod_detail_table, pod_json

    (row,) = app.ctx.store.pod_rows(ref=_ref(ref))
    app.emit(pod_json(row, app.ctx.edge), fmt, pod_detail_table)


def _set_desired(app: App, ref: str, desired: str, wait: bool, timeout: float | None) -> None:
    from agentpod.core.models import DesiredStatus

    ctx = app.ctx
    p = ctx.store.get_pod(_ref(ref))
    target = DesiredStatus(desired)
    if p.desired_status is not target:
        p = ctx.store.set_desired(p, target)
    _apply_and_report(app, [p])
    if target is DesiredStatus.RUNNING and wait:
        wait_for(app, [p], timeout)
    else:
        app.ok(f"{p.ref} desired status: {desired}")


@pod.command("start")
@click.argument("ref")
@WAIT
@TIMEOUT
@click.pass_obj
def start(app: App, ref: str, wait: bool, timeout: float | None) -> None:
    """Set the pod's desired status to running."""
    _set_desired(app, ref, "running", wait, timeout)


@pod.command("stop")
@click.argument("ref")
@click.pass_obj
def stop(app: App, ref: str) -> None:
    """Set the pod's desired status to stopped (the container stops, data stays)."""
    _set_desired(app, ref, "stopped", False, None)


@pod.command("restart")
@click.argument("ref")
@WAIT
@TIMEOUT
@click.pass_obj
def restart(app: App, ref: str, wait: bool, timeout: float | None) -> None:
    """Restart the pod's container now."""
    ctx = app.ctx
    p = ctx.store.get_pod(_ref(ref))
    if p.desired_status.value != "running":
        raise Failure(f"pod {p.ref} is {p.desired_status.value}: use 'agentpod pod start {p.ref}'")
    with ctx.store.reconcile_lock():
        restarted = ctx.restart_pod(p, "restart requested")
    if not restarted:  # its container was gone: make a new one
        ctx.apply([p])
    if wait:
        wait_for(app, [p], timeout)
    else:
        app.ok(f"{p.ref} restarted")


@pod.command("upgrade")
@click.argument("ref", required=False)
@click.option("--image", required=True, callback=_image, help="The new image (IMAGE:TAG).")
@click.option("--all", "all_", is_flag=True, help="Upgrade every pod (a canary, then batches).")
@click.option("--tenant", help="With --all: only this tenant's pods.")
@click.option(
    "--parallel",
    type=click.IntRange(1, 100),
    default=10,
    show_default=True,
    help="With --all: pods upgraded and health-checked at once after the canary.",
)
@click.option(
    "--snapshot/--no-snapshot",
    default=True,
    show_default=True,
    help="Snapshot each pod first (undo with 'pod restore').",
)
@WAIT
@TIMEOUT
@FORMAT
@click.pass_obj
def upgrade(
    app: App,
    ref: str | None,
    image: str,
    all_: bool,
    tenant: str | None,
    parallel: int,
    snapshot: bool,
    wait: bool,
    timeout: float | None,
    fmt: str,
) -> None:
    """Recreate pod(s) on a new image; data volumes are kept. With --all, a pod that is not
    healthy on the new image stops the rollout: it goes back to its old image and the pods
    not reached yet are left as they are."""
    if bool(ref) == all_:
        raise Failure("give either TENANT/POD or --all", ExitCode.USAGE)
    ctx = app.ctx
    if not all_:
        p = _set_image(app, ctx.store.get_pod(_ref(ref or "")), image, snapshot)
        _apply_and_report(app, [p])
        if wait and p.desired_status.value == "running":
            wait_for(app, [p], timeout)
        app.ok(f"{p.ref} now on {image}")
        return
    from agentpod.control.rollout import rollout

    pods = [p for p in ctx.store.list_pods(tenant) if p.desired_status.value != "deleted"]

    def progress(ref: str, ok: bool) -> None:
        app.info(f"{'upgraded' if ok else 'failed'} {ref}")

    def set_image(p: Pod, new: str) -> Pod:
        return _set_image(app, p, new, snapshot)

    result = rollout(ctx, pods, image, parallel, timeout or 300, wait, progress, set_image)
    if fmt == "json":
        app.json(result.as_dict())
    if not result.ok:
        raise Failure(
            f"rollout stopped: {'; '.join(result.failed.values())}. Rolled back to the old "
            f"image: {', '.join(result.rolled_back) or 'none'}; {len(result.upgraded)} pod(s) "
            f"on {image}, {len(result.untouched)} not touched"
        )
    app.ok(f"{len(pods)} pod(s) on {image}")


def _set_image(app: App, p: Pod, image: str, snapshot: bool) -> Pod:
    """The new image, after a snapshot of the pod (unless told not to)."""
    if p.image == image:
        return p
    if snapshot:
        from agentpod.control.backup import snapshot_pod

        snap, _ = snapshot_pod(app.ctx, p.ref)
        app.info(f"snapshot {snap} of {p.ref} taken (undo: agentpod pod restore {p.ref} {snap})")
    return app.ctx.store.set_image(p, image)


@pod.command("domains")
@click.argument("ref")
@click.option("--add", multiple=True, metavar="NAME", help="Route this domain to the pod too.")
@click.option("--remove", multiple=True, metavar="NAME", help="Stop routing this domain.")
@FORMAT
@click.pass_obj
def domains_(app: App, ref: str, add: tuple[str, ...], remove: tuple[str, ...], fmt: str) -> None:
    """Show or change the custom domains a pod answers on (besides its subdomain)."""
    from agentpod.core.names import validate_domain

    ctx = app.ctx
    p = ctx.store.get_pod(_ref(ref))
    wanted = set(p.domains) | {validate_domain(d, "custom domain") for d in add}
    wanted -= {validate_domain(d, "custom domain") for d in remove}
    if sorted(wanted) != sorted(p.domains):
        p = ctx.store.set_domains(p, sorted(wanted))
        _apply_and_report(app, [p])
    if fmt == "json":
        app.json({"pod": str(p.ref), "domains": p.domains})
    else:
        click.echo("\n".join(p.domains) or f"{p.ref} has no custom domains")


@pod.command("logs")
@click.argument("ref")
@click.option("--tail", type=int, default=100, show_default=True)
@click.option("--follow", "-f", is_flag=True)
@click.pass_obj
def logs(app: App, ref: str, tail: int, follow: bool) -> None:
    """Print the pod's container logs."""
    ctx = app.ctx
    p = ctx.store.get_pod(_ref(ref))
    cid = p.adopted_container_id or ctx.store.get_status(p.id).container_id
    if not cid:
        raise Failure(f"pod {p.ref} has no container yet")
    stream = ctx.runtime.logs(cid, tail, follow)
    if stream is None:
        raise Failure(f"pod {p.ref}: its container is gone; see 'agentpod pod status {p.ref}'")
    out = sys.stdout.buffer
    for chunk in stream:
        out.write(chunk)
        out.flush()


@pod.command("delete")
@click.argument("ref")
@click.option("--keep-data", is_flag=True, help="Keep the pod's data volume.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@WAIT
@click.pass_obj
def delete(app: App, ref: str, keep_data: bool, yes: bool, wait: bool) -> None:
    """Delete a pod: its container and, unless --keep-data, its volume."""
    from agentpod.core.models import DesiredStatus

    ctx = app.ctx
    p = ctx.store.get_pod(_ref(ref))
    if not yes and not keep_data:
        click.confirm(
            f"delete pod {p.ref} and its data volume {p.ref.volume}?", abort=True, err=True
        )
    p = ctx.store.set_desired(p, DesiredStatus.DELETED, keep_data=keep_data)
    _apply_and_report(app, [p])
    if wait:
        ctx.wait_gone(p, timeout=120)
    kept = f" (data kept in volume {p.ref.volume})" if keep_data else ""
    app.ok(f"pod {p.ref} deleted{kept}")
