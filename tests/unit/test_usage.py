"""The usage history as shown: figures, the terminal's sparkline, a chart's points."""

from __future__ import annotations

import pytest

from agentpod.core.usage import Figures, chart_points, figures, sparkline


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([], None),
        ([None, None], None),
        ([5.0], Figures(5.0, 5.0, 5.0)),
        ([1.0, None, 3.0, 2.0], Figures(2.0, 2.0, 3.0)),  # latest measured, gaps left out
        ([4.0, 2.0, None], Figures(2.0, 3.0, 4.0)),
    ],
)
def test_figures(values: list[float | None], expected: Figures | None) -> None:
    assert figures(values) == expected


def test_figures_as_dict_rounds_the_average_only() -> None:
    assert Figures(1.0, 2 / 3, 3.0).as_dict() == {"latest": 1.0, "average": 0.67, "peak": 3.0}


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([], ""),
        ([0.0, 0.0], "▁▁"),  # no peak: all at the bottom
        ([0.0, 7.0], "▁█"),
        ([0.0, None, 3.5, 7.0], "▁ ▅█"),  # a gap is a space; round half to even
        ([1.0, 2.0, 4.0, 8.0], "▂▃▅█"),
    ],
)
def test_sparkline(values: list[float | None], expected: str) -> None:
    assert sparkline(values) == expected


@pytest.mark.parametrize(
    ("offsets", "values", "expected"),
    [
        ([], [], []),
        ([0.0, 30.0, 60.0], [0.0, 5.0, 10.0], [(0.0, 100.0), (50.0, 55.0), (100.0, 10.0)]),
        ([0.0, 30.0], [None, 2.0], [(50.0, 10.0)]),  # unmeasured samples are left out
        ([-5.0, 90.0], [1.0, 1.0], [(0.0, 10.0), (100.0, 10.0)]),  # clamped to the window
        ([15.0], [0.0], [(25.0, 100.0)]),  # all zero: flat on the bottom
    ],
)
def test_chart_points(
    offsets: list[float], values: list[float | None], expected: list[tuple[float, float]]
) -> None:
    assert chart_points(offsets, values, 60.0, 100, 100) == expected


@pytest.mark.parametrize(
    ("ceiling", "expected_y"),
    [(20.0, 55.0), (10.0, 10.0), (5.0, 10.0)],  # the limit is the scale, unless the peak is over
)
def test_chart_points_scale_to_the_limit(ceiling: float, expected_y: float) -> None:
    assert chart_points([60.0], [10.0], 60.0, 100, 100, ceiling) == [(100.0, expected_y)]
