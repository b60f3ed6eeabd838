"""``agentpod pod``: create, list, status, start/stop/restart, upgrade, set, logs, usage,
delete."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from agentpod.cli.app import FORMAT, App, ExitCode, Failure
from agentpod.core.usage import RETENTION_MINUTES

if TYPE_CHECKING:
    from agentpod.control.pods import Changed
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

    from agentpod.control.pods import wait_ready

    for p in pods:
        with app.err.status(escape(f"waiting for {p.ref} to be running and healthy…")) as spinner:

            def tick(status: PodStatus, ref: str = str(p.ref)) -> None:
                health = status.health_message or "starting"
                spinner.update(escape(f"{ref}: {status.actual_status.value}, {health}…"))

            wait_ready(app.ctx, p, timeout, tick)
        app.ok(f"{p.ref} is running and healthy")


def report(app: App, done: Changed) -> None:
    for warning in done.warnings:
        app.warn(warning)


@pod.command("create")
@click.argument("ref")
@click.option(
    "--type",
    "adapter_id",
    default="openclaw",
    show_default=True,
    help="Agent type (see 'agentpod adapters list').",
)
@click.option("--image", help="Image to run (default: the agent type's image).")
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
@click.option(
    "--pool", metavar="LABELS", help="Swarm pool: node labels to place it on (zone=eu,ssd)."
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
    pool: str | None,
    wait: bool,
    timeout: float | None,
) -> None:
    """Create a pod and start it."""
    from agentpod.control import pods

    config = read_config_file(config_file) if config_file else {}
    request = pods.PodRequest(
        adapter_id, image, memory, cpus, pids, subdomain, domains, config, sets, pool
    )
    done = pods.create(app.ctx, app.caller, ref, request)
    app.ok(f"pod {done.pod.ref} created ({done.pod.adapter}, {done.pod.image})")
    report(app, done)
    if wait:
        wait_for(app, [done.pod], timeout)


@pod.command("list")
@click.option("--tenant", help="Only this tenant's pods.")
@click.option("--wide", is_flag=True, help="More columns (container, memory, CPU, last error).")
@FORMAT
@click.pass_obj
def list_(app: App, tenant: str | None, wide: bool, fmt: str) -> None:
    """List pods."""
    from agentpod.cli.output import pods_table
    from agentpod.control import pod_reads

    source, url = app.reads
    rows = pod_reads.list_(source, url, app.caller, tenant)
    app.emit(rows, fmt, lambda r: pods_table(r, wide))


@pod.command("status")
@click.argument("ref")
@FORMAT
@click.pass_obj
def status(app: App, ref: str, fmt: str) -> None:
    """Show one pod: status, health, container, image, URL, memory/CPU."""
    from agentpod.cli.output import pod_detail_table
    from agentpod.control import pod_reads

    source, url = app.reads
    app.emit(pod_reads.status(source, url, app.caller, ref), fmt, pod_detail_table)


def _set_desired(app: App, ref: str, desired: str, wait: bool, timeout: float | None) -> None:
    from agentpod.control import pods

    change = pods.start if desired == "running" else pods.stop
    done = change(app.ctx, app.caller, ref)
    report(app, done)
    if desired == "running" and wait:
        wait_for(app, [done.pod], timeout)
    else:
        app.ok(f"{done.pod.ref} desired status: {desired}")


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
    from agentpod.control import pods

    done = pods.restart(app.ctx, app.caller, ref)
    report(app, done)
    if wait:
        wait_for(app, [done.pod], timeout)
    else:
        app.ok(f"{done.pod.ref} restarted")


@pod.command("upgrade")
@click.argument("ref", required=False)
@click.option("--image", required=True, help="The new image (IMAGE:TAG).")
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
    from agentpod.control import pods

    if not all_:
        done = pods.upgrade(app.ctx, app.caller, ref or "", image, snapshot, app.info)
        report(app, done)
        if wait and done.pod.desired_status.value == "running":
            wait_for(app, [done.pod], timeout)
        app.ok(f"{done.pod.ref} now on {image}")
        return
    result = pods.upgrade_all(
        app.ctx, app.caller, image, tenant, parallel, timeout or 300, wait, snapshot, app.info
    )
    if fmt == "json":
        app.json(result.as_dict())
    failure = result.failure()
    if failure:
        raise Failure(failure)
    app.ok(f"{len(result.upgraded)} pod(s) on {image}")


@pod.command("set")
@click.argument("ref")
@click.option("--memory", help="Memory limit, e.g. 512m, 1.5g.")
@click.option("--cpus", type=float, help="CPU limit, e.g. 0.5.")
@click.option("--pids", type=int, help="Process limit.")
@click.pass_obj
def set_(app: App, ref: str, memory: str | None, cpus: float | None, pids: int | None) -> None:
    """Change a pod's limits (within its tenant's quota); the pod is recreated (data kept)."""
    from agentpod.control import pods

    done = pods.set_limits(app.ctx, app.caller, ref, memory, cpus, pids)
    report(app, done)
    limits = done.pod.limits
    now = f"{limits.memory_mb} MiB, {limits.cpus:g} CPUs, {limits.pids} pids"
    app.ok(f"{done.pod.ref} {'limits' if done.changed else 'unchanged'}: {now}")


@pod.command("domains")
@click.argument("ref")
@click.option("--add", multiple=True, metavar="NAME", help="Route this domain to the pod too.")
@click.option("--remove", multiple=True, metavar="NAME", help="Stop routing this domain.")
@FORMAT
@click.pass_obj
def domains_(app: App, ref: str, add: tuple[str, ...], remove: tuple[str, ...], fmt: str) -> None:
    """Show or change the custom domains a pod answers on (besides its subdomain)."""
    from agentpod.control import pods

    done = pods.set_domains(app.ctx, app.caller, ref, add, remove)
    report(app, done)
    p = done.pod
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
    from agentpod.control import pods

    out = sys.stdout.buffer
    for chunk in pods.logs(app.ctx, app.caller, ref, tail, follow):
        out.write(chunk)
        out.flush()


@pod.command("usage")
@click.argument("ref")
@click.option(
    "--minutes",
    type=click.IntRange(1, RETENTION_MINUTES),
    default=60,
    show_default=True,
    help="The window.",
)
@FORMAT
@click.pass_obj
def usage(app: App, ref: str, minutes: int, fmt: str) -> None:
    """Show the pod's memory and CPU over the last minutes (one sample a minute)."""
    from agentpod.cli.output import usage_table
    from agentpod.control import observe

    app.emit(observe.usage(app.ctx, app.caller, ref, minutes), fmt, usage_table)


@pod.command("delete")
@click.argument("ref")
@click.option("--keep-data", is_flag=True, help="Keep the pod's data volume.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@WAIT
@click.pass_obj
def delete(app: App, ref: str, keep_data: bool, yes: bool, wait: bool) -> None:
    """Delete a pod: its container and, unless --keep-data, its volume."""
    from agentpod.control import pods

    def confirm(p: Pod) -> None:
        if not yes and not keep_data:
            click.confirm(
                f"delete pod {p.ref} and its data volume {p.ref.volume}?", abort=True, err=True
            )

    done = pods.delete(app.ctx, app.caller, ref, keep_data, wait, confirm)
    report(app, done)
    kept = f" (data kept in volume {done.pod.ref.volume})" if keep_data else ""
    app.ok(f"pod {done.pod.ref} deleted{kept}")
