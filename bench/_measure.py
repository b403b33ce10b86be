"""The timing loop every benchmark shares: cases interleaved in rounds, medians per call."""
from __future__ import annotations

import statistics
import time
from typing import Callable


def measure(cases: dict[str, Callable[[], object]], calls: int, rounds: int, warmup: int = 50
            ) -> dict[str, tuple[float, float]]:
    """Median (wall, CPU) seconds per call of each case.

    The cases run in turn within each round, so machine noise hits all of them alike; each is
    warmed up first (connections, imports, caches, first-use writes, template compilation).
    """
    for fn in cases.values():
        for _ in range(warmup):
            fn()
    per_round = max(1, calls // rounds)
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in cases}
    for _ in range(rounds):
        for name, fn in cases.items():
            wall, cpu = time.perf_counter(), time.process_time()
            for _ in range(per_round):
                fn()
            samples[name].append(((time.perf_counter() - wall) / per_round,
                                  (time.process_time() - cpu) / per_round))
    return {name: (statistics.median(w for w, _ in values), statistics.median(c for _, c in values))
            for name, values in samples.items()}
