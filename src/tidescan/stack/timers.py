"""Per-connection deadlines, expired a batch at a time: the TCP stack's timer table.

Why not a heap or a list-based wheel: every banner connection has exactly one "next thing to do"
(send the hello, retransmit, give up lingering, hit the connection timeout), so the stack only
needs *one* deadline per connection slot.  A heap of `(when, slot)` tuples costs ~100 bytes per
pending entry and one `heappush` per re-arm; a wheel of Python lists costs ~36 bytes per entry
plus the stale entries every re-arm leaves behind.  Here a deadline is one `float64` in a
preallocated array indexed by the connection's slot (8 bytes per connection, re-arming is one
store), and expiry is one vectorized comparison over the used part of the array.

Cost model (bench/bench_stack.py measures it): a scan of 100k deadlines is ~0.2 ms.  Two things
keep scans rare:

* `next_due` caches a lower bound of the earliest deadline: while `now < next_due` nothing can be
  due and `due()` returns at once.  Arming lowers it; cancelling leaves it (a stale low bound
  only costs one useless scan, which recomputes it).
* `resolution` (the wheel's "tick", default 10 ms): a scan happens at most once per tick, and a
  deadline may fire up to one tick late.  TCP timers here are 1-30 s, so a 10 ms jitter is
  immaterial, and with 100 calls a second at most ~10 ms of CPU per second go to scanning even
  with 100k connections.

Time is injected: `now` is any monotonic float (seconds) the caller chooses; nothing here reads a
clock, so tests drive timers by passing numbers.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

__all__ = ["TimerTable", "NEVER"]

NEVER = float("inf")


class TimerTable:
    """One deadline per slot (`inf` = not armed).  Slots are the connection table's indexes."""

    __slots__ = ("deadline", "next_due", "resolution", "_last_scan", "scans")

    def __init__(self, capacity: int, resolution: float = 0.01) -> None:
        self.deadline: NDArray[np.float64] = np.full(capacity, NEVER, dtype=np.float64)
        self.next_due = NEVER
        self.resolution = float(resolution)
        self._last_scan = -NEVER
        self.scans = 0                      # how many vectorized scans ran (for the benchmark)

    @property
    def nbytes(self) -> int:
        return int(self.deadline.nbytes)

    def grow(self, capacity: int) -> None:
        """Make room for `capacity` slots (existing deadlines are kept)."""
        old = self.deadline
        if capacity <= len(old):
            return
        self.deadline = np.full(capacity, NEVER, dtype=np.float64)
        self.deadline[:len(old)] = old

    def arm(self, slot: int, when: float) -> None:
        """Set slot's deadline (replacing any earlier one)."""
        self.deadline[slot] = when
        if when < self.next_due:
            self.next_due = when

    def arm_many(self, slots: NDArray[np.intp], when: NDArray[np.float64]) -> None:
        """Set the deadlines of several slots at once (each slot at most once)."""
        if len(slots):
            self.deadline[slots] = when
            m = float(when.min())
            if m < self.next_due:
                self.next_due = m

    def cancel(self, slot: int) -> None:
        self.deadline[slot] = NEVER

    def when(self, slot: int) -> float:
        return float(self.deadline[slot])

    def due(self, now: float, used: int) -> NDArray[np.intp]:
        """Slots among `[0, used)` whose deadline is `<= now`, earliest first; they are disarmed
        (the caller re-arms the ones that stay alive)."""
        if now < self.next_due or now - self._last_scan < self.resolution:
            return np.zeros(0, dtype=np.intp)
        self._last_scan = now
        self.scans += 1
        d = self.deadline[:used]
        hit = np.flatnonzero(d <= now)
        if hit.size:
            hit = hit[np.argsort(d[hit], kind="stable")]
            d[hit] = NEVER
        self.next_due = float(d.min()) if used else NEVER
        return hit
