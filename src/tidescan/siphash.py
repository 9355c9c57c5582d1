"""SipHash-2-4 and the SYN cookies built on it: how a stateless scanner knows its own replies.

Why this exists: the transmit side and the receive side share nothing but the seed.  Every probe
carries a *cookie* (the TCP sequence number, the ICMP id/seq, a UDP protocol id...) computed as a
keyed hash of the connection tuple; the receive side recomputes the hash from the reply's tuple and
accepts the reply only if the echoed value matches.  No table of outstanding probes is needed, so a
scan can be sharded across machines or resumed from a single index.

The cookie is masscan's (reference masscan.md §6), so a tidescan sender and a masscan receiver (or
the other way round) agree bit for bit:

- key = the 64-bit entropy (`--seed`) twice, as two little-endian 64-bit words (16 bytes);
- IPv4 message (16 bytes): four little-endian uint32 `ip_them, port_them, ip_me, port_me`, where
  `port_them` is the *internal* port (UDP + 65536, ICMP echo 196608, ...);
- IPv6 message (40 bytes): five little-endian uint64 `them.hi, them.lo, me.hi, me.lo,
  port_them << 16 | port_me`;
- the cookie is the full 64-bit SipHash value; a TCP sequence number uses its low 32 bits.

Theory of the vectorized version: the message length is fixed (16 or 40 bytes), so the byte-level
SipHash loop collapses into a fixed sequence of 64-bit word operations: two (or five) message
words, then the length word `len << 56`, then finalization.  Each word operation is applied to a
whole NumPy `uint64` array at once, in place, with one scratch array; rotations are two shifts and
an OR.  NumPy `uint64` *array* arithmetic wraps modulo 2**64 without warnings (only NumPy
*scalar* arithmetic warns), and every input is first broadcast into a fresh contiguous array, so
the hot loop never touches a NumPy scalar; an `errstate(over="ignore")` guard documents and
enforces that wraparound is intended.  On this project's shared 2-core machine a 64k batch runs at
6-9 M IPv4 cookies/s and 5-6 M IPv6 cookies/s (bench/bench_core.py).

`cookie4_array` hands 0-d and 1-D batches to the optional C kernel (`tidescan._accel.cookie4`,
chosen by `tidescan.accel`; TIDESCAN_PURE_PYTHON=1 keeps this NumPy path): same conversions and
checks first, same values (tests/test_accel.py).

`siphash24(key, msg)` is the plain byte-oriented reference (any length), used by the tests to tie
the fast path to the published SipHash test vectors.
"""

from __future__ import annotations

import struct
from types import ModuleType

import numpy as np
from numpy.typing import ArrayLike, NDArray

from tidescan.accel import ACCEL

__all__ = [
    "siphash24",
    "cookie4",
    "cookie6",
    "cookie4_array",
    "cookie6_array",
]

_M64 = (1 << 64) - 1
_M32 = (1 << 32) - 1

# SipHash initialisation constants ("somepseudorandomlygeneratedbytes").
_C0 = 0x736F6D6570736575
_C1 = 0x646F72616E646F6D
_C2 = 0x6C7967656E657261
_C3 = 0x7465646279746573


# --------------------------------------------------------------------------------------------
# Scalar reference
# --------------------------------------------------------------------------------------------

def _rotl(x: int, b: int) -> int:
    return ((x << b) | (x >> (64 - b))) & _M64


def _sipround(v0: int, v1: int, v2: int, v3: int) -> tuple[int, int, int, int]:
    v0 = (v0 + v1) & _M64
    v1 = _rotl(v1, 13) ^ v0
    v0 = _rotl(v0, 32)
    v2 = (v2 + v3) & _M64
    v3 = _rotl(v3, 16) ^ v2
    v0 = (v0 + v3) & _M64
    v3 = _rotl(v3, 21) ^ v0
    v2 = (v2 + v1) & _M64
    v1 = _rotl(v1, 17) ^ v2
    v2 = _rotl(v2, 32)
    return v0, v1, v2, v3


def siphash24(key: bytes, msg: bytes) -> int:
    """SipHash-2-4 of `msg` under the 16-byte `key`, as an unsigned 64-bit integer.

    The integer is the little-endian reading of the 8 output bytes of the reference C code.
    """
    if len(key) != 16:
        raise ValueError(f"SipHash key must be 16 bytes, got {len(key)}")
    k0, k1 = struct.unpack("<QQ", key)
    v0, v1, v2, v3 = k0 ^ _C0, k1 ^ _C1, k0 ^ _C2, k1 ^ _C3
    n = len(msg)
    full = n - (n % 8)
    for off in range(0, full, 8):
        (m,) = struct.unpack_from("<Q", msg, off)
        v3 ^= m
        v0, v1, v2, v3 = _sipround(v0, v1, v2, v3)
        v0, v1, v2, v3 = _sipround(v0, v1, v2, v3)
        v0 ^= m
    tail = msg[full:] + bytes(8 - (n - full))
    b = ((n & 0xFF) << 56) | struct.unpack("<Q", tail)[0]
    v3 ^= b
    v0, v1, v2, v3 = _sipround(v0, v1, v2, v3)
    v0, v1, v2, v3 = _sipround(v0, v1, v2, v3)
    v0 ^= b
    v2 ^= 0xFF
    for _ in range(4):
        v0, v1, v2, v3 = _sipround(v0, v1, v2, v3)
    return v0 ^ v1 ^ v2 ^ v3


def _key(entropy: int) -> bytes:
    e = entropy & _M64
    return struct.pack("<QQ", e, e)


def cookie4(ip_them: int, port_them: int, ip_me: int, port_me: int, entropy: int) -> int:
    """masscan's IPv4 cookie: SipHash-2-4(entropy‖entropy, LE32 ip_them, port_them, ip_me, port_me)."""
    msg = struct.pack("<IIII", ip_them & _M32, port_them & _M32, ip_me & _M32, port_me & _M32)
    return siphash24(_key(entropy), msg)


def cookie6(them: int, port_them: int, me: int, port_me: int, entropy: int) -> int:
    """masscan's IPv6 cookie over LE64 them.hi, them.lo, me.hi, me.lo, port_them<<16|port_me."""
    ports = ((port_them << 16) | port_me) & _M64
    msg = struct.pack("<QQQQQ", (them >> 64) & _M64, them & _M64, (me >> 64) & _M64, me & _M64,
                      ports)
    return siphash24(_key(entropy), msg)


# --------------------------------------------------------------------------------------------
# Vectorized fixed-length SipHash
# --------------------------------------------------------------------------------------------

_SH = {b: (np.uint64(b), np.uint64(64 - b)) for b in (13, 16, 17, 21, 32)}


def _rotl_inplace(x: NDArray[np.uint64], b: int, tmp: NDArray[np.uint64]) -> None:
    left, right = _SH[b]
    np.right_shift(x, right, out=tmp)
    np.left_shift(x, left, out=x)
    np.bitwise_or(x, tmp, out=x)


def _sipround_arrays(v0: NDArray[np.uint64], v1: NDArray[np.uint64], v2: NDArray[np.uint64],
                     v3: NDArray[np.uint64], tmp: NDArray[np.uint64], rounds: int) -> None:
    add, xor = np.add, np.bitwise_xor
    for _ in range(rounds):
        add(v0, v1, out=v0)
        _rotl_inplace(v1, 13, tmp)
        xor(v1, v0, out=v1)
        _rotl_inplace(v0, 32, tmp)
        add(v2, v3, out=v2)
        _rotl_inplace(v3, 16, tmp)
        xor(v3, v2, out=v3)
        add(v0, v3, out=v0)
        _rotl_inplace(v3, 21, tmp)
        xor(v3, v0, out=v3)
        add(v2, v1, out=v2)
        _rotl_inplace(v1, 17, tmp)
        xor(v1, v2, out=v1)
        _rotl_inplace(v2, 32, tmp)


_CHUNK = 65536  # elements per pass: bounds the scratch memory (6 arrays of 512 KiB, L2-resident)


def siphash24_blocks(k0: int, k1: int, blocks: list[NDArray[np.uint64]],
                     shape: tuple[int, ...]) -> NDArray[np.uint64]:
    """SipHash-2-4 with key (k0, k1) over one message per element, given as its 64-bit blocks.

    `blocks[i]` holds the i-th little-endian message block of every message (broadcast to
    `shape`), the LAST block already carrying SipHash's final-block encoding (the tail bytes and
    `len << 56`).  Fixed-length messages make that encoding a constant, so callers build it with
    one OR (see `_siphash24_words` and the responder's masscanned cookie).  Returns uint64 of
    `shape`.  Work proceeds in chunks of `_CHUNK` elements so a huge batch neither allocates huge
    scratch arrays nor falls out of the cache (smaller chunks measured no faster here).
    """
    k0, k1 = k0 & _M64, k1 & _M64
    size = int(np.prod(shape, dtype=np.int64))
    flat = [np.ascontiguousarray(np.broadcast_to(m, shape)).reshape(size) for m in blocks]
    out = np.empty(size, dtype=np.uint64)
    n = min(size, _CHUNK)
    v0 = np.empty(n, dtype=np.uint64)
    v1 = np.empty(n, dtype=np.uint64)
    v2 = np.empty(n, dtype=np.uint64)
    v3 = np.empty(n, dtype=np.uint64)
    tmp = np.empty(n, dtype=np.uint64)
    init = (np.uint64(k0 ^ _C0), np.uint64(k1 ^ _C1), np.uint64(k0 ^ _C2), np.uint64(k1 ^ _C3))
    ff = np.uint64(0xFF)
    xor = np.bitwise_xor
    with np.errstate(over="ignore"):
        for start in range(0, size, _CHUNK):
            stop = min(size, start + _CHUNK)
            if stop - start != n:
                n = stop - start
                v0, v1, v2, v3, tmp = v0[:n], v1[:n], v2[:n], v3[:n], tmp[:n]
            v0.fill(init[0])
            v1.fill(init[1])
            v2.fill(init[2])
            v3.fill(init[3])
            for block in flat:
                m = block[start:stop]
                xor(v3, m, out=v3)
                _sipround_arrays(v0, v1, v2, v3, tmp, 2)
                xor(v0, m, out=v0)
            xor(v2, ff, out=v2)
            _sipround_arrays(v0, v1, v2, v3, tmp, 4)
            xor(v0, v1, out=v0)
            xor(v2, v3, out=v2)
            xor(v0, v2, out=out[start:stop])
    return out.reshape(shape)


def _siphash24_words(entropy: int, words: list[NDArray[np.uint64]],
                     shape: tuple[int, ...]) -> NDArray[np.uint64]:
    """masscan's cookie hash: key entropy‖entropy, a message of len(words) whole 64-bit words
    (so the final block is just the length byte)."""
    final = np.asarray(np.uint64((len(words) * 8) << 56))
    return siphash24_blocks(entropy, entropy, [*words, final], shape)


def _u64(x: ArrayLike) -> NDArray[np.uint64]:
    """Any integer array-like (or Python int up to 2**64-1) as a uint64 array, without wrapping
    negative values silently."""
    a = np.asarray(x)
    if a.dtype == np.uint64:
        return a
    if a.dtype.kind == "O":
        return np.asarray(a, dtype=np.uint64)
    if a.dtype.kind not in "iub":
        raise TypeError(f"expected integers, got {a.dtype}")
    if a.dtype.kind == "i" and a.size and a.min() < 0:
        raise ValueError("negative value where an address or port was expected")
    return a.astype(np.uint64)


def cookie4_array(ip_them: ArrayLike, port_them: ArrayLike, ip_me: ArrayLike,
                  port_me: ArrayLike, entropy: int) -> NDArray[np.uint64]:
    """Vectorized `cookie4`: the four tuple arguments broadcast together (any may be a scalar).

    Returns a fresh uint64 array of the broadcast shape.
    """
    cols = [_u64(ip_them), _u64(port_them), _u64(ip_me), _u64(port_me)]
    a, b, c, d = np.broadcast_arrays(*cols)
    if ACCEL is not None and a.ndim <= 1:
        return _cookie4_c(ACCEL, cols, a.shape, entropy)
    m32 = np.uint64(_M32)
    s32 = np.uint64(32)
    w0 = (a & m32) | ((b & m32) << s32)
    w1 = (c & m32) | ((d & m32) << s32)
    return _siphash24_words(entropy, [w0, w1], a.shape)


def _cookie4_c(kernel: ModuleType, cols: list[NDArray[np.uint64]], shape: tuple[int, ...],
               entropy: int) -> NDArray[np.uint64]:
    """`cookie4_array` of checked uint64 columns (0-d or 1-D) on the C kernel: one-element
    columns become ints, the others contiguous arrays of the broadcast length."""
    out = np.empty(shape, dtype=np.uint64)
    args = [int(x.reshape(())) if x.size == 1 else np.ascontiguousarray(x.reshape(-1))
            for x in cols]
    kernel.cookie4(*args, int(entropy), out.reshape(-1))
    return out


def cookie6_array(them_hi: ArrayLike, them_lo: ArrayLike, me_hi: ArrayLike, me_lo: ArrayLike,
                  port_them: ArrayLike, port_me: ArrayLike, entropy: int) -> NDArray[np.uint64]:
    """Vectorized `cookie6` over 64-bit address halves; arguments broadcast (scalars allowed)."""
    arrs = np.broadcast_arrays(_u64(them_hi), _u64(them_lo), _u64(me_hi), _u64(me_lo),
                               _u64(port_them), _u64(port_me))
    shape = arrs[0].shape
    th, tl, mh, ml, pt, pm = arrs
    with np.errstate(over="ignore"):
        ports = (pt << np.uint64(16)) | pm
    return _siphash24_words(entropy, [th, tl, mh, ml, ports], shape)
