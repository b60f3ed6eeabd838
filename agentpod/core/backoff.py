"""Per-pod retry delay: exponential with jitter, capped."""

from __future__ import annotations

import random

BASE_S = 1.0
CAP_S = 300.0


def retry_delay(attempts: int, rng: random.Random | None = None) -> float:
    """Delay before attempt ``attempts + 1``: full-ish jitter between half and all of the step."""
    step = min(CAP_S, BASE_S * 2 ** max(0, attempts - 1))
    return step * (0.5 + 0.5 * (rng or random).random())
