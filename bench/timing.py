"""Best-of-N wall-clock timing for the in-process micro-benchmarks.

Why this exists: bench_core, bench_receive and bench_banners all time a function the same way
(one warm-up call, then the fastest of `repeat` calls: the least disturbed by a shared machine);
one definition keeps their figures comparable.
"""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["best_seconds"]


def best_seconds(fn: Callable[[], object], repeat: int = 7) -> float:
    """Seconds taken by the fastest of `repeat` calls of `fn`, after one warm-up call."""
    fn()
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best
