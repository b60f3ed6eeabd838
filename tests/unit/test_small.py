from __future__ import annotations

import random

import pytest

from agentpod.core.backoff import CAP_S, retry_delay
from agentpod.core.units import parse_memory_mb


@pytest.mark.parametrize(
    ("text", "mb"),
    [("512m", 512), ("1g", 1024), ("1.5g", 1536), ("256", 256), ("2GiB", 2048), ("1024k", 1)],
)
def test_parse_memory(text: str, mb: int) -> None:
    assert parse_memory_mb(text) == mb


@pytest.mark.parametrize("text", ["", "lots", "1x", "-1g"])
def test_parse_memory_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="not a size"):
        parse_memory_mb(text)


def test_backoff_grows_with_jitter_and_is_capped() -> None:
    rng = random.Random(1)
    delays = [retry_delay(n, rng) for n in range(1, 12)]
    assert delays[0] <= 1.0
    assert delays[5] > delays[0]
    assert all(d <= CAP_S for d in delays)
    assert retry_delay(50, rng) >= CAP_S / 2
