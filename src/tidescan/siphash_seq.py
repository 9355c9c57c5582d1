"""The IPv4 sequence-number cookie (low 32 bits of masscan's SipHash-2-4 cookie), at the fewest
NumPy passes we know how to write.

Why this exists: the cookie is the largest share of a probe's Python cost (docs/benchmarks.md,
"Offline generation").  `siphash.cookie4_array` is the general vectorized hash (any shapes, the
full 64-bit value); this module computes exactly its low 32 bits for 1-D batches, which is all a
TCP sequence number, an ICMP id/seq or a UDP protocol id ever uses, and does less work to get
there.  Same key, same message, same result: tests/test_siphash_seq.py compares the two on random
inputs and on masscan's vectors.

Theory of operation.  The message is 16 bytes: block m0 = `ip_them | port_them << 32`, block
m1 = `ip_me | port_me << 32`, then SipHash's length block `16 << 56`; 2 compression rounds per
block, 4 finalization rounds: 10 SipRounds of 14 word operations each.  A NumPy ufunc call is one
pass over a chunk of every lane, and a rotation costs three passes (two shifts and an OR), so a
plain SipRound is 26 passes.  What is saved here:

- the first half-round never sees the message: v0, v1 are constants after it, so SipRound 1 is
  folded at construction and costs 15 passes, with no `fill`;
- the last SipRound only has to produce `v0 ^ v1 ^ v2 ^ v3`: the final v0 cancels out of that
  XOR (it is also mixed into v3), so its rotation and addition are skipped, and only the low 32
  bits of the result are formed (`lo(v2) ^ hi(v2)` replaces `rotl(v2, 32) ^ v2`);
- m1 is a 0-d array when the source address and port are constant (the common scan), so it is
  never broadcast into an array;
- every ufunc writes into preallocated scratch arrays (`out=`), chunk by chunk (16k lanes: the
  six 128 KiB arrays stay in L2), and the result goes straight into the caller's uint32 array.

All arithmetic is on `uint64` arrays, which wrap modulo 2**64 without warnings.  Rotating by 32 as
a swap of uint32 halves (two strided copies) and smaller chunks were measured and are not faster.

The optional C kernel.  `seq4_array` hands the work to `tidescan._accel.seq4` (src/tidescan/
_accel.c, ~10x less CPU per cookie) when that extension was built, unless TIDESCAN_PURE_PYTHON
is set (`tidescan.accel` decides, once).  The argument checks, broadcasting and `out` handling
below are shared by both paths, so the interface and the results are the same; `Seq4` itself is
always the NumPy path (the tests compare the two in one process).
"""

from __future__ import annotations

import threading

import numpy as np
from numpy.typing import ArrayLike, NDArray

from tidescan.accel import ACCEL

__all__ = ["Seq4", "seq4_array"]

_M64 = (1 << 64) - 1
_C0, _C1, _C2, _C3 = 0x736F6D6570736575, 0x646F72616E646F6D, 0x6C7967656E657261, 0x7465646279746573
_LEN_BLOCK = 16 << 56  # 16-byte message: the final block is just the length byte

CHUNK = 16384  # lanes per pass (see the module docstring)


def _c(x: int) -> NDArray[np.uint64]:
    """A constant operand as a 0-d array: ufunc calls take it ~0.2 us faster than a NumPy scalar."""
    return np.array(x, dtype=np.uint64)


_S = {b: (_c(b), _c(64 - b)) for b in (13, 16, 17, 21, 32)}


def _rotl(x: int, b: int) -> int:
    return ((x << b) | (x >> (64 - b))) & _M64


class Seq4:
    """Scratch space for `seq4_array`: six uint64 arrays of `chunk` lanes, reused call after
    call (one per thread or process; not safe to share between threads)."""

    def __init__(self, chunk: int = CHUNK) -> None:
        self.chunk = int(chunk)
        self.m, self.v0, self.v1, self.v2, self.v3, self.t = (np.empty(self.chunk, np.uint64)
                                                              for _ in range(6))
        self._key: int | None = None
        self._const: tuple[NDArray[np.uint64], ...] = ()

    def __call__(self, ip_them: ArrayLike, port_them: ArrayLike, ip_me: ArrayLike,
                 port_me: ArrayLike, entropy: int,
                 out: NDArray[np.uint32] | None = None) -> NDArray[np.uint32]:
        """Low 32 bits of `cookie4_array(...)` for 1-D arrays (scalars broadcast), into `out`."""
        arrays, shape, n = _columns(ip_them, port_them, ip_me, port_me)
        if out is None:
            result = np.empty(shape, dtype=np.uint32)
            out = result.reshape(n)
        else:
            out = result = out[:n]
        arrays = [a.reshape(()) if a.shape == (1,) else a for a in arrays]  # broadcast 1 -> n
        k = int(entropy) & _M64
        if k != self._key:
            self._key, self._const = k, _constants(k, k)
        const = self._const
        them, pt, me, pm = arrays
        m1: NDArray[np.uint64] | None = None
        if me.ndim == 0 and pm.ndim == 0:  # constant source: m1 is a scalar
            m1 = _c((int(me) & 0xFFFFFFFF) | ((int(pm) & 0xFFFFFFFF) << 32))
        for lo in range(0, n, self.chunk):
            hi = min(n, lo + self.chunk)
            self._chunk(them, pt, me, pm, m1, lo, hi, const, out[lo:hi])
        return result

    def _block(self, dst: NDArray[np.uint64], ip: NDArray, port: NDArray, lo: int,
               hi: int) -> None:
        """dst = ip & 0xFFFFFFFF | port << 32 (element range [lo, hi), or a broadcast scalar)."""
        halves = dst.view(np.uint32).reshape(-1, 2)
        halves[:, 0] = ip if ip.ndim == 0 else ip[lo:hi]      # unsafe cast: keeps the low 32 bits
        halves[:, 1] = port if port.ndim == 0 else port[lo:hi]

    def _chunk(self, them: NDArray, pt: NDArray, me: NDArray, pm: NDArray,
               m1_scalar: NDArray[np.uint64] | None, lo: int, hi: int, c: tuple[NDArray[np.uint64], ...],
               out: NDArray[np.uint32]) -> None:
        k = hi - lo
        m, v0, v1, v2, v3, t = (a[:k] for a in (self.m, self.v0, self.v1, self.v2, self.v3,
                                                 self.t))
        add, xor, lsh, rsh = np.add, np.bitwise_xor, np.left_shift, np.right_shift
        v0c, v1c, v2c, v3c, a0r, b1, b1r17, lenb, ff = c

        def rot_xor(x: NDArray[np.uint64], b: int, y: NDArray[np.uint64]) -> None:
            left, right = _S[b]
            rsh(x, right, out=t)
            lsh(x, left, out=x)
            xor(x, t, out=x)
            xor(x, y, out=x)

        def rot32(x: NDArray[np.uint64]) -> None:
            left, right = _S[32]
            rsh(x, right, out=t)
            lsh(x, left, out=x)
            xor(x, t, out=x)

        def sipround() -> None:
            add(v0, v1, out=v0)
            rot_xor(v1, 13, v0)
            rot32(v0)
            add(v2, v3, out=v2)
            rot_xor(v3, 16, v2)
            add(v0, v3, out=v0)
            rot_xor(v3, 21, v0)
            add(v2, v1, out=v2)
            rot_xor(v1, 17, v2)
            rot32(v2)

        # Block m0, SipRound 1 folded: v0, v1 are key constants until v3 (= m0 ^ v3c) arrives.
        self._block(m, them, pt, lo, hi)
        xor(m, v3c, out=v3)
        add(v3, v2c, out=v2)
        rot_xor(v3, 16, v2)
        add(v3, a0r, out=v0)
        rot_xor(v3, 21, v0)
        add(v2, b1, out=v2)
        xor(v2, b1r17, out=v1)
        rot32(v2)
        sipround()
        xor(v0, m, out=v0)
        # Block m1 (ip_me, port_me): a scalar when the source is constant.
        if m1_scalar is None:
            self._block(m, me, pm, lo, hi)
            m1 = m
        else:
            m1 = m1_scalar
        xor(v3, m1, out=v3)
        sipround()
        sipround()
        xor(v0, m1, out=v0)
        # The length block, then finalization.
        xor(v3, lenb, out=v3)
        sipround()
        sipround()
        xor(v0, lenb, out=v0)
        xor(v2, ff, out=v2)
        sipround()
        sipround()
        sipround()
        # SipRound 10, trimmed: result = rotl(v1', 17) ^ rotl(v3', 21) ^ v2' ^ rotl(v2', 32).
        add(v0, v1, out=v0)
        rot_xor(v1, 13, v0)
        add(v2, v3, out=v2)
        rot_xor(v3, 16, v2)
        add(v2, v1, out=v2)
        for x, b in ((v1, 17), (v3, 21)):
            left, right = _S[b]
            rsh(x, right, out=t)
            lsh(x, left, out=x)
            xor(x, t, out=x)
        xor(v1, v3, out=v1)
        xor(v1, v2, out=v1)
        halves1 = v1.view(np.uint32)
        halves2 = v2.view(np.uint32)
        xor(halves1[0::2], halves2[1::2], out=out)


def _constants(k0: int, k1: int) -> tuple[NDArray[np.uint64], ...]:
    """Key-only values: the initial state and what SipRound 1 computes before seeing m0."""
    v0, v1, v2, v3 = k0 ^ _C0, k1 ^ _C1, k0 ^ _C2, k1 ^ _C3
    a0 = (v0 + v1) & _M64           # v0 += v1
    b1 = _rotl(v1, 13) ^ a0         # v1 = rotl(v1, 13) ^ v0
    a0r = _rotl(a0, 32)             # v0 = rotl(v0, 32)
    return tuple(_c(x) for x in (v0, v1, v2, v3, a0r, b1, _rotl(b1, 17), _LEN_BLOCK, 0xFF))


def _columns(*cols: ArrayLike) -> tuple[list[NDArray], tuple[int, ...], int]:  # type: ignore[type-arg]
    """The four tuple columns as arrays, checked (non-negative integers, scalars or 1-D), with
    their broadcast shape and length."""
    arrays = [np.asarray(a) for a in cols]
    for a in arrays:
        if a.dtype.kind not in "iu":
            raise TypeError(f"expected integers, got {a.dtype}")
        if a.dtype.kind == "i" and a.size and a.min() < 0:
            raise ValueError("negative value where an address or port was expected")
    if any(a.ndim > 1 for a in arrays):
        raise ValueError("seq4_array takes scalars or 1-D arrays")
    shape = np.broadcast_shapes(*(a.shape for a in arrays))
    return arrays, shape, int(shape[0]) if shape else 1


def _c_column(a: NDArray) -> int | NDArray:  # type: ignore[type-arg]
    """A checked column as `_accel` takes it: an int (one value for every lane), or a native,
    contiguous, unsigned 1-D array (signed arrays were checked non-negative: viewed as unsigned)."""
    if a.size == 1:
        return int(a.reshape(()))
    unsigned = np.dtype(f"u{a.dtype.itemsize}")
    if a.dtype != unsigned:
        a = a.view(unsigned) if a.dtype.isnative else a.astype(unsigned)
    return np.ascontiguousarray(a)


def _seq4_c(ip_them: ArrayLike, port_them: ArrayLike, ip_me: ArrayLike, port_me: ArrayLike,
            entropy: int, out: NDArray[np.uint32] | None) -> NDArray[np.uint32]:
    """`seq4_array` on the C kernel: same checks, shapes and `out` contract as `Seq4`."""
    assert ACCEL is not None
    arrays, shape, n = _columns(ip_them, port_them, ip_me, port_me)
    cols = [_c_column(a) for a in arrays]
    if out is None:
        result = np.empty(shape, dtype=np.uint32)
        ACCEL.seq4(*cols, int(entropy), result.reshape(n))
        return result
    result = out[:n]
    if result.dtype == np.uint32 and result.dtype.isnative and result.flags.c_contiguous:
        ACCEL.seq4(*cols, int(entropy), result)
    else:
        tmp = np.empty(n, dtype=np.uint32)
        ACCEL.seq4(*cols, int(entropy), tmp)
        result[...] = tmp
    return result


_local = threading.local()


def seq4_array(ip_them: ArrayLike, port_them: ArrayLike, ip_me: ArrayLike, port_me: ArrayLike,
               entropy: int, out: NDArray[np.uint32] | None = None) -> NDArray[np.uint32]:
    """Low 32 bits of masscan's IPv4 cookie (`siphash.cookie4_array`) as uint32, for scalars or
    1-D arrays of one length; each value's low 32 bits are hashed, like `cookie4`.  Runs the C
    kernel when `tidescan.accel` chose it, else a per-thread `Seq4` scratch space; pass `out` to
    avoid allocating the result."""
    if ACCEL is not None:
        return _seq4_c(ip_them, port_them, ip_me, port_me, entropy, out)
    work = getattr(_local, "work", None)
    if work is None:
        work = _local.work = Seq4()
    return work(ip_them, port_them, ip_me, port_me, entropy, out)
