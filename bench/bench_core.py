"""Throughput of the scanner's core arithmetic on 64k batches (cookies, shuffle, schedule, dedup).

Run: python bench/bench_core.py [batch]   (prints one line per function, best of several runs;
the machine is shared, so the best run is the fairest estimate of what the code can do).
"""

from __future__ import annotations

import sys
from collections.abc import Callable

import numpy as np

from timing import best_seconds  # (this directory)
from tidescan.blackrock import BlackRock
from tidescan.dedup import Dedup
from tidescan.order import Schedule
from tidescan.siphash import cookie4_array, cookie6_array


def best_rate(fn: Callable[[], object], n: int, repeat: int = 15) -> float:
    """Items per second of the fastest of `repeat` calls processing `n` items each."""
    return n / best_seconds(fn, repeat)


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 65536
    rng = np.random.default_rng(0)
    ip = rng.integers(0, 1 << 32, n, dtype=np.uint64)
    port = rng.integers(0, 65536, n, dtype=np.uint64)
    rows: list[tuple[str, float]] = []

    rows.append(("cookie4_array", best_rate(lambda: cookie4_array(ip, port, 0x0AFFFF01, 40000,
                                                                  0x1234), n)))
    rows.append(("cookie6_array", best_rate(lambda: cookie6_array(ip, port, 1, 2, port, 40000,
                                                                  0x1234), n)))
    idx = np.arange(10**6, 10**6 + n, dtype=np.uint64)
    for label, range_ in (("2^32 (tabulated)", 1 << 32), ("2^34 (tabulated)", 1 << 34),
                          ("2^48 (byte tables)", 1 << 48), ("2^63 (byte tables)", 1 << 63)):
        br = BlackRock(range_, 0xC0FFEE)
        rows.append((f"shuffle_array range {label}", best_rate(lambda: br.shuffle_array(idx), n)))
    sched = Schedule(1 << 40, retries=2, gap=100_000, shard=(1, 2), senders=2, sender=1)
    rows.append(("Schedule.probes retries=2", best_rate(lambda: sched.probes(10**6, n), n)))
    d = Dedup()
    rows.append(("Dedup.filter4 (new tuples)",
                 best_rate(lambda: d.filter4(rng.integers(0, 1 << 32, n, dtype=np.uint64),
                                             80, 1, 40000), n)))
    dup = Dedup()
    dup.filter4(ip, port, 1, 40000)
    rows.append(("Dedup.filter4 (all duplicates)",
                 best_rate(lambda: dup.filter4(ip, port, 1, 40000), n)))

    print(f"batch = {n}")
    for name, rate in rows:
        print(f"{name:40s} {rate / 1e6:8.2f} M/s")


if __name__ == "__main__":
    main()
