"""Bounded-memory duplicate filter for replies: report each (them, me) tuple once.

Why this exists: a target answers every copy of a probe (retries), servers retransmit SYN-ACKs,
and a scan of millions of hosts cannot keep a set of everything it has seen.  Like masscan's
`main-dedup.c` (65536 buckets x 4 entries) this is a fixed-size, best-effort cache: exact while
the recent distinct replies fit, forgetting the oldest entries when they do not (a duplicate that
arrives after its entry was evicted is reported again, which is harmless).

Theory of operation:

- Each reply tuple is reduced to a 64-bit fingerprint under a per-filter random key: the tuple's
  words (IPv4: `them << 32 | me`, then `port_them << 16 | port_me`; IPv6: the four address
  halves, then the ports) are XORed with key words and chained through murmur3's `fmix64`, a
  bijection with full avalanche.  The tuple is hashed whole (no lossy packing): two tuples that
  differ only in their last word never collide, others with probability ~2**-64 per pair.  The
  key keeps anyone outside from aiming replies at one bucket to flush it (they never see the
  table).  It is not SipHash on purpose: SipHash is ~270 NumPy passes, a fixed ~0.4 ms per
  receive batch; the chain is ~20 (measured in `bench/bench_receive.py`).  Fingerprint 0 is
  reserved for "empty" (a real 0 is mapped to 1).
- The table is `slots` fingerprints in NumPy: `slots / ways` buckets of `ways` entries, the
  bucket chosen by the top bits of the fingerprint.  Each bucket is a ring: a per-bucket cursor
  says which entry to overwrite next, so the oldest entry of a full bucket is evicted first.
  Memory is allocated once, at construction (`nbytes`), and never grows.
- A batch is filtered at once: a sort finds the first occurrence of each fingerprint in the
  batch (duplicates inside one batch are caught), one gather compares every distinct fingerprint
  with its bucket's entries, and the new ones are written into their buckets' rings in
  fingerprint order (when more than `ways` new fingerprints land in one bucket in one batch, only
  the last `ways` of them are kept).  The usual case, one new fingerprint per bucket, takes a
  short path with the same result.

Exactness: with `n` distinct recent tuples the filter is exact as long as no bucket has had to
evict; with random fingerprints that holds with overwhelming probability for `n <= slots / 16`
(8-way buckets), and degrades gracefully (evicting the oldest) beyond.
"""

from __future__ import annotations

import os

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["Dedup"]

_C1, _C2, _R = np.uint64(0xFF51AFD7ED558CCD), np.uint64(0xC4CEB9FE1A85EC53), np.uint64(33)
_GOLDEN = 0x9E3779B97F4A7C15
_M64 = (1 << 64) - 1


def _fmix(h: NDArray[np.uint64]) -> NDArray[np.uint64]:
    """murmur3's 64-bit finalizer, in place (a bijection: distinct inputs stay distinct)."""
    h ^= h >> _R
    h *= _C1
    h ^= h >> _R
    h *= _C2
    h ^= h >> _R
    return h


def _u64(x: ArrayLike) -> NDArray[np.uint64]:
    return np.asarray(x).astype(np.uint64)


def _chain(words: list[NDArray[np.uint64]], keys: list[np.uint64]) -> NDArray[np.uint64]:
    """Keyed fingerprint of a tuple of 64-bit words: h = fmix(h ^ word ^ key), word by word."""
    first = np.broadcast_arrays(*words)[0]
    h = np.empty(first.shape, np.uint64)            # a fresh array, even for scalar arguments
    np.bitwise_xor(first, keys[0], out=h)
    _fmix(h)
    for w, k in zip(words[1:], keys[1:]):
        h ^= w
        h ^= k
        _fmix(h)
    return h


def _splitmix(seed: int, i: int) -> int:
    """The i-th output of splitmix64 seeded with `seed`."""
    z = (seed + (i + 1) * _GOLDEN) & _M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _M64
    return z ^ (z >> 31)


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
        # Seven key words from the one key (splitmix64's sequence): two for IPv4, five for IPv6.
        self._keys = [np.uint64(_splitmix(self._key, i)) for i in range(7)]

    @property
    def nbytes(self) -> int:
        """Memory held by the filter's tables (fixed at construction)."""
        return self._table.nbytes + self._cursor.nbytes

    def filter4(self, ip_them: ArrayLike, port_them: ArrayLike, ip_me: ArrayLike,
                port_me: ArrayLike) -> NDArray[np.bool_]:
        """True where the IPv4 tuple is seen for the first time (arguments broadcast)."""
        a = _u64(ip_them) << np.uint64(32) | _u64(ip_me)
        b = _u64(port_them) << np.uint64(16) | _u64(port_me)   # internal port: < 2**18
        return self._filter(_chain([a, b], self._keys[:2]))

    def filter6(self, them_hi: ArrayLike, them_lo: ArrayLike, me_hi: ArrayLike,
                me_lo: ArrayLike, port_them: ArrayLike, port_me: ArrayLike) -> NDArray[np.bool_]:
        """True where the IPv6 tuple is seen for the first time (arguments broadcast)."""
        # Same table as IPv4: its own key words, and five words against two.
        ports = _u64(port_them) << np.uint64(16) | _u64(port_me)
        return self._filter(_chain([_u64(them_hi), _u64(them_lo), _u64(me_hi), _u64(me_lo), ports],
                                   self._keys[2:]))

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
        hits = self._table[bucket] == uniq[:, None]
        # 8 bools are one uint64: much cheaper than .any(axis=1) across a short axis
        seen = hits.view(np.uint64)[:, 0] != 0 if self.ways == 8 else hits.any(axis=1)
        new = ~seen
        mask[first[new]] = True
        # 3. Insert the new ones into their bucket rings, oldest entry overwritten first.
        nb = bucket[new]
        if nb.size and (nb.size == 1 or bool((nb[1:] != nb[:-1]).all())):
            slot = self._cursor[nb]                 # one new fingerprint per bucket: the usual case
            self._table[nb, slot] = uniq[new]
            self._cursor[nb] = (slot + 1) % self.ways
        elif nb.size:
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
