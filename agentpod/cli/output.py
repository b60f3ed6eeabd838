"""Stable JSON shapes and rich tables for what the CLI shows.

Data (names, messages, errors from Docker or PostgreSQL) is never parsed as rich markup: cells
are ``Text`` objects, styled by us, so ``[brackets]`` in a message print as they are."""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text

from agentpod.core.models import Event, Pod, PodStatus, Tenant
from agentpod.core.routing import Edge


def pod_json(pod: Pod, status: PodStatus, edge: Edge) -> dict[str, Any]:
    return {
        "ref": str(pod.ref),
        "tenant": pod.tenant,
        "name": pod.name,
        "adapter": pod.adapter,
        "image": pod.image,
        "subdomain": pod.subdomain,
        "url": edge.public_url(pod.subdomain),
        "domains": pod.domains,
        "desired_status": pod.desired_status.value,
        "actual_status": status.actual_status.value,
        "ready": status.ready,
        "health": status.health_message,
        "last_health_at": status.last_health_at,
        "container_id": status.container_id,
        "memory_mb": pod.limits.memory_mb,
        "cpus": pod.limits.cpus,
        "pids": pod.limits.pids,
        "memory_bytes": status.memory_bytes,
        "cpu_percent": status.cpu_percent,
        "last_error": status.last_error,
        "attempts": status.attempts,
        "adopted": pod.adopted_container_id is not None,
        "config_version": pod.config_version,
        "created_at": pod.created_at,
    }


def add_row(table: Table, *cells: str | Text) -> None:
    """Add a row whose plain strings are shown as they are (no markup)."""
    table.add_row(*(Text(c) if isinstance(c, str) else c for c in cells))


def _state(d: dict[str, Any]) -> Text:
    color = {"running": "green", "failed": "red", "exited": "red", "missing": "yellow"}.get(
        d["actual_status"], "white"
    )
    text = Text(d["actual_status"], style=color)
    if d["desired_status"] != "running":
        text.append(f" (wants {d['desired_status']})")
    return text


def pods_table(rows: list[dict[str, Any]]) -> Table:
    table = Table(box=None, header_style="bold")
    for col in ("POD", "TYPE", "STATUS", "READY", "IMAGE", "URL"):
        table.add_column(col)
    for d in rows:
        ready = Text("yes", style="green") if d["ready"] else "no"
        name = d["ref"] + (" (adopted)" if d["adopted"] else "")
        add_row(table, name, d["adapter"], _state(d), ready, d["image"], d["url"])
    return table


def _mb(value: int | None) -> str:
    return "-" if value is None else f"{value / 1024 / 1024:.0f} MiB"


def pod_detail_table(d: dict[str, Any]) -> Table:
    table = Table(box=None, show_header=False)
    table.add_column(style="bold")
    table.add_column()
    rows: list[tuple[str, str | Text]] = [
        ("pod", d["ref"] + (" (adopted)" if d["adopted"] else "")),
        ("type", d["adapter"]),
        ("status", _state(d)),
        ("health", ("ok" if d["ready"] else "not ready") + f" — {d['health'] or 'not probed'}"),
        ("container", (d["container_id"] or "-")[:12]),
        ("image", d["image"]),
        ("url", d["url"]),
        ("subdomain", d["subdomain"]),
        ("memory", f"{_mb(d['memory_bytes'])} of {d['memory_mb']} MiB"),
        ("cpu", f"{d['cpu_percent'] if d['cpu_percent'] is not None else '-'} % of {d['cpus']}"),
        ("config", f"version {d['config_version']}"),
    ]
    if d["last_error"]:
        error = Text(d["last_error"], style="red").append(f" (attempt {d['attempts']})")
        rows.append(("last error", error))
    for key, value in rows:
        add_row(table, key, value)
    return table


def tenant_json(t: Tenant, pods: list[Pod]) -> dict[str, Any]:
    mine = [p for p in pods if p.tenant_id == t.id]
    return {
        "name": t.name,
        "pods": len(mine),
        "running": sum(1 for p in mine if p.desired_status.value == "running"),
        "settings": t.settings.model_dump(),
        "created_at": t.created_at,
    }


def tenants_table(rows: list[dict[str, Any]]) -> Table:
    table = Table(box=None, header_style="bold")
    for col in ("TENANT", "PODS", "WANT RUNNING", "CREATED"):
        table.add_column(col)
    for d in rows:
        add_row(table, d["name"], str(d["pods"]), str(d["running"]), str(d["created_at"])[:19])
    return table


def event_json(e: Event) -> dict[str, Any]:
    pod = f"{e.tenant}/{e.pod}" if e.pod else e.tenant
    return {"id": e.id, "at": e.at, "pod": pod, "type": e.type, "message": e.message}


def events_table(rows: list[dict[str, Any]]) -> Table:
    table = Table(box=None, header_style="bold")
    for col in ("TIME", "POD", "EVENT", "MESSAGE"):
        table.add_column(col)
    for d in rows:
        add_row(table, str(d["at"])[:19], d["pod"] or "-", d["type"], d["message"])
    return table


def simple_table(columns: list[str], rows: list[list[str | Text]]) -> Table:
    table = Table(box=None, header_style="bold")
    for col in columns:
        table.add_column(col)
    for row in rows:
        add_row(table, *row)
    return table
