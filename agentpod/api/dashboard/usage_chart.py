"""A pod's usage history as two small line charts (memory, CPU) drawn as inline SVG by the
server: no chart library, nothing for the Content-Security-Policy to allow."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from agentpod.core.usage import chart_points

WIDTH, HEIGHT = 300, 80
SHOWN: dict[str, tuple[str, Callable[[float], str]]] = {
    "memory_bytes": ("Memory", lambda v: f"{v / 1024 / 1024:.0f} MiB"),
    "cpu_percent": ("CPU", lambda v: f"{v:.1f} %"),
}


def charts(usage: dict[str, Any], limits: dict[str, float]) -> list[dict[str, Any]]:
    """One chart a figure with samples: its line's points, and the words a reader needs; each
    is scaled to the pod's limit (``limits``: memory bytes, CPU %), or its peak above that."""
    span = usage["minutes"] * 60
    offsets = [(s["at"] - usage["since"]).total_seconds() for s in usage["samples"]]
    drawn = []
    for key, (title, fmt) in SHOWN.items():
        fig = usage[key]
        if fig is None:
            continue
        values = [s[key] for s in usage["samples"]]
        points = chart_points(offsets, values, span, WIDTH, HEIGHT, limits[key])
        words = (
            f"now {fmt(fig['latest'])}, average {fmt(fig['average'])}, peak {fmt(fig['peak'])}"
            f" (limit {fmt(limits[key])})"
        )
        drawn.append(
            {
                "id": key,
                "title": title,
                "words": words,
                "points": " ".join(f"{x},{y}" for x, y in points),
                "last": points[-1],
                "count": len(points),
            }
        )
    return drawn
