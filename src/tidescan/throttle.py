"""The rate limiter: how many probes a sender may put on the wire right now.

Why a token bucket and not masscan's 256-sample ring: masscan measures its recent rate and sleeps
when it runs ahead, which oscillates and is unreliable below 1 pps (#310).  A token bucket on the
monotonic clock is exact at every rate: after `t` seconds a sender has been allowed `rate * t`
probes, no more, whatever the batch sizes were.

Each sender process owns one `Throttle` set to its share of `--rate` (`rate / senders`), so the
total holds without any shared lock on the hot path (masscan does the same per NIC thread).

The batch size follows from the throttle: at 10 pps the sender is released one probe at a time; at
millions of pps it gets up to `max_batch` probes per call, so one syscall carries a whole batch.
Tokens saved up while a sender was stalled are capped (`burst` seconds' worth), so a pause never
turns into a flood.

The first batch is small (`first_batch`, 1024 probes): at 5 M pps per sender a full 16 k batch
would first wait 3 ms for its tokens and then take ~8 ms to build, all before the first probe
leaves (issue 4's start-up target).  Later batches are full-sized; the accounting is unchanged.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class Throttle:
    """Token bucket: `next_batch()` blocks until at least one probe is allowed, returns how many."""

    def __init__(self, rate: float, max_batch: int = 1024, burst: float = 0.02,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep, first_batch: int = 1024) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = float(rate)
        self.max_batch = max(1, int(max_batch))
        # Never allow less than one probe of burst, nor more than max_batch.
        self.burst = max(1.0, min(self.rate * burst, float(self.max_batch)))
        # Wait for a worthwhile batch (about 5 ms of probes) rather than waking up per token: a
        # sender step has ~0.7 ms of fixed cost (docs/benchmarks.md), so tiny steps waste a core.
        self.min_batch = max(1.0, min(self.rate * 0.005, self.burst))
        self._clock = clock
        self._sleep = sleep
        self._start = clock()
        self._allowed_base = 0.0  # tokens granted before the current accounting epoch
        self._sent = 0            # probes actually taken
        self._epoch = self._start
        self._first_cap: int | None = max(1, int(first_batch))  # until the first batch is released

    @property
    def sent(self) -> int:
        return self._sent

    def _tokens(self, now: float) -> float:
        tokens = self._allowed_base + (now - self._epoch) * self.rate - self._sent
        if tokens > self.burst:
            # Cap the bucket: forget credit accumulated while we were not sending.
            self._allowed_base -= tokens - self.burst
            tokens = self.burst
        return tokens

    def next_batch(self, limit: int | None = None) -> int:
        """Wait until a probe may go, then return how many may go now (1..max_batch, ≤ limit)."""
        cap = self.max_batch if limit is None else max(1, min(limit, self.max_batch))
        if self._first_cap is not None:
            cap = min(cap, self._first_cap)
            self._first_cap = None
        while True:
            now = self._clock()
            tokens = self._tokens(now)
            need = min(self.min_batch, float(cap))
            if tokens >= need - 1e-6:  # tolerance: float rounding of clock differences
                return max(1, int(min(tokens + 1e-6, cap)))
            wait = (need - tokens) / self.rate
            # Sleep in slices of at most 50 ms so a stop request is noticed promptly.
            self._sleep(min(max(wait, 1e-6), 0.05))

    def consume(self, n: int) -> None:
        """Record that `n` probes were sent (call after each batch)."""
        self._sent += n

    def current_rate(self) -> float:
        """Average rate since start (probes/s)."""
        elapsed = self._clock() - self._start
        return self._sent / elapsed if elapsed > 0 else 0.0
