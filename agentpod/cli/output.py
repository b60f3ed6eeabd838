"""Stable JSON shapes and tables (plain text for pods, rich for the rest) the CLI shows.

Data (names, messages, errors from Docker or PostgreSQL) is never parsed as rich markup: rich
cells are ``Text`` objects, styled by us, so ``[brackets]`` in a message print as they are."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from rich.table import Table
    from rich.text import Text


COLORS = {"running": "green", "failed": "red", "exited": "red", "missing": "yellow"}


def _state(d: dict[str, Any]) -> str:
    color = COLORS.get(d["actual_status"])
    text = click.style(d["actual_status"], fg=color) if color else d["actual_status"]
    if d["desired_status"] != "running":
        text += f" (wants {d['desired_status']})"
    return text


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def pods_table(rows: list[dict[str, Any]], wide: bool = False) -> str:
    """One line a pod, in aligned columns (plain text: thousands of rows print at once);
    long images and URLs are cut to keep lines short. ``wide``: more columns, nothing cut."""
    columns = ["POD", "TYPE", "STATUS", "READY", "IMAGE", "URL"]
    limits = {"IMAGE": 40, "URL": 48}
    if wide:
        columns += ["CONTAINER", "MEMORY", "CPU%", "ERROR"]
        limits = {}
    table = []
    for d in rows:
        line = [
            d["ref"] + (" (adopted)" if d["adopted"] else ""),
            d["adapter"],
            _state(d),
            "yes" if d["ready"] else "no",
            d["image"],
            d["url"],
        ]
        if wide:
            cpu = d["cpu_percent"]
            line += [
                (d["container_id"] or "-")[:12],
                _mb(d["memory_bytes"]),
                "-" if cpu is None else f"{cpu:.1f}",
                d["last_error"] or "-",
            ]
        table.append([_cut(v, limits.get(c, 10_000)) for c, v in zip(columns, line, strict=True)])
    return _layout(table, columns)


def _layout(rows: list[list[str]], header: list[str] | None = None) -> str:
    """Rows in aligned columns, two spaces apart; styled cells keep their alignment."""
    if header:
        rows = [[click.style(h, bold=True) for h in header], *rows]
    widths = [max(len(click.unstyle(r[i])) for r in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(v + " " * (w - len(click.unstyle(v))) for v, w in zip(r, widths, strict=True))
        for r in rows
    ]
    return "".join(line.rstrip() + "\n" for line in lines)


def _mb(value: int | None) -> str:
    return "-" if value is None else f"{value / 1024 / 1024:.0f} MiB"


def pod_detail_table(d: dict[str, Any]) -> str:
    cpu = d["cpu_percent"] if d["cpu_percent"] is not None else "-"
    rows = [
        ("pod", d["ref"] + (" (adopted)" if d["adopted"] else "")),
        ("type", d["adapter"]),
        ("status", _state(d)),
        ("health", ("ok" if d["ready"] else "not ready") + f" — {d['health'] or 'not probed'}"),
        ("container", (d["container_id"] or "-")[:12]),
        ("image", d["image"]),
        ("url", d["url"]),
        ("subdomain", d["subdomain"]),
        ("memory", f"{_mb(d['memory_bytes'])} of {d['memory_mb']} MiB"),
        ("cpu", f"{cpu} % of {d['cpus']}"),
        ("config", f"version {d['config_version']}"),
    ]
    if d["last_error"]:
        error = click.style(d["last_error"], fg="red")
        rows.append(("last error", f"{error} (attempt {d['attempts']})"))
    return _layout([[click.style(k, bold=True), str(v)] for k, v in rows])


def tenants_table(rows: list[dict[str, Any]]) -> Table:
    return simple_table(
        ["TENANT", "PODS", "WANT RUNNING", "CREATED"],
        [[d["name"], str(d["pods"]), str(d["running"]), str(d["created_at"])[:19]] for d in rows],
    )


def members_table(d: dict[str, Any]) -> Table:
    return simple_table(["USER", "ROLE"], [[m["name"], m["role"]] for m in d["members"]])


def events_table(rows: list[dict[str, Any]]) -> Table:
    return simple_table(
        ["TIME", "POD", "EVENT", "MESSAGE"],
        [[str(d["at"])[:19], d["pod"] or "-", d["type"], d["message"]] for d in rows],
    )


def add_row(table: Table, *cells: str | Text) -> None:
    """Add a row whose plain strings are shown as they are (no markup)."""
    from rich.text import Text

    table.add_row(*(Text(c) if isinstance(c, str) else c for c in cells))


def simple_table(columns: list[str], rows: list[list[str | Text]]) -> Table:
    from rich.table import Table

    table = Table(box=None, header_style="bold")
    for col in columns:
        table.add_column(col)
    for row in rows:
        add_row(table, *row)
    return table


def usage_table(d: dict[str, Any]) -> Table | str:
    """A pod's memory and CPU over the window: latest, average, peak, and a sparkline."""
    from agentpod.core.usage import sparkline

    if not d["samples"]:
        window = f"the last {d['minutes']} min"
        return f"no samples of {d['pod']} in {window} (serve keeps one a minute while it runs)\n"
    shown = {"memory_bytes": ("MEMORY", _mb), "cpu_percent": ("CPU %", lambda v: f"{v:.1f}")}
    rows = []
    for key, (label, fmt) in shown.items():
        fig = d[key]
        values = [s[key] for s in d["samples"]]
        cells = [fmt(fig[k]) for k in ("latest", "average", "peak")] if fig else ["-"] * 3
        rows.append([label, *cells, sparkline(values)])
    return simple_table(["", "LATEST", "AVERAGE", "PEAK", f"LAST {d['minutes']} MIN"], rows)
