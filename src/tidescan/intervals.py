"""Set algebra on sorted lists of inclusive integer intervals, done with whole-array NumPy steps.

Why this exists: targets (IPv4, IPv6) and ports are all "sets of integers given as ranges", and
the operations a scanner needs on them -- union, subtraction of an exclude list, membership
tests, and "the i-th element" -- must stay fast when the lists are long (a /8 minus a
100 000-line exclude file) without ever expanding a range into its members.

Representation.  A set is two equal-length 1-D arrays ``starts`` and ``ends`` holding *normalized*
inclusive intervals: sorted by start, pairwise disjoint, and never adjacent (``ends[i] + 1 <
starts[i+1]``).  Normalization makes the representation canonical, so two sets are equal iff
their arrays are equal.

Dtypes.  Every function here works unchanged on ``int64`` arrays (IPv4 addresses and internal
port numbers fit easily) and on ``object`` arrays of Python ints (IPv6 boundaries, which need 128
bits).  NumPy's ufuncs, sorting and ``searchsorted`` run element-wise Python comparisons on object
arrays, which is slower per element but still free of Python-level loops in this code and fine
for the few thousand boundaries an IPv6 list holds.  Callers convert their public ``uint64``
arrays to ``int64`` before calling, because mixing signed and unsigned 64-bit arrays makes NumPy
fall back to float64 comparisons.

Algorithms (all O((n + m) log(n + m)) array operations):

* ``normalize``: sort by start, take the running maximum of ends, and start a new interval
  wherever a start exceeds the running maximum + 1.
* ``intersect``: for each interval of A, ``searchsorted`` finds the contiguous block of B
  intervals that overlap it; ``np.repeat`` expands the (A, B) overlap pairs and the pieces are
  ``[max(starts), min(ends)]``.  The pieces of two normalized lists are themselves normalized.
* ``subtract``: A minus B is A intersected with the gaps between B's intervals.
* ``pick`` (the i-th smallest member, the scanner's hot path): ``cum`` holds the running totals
  of interval sizes, so the interval holding member i is the number of totals ``<= i`` (found by
  `Picker` without a per-key binary search), and the member is ``i + delta[r]`` with ``delta =
  start - (members before the interval)`` precomputed (modulo 2**64: one gather, one add).
"""

from __future__ import annotations

from typing import TypeVar

import numpy as np

__all__ = [
    "normalize", "intersect", "subtract", "union", "contains", "empty_like",
    "Picker", "pick_tables", "pick", "as_uint64", "IntervalSet",
]


def empty_like(arr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """An empty interval list of the same dtype as ``arr``."""
    return np.empty(0, dtype=arr.dtype), np.empty(0, dtype=arr.dtype)


def normalize(starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sort and merge overlapping or adjacent intervals (every ``starts[i] <= ends[i]``)."""
    if len(starts) == 0:
        return empty_like(starts)
    order = np.argsort(starts, kind="stable")
    s = starts[order]
    run_end = np.maximum.accumulate(ends[order])
    opens = np.empty(len(s), dtype=bool)
    opens[0] = True
    opens[1:] = s[1:] > run_end[:-1] + 1
    first = np.flatnonzero(opens)
    last = np.append(first[1:] - 1, len(s) - 1)
    return s[first], run_end[last]


def intersect(
    a_starts: np.ndarray, a_ends: np.ndarray, b_starts: np.ndarray, b_ends: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Intersection of two normalized interval lists (result normalized)."""
    if len(a_starts) == 0 or len(b_starts) == 0:
        return empty_like(a_starts)
    # B intervals overlapping A[i] are those with end >= A.start and start <= A.end: a block.
    lo = np.searchsorted(b_ends, a_starts, side="left")
    hi = np.searchsorted(b_starts, a_ends, side="right")
    counts = np.maximum(hi - lo, 0)
    total = int(counts.sum())
    if total == 0:
        return empty_like(a_starts)
    a_idx = np.repeat(np.arange(len(a_starts)), counts)
    block_base = np.repeat(np.cumsum(counts) - counts, counts)
    b_idx = np.repeat(lo, counts) + (np.arange(total) - block_base)
    starts = np.maximum(a_starts[a_idx], b_starts[b_idx])
    ends = np.minimum(a_ends[a_idx], b_ends[b_idx])
    return starts, ends


def subtract(
    a_starts: np.ndarray, a_ends: np.ndarray, b_starts: np.ndarray, b_ends: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """A minus B for normalized lists (result normalized)."""
    if len(a_starts) == 0 or len(b_starts) == 0:
        return a_starts.copy(), a_ends.copy()
    dt = a_starts.dtype
    # The gaps of B, bounded by A's own extent so no value outside the domain is needed.
    gap_starts = np.concatenate([np.array([a_starts[0]], dtype=dt), b_ends + 1])
    gap_ends = np.concatenate([b_starts - 1, np.array([a_ends[-1]], dtype=dt)])
    keep = gap_starts <= gap_ends
    return intersect(a_starts, a_ends, gap_starts[keep], gap_ends[keep])


def union(
    a_starts: np.ndarray, a_ends: np.ndarray, b_starts: np.ndarray, b_ends: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Union of two interval lists (result normalized)."""
    return normalize(np.concatenate([a_starts, b_starts]), np.concatenate([a_ends, b_ends]))


def contains(starts: np.ndarray, ends: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Boolean mask: which ``values`` fall inside the normalized list (same dtype family)."""
    values = np.asarray(values)
    if len(starts) == 0:
        return np.zeros(values.shape, dtype=bool)
    i = np.searchsorted(starts, values, side="right") - 1
    inside = i >= 0
    return inside & (values <= ends[np.maximum(i, 0)])



class Picker:
    """Maps member numbers to interval numbers: ``index(i)`` = the interval holding member ``i``.

    ``cum`` is the ``uint64`` running total of interval sizes.  ``np.searchsorted`` with random
    keys costs 10-90 ns a key here (it is a branchy binary search), which would make target
    picking a large share of the transmit loop, so two cheaper paths are used instead:

    * up to `SMALL` intervals (the usual port list, a handful of ranges): count the boundaries
      each key has passed, one vectorized comparison per boundary;
    * otherwise a bucket table: the member space is cut into up to 2**20 equal buckets, and each
      bucket that lies inside one interval stores that interval's number.  A key is one
      division and one gather; only keys in the few buckets that straddle a boundary (at most
      one bucket in 64 when the table is big enough) fall back to ``searchsorted``.
    """

    SMALL = 12

    __slots__ = ("cum", "width", "table")

    def __init__(self, cum: np.ndarray) -> None:
        self.cum = cum
        self.width = 0
        self.table = np.empty(0, dtype=np.int32)
        n = len(cum)
        if n <= self.SMALL:
            return
        total = int(cum[-1])
        buckets = min(max(64 * n, 1024), 1 << 20, total)
        width = -(-total // buckets)
        nb = -(-total // width)
        first = np.arange(nb, dtype=np.uint64) * np.uint64(width)
        # the last member of each bucket (computed without overflowing near 2**64)
        last = np.where(first > np.uint64(total - width), np.uint64(total - 1),
                        first + np.uint64(width - 1))
        r_first = np.searchsorted(cum, first, side="right")
        r_last = np.searchsorted(cum, last, side="right")
        self.table = np.where(r_first == r_last, r_first, -1).astype(np.int32)
        self.width = width

    def index(self, idx: np.ndarray) -> np.ndarray:
        """Interval number of each member number in ``idx`` (``uint64``, each ``< cum[-1]``)."""
        cum = self.cum
        if len(cum) <= self.SMALL:
            r = np.zeros(len(idx), dtype=np.uint8)
            for boundary in cum[:-1]:
                r += idx >= boundary
            return r
        r = self.table[idx // np.uint64(self.width)]
        straddle = np.flatnonzero(r < 0)
        if len(straddle):
            r[straddle] = np.searchsorted(cum, idx[straddle], side="right")
        return r


def pick_tables(starts: np.ndarray, ends: np.ndarray) -> tuple[Picker, np.ndarray]:
    """``(picker, delta)`` for `pick`, from normalized ``uint64`` intervals."""
    counts = ends - starts + np.uint64(1)
    cum = np.cumsum(counts, dtype=np.uint64)
    delta = starts - (cum - counts)  # wraps modulo 2**64; pick() wraps back
    return Picker(cum), delta


def pick(picker: Picker, delta: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Members number ``idx`` (``uint64``, each below the set's size) in ascending order."""
    if len(delta) == 1:
        return idx + delta[0]
    return idx + delta[picker.index(idx)]


def as_uint64(x: object) -> np.ndarray:
    """Index batch -> ``uint64`` array (no copy if it already is one; Python ints up to 2**64-1)."""
    if isinstance(x, np.ndarray):
        return x.astype(np.uint64, copy=False)
    return np.asarray(x, dtype=np.uint64)


_S = TypeVar("_S", bound="IntervalSet")


class IntervalSet:
    """An immutable set of integers in ``0..LIMIT`` as normalized intervals, with the scanner's
    operations: size, the i-th member (`pick`), membership, union and subtraction.

    The common core of `ports.PortList` (internal port numbers) and `targets.RangeList` (IPv4
    addresses); subclasses set `LIMIT` and `ITEM` (the member's name in error messages) and add
    their own formatting.  `starts`/`ends` are the public ``uint64`` arrays; `_s`/`_e` the
    ``int64`` copies the set algebra works on."""

    LIMIT = 0
    ITEM = "value"
    __slots__ = ("starts", "ends", "_s", "_e", "_picker", "_delta")

    def __init__(self, starts: object = (), ends: object = ()) -> None:
        s = np.asarray(starts, dtype=np.int64).reshape(-1)
        e = np.asarray(ends, dtype=np.int64).reshape(-1)
        if s.shape != e.shape:
            raise ValueError("starts and ends differ in length")
        if len(s) and (s.min() < 0 or e.max() > self.LIMIT or np.any(s > e)):
            raise ValueError(f"{self.ITEM} interval out of range (0..{self.LIMIT}) or reversed")
        self._s, self._e = normalize(s, e)
        self.starts = self._s.astype(np.uint64)
        self.ends = self._e.astype(np.uint64)
        self._picker, self._delta = pick_tables(self.starts, self.ends)

    @property
    def count(self) -> int:
        """Number of members."""
        return int(self._picker.cum[-1]) if len(self._delta) else 0

    @property
    def n_ranges(self) -> int:
        """Number of merged intervals."""
        return len(self.starts)

    def __bool__(self) -> bool:
        return len(self.starts) > 0

    def pick(self, idx: np.ndarray) -> np.ndarray:
        """The ``idx``-th smallest members (vectorized; ``0 <= idx < count``) as ``uint64``."""
        idx = as_uint64(idx)
        if idx.size and int(idx.max()) >= self.count:
            raise IndexError(f"{self.ITEM} index {int(idx.max())} out of range (count {self.count})")
        return pick(self._picker, self._delta, idx)

    def contains(self, values: np.ndarray) -> np.ndarray:
        """Boolean mask: which values (any integer array) are members."""
        return contains(self._s, self._e, np.asarray(values).astype(np.int64))

    def merge(self: _S, other: _S) -> _S:
        """Union with another set of the same kind."""
        return type(self)(*union(self._s, self._e, other._s, other._e))

    def exclude(self: _S, other: _S) -> _S:
        """This set minus ``other`` (an exclude list)."""
        return type(self)(*subtract(self._s, self._e, other._s, other._e))

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, IntervalSet)
        return np.array_equal(self._s, other._s) and np.array_equal(self._e, other._e)

    __hash__ = None  # type: ignore[assignment]
