"""``agentpod pod``: create, list, status, start/stop/restart, upgrade, logs, delete."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.markup import escape
from rich.text import Text

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
@FORMAT
@click.pass_obj
def list_(app: App, tenant: str | None, fmt: str) -> None:
    """List pods."""
    from agentpod.cli.output import pod_json, pods_table

    store = app.ctx.store
    statuses = store.all_status()
    rows = [pod_json(p, statuses[p.id], app.ctx.edge) for p in store.list_pods(tenant)]
    app.emit(rows, fmt, pods_table)


@pod.command("status")
@click.argument("ref")
@FORMAT
@click.pass_obj
def status(app: App, ref: str, fmt: str) -> None:
    """Show one pod: status, health, container, image, URL, memory/CPU."""
    from agentpod.cli.output import pod_detail_table, pod_json

    store = app.ctx.store
    p = store.get_pod(_ref(ref))
    data = pod_json(p, store.get_status(p.id), app.ctx.edge)
    app.emit(data, fmt, pod_detail_table)


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
        ctx.restart_pod(p, "restart requested")
    if wait:
        wait_for(app, [p], timeout)
    else:
        app.ok(f"{p.ref} restarted")


@pod.command("upgrade")
@click.argument("ref", required=False)
@click.option("--image", required=True, callback=_image, help="The new image (IMAGE:TAG).")
@click.option("--all", "all_", is_flag=True, help="Upgrade every pod.")
@click.option("--tenant", help="With --all: only this tenant's pods.")
@WAIT
@TIMEOUT
@click.pass_obj
def upgrade(
    app: App,
    ref: str | None,
    image: str,
    all_: bool,
    tenant: str | None,
    wait: bool,
    timeout: float | None,
) -> None:
    """Recreate pod(s) on a new image; data volumes are kept."""
    from rich.progress import Progress

    if bool(ref) == all_:
        raise Failure("give either TENANT/POD or --all", ExitCode.USAGE)
    ctx = app.ctx
    pods = ctx.store.list_pods(tenant) if all_ else [ctx.store.get_pod(_ref(ref or ""))]
    pods = [p for p in pods if p.desired_status.value != "deleted"]
    if not all_:
        p = ctx.store.set_image(pods[0], image) if pods[0].image != image else pods[0]
        _apply_and_report(app, [p])
        if wait and p.desired_status.value == "running":
            wait_for(app, [p], timeout)
        app.ok(f"{p.ref} now on {image}")
        return
    failed = []
    with Progress(console=app.err, disable=not app.interactive) as progress:
        task = progress.add_task("upgrading", total=len(pods))
        for p in pods:
            progress.update(task, description=escape(f"upgrading {p.ref}"))
            ok = True
            try:
                p = ctx.store.set_image(p, image) if p.image != image else p
                _apply_and_report(app, [p])
                if wait and p.desired_status.value == "running":
                    ctx.wait_ready(p, timeout or 300)
            except Exception as exc:
                failed.append(f"{p.ref}: {exc}")
                ok = False
            progress.advance(task)
            if not app.interactive:
                app.info(f"{'upgraded' if ok else 'failed'} {p.ref}")
    if failed:
        raise Failure(
            f"{len(failed)} of {len(pods)} pod(s) failed to upgrade: " + "; ".join(failed)
        )
    app.ok(f"{len(pods)} pod(s) on {image}")


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
        app.out.print(Text("\n".join(p.domains) or f"{p.ref} has no custom domains"))


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
    out = sys.stdout.buffer
    for chunk in ctx.runtime.logs(cid, tail, follow):
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
