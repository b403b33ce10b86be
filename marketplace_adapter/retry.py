"""When to try a Market API call again, and how long to wait first.

Kept apart from the client so the arithmetic (capped exponential backoff with jitter, the
gateway's ``x-acs-retry-after``, the overall deadline) is testable without any HTTP at all.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

__all__ = ["RetryPolicy", "parse_retry_after"]


def parse_retry_after(value: str | None) -> float | None:
    """``x-acs-retry-after`` (milliseconds) as seconds; None when absent, invalid or not positive."""
    if value is None:
        return None
    try:
        millis = float(str(value).strip())
    except ValueError:
        return None
    if millis != millis or millis <= 0:  # NaN or not positive
        return None
    return millis / 1000.0


@dataclass(frozen=True)
class RetryPolicy:
    """Bounds on retrying: at most ``max_attempts`` attempts, all within ``deadline`` seconds.

    The n-th retry waits a random time in ``[c/2, c]`` where ``c = min(max_delay, base_delay *
    2**(n-1))``: "equal jitter", so clients that failed together do not retry together, yet every
    wait still grows. A ``retry_after`` from the gateway is a floor on the wait.
    """

    max_attempts: int = 3
    deadline: float = 30.0
    base_delay: float = 0.25
    max_delay: float = 5.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.deadline <= 0:
            raise ValueError("deadline must be positive")

    def backoff(self, retry_number: int, rng: random.Random | None = None) -> float:
        """The jittered wait before retry number ``retry_number`` (1 for the first retry)."""
        ceiling = min(self.max_delay, self.base_delay * (2 ** max(0, retry_number - 1)))
        return (rng or random).uniform(ceiling / 2, ceiling)

    def delay(
        self, retry_number: int, retry_after: float | None = None, rng: random.Random | None = None
    ) -> float:
        wait = self.backoff(retry_number, rng)
        return max(wait, retry_after) if retry_after is not None else wait

    def allows(self, attempts_made: int, elapsed: float, wait: float) -> bool:
        """Whether another attempt may start after waiting ``wait`` seconds.

        It must fit inside the deadline with room to spare: an attempt that would start at the
        deadline could only time out.
        """
        return attempts_made < self.max_attempts and elapsed + wait < self.deadline
