"""Bounded-memory duplicate filter for replies: report each (them, me) tuple once.

Why this exists: a target answers every copy of a probe (retries), servers retransmit SYN-ACKs,
and a scan of millions of hosts cannot keep a set of everything it has seen.  Like masscan's
`main-dedup.c` (65536 buckets x 4 entries) this is a fixed-size, best-effort cache: exact while
the recent distinct replies fit, forgetting the oldest entries when they do not (a duplicate that
arrives after its entry was evicted is reported again, which is harmless).

Theory of operation:

- Each reply tuple is reduced to a 64-bit fingerprint: SipHash-2-4 (the cookie functions of
  `tidescan.siphash`) under a per-filter random key, so the tuple is hashed whole (no lossy
  packing) and nobody outside can aim replies at one bucket to flush it.  Two distinct tuples
  collide with probability 2**-64 per pair.  Fingerprint 0 is reserved for "empty" (a real 0 is
  mapped to 1).
- The table is `slots` fingerprints in NumPy: `slots / ways` buckets of `ways` entries, the
  bucket chosen by the top bits of the fingerprint.  Each bucket is a ring: a per-bucket cursor
  says which entry to overwrite next, so the oldest entry of a full bucket is evicted first.
  Memory is allocated once, at construction (`nbytes`), and never grows.
- A batch is filtered at once: a sort finds the first occurrence of each fingerprint in the
  batch (duplicates inside one batch are caught), one gather compares every distinct fingerprint
  with its bucket's entries, and the new ones are written into their buckets' rings (when more
  than `ways` new fingerprints land in one bucket in one batch, only `ways` of them are kept).

Exactness: with `n` distinct recent tuples the filter is exact as long as no bucket has had to
evict; with random fingerprints that holds with overwhelming probability for `n <= slots / 16`
(8-way buckets), and degrades gracefully (evicting the oldest) beyond.
"""

from __future__ import annotations

import os

import numpy as np
from numpy.typing import ArrayLike, NDArray

from tidescan.siphash import cookie4_array, cookie6_array

__all__ = ["Dedup"]


class Dedup:
    """Fixed-memory "first time seen?" filter for reply tuples (IPv4 and IPv6)."""

    def __init__(self, slots: int = 1 << 20, ways: int = 8, key: int | None = None) -> None:
        if ways < 1 or ways & (ways - 1) or ways > 128:
            raise ValueError("ways must be a power of two in 1..128")
        if slots < ways or slots & (slots - 1):
            raise ValueError("slots must be a power of two >= ways")
        self.slots = int(slots)
        self.ways = int(ways)
        self.n_buckets = self.slots // self.ways
        self._bucket_shift = np.uint64(64 - (self.n_buckets.bit_length() - 1))
        self._key = int.from_bytes(os.urandom(8), "little") if key is None else int(key) & ((1 << 64) - 1)
        self._table = np.zeros((self.n_buckets, self.ways), dtype=np.uint64)
        self._cursor = np.zeros(self.n_buckets, dtype=np.uint8)

    @property
    def nbytes(self) -> int:
        """Memory held by the filter's tables (fixed at construction)."""
        return self._table.nbytes + self._cursor.nbytes

    def filter4(self, ip_them: ArrayLike, port_them: ArrayLike, ip_me: ArrayLike,
                port_me: ArrayLike) -> NDArray[np.bool_]:
        """True where the IPv4 tuple is seen for the first time (arguments broadcast)."""
        return self._filter(cookie4_array(ip_them, port_them, ip_me, port_me, self._key))

    def filter6(self, them_hi: ArrayLike, them_lo: ArrayLike, me_hi: ArrayLike,
                me_lo: ArrayLike, port_them: ArrayLike, port_me: ArrayLike) -> NDArray[np.bool_]:
        """True where the IPv6 tuple is seen for the first time (arguments broadcast)."""
        # Same table as IPv4: the 40-byte and 16-byte SipHash messages give unrelated values.
        return self._filter(cookie6_array(them_hi, them_lo, me_hi, me_lo, port_them, port_me,
                                          self._key))

    def _buckets(self, fp: NDArray[np.uint64]) -> NDArray[np.intp]:
        if self.n_buckets == 1:
            return np.zeros(fp.shape, dtype=np.intp)
        return (fp >> self._bucket_shift).astype(np.intp)

    def _filter(self, fp: NDArray[np.uint64]) -> NDArray[np.bool_]:
        shape = fp.shape
        fp = fp.reshape(-1)
        mask = np.zeros(fp.size, dtype=bool)
        if fp.size == 0:
            return mask.reshape(shape)
        fp[fp == 0] = 1  # 0 marks an empty entry
        # 1. First occurrence of each fingerprint inside the batch: sort (an unstable argsort is
        #    ~5x faster than np.unique's stable one), then the smallest original index per run.
        order = np.argsort(fp)
        sfp = fp[order]
        starts = np.flatnonzero(np.concatenate(([True], sfp[1:] != sfp[:-1])))
        uniq = sfp[starts]
        first = np.minimum.reduceat(order, starts)
        # 2. Which of them are already in the table?  (uniq is sorted, hence so are buckets.)
        bucket = self._buckets(uniq)
        seen = (self._table[bucket] == uniq[:, None]).any(axis=1)
        new = ~seen
        mask[first[new]] = True
        # 3. Insert the new ones into their bucket rings, oldest entry overwritten first.
        nb = bucket[new]
        if nb.size:
            nfp = uniq[new]
            starts = np.flatnonzero(np.concatenate(([True], nb[1:] != nb[:-1])))
            counts = np.diff(np.append(starts, nb.size))
            rank = np.arange(nb.size) - np.repeat(starts, counts)
            keep = rank >= np.repeat(counts, counts) - self.ways  # last `ways` of each bucket
            slot = (self._cursor[nb].astype(np.intp) + rank) % self.ways
            self._table[nb[keep], slot[keep]] = nfp[keep]
            heads = nb[starts]
            self._cursor[heads] = (self._cursor[heads].astype(np.intp) + counts) % self.ways
        return mask.reshape(shape)
