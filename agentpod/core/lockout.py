"""Failed logins: slowed, then locked, per user and per client address (pure).

After ``free`` failures each further attempt waits twice as long as the last (1 s, 2 s,
4 s… up to ``max_delay_s``); after ``lock_after`` failures the subject is locked for
``lock_s``. Failures are forgotten ``forget_s`` after the last one, or on a success.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Policy:
    free: int
    lock_after: int
    max_delay_s: float = 30.0
    lock_s: float = 900.0
    forget_s: float = 900.0

    def wait_s(self, failures: int, since_last_s: float) -> int:
        """Seconds until the next attempt is allowed (0: now)."""
        if failures <= self.free or since_last_s >= self.forget_s:
            return 0
        if failures >= self.lock_after:
            return math.ceil(self.lock_s - since_last_s)
        delay = min(2.0 ** (failures - self.free - 1), self.max_delay_s)
        return max(0, math.ceil(delay - since_last_s))


PER_USER = Policy(free=3, lock_after=10)
PER_ADDRESS = Policy(free=10, lock_after=50)  # many people may share one address (NAT)
