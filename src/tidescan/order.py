"""The transmit schedule: which scan index is probed at which step, with shards, senders, retries
and resume.

Why this exists: masscan couples retries to `--rate` (copy `r` of index `i` goes to
`(i + r*rate) mod range`), which makes it send every target `(retries+1)**2` times (issue #599),
makes shards cover different sets at different rates, and, on resume, adds the shard offset twice.
This module replaces that with a schedule whose coverage is a theorem, not a side effect: every
target of a shard is probed exactly `retries + 1` times, whatever the rate, the gap, the number
of senders or the resume point.

Terms (all indexes are *pre-shuffle*: the caller maps an index `i` to a target with
`BlackRock.shuffle_array` and `TargetSet.pick_scan`):

- **Scan space.** Indexes `0 .. range_-1`.
- **Shards.** Shard `k` of `K` (1-based, `--shard k/K`) owns the indexes `i ≡ k-1 (mod K)`.  Its
  *local index* `l = 0, 1, 2, ...` is the global index `i = (k-1) + l*K`.  All shards use the
  same seed; the union of the shards is the whole space and they are disjoint, independent of any
  other option.
- **Resume window.** A run covers the local indexes `[N, N + C)` where `N` is `--resume-index`
  (shard-local: "every local index below N has had all its probes") and `C` is `--resume-count`
  (default: to the end of the shard).  `-sL` uses the same window (`list_scan_indexes`).
- **Senders.** Within the window, `S` sender processes split the local indexes round-robin:
  sender `s` (0-based) owns `l = N + s + p*S` for its *positions* `p = 0, 1, 2, ...`
  (`n_local` of them).
- **Steps and retries.** A sender's stream is a sequence of steps.  At step `t` it emits the first
  probe of its position `t` (if `t < n_local`) and retry `r` (1..R) of its position `t - r*gap`
  (if that position exists).  Within a step, probes go in order `r = 0, 1, ..., R`.  So every
  position gets exactly `R+1` probes, consecutive copies exactly `gap` steps apart, the stream
  has `n_local + R*gap` steps and `n_local * (R+1)` probes.  Coverage does not depend on `gap`,
  only the spacing does.
- **Time.** In steady state a step carries `R+1` probes, so at a per-sender rate of `rho`
  probes/s steps advance at about `rho/(R+1)` per second: `gap ≈ interval * rho / (R+1)` spaces
  copies `interval` seconds apart (`gap >= 1`).  Steps that carry no probe (they exist only when
  `n_local < gap`: a tiny scan with long retry spacing) are skipped by `probes()`; the returned
  `next_step` tells the caller how many steps a batch covered if it wants to wait them out.
- **Resume index to save.** Position `p` is complete once step `p + R*gap` is done.  Given each
  sender's completed step count, `resume_index_from` returns the smallest local index that is not
  yet complete (over all senders): everything below it is done, so resuming there never misses a
  target; targets above it that were already (partly) probed, those whose retries were still
  pending and those a faster sender had reached, are probed again.

The hot call is `Schedule.probes(step, max_probes)`: it returns a whole number of steps' worth
of indexes as one uint64 array, computed in closed form (no Python loop per probe or per step).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

__all__ = ["Schedule", "resume_index_from", "list_scan_indexes", "shard_size"]


def _check_shard(shard: tuple[int, int]) -> tuple[int, int]:
    k, big_k = int(shard[0]), int(shard[1])
    if not 1 <= k <= big_k:
        raise ValueError(f"shard {k}/{big_k}: need 1 <= k <= K")
    return k, big_k


def shard_size(range_: int, shard: tuple[int, int] = (1, 1)) -> int:
    """Number of local indexes of shard k/K: the i in [0, range_) with i ≡ k-1 (mod K)."""
    k, big_k = _check_shard(shard)
    if range_ <= k - 1:
        return 0
    return (range_ - (k - 1) + big_k - 1) // big_k


def _window(range_: int, shard: tuple[int, int], resume_index: int,
            resume_count: int | None) -> tuple[int, int]:
    """The local-index window [start, end) of this run."""
    if resume_index < 0:
        raise ValueError("resume_index must be >= 0")
    if resume_count is not None and resume_count < 0:
        raise ValueError("resume_count must be >= 0")
    size = shard_size(range_, shard)
    start = min(resume_index, size)
    end = size if resume_count is None else min(size, start + resume_count)
    return start, end


def _count_positions(start: int, end: int, senders: int, sender: int) -> int:
    """How many l in [start, end) have (l - start) % senders == sender."""
    return max(0, (end - start - sender + senders - 1) // senders)


class Schedule:
    """One sender's transmit stream (see the module docstring for the exact semantics)."""

    def __init__(self, range_: int, retries: int = 0, gap: int = 1,
                 shard: tuple[int, int] = (1, 1), senders: int = 1, sender: int = 0,
                 resume_index: int = 0, resume_count: int | None = None) -> None:
        if range_ < 0:
            raise ValueError("range_ must be >= 0")
        if retries < 0:
            raise ValueError("retries must be >= 0")
        if gap < 1:
            raise ValueError("gap must be >= 1")
        if senders < 1 or not 0 <= sender < senders:
            raise ValueError(f"sender {sender} of {senders}: need 0 <= sender < senders")
        self.range = int(range_)
        self.retries = int(retries)
        self.gap = int(gap)
        self.shard = _check_shard(shard)
        self.senders = int(senders)
        self.sender = int(sender)
        self.start, self.end = _window(self.range, self.shard, int(resume_index),
                                       None if resume_count is None else int(resume_count))
        #: Targets (positions) owned by this sender in this run.
        self.n_local = _count_positions(self.start, self.end, self.senders, self.sender)
        #: Probes this sender will emit: n_local * (retries + 1).
        self.total_probes = self.n_local * (self.retries + 1)
        #: Steps in this sender's stream.
        self.n_steps = self.n_local + self.retries * self.gap if self.n_local else 0
        k, big_k = self.shard
        # Global index of position p: i = base + p * stride.
        self._base = (k - 1) + (self.start + self.sender) * big_k
        self._stride = self.senders * big_k

    def __repr__(self) -> str:
        return (f"Schedule(range_={self.range}, retries={self.retries}, gap={self.gap}, "
                f"shard={self.shard}, senders={self.senders}, sender={self.sender}, "
                f"window=[{self.start}, {self.end}), n_local={self.n_local})")

    def progress(self, step: int) -> int:
        """Probes emitted by steps [0, step): sum over r of clamp(step - r*gap, 0, n_local)."""
        n, gap, big_r = self.n_local, self.gap, self.retries
        t = min(max(step, 0), self.n_steps)
        if t == 0:
            return 0
        # Copies r whose whole block of n_local probes lies before step t: r*gap <= t - n.
        full = 0 if t < n else min(big_r, (t - n) // gap) + 1
        # Copies r that have started: r*gap < t.
        started = min(big_r, (t - 1) // gap) + 1
        # Partial copies r in [full, started) each contribute t - r*gap.
        cnt = started - full
        r_sum = (full + started - 1) * cnt // 2
        return full * n + cnt * t - gap * r_sum

    def positions(self, step_start: int, max_probes: int) -> tuple[NDArray[np.uint64], int]:
        """Like `probes` but returns sender positions p (not global indexes)."""
        if max_probes < self.retries + 1:
            raise ValueError(f"max_probes must be >= retries+1 = {self.retries + 1}")
        t0 = min(max(step_start, 0), self.n_steps)
        if t0 >= self.n_steps:
            return np.empty(0, dtype=np.uint64), self.n_steps
        per_step = self.retries + 1
        # Fast path (the common case): every step in [t0, t1) carries all R+1 copies, i.e. the
        # steady state R*gap <= t < n_local.  Then the positions are a (steps x copies) grid.
        t1 = min(t0 + max_probes // per_step, self.n_local)
        if t0 >= self.retries * self.gap and t1 > t0:
            steps = np.arange(t0, t1, dtype=np.uint64)
            if self.retries == 0:
                return steps, t1
            back = np.arange(per_step, dtype=np.uint64) * np.uint64(self.gap)
            return (steps[:, None] - back[None, :]).ravel(), t1
        budget = self.progress(t0) + max_probes
        lo, hi = t0 + 1, self.n_steps  # step t0 alone always fits (<= R+1 probes)
        while lo < hi:  # largest t1 with progress(t1) <= budget
            mid = (lo + hi + 1) // 2
            if self.progress(mid) <= budget:
                lo = mid
            else:
                hi = mid - 1
        t1 = lo
        if self.n_local <= self.gap:
            pos = self._positions_sparse(t0, t1)
        else:
            pos = self._positions_dense(t0, t1)
        return pos, t1

    def probes(self, step_start: int, max_probes: int) -> tuple[NDArray[np.uint64], int]:
        """Global pre-shuffle indexes for the whole steps from `step_start` that fit in
        `max_probes` (>= retries+1), in transmit order, and the step to continue from."""
        pos, t1 = self.positions(step_start, max_probes)
        with np.errstate(over="ignore"):
            idx = pos * np.uint64(self._stride)
            idx += np.uint64(self._base)
        return idx, t1

    def _positions_sparse(self, t0: int, t1: int) -> NDArray[np.uint64]:
        """n_local <= gap: copy blocks [r*gap, r*gap + n) never overlap, <= 1 probe per step, so
        transmit order is simply copy r = 0..R, each a contiguous run of positions."""
        n, gap = self.n_local, self.gap
        starts: list[int] = []
        counts: list[int] = []
        for r in range(self.retries + 1):  # O(R) per batch, not per probe
            a = min(max(t0 - r * gap, 0), n)
            b = min(max(t1 - r * gap, 0), n)
            if b > a:
                starts.append(a)
                counts.append(b - a)
        if not counts:
            return np.empty(0, dtype=np.uint64)
        cnt = np.array(counts, dtype=np.int64)
        first = np.cumsum(cnt) - cnt
        offs = np.arange(int(cnt.sum()), dtype=np.int64) - np.repeat(first, cnt)
        return np.repeat(np.array(starts, dtype=np.uint64), cnt) + offs.astype(np.uint64)

    def _positions_dense(self, t0: int, t1: int) -> NDArray[np.uint64]:
        """n_local > gap: every step in [0, n_steps) carries the contiguous copies
        r_lo(t)..r_hi(t); build them step-major."""
        n, gap, big_r = self.n_local, self.gap, self.retries
        steps = np.arange(t1 - t0, dtype=np.uint64) + np.uint64(t0)
        ugap = np.uint64(gap)
        r_hi = np.minimum(steps // ugap, np.uint64(big_r))
        r_lo = np.zeros_like(steps)
        late = steps >= np.uint64(n)
        r_lo[late] = (steps[late] - np.uint64(n)) // ugap + np.uint64(1)
        cnt = (r_hi - r_lo + np.uint64(1)).astype(np.int64)
        first = np.cumsum(cnt) - cnt
        offs = np.arange(int(cnt.sum()), dtype=np.int64) - np.repeat(first, cnt)
        r = np.repeat(r_lo, cnt) + offs.astype(np.uint64)
        return np.repeat(steps, cnt) - r * ugap


def resume_index_from(steps_done_per_sender: Sequence[int], range_: int, retries: int = 0,
                      gap: int = 1, shard: tuple[int, int] = (1, 1), resume_index: int = 0,
                      resume_count: int | None = None) -> int:
    """The shard-local `--resume-index` to save when sender s has completed
    `steps_done_per_sender[s]` steps of its stream (all senders of one run, same parameters).

    Sender s has finished its positions p < steps_done - retries*gap; the result is the smallest
    local index not yet finished by its owner (the window's end if all are finished), so every
    local index below it has had all its probes.
    """
    senders = len(steps_done_per_sender)
    if senders < 1:
        raise ValueError("need at least one sender")
    start, end = _window(range_, shard, resume_index, resume_count)
    result = end
    for s, done in enumerate(steps_done_per_sender):
        n_s = _count_positions(start, end, senders, s)
        complete = min(n_s, max(0, int(done) - retries * gap))
        if complete < n_s:
            result = min(result, start + s + complete * senders)
    return result


def list_scan_indexes(range_: int, shard: tuple[int, int] = (1, 1), start: int = 0,
                      count: int | None = None) -> NDArray[np.uint64]:
    """`-sL` order: the global pre-shuffle indexes of local indexes [start, start+count) of the
    shard (i = shard-1, +K, ...; masscan's list scan has no rate offset).  Line j of the listing
    is `pick_list(shuffle(result[j]))`.  Call with a bounded `count` to stream big listings."""
    k, big_k = _check_shard(shard)
    lo, hi = _window(range_, (k, big_k), start, count)
    local = np.arange(hi - lo, dtype=np.uint64) + np.uint64(lo)
    return local * np.uint64(big_k) + np.uint64(k - 1)
