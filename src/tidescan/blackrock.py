"""BlackRock: masscan's keyed permutation of the scan space, scalar and vectorized.

Why this exists: a scan visits every index `0 <= i < range` exactly once, but in an order that
looks random (no subnet is hammered, no IDS sees a sweep) and is reproducible from `--seed` alone,
so that shards on several machines and a resumed scan agree on the order with no shared state.
`shuffle(i)` is that order: a format-preserving block cipher on the domain `[0, range)`.

Theory of operation (masscan.md §5, Black & Rogaway's "generalized Feistel" with cycle walking):

- The domain is split as `a x b >= range` with `a ~ sqrt(range) - 2`, `b ~ sqrt(range) + 3`
  (`b` is bumped until `a*b > range`; ranges <= 8 use a fixed table).
- ENCRYPT(m): `L = m % a`, `R = m // a`; for rounds `j = 1..r`:
  `L, R = R, ((L + F(j, R)) mod 2**64) mod (a if j odd else b)`; the result is `a*L + R` (odd
  `r`) or `a*R + L` (even `r`).  It is a permutation of `[0, a*b)`.
- shuffle(m) = ENCRYPT(m), re-encrypted while the result is still `>= range` ("cycle walking";
  `a*b` is only slightly larger than `range`, so this rarely takes more than one extra step).
- F(j, R): `R ^= rotl-ish(seed, j)`, then each byte of R (xored with `seed ^ j`) goes through
  the 256-byte S-box and the eight results are spread over a 64-bit word.  All arithmetic wraps at
  2**64, *before* the modulo, exactly as masscan's C does: this is what makes our order equal to
  masscan's for the same seed (see the vectors in tests/test_blackrock.py).

Vectorized evaluation: F is an XOR of one S-box term per byte of R, each term placed at a fixed
bit position.  So for round j, F is the XOR of per-byte 256-entry tables (the seed and round
number are folded into the tables once, at construction), and bytes of R that are always zero
(R < max(a, b)) fold into a per-round constant.  When `max(a, b)` is small enough (ranges up to
about 2**34, i.e. the whole IPv4 space with a few ports), we go one step further and tabulate
`F(j, R) mod modulus_j` for every possible R of every round (<= 16 MiB): a round is then one
gather, one add and a branch-free conditional subtract, with no 64-bit division at all, on the
narrowest unsigned dtype that holds `2 * max(a, b)` (uint16 up to ranges of ~2**30: 14 tables of
~26 KiB stay in L1; the gather and the three passes cost half of what uint64 did).  The rare R for
which `L + F` could wrap past 2**64 are listed per round and recomputed exactly.

The S-box is a data table (masscan's `sbox[]` in `crypto-blackrock.c`), taken from the project's
reference file shared/reference/blackrock-sbox.txt; it is needed byte for byte to reproduce
masscan's scan order.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["BlackRock", "SBOX"]

_M64 = (1 << 64) - 1

# 256-byte S-box, from shared/reference/blackrock-sbox.txt (masscan crypto-blackrock.c `sbox[]`).
SBOX = bytes.fromhex(
    "9158b3316c33da8857dd8cf2295a089f4934ce999ebf0f81d42f923f95f52300"
    "0d3ea89098dd200003690acaba1208416eb986e450f084e2b3b3c8b5b22d1870"
    "0ad792909e1e0c1f08e806fd852faa5dcff9e355b9fea67f443b4a4fc92fd2d3"
    "8edcaeba4f02b476ba642d079e08ecbd522907bb9fb5586f0755b034749f05b2"
    "dfa9c62aa35dff1040b3b7b4636ef43eeef64952e311b3f1fb6048a1a4197a2e"
    "9028908d5e8c8cc4f24af6b21983eaed6dbafed8b6a35ab448fabe5c69ac3c8f"
    "63afa4422550ab658065b9fbc7f22d5ce34ca4a68e079ceb419365444a86c1f6"
    "2c97fdf46cdce1e028d9897b09e2a038744aa65ed2e24df3f4c6bca25158e8ae"
)
assert len(SBOX) == 256

# Where the S-box output of byte k of R lands in F: r0 = B0|B1<<8, r1 = B2<<16|B3<<24,
# r2 = B4|B5<<8, r3 = B6<<16|B7<<24, F = r0 ^ r1 ^ r2<<23 ^ r3<<33 (mod 2**64).
_PLACE = (0, 8, 16, 24, 23, 31, 49, 57)

# Small ranges use fixed (a, b) (masscan's blackrock_init).
_SMALL = {0: (0, 0), 1: (1, 1), 2: (1, 2), 3: (2, 2), 4: (2, 3), 5: (2, 3), 6: (2, 3), 7: (3, 3),
          8: (3, 3)}

# Tabulate F mod modulus for all R when the tables fit in this many bytes (uint64 entries).
_TABLE_BYTES = 16 << 20


def _split(range_: int) -> tuple[int, int]:
    """masscan's (a, b): a*b > range_, both near sqrt(range_) (C double sqrt, truncation)."""
    if range_ in _SMALL:
        a, b = _SMALL[range_]
    else:
        root = math.sqrt(float(range_))
        a = int(root - 2.0)
        b = int(root + 3.0)
    if range_ > 0:
        while a * b <= range_:
            b += 1
    return a, b


def _mix(seed: int, j: int) -> int:
    """The seed rotation xored into R in round j: (seed << j) ^ (seed >> (64 - j))."""
    return ((seed << j) ^ (seed >> (64 - j))) & _M64


def _round_f(seed: int, j: int, r: int) -> int:
    """Round function F(j, R) on Python ints (the reference; 64-bit wraparound)."""
    r ^= _mix(seed, j)
    f = 0
    for k in range(8):
        f ^= SBOX[((r >> (8 * k)) ^ seed ^ j) & 0xFF] << _PLACE[k]
    return f & _M64


class BlackRock:
    """The permutation of `[0, range_)` for one seed: `shuffle`, `unshuffle`, `shuffle_array`."""

    def __init__(self, range_: int, seed: int, rounds: int = 14) -> None:
        if range_ < 0:
            raise ValueError("range_ must be >= 0")
        if not 0 <= rounds <= 63:
            raise ValueError("rounds must be in 0..63")
        self.range = int(range_)
        self.seed = int(seed) & _M64
        self.rounds = int(rounds)
        self.a, self.b = _split(self.range)
        if self.a * self.b > _M64:
            raise ValueError(f"range_ {range_} too large (a*b must fit in 64 bits)")
        self._tables: list[NDArray[np.unsignedinteger]] | None = None
        self._dtype = np.dtype(np.uint64)  # of the halves in the tabulated rounds (_prepare)
        self._moduli: list[NDArray[np.unsignedinteger]] = []
        self._wraps: list[NDArray[np.uint64]] = []
        self._byte_tables: list[tuple[int, list[NDArray[np.uint64]]]] = []
        if self.range > 0:
            self._prepare()

    def __repr__(self) -> str:
        return f"BlackRock(range_={self.range}, seed={self.seed}, rounds={self.rounds})"

    # ---------------------------------------------------------------- scalar reference

    def _modulus(self, j: int) -> int:
        return self.a if j & 1 else self.b

    def _encrypt(self, m: int) -> int:
        a, seed = self.a, self.seed
        left, right = m % a, m // a
        for j in range(1, self.rounds + 1):
            tmp = ((left + _round_f(seed, j, right)) & _M64) % self._modulus(j)
            left, right = right, tmp
        return a * left + right if self.rounds & 1 else a * right + left

    def _decrypt(self, c: int) -> int:
        a, seed = self.a, self.seed
        if self.rounds & 1:
            left, right = c // a, c % a
        else:
            right, left = c // a, c % a
        for j in range(self.rounds, 0, -1):
            # Forward round j was: left' = right, right' = ((left + F) mod 2**64) mod M.
            mod = self._modulus(j)
            prev_right = left
            f = _round_f(seed, j, prev_right)
            prev_left = (right - f) % mod
            if ((prev_left + f) & _M64) % mod != right:  # the addition wrapped at 2**64
                prev_left = (right - f + (1 << 64)) % mod
            left, right = prev_left, prev_right
        return a * right + left

    def _check(self, m: int) -> None:
        if not 0 <= m < self.range:
            raise ValueError(f"index {m} outside [0, {self.range})")

    def shuffle(self, m: int) -> int:
        """The m-th index of the scan order (a permutation of [0, range_))."""
        self._check(m)
        c = self._encrypt(m)
        while c >= self.range:
            c = self._encrypt(c)
        return c

    def unshuffle(self, m: int) -> int:
        """Inverse of `shuffle`: unshuffle(shuffle(i)) == i.

        (Exact whenever every Feistel round is a bijection; a round can fail to be one only when
        `F > 2**64 - modulus`, which for masscan's S-box has probability about modulus / 2**64.)
        """
        self._check(m)
        c = self._decrypt(m)
        while c >= self.range:
            c = self._decrypt(c)
        return c

    # ---------------------------------------------------------------- vectorized

    def _prepare(self) -> None:
        """Fold seed and round number into per-round byte tables; tabulate F mod M if small."""
        seed = self.seed
        sbox = np.frombuffer(SBOX, dtype=np.uint8).astype(np.uint64)
        v = np.arange(256, dtype=np.uint64)
        for j in range(1, self.rounds + 1):
            # R in round j is < b for odd j (initial m // a, then mod-b outputs), < a for even j.
            r_max = (self.b if j & 1 else self.a) - 1
            nbytes = max(1, (r_max.bit_length() + 7) // 8)
            mix = _mix(seed, j)
            const = 0
            tables = []
            for k in range(8):
                key = (((mix >> (8 * k)) ^ seed ^ j) & 0xFF)
                if k < nbytes:
                    t = sbox[(v ^ np.uint64(key)).astype(np.intp)] << np.uint64(_PLACE[k])
                    tables.append(np.ascontiguousarray(t))
                else:
                    const ^= (SBOX[key] << _PLACE[k]) & _M64
            self._byte_tables.append((const, tables))

        sizes = [(self.b if j & 1 else self.a) for j in range(1, self.rounds + 1)]
        if sum(sizes) * 8 <= _TABLE_BYTES:
            # Both halves and every table entry are < max(a, b), and a round adds two of them:
            # the narrowest dtype that holds 2 * max(a, b) keeps the tables in L1 (uint16 up to
            # ranges of ~2**30) and halves or quarters every pass.
            self._dtype = np.dtype(np.uint16 if max(sizes, default=0) < 1 << 15 else np.uint32)
            self._tables = []
            for j, size in zip(range(1, self.rounds + 1), sizes):
                r = np.arange(size, dtype=np.uint64)
                f = self._f_array(j, r)
                mod = self._modulus(j)
                # L + F wraps for some L < mod iff F > 2**64 - mod: keep those R for exact fixup.
                self._wraps.append(r[f > np.uint64((1 << 64) - mod)])
                self._tables.append((f % np.uint64(mod)).astype(self._dtype))
            self._moduli = [np.array(self._modulus(j), dtype=self._dtype)
                            for j in range(1, self.rounds + 1)]

    def _f_array(self, j: int, r: NDArray[np.uint64],
                 out: NDArray[np.uint64] | None = None) -> NDArray[np.uint64]:
        """F(j, R) for a uint64 array R (each R < the round's bound), via the byte tables."""
        const, tables = self._byte_tables[j - 1]
        f = np.empty(r.shape, dtype=np.uint64) if out is None else out
        f.fill(const)
        idx = np.empty(r.shape, dtype=np.uint64)
        term = np.empty(r.shape, dtype=np.uint64)
        last = len(tables) - 1
        for k, table in enumerate(tables):
            if k == 0:
                np.bitwise_and(r, np.uint64(0xFF), out=idx)
            else:
                np.right_shift(r, np.uint64(8 * k), out=idx)
                if k != last:
                    np.bitwise_and(idx, np.uint64(0xFF), out=idx)
            np.take(table, idx.view(np.int64), out=term, mode="clip")
            np.bitwise_xor(f, term, out=f)
        return f

    def _round_array(self, j: int, left: NDArray[np.uint64], right: NDArray[np.uint64],
                     out: NDArray[np.uint64], tmp: NDArray[np.uint64]) -> None:
        """out = ((left + F(j, right)) mod 2**64) mod M_j, elementwise (`tmp` is scratch)."""
        mod = self._modulus(j)
        umod = np.uint64(mod)
        if self._tables is not None:
            np.take(self._tables[j - 1], right, out=out, mode="clip")
            np.add(out, left, out=out)  # both < mod and 2 * mod fits the dtype: no wrap here
            # Conditional subtract without a mask: out - mod wraps to a huge value when out < mod.
            np.subtract(out, self._moduli[j - 1], out=tmp)
            np.minimum(out, tmp, out=out)
            wraps = self._wraps[j - 1]
            if wraps.size:  # astronomically rare; exact per-element fixup
                for i in np.flatnonzero(np.isin(right, wraps)):
                    f = _round_f(self.seed, j, int(right[i]))
                    out[i] = ((int(left[i]) + f) & _M64) % mod
            return
        self._f_array(j, right, out)
        np.add(out, left, out=out)  # uint64 array addition wraps at 2**64, like the C code
        np.remainder(out, umod, out=out)

    def _encrypt_array(self, m: NDArray[np.uint64]) -> NDArray[np.uint64]:
        a = np.array(self.a, dtype=np.uint64)
        result = np.floor_divide(m, a)  # by a constant: NumPy's libdivide path, unlike divmod
        tmp = np.multiply(result, a)
        np.subtract(m, tmp, out=tmp)   # m % a
        dt = self._dtype if self._tables is not None else np.dtype(np.uint64)
        right = result.astype(dt)
        left = tmp.astype(dt)
        spare = np.empty_like(left)
        tmp = np.empty_like(left)
        for j in range(1, self.rounds + 1):
            # (L, R) <- (R, round(L, R)); the old L buffer becomes free for the next round.
            self._round_array(j, left, right, spare, tmp)
            left, right, spare = right, spare, left
        hi, lo = (left, right) if self.rounds & 1 else (right, left)
        np.multiply(hi, a, out=result)
        np.add(result, lo, out=result)
        return result

    def shuffle_array(self, m: ArrayLike) -> NDArray[np.uint64]:
        """Vectorized `shuffle`: every element of `m` (0 <= m < range_) mapped; uint64 result."""
        arr = np.asarray(m)
        if arr.dtype != np.uint64:
            if arr.dtype.kind not in "iu":
                raise TypeError(f"expected integer indexes, got {arr.dtype}")
            if arr.dtype.kind == "i" and arr.size and arr.min() < 0:
                raise ValueError("negative index")
            arr = arr.astype(np.uint64)
        shape = arr.shape
        flat = arr.reshape(-1)
        if flat.size == 0:
            return np.empty(shape, dtype=np.uint64)
        if int(flat.max()) >= self.range:
            raise ValueError(f"index outside [0, {self.range})")
        with np.errstate(over="ignore"):
            out = self._encrypt_array(flat)
            limit = np.uint64(self.range)
            walk = np.flatnonzero(out >= limit)
            while walk.size:  # cycle walking: re-encrypt only what is still out of range
                again = self._encrypt_array(out[walk])
                out[walk] = again
                walk = walk[again >= limit]
        return out.reshape(shape)
