"""A pod's usage history as shown: figures over a window (latest, average, peak), a one-line
sparkline for the terminal, and the points of a chart's line. Pure: the samples come in."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

SPARKS = "▁▂▃▄▅▆▇█"
RETENTION_MINUTES = 120  # samples kept; a window is at most this long


@dataclass(frozen=True)
class Figures:
    latest: float
    average: float
    peak: float

    def as_dict(self) -> dict[str, float]:
        return {"latest": self.latest, "average": round(self.average, 2), "peak": self.peak}


def figures(values: Sequence[float | None]) -> Figures | None:
    """Latest, average and peak of the measured values (None where nothing was measured)."""
    measured = [v for v in values if v is not None]
    if not measured:
        return None
    return Figures(measured[-1], sum(measured) / len(measured), max(measured))


def sparkline(values: Sequence[float | None]) -> str:
    """One character a sample, scaled from zero to the peak; a gap is a space."""
    peak = max((v for v in values if v is not None), default=0.0)
    top = len(SPARKS) - 1
    return "".join(
        " " if v is None else SPARKS[round(v / peak * top) if peak > 0 else 0] for v in values
    )


def chart_points(
    offsets: Sequence[float],
    values: Sequence[float | None],
    span: float,
    width: int,
    height: int,
    ceiling: float = 0.0,
) -> list[tuple[float, float]]:
    """(x, y) in a ``width`` x ``height`` box of each measured sample: x by its offset from the
    window's start (0..``span``), y from zero at the bottom to the top of the scale near the
    top: ``ceiling`` (a limit), or the peak where that is higher."""
    peak = max((v for v in values if v is not None), default=0.0)
    top = max(peak, ceiling) or 1.0
    return [
        (round(width * min(max(t / span, 0.0), 1.0), 1), round(height * (1 - 0.9 * v / top), 1))
        for t, v in zip(offsets, values, strict=True)
        if v is not None
    ]
