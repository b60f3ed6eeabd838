"""How a pod reads on a page: its status word, health and usage (from the API's pod JSON)."""

from __future__ import annotations

from typing import Any

STATES = (
    "pending",
    "starting",
    "running",
    "stopping",
    "stopped",
    "deleting",
    "exited",
    "restarting",
    "missing",
    "failed",
)


def health_word(pod: dict[str, Any]) -> str:
    if pod["ready"]:
        return "healthy"
    if pod["actual_status"] != "running" or pod["desired_status"] != "running":
        return "-"
    return "unhealthy" if pod["last_health_at"] else "starting"


def status_word(pod: dict[str, Any]) -> str:
    """What the pod is doing: its observed state, or where it is going while it gets there."""
    desired, actual = pod["desired_status"], pod["actual_status"]
    if desired == "deleted":
        return "deleting"
    if desired == "stopped" and actual in ("running", "restarting"):
        return "stopping"
    if desired == "stopped" and actual == "exited":
        return "stopped"
    if desired == "running" and actual in ("stopped", "exited"):
        return "starting"
    return str(actual)


def memory_text(pod: dict[str, Any]) -> str:
    used = pod.get("memory_bytes")
    limit = str(pod["memory_mb"])
    return f"{used / 2**20:.0f} / {limit}" if used is not None else f"- / {limit}"


def cpu_text(pod: dict[str, Any]) -> str:
    used = pod.get("cpu_percent")
    return f"{used:.1f} % of {pod['cpus']:g}" if used is not None else f"- of {pod['cpus']:g}"


def shown(pod: dict[str, Any]) -> dict[str, Any]:
    return {
        **pod,
        "status_word": status_word(pod),
        "health_word": health_word(pod),
        "memory_text": memory_text(pod),
        "cpu_text": cpu_text(pod),
    }


def _fine(p: dict[str, Any]) -> bool:
    return p["health_word"] in ("healthy", "-") and p["status_word"] in ("running", "stopped")


def needing_attention(pods: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Pods not running healthy (or stopped as wanted), by name."""
    return sorted((p for p in pods if not _fine(p)), key=lambda p: p["ref"])


def matches(pod: dict[str, Any], tenant: str, state: str, adapter: str) -> bool:
    return (
        (not tenant or pod["tenant"] == tenant)
        and (not state or pod["status_word"] == state)
        and (not adapter or pod["adapter"] == adapter)
    )
