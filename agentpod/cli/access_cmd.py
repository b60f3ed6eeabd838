"""``agentpod pod open``, ``pod token`` and ``pod devices``: a pod's web UI, token and devices."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from agentpod.cli.app import FORMAT, App
from agentpod.cli.pod import TIMEOUT, WAIT, wait_for

if TYPE_CHECKING:
    from agentpod.core.adapters.pairing import Device


@click.command("open")
@click.argument("ref")
@click.option("--no-open", is_flag=True, help="Only print the URL; do not start a browser.")
@FORMAT
@click.pass_obj
def open_(app: App, ref: str, no_open: bool, fmt: str) -> None:
    """Print the pod's web UI address and open it in a browser when there is one.

    OpenClaw: the Control UI, with the pod's token in the URL fragment (#token=...), which
    the UI reads and which never reaches a server or its logs.
    """
    from agentpod.control import access

    view = access.open_url(app.ctx, app.caller, ref)
    opened = not no_open and _browse(view.url)
    if fmt == "json":
        app.json({"pod": str(view.pod.ref), "url": view.url, "opened": opened})
    else:
        click.echo(view.url)
    if not no_open and not opened:
        app.info("no browser here (no display): open the address above on a machine with one")
    if view.pairs_devices:
        p = view.pod
        app.info(
            f"a new browser waits for pairing: 'agentpod pod devices {p.ref}', then "
            f"'agentpod pod devices approve {p.ref} REQUEST_ID'"
        )


def _browse(url: str) -> bool:
    """Open ``url`` in a graphical browser ($BROWSER first); never a text browser in this
    terminal, so without a display on Linux nothing is started."""
    import os
    import sys
    import webbrowser

    graphical = os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    if sys.platform.startswith("linux") and not graphical:
        return False
    try:
        return webbrowser.open(url)
    except webbrowser.Error:
        return False


@click.command("token")
@click.argument("ref")
@click.option("--rotate", is_flag=True, help="Generate a new token; the old one stops working.")
@WAIT
@TIMEOUT
@FORMAT
@click.pass_obj
def token(app: App, ref: str, rotate: bool, wait: bool, timeout: float | None, fmt: str) -> None:
    """Show or rotate the pod's token (OpenClaw: the gateway token).

    Rotating recreates the pod's container on the same data volume; the pod's LLM virtual key
    (derived from the token) is rotated with it, for pods of every type.
    """
    from agentpod.control import access

    ctx = app.ctx
    if rotate:
        shown = access.rotate_token(ctx, app.caller, ref)
        p = shown.pod
        app.ok(f"{p.ref}: token and LLM virtual key rotated; the pod is being recreated")
        if wait and p.desired_status.value == "running":
            wait_for(app, [p], timeout)
    else:
        shown = access.reveal_token(ctx, app.caller, ref)
    if fmt == "json":
        app.json(shown.as_dict())
    elif shown.token:
        click.echo(shown.token)


class _DefaultList(click.Group):
    """``devices REF`` means ``devices list REF``; ``devices approve REF ID`` is a subcommand."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["list", *args]
        return super().parse_args(ctx, args)


@click.group("devices", cls=_DefaultList)
def devices() -> None:
    """List a pod's pending and paired devices, approve a pairing request (OpenClaw)."""


@devices.command("list")
@click.argument("ref")
@FORMAT
@click.pass_obj
def list_(app: App, ref: str, fmt: str) -> None:
    """Pending pairing requests (with the id to approve) and paired devices."""
    from agentpod.control import access

    found = access.list_devices(app.ctx, app.caller, ref)
    if fmt == "json":
        app.json([d.as_dict() for d in found])
        return
    if not found:
        app.info(f"{ref}: no pending or paired devices")
        return
    app.table(_devices_table(found))
    if any(d.status == "pending" for d in found):
        app.info(f"approve one with: agentpod pod devices approve {ref} REQUEST_ID")


@devices.command("approve")
@click.argument("ref")
@click.argument("request_id")
@FORMAT
@click.pass_obj
def approve(app: App, ref: str, request_id: str, fmt: str) -> None:
    """Approve a pending pairing request: the device then connects with its own scopes."""
    from agentpod.control import access

    device = access.approve_device(app.ctx, app.caller, ref, request_id)
    if fmt == "json":
        app.json(device.as_dict())
    else:
        app.ok(f"{ref}: device {device.device_id[:12]} ({device.client or '?'}) paired")


def _devices_table(found: list[Device]) -> Any:
    """Fits 80 columns with the whole request id (what approve takes); JSON has every field."""
    from rich.table import Table

    from agentpod.cli.output import add_row

    table = Table(box=None, header_style="bold")
    table.add_column("STATUS", no_wrap=True)
    table.add_column("REQUEST", no_wrap=True, min_width=36)
    table.add_column("DEVICE", no_wrap=True, min_width=8)
    table.add_column("CLIENT", no_wrap=True, overflow="ellipsis")
    for d in found:
        request = (d.request_id or "-") if d.status == "pending" else "-"
        client = f"{d.client or '?'} {'(connected)' if d.connected else ''}".strip()
        add_row(table, d.status, request, d.device_id[:8], client)
    return table
