"""``agentpod node``: the swarm's servers (runtime = "swarm"): list, label, drain, activate,
join-command."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from agentpod.cli.app import FORMAT, App

if TYPE_CHECKING:
    from rich.table import Table


@click.group()
def node() -> None:
    """Manage the servers of a swarm install (pods are placed on them)."""


@node.command("list")
@FORMAT
@click.pass_obj
def list_(app: App, fmt: str) -> None:
    """List nodes: role, state, availability, labels, pods, memory, heartbeat age."""
    from agentpod.control import nodes

    app.emit(nodes.list_(app.ctx, app.caller), fmt, _table)


def _table(rows: list[dict[str, Any]]) -> Table:
    from agentpod.cli.output import simple_table

    return simple_table(
        ["ID", "HOSTNAME", "ROLE", "STATE", "AVAILABILITY", "LABELS", "PODS", "MEM USED/FREE"],
        [
            [
                r["id"][:12],
                r["hostname"],
                r["role"],
                f"{r['state']} ({r['heartbeat_age_s']:.0f}s)",
                r["availability"],
                ",".join(f"{k}={v}" for k, v in sorted(r["labels"].items())) or "-",
                str(r["pods"]),
                f"{r['used_mb']}/{r['free_mb']} MiB",
            ]
            for r in rows
        ],
    )


@node.group("label")
def label() -> None:
    """Add or remove node labels (a pool is a set of labels)."""


@label.command("add")
@click.argument("name")
@click.argument("labels", nargs=-1, required=True)
@click.pass_obj
def label_add(app: App, name: str, labels: tuple[str, ...]) -> None:
    """Add KEY=VALUE labels (a bare KEY means KEY=true)."""
    from agentpod.control import nodes
    from agentpod.core.placement import parse_pool

    now = nodes.label(app.ctx, app.caller, name, parse_pool(",".join(labels)), [])
    app.ok(f"node {name} labels: {_labels(now)}")


@label.command("rm")
@click.argument("name")
@click.argument("keys", nargs=-1, required=True)
@click.pass_obj
def label_rm(app: App, name: str, keys: tuple[str, ...]) -> None:
    """Remove labels by key."""
    from agentpod.control import nodes

    now = nodes.label(app.ctx, app.caller, name, {}, list(keys))
    app.ok(f"node {name} labels: {_labels(now)}")


def _labels(labels: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items())) or "none"


@node.command("drain")
@click.argument("name")
@FORMAT
@click.pass_obj
def drain(app: App, name: str, fmt: str) -> None:
    """Take no new pods on the node and move its pods, with their data, elsewhere."""
    from agentpod.control import nodes

    app.emit(nodes.drain(app.ctx, app.caller, name), fmt, _moves)


def _moves(rows: list[dict[str, str]]) -> Table:
    from agentpod.cli.output import simple_table

    return simple_table(
        ["POD", "MOVED TO", "SHA256"],
        [[r["pod"], r.get("to", "-"), r.get("sha256", "")[:12] or r["error"]] for r in rows],
    )


@click.command("move")
@click.argument("ref")
@click.option("--to", "to", help="The node (id, id prefix or hostname); default: placement's.")
@FORMAT
@click.pass_obj
def move(app: App, ref: str, to: str | None, fmt: str) -> None:
    """Move a pod and its data to another node (swarm): one restart of downtime."""
    from agentpod.control import nodes

    app.emit([nodes.move_pod(app.ctx, app.caller, ref, to)], fmt, _moves)


@node.command("activate")
@click.argument("name")
@click.pass_obj
def activate(app: App, name: str) -> None:
    """Let the node take pods again."""
    from agentpod.control import nodes

    nodes.set_availability(app.ctx, app.caller, name, "active")
    app.ok(f"node {name} active")


@node.command("join-command")
@click.option("--rotate", is_flag=True, help="Revoke the current join token first.")
@click.option("--docker", "bare", is_flag=True, help="The bare docker swarm join line instead.")
@FORMAT
@click.pass_obj
def join_command(app: App, rotate: bool, bare: bool, fmt: str) -> None:
    """Print the one line a new server runs (as root) to join this swarm: the installer with
    --join, which installs the Docker engine first if missing."""
    from agentpod.control import nodes

    lines = nodes.join_command(app.ctx, app.caller, rotate)
    if fmt == "json":
        app.json(lines)
        return
    click.echo(lines["docker" if bare else "command"])
