"""The connection table: compact per-connection TCP state in NumPy arrays, found by 4-tuple.

Why this shape: masscan keeps one 616-byte C struct per banner connection (reference masscan.md
§7) so that 100k+ concurrent connections fit in a few tens of megabytes.  A Python object per
connection with a `__dict__` would cost more than that before holding any state, so the table is
a *struct of arrays*: every field is a preallocated NumPy column indexed by a slot number, and a
connection is just its slot.  Free slots are kept on a stack (`free list`); when it runs dry every
column doubles (rare: size the table from the expected concurrency).

Finding a connection.  Frames arrive in blocks; the receive loop hands the stack thousands of
rows at once.  The 4-tuple -> slot index is an *open-addressing hash table in NumPy* (linear
probing, load <= 1/2, buckets hold slot numbers): `lookup` hashes a whole block of tuples with
vectorized multiply/xor-shift mixing and resolves every row in a few vectorized probe rounds, so
the per-segment Python work starts only for rows that belong to a live connection.  Inserting and
deleting happen once per connection (scalar code; deletion uses backward-shift, so there are no
tombstones and probe chains stay short).  The hash is keyed with a per-table secret: targets are
chosen by the scan, often consecutive addresses, and must not form long probe clusters.

Addresses.  Both families share the columns: an address is 128 bits as `(hi, lo)` `uint64`
halves, IPv4 stored IPv4-mapped (`::ffff:a.b.c.d`, i.e. `hi = 0`, `lo = 0xffff_0000_0000 | ip`),
which no IPv6 frame on the wire carries, so one key space holds both without ambiguity.

Per-connection columns (bytes): addresses 32, ports 4, hash 4, sequence numbers 12 (`snd_una`,
`snd_nxt`, `rcv_nxt`), state/flags/retries/ttl 4, times 24 (`created`, `rto_at`, `idle_at`),
plus 8 for the two buckets per slot, 4 for the free list and 8 for the session pointer kept by the
driver, and 8 for the deadline in `timers.TimerTable`: ~108 bytes before the banner session.
"""

from __future__ import annotations

import secrets

import numpy as np
from numpy.typing import NDArray

__all__ = ["TcbTable", "V4_MAPPED", "map_v4", "FLAG_V6", "FLAG_GOT_DATA", "FLAG_HELLO_DONE",
           "FLAG_FIN_QUEUED", "FLAG_FIN_SENT", "FLAG_FIN_ACKED", "FLAG_THEIR_FIN"]

U64 = NDArray[np.uint64]
V4_MAPPED = np.uint64(0xFFFF_0000_0000)

# Connection flags (the `flags` column).
FLAG_V6 = 0x01          # IPv6 connection
FLAG_GOT_DATA = 0x02    # the server has sent payload (it talked first, or answered)
FLAG_HELLO_DONE = 0x04  # the hello timer has fired (or is no longer relevant)
FLAG_FIN_QUEUED = 0x08  # the session asked to close: FIN once the queued data is out
FLAG_FIN_SENT = 0x10    # our FIN is in sequence space (snd_nxt counts it)
FLAG_FIN_ACKED = 0x20   # the peer acknowledged our FIN
FLAG_THEIR_FIN = 0x40   # the peer's FIN was received (rcv_nxt counts it)

_M1 = np.uint64(0x9E3779B97F4A7C15)
_M2 = np.uint64(0xBF58476D1CE4E5B9)
_M3 = np.uint64(0x94D049BB133111EB)
_S29, _S31, _S32, _S16 = np.uint64(29), np.uint64(31), np.uint64(32), np.uint64(16)


def map_v4(ip4: NDArray[np.integer]) -> U64:
    """IPv4 integers -> the `lo` half of their IPv4-mapped IPv6 form (`hi` is 0)."""
    return np.asarray(ip4).astype(np.uint64) | V4_MAPPED


def _mix(x: U64) -> U64:
    """splitmix64's finalizer, vectorized (uint64 arithmetic wraps)."""
    x = (x ^ (x >> _S29)) * _M2
    x = (x ^ (x >> _S32)) * _M3
    return x ^ (x >> _S31)


class TcbTable:
    """Slots, the 4-tuple index and the TCP columns.  The driver (`driver.py`) owns the logic."""

    def __init__(self, capacity: int = 1024, key: int | None = None) -> None:
        cap = 1 << max(4, int(capacity - 1).bit_length())
        self.capacity = 0
        self.used = 0                  # high-water mark: slots [0, used) have ever been handed out
        self.live = 0
        self._key = np.uint64(secrets.randbits(64) if key is None else key & (2**64 - 1))
        # columns (created empty, sized by _resize)
        self.them_hi = self.them_lo = self.me_hi = self.me_lo = np.zeros(0, np.uint64)
        self.port_them = self.port_me = np.zeros(0, np.uint16)
        self.hash32 = self.snd_una = self.snd_nxt = self.rcv_nxt = np.zeros(0, np.uint32)
        self.state = self.flags = self.retries = self.ttl = np.zeros(0, np.uint8)
        self.created = self.rto_at = self.idle_at = np.zeros(0, np.float64)
        self._free = np.zeros(0, np.int32)
        self._nfree = 0
        self._released: list[int] = []   # removed slots, free again after `recycle()`
        self.buckets = np.zeros(0, np.int32)
        self._resize(cap)

    # ---------------------------------------------------------------------------- storage

    _U64 = ("them_hi", "them_lo", "me_hi", "me_lo")
    _U32 = ("hash32", "snd_una", "snd_nxt", "rcv_nxt")
    _U16 = ("port_them", "port_me")
    _U8 = ("state", "flags", "retries", "ttl")
    _F64 = ("created", "rto_at", "idle_at")

    def _resize(self, cap: int) -> None:
        old = self.capacity
        for names, dt in ((self._U64, np.uint64), (self._U32, np.uint32), (self._U16, np.uint16),
                          (self._U8, np.uint8), (self._F64, np.float64)):
            for name in names:
                col = np.zeros(cap, dt)
                col[:old] = getattr(self, name)[:old]
                setattr(self, name, col)
        # Free list: a stack of slot numbers.  The table only grows when it is empty, so the new
        # slots are the whole stack, pushed highest first: the lowest index is popped first,
        # which keeps `used` (the part the timers scan) as small as possible.
        assert self._nfree == 0
        free = np.zeros(cap, np.int32)
        fresh = np.arange(cap - 1, old - 1, -1, dtype=np.int32)
        free[:len(fresh)] = fresh
        self._free = free
        self._nfree = len(fresh)
        self.capacity = cap
        self._rebuild_index(2 * cap)
        self._make_views()

    def _make_views(self) -> None:
        """`v_<column>`: a memoryview of each column (and `v_buckets`, `v_free`).

        The driver's per-segment code reads and writes single fields; indexing a memoryview
        gives and takes plain Python ints/floats (~30 ns), where indexing the NumPy array makes a
        NumPy scalar (~60 ns, ~230 ns with the `int()` the arithmetic then needs).  The views
        share the columns' memory; they are rebuilt whenever a column is replaced (growth)."""
        for name in self._U64 + self._U32 + self._U16 + self._U8 + self._F64:
            setattr(self, "v_" + name, memoryview(getattr(self, name)))
        self.v_buckets = memoryview(self.buckets)
        self.v_free = memoryview(self._free)

    def _rebuild_index(self, nbuckets: int) -> None:
        """Reinsert every live slot into a fresh bucket array (vectorized linear probing)."""
        self.buckets = np.full(nbuckets, -1, np.int32)
        self.v_buckets = memoryview(self.buckets)
        self._mask = nbuckets - 1
        live = np.flatnonzero(self.state[:self.used] != 0).astype(np.int32)
        pos = self.hash32[live].astype(np.int64) & self._mask
        while live.size:
            empty = self.buckets[pos] < 0
            cand, cpos = live[empty], pos[empty]
            upos, first = np.unique(cpos, return_index=True)
            self.buckets[upos] = cand[first]
            placed = np.zeros(live.size, bool)
            placed[np.flatnonzero(empty)[first]] = True
            live, pos = live[~placed], (pos[~placed] + 1) & self._mask

    @property
    def nbytes(self) -> int:
        """Bytes held by the columns, the index and the free list (not the sessions)."""
        cols = self._U64 + self._U32 + self._U16 + self._U8 + self._F64
        return (sum(getattr(self, c).nbytes for c in cols) + self.buckets.nbytes
                + self._free.nbytes)

    # ---------------------------------------------------------------------------- hashing

    def hash(self, them_hi: U64, them_lo: U64, me_hi: U64, me_lo: U64,
             port_them: NDArray[np.integer], port_me: NDArray[np.integer]) -> NDArray[np.uint32]:
        """Keyed 32-bit hash of 4-tuples (arrays)."""
        ports = (np.asarray(port_them).astype(np.uint64) << _S16) | np.asarray(port_me).astype(np.uint64)
        h = _mix(np.asarray(them_lo, np.uint64) ^ self._key)
        h = _mix(h ^ np.asarray(them_hi, np.uint64) ^ (ports * _M1))
        h = _mix(h ^ np.asarray(me_lo, np.uint64))
        h = _mix(h ^ np.asarray(me_hi, np.uint64))
        return (h & np.uint64(0xFFFFFFFF)).astype(np.uint32)

    # ---------------------------------------------------------------------------- lookup

    def lookup(self, them_hi: U64, them_lo: U64, me_hi: U64, me_lo: U64,
               port_them: NDArray[np.integer], port_me: NDArray[np.integer],
               h: NDArray[np.uint32] | None = None) -> NDArray[np.int32]:
        """Slot of each 4-tuple, or -1 (vectorized over the arrays)."""
        them_hi, them_lo = np.asarray(them_hi, np.uint64), np.asarray(them_lo, np.uint64)
        me_hi, me_lo = np.asarray(me_hi, np.uint64), np.asarray(me_lo, np.uint64)
        pt, pm = np.asarray(port_them).astype(np.uint16), np.asarray(port_me).astype(np.uint16)
        n = len(them_lo)
        res = np.full(n, -1, np.int32)
        if n == 0 or self.live == 0:
            return res
        if h is None:
            h = self.hash(them_hi, them_lo, me_hi, me_lo, pt, pm)
        pos = h.astype(np.int64) & self._mask
        idx = np.arange(n)
        while idx.size:
            s = self.buckets[pos]
            full = s >= 0
            ss = np.where(full, s, 0)
            eq = (full & (self.them_lo[ss] == them_lo[idx]) & (self.port_them[ss] == pt[idx])
                  & (self.port_me[ss] == pm[idx]) & (self.me_lo[ss] == me_lo[idx])
                  & (self.them_hi[ss] == them_hi[idx]) & (self.me_hi[ss] == me_hi[idx]))
            res[idx[eq]] = s[eq]
            more = full & ~eq
            idx, pos = idx[more], (pos[more] + 1) & self._mask
        return res

    def find(self, them_hi: int, them_lo: int, me_hi: int, me_lo: int, port_them: int,
             port_me: int) -> int:
        """Scalar lookup: the slot or -1."""
        a = lambda v: np.array([v], np.uint64)  # noqa: E731
        return int(self.lookup(a(them_hi), a(them_lo), a(me_hi), a(me_lo),
                               np.array([port_them]), np.array([port_me]))[0])

    # ---------------------------------------------------------------------------- insert / delete

    def insert(self, them_hi: int, them_lo: int, me_hi: int, me_lo: int, port_them: int,
               port_me: int, h: int) -> int:
        """Take a free slot for a tuple that is not in the table; return it (`state` 1, the
        other columns are the caller's to fill)."""
        if self._nfree == 0:  # (released slots wait for recycle(): never reused mid-call)
            self._resize(self.capacity * 2)
        self._nfree -= 1
        slot = self.v_free[self._nfree]
        if slot >= self.used:
            self.used = slot + 1
        self.v_them_hi[slot], self.v_them_lo[slot] = them_hi, them_lo
        self.v_me_hi[slot], self.v_me_lo[slot] = me_hi, me_lo
        self.v_port_them[slot], self.v_port_me[slot] = port_them, port_me
        self.v_hash32[slot] = h
        self.v_flags[slot] = 0
        self.v_retries[slot] = 0
        self.v_state[slot] = 1
        mask = self._mask
        b = h & mask
        buckets = self.v_buckets
        while buckets[b] >= 0:
            b = (b + 1) & mask
        buckets[b] = slot
        self.live += 1
        return slot

    def remove(self, slot: int) -> None:
        """Forget a slot: out of the index at once (backward-shift deletion), `state` 0; the
        slot itself returns to the free list only at `recycle()`, so its columns stay readable
        until the end of the current stack call (queued segments read them)."""
        mask, buckets, hash32 = self._mask, self.v_buckets, self.v_hash32
        i = hash32[slot] & mask
        while buckets[i] != slot:
            if buckets[i] < 0:
                raise KeyError(f"slot {slot} is not in the index")
            i = (i + 1) & mask
        j = i
        while True:
            j = (j + 1) & mask
            s = buckets[j]
            if s < 0:
                break
            home = hash32[s] & mask
            # move s back to i unless its home lies cyclically in (i, j]
            if (i < j and (home <= i or home > j)) or (i > j and home <= i and home > j):
                buckets[i] = s
                i = j
        buckets[i] = -1
        self.v_state[slot] = 0
        self._released.append(slot)
        self.live -= 1

    def recycle(self) -> None:
        """Put the slots removed since the last call back on the free list."""
        rel = self._released
        if rel:
            k = len(rel)
            self._free[self._nfree:self._nfree + k] = rel
            self._nfree += k
            rel.clear()

    def live_slots(self) -> NDArray[np.intp]:
        return np.flatnonzero(self.state[:self.used] != 0)
