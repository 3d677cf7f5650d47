"""When to retry a failed delivery: minutes at first, then longer; jittered; Retry-After wins."""

from __future__ import annotations

import random

BACKOFF_SECONDS = (1, 2, 5, 15, 30, 60, 120, 300, 600, 900, 1800, 3600)
MAX_DELAY_SECONDS = 3600.0
JITTER = 0.2


def retry_delay(
    attempt: int, retry_after: float | None = None, *, rng: random.Random | None = None
) -> float:
    """Seconds to wait after failed attempt number `attempt` (1-based)."""
    base = BACKOFF_SECONDS[min(attempt, len(BACKOFF_SECONDS)) - 1]
    jittered = base * (1 + (rng or random).uniform(-JITTER, JITTER))
    if retry_after is not None:
        jittered = max(jittered, retry_after)
    return min(jittered, MAX_DELAY_SECONDS)
