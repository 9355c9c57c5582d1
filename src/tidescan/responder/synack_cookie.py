"""The responder's SYN-ACK cookie: masscanned's SipHash layout, scalar and vectorized.

Why this exists: tidescanned keeps no state per half-open connection.  The SYN-ACK's sequence
number *is* a keyed hash of the 4-tuple, so when the client's first data segment arrives its
acknowledgement number (cookie + 1) proves that it saw our SYN-ACK, without any table.

The layout is masscanned's (reference masscanned.md §8), so a tidescanned and a masscanned with the
same key issue the same initial sequence numbers:

- SipHash-2-4 with the 128-bit key `(k0, k1)` (masscanned hard-codes `k0 = k1 = 0`);
- IPv4 message (12 bytes): little-endian u32 of the client address (its numeric value, so
  10.0.0.1 is 0x0A000001), little-endian u32 of the responder address, little-endian u16 client
  port, little-endian u16 responder port (Rust's `Hasher::write_u32/u16` on x86);
- IPv6 message (36 bytes): little-endian u128 client address, u128 responder address, u16, u16;
- the sequence number is the low 32 bits.

The scalar form calls the project's reference `tidescan.siphash.siphash24`.  The vectorized form
is the same computation on NumPy `uint64` arrays for a whole batch of SYNs (used by the SYN-flood
fast path): a 12-byte message is one full 8-byte word (`src | dst << 32`) plus a final word
`sport | dport << 16 | 12 << 56`, so the byte loop collapses to fixed word operations.
"""

from __future__ import annotations

import struct

import numpy as np
from numpy.typing import NDArray

from tidescan.siphash import siphash24

MASKS64 = (1 << 64) - 1
_C = (0x736F6D6570736575, 0x646F72616E646F6D, 0x6C7967656E657261, 0x7465646279746573)

__all__ = ["cookie_v4", "cookie_v6", "cookie_v4_array", "DEFAULT_KEY"]

DEFAULT_KEY: tuple[int, int] = (0, 0)


def _key_bytes(key: tuple[int, int]) -> bytes:
    return struct.pack("<QQ", key[0] & MASKS64, key[1] & MASKS64)


def cookie_v4(src: int, dst: int, sport: int, dport: int, key: tuple[int, int] = DEFAULT_KEY) -> int:
    """32-bit cookie for an IPv4 4-tuple (src = client, dst = responder)."""
    msg = struct.pack("<IIHH", src & 0xFFFFFFFF, dst & 0xFFFFFFFF, sport & 0xFFFF, dport & 0xFFFF)
    return siphash24(_key_bytes(key), msg) & 0xFFFFFFFF


def cookie_v6(src: int, dst: int, sport: int, dport: int, key: tuple[int, int] = DEFAULT_KEY) -> int:
    """32-bit cookie for an IPv6 4-tuple (addresses as 128-bit integers)."""
    msg = (src.to_bytes(16, "little") + dst.to_bytes(16, "little")
           + struct.pack("<HH", sport & 0xFFFF, dport & 0xFFFF))
    return siphash24(_key_bytes(key), msg) & 0xFFFFFFFF


_SHIFTS = {b: (np.uint64(b), np.uint64(64 - b)) for b in (13, 16, 17, 21, 32)}


def _rotl(x: NDArray[np.uint64], b: int, tmp: NDArray[np.uint64]) -> None:
    left, right = _SHIFTS[b]
    np.right_shift(x, right, out=tmp)
    np.left_shift(x, left, out=x)
    np.bitwise_or(x, tmp, out=x)


def _rounds(v0: NDArray[np.uint64], v1: NDArray[np.uint64], v2: NDArray[np.uint64],
            v3: NDArray[np.uint64], tmp: NDArray[np.uint64], n: int) -> None:
    add, xor = np.add, np.bitwise_xor
    for _ in range(n):
        add(v0, v1, out=v0)
        _rotl(v1, 13, tmp)
        xor(v1, v0, out=v1)
        _rotl(v0, 32, tmp)
        add(v2, v3, out=v2)
        _rotl(v3, 16, tmp)
        xor(v3, v2, out=v3)
        add(v0, v3, out=v0)
        _rotl(v3, 21, tmp)
        xor(v3, v0, out=v3)
        add(v2, v1, out=v2)
        _rotl(v1, 17, tmp)
        xor(v1, v2, out=v1)
        _rotl(v2, 32, tmp)


def cookie_v4_array(src: NDArray, dst: NDArray, sport: NDArray, dport: NDArray,
                    key: tuple[int, int] = DEFAULT_KEY) -> NDArray[np.uint32]:
    """Vectorized `cookie_v4` over equal-length arrays; returns uint32 sequence numbers.

    In place on four state arrays and one scratch array (no temporaries inside the rounds).
    """
    src64 = np.asarray(src, dtype=np.uint64)
    n = src64.shape[0]
    m0 = src64 | (np.asarray(dst, dtype=np.uint64) << np.uint64(32))
    m1 = (np.asarray(sport, dtype=np.uint64) | (np.asarray(dport, dtype=np.uint64) << np.uint64(16))
          | np.uint64(12 << 56))
    k0, k1 = key[0] & MASKS64, key[1] & MASKS64
    v0 = np.full(n, k0 ^ _C[0], np.uint64)
    v1 = np.full(n, k1 ^ _C[1], np.uint64)
    v2 = np.full(n, k0 ^ _C[2], np.uint64)
    v3 = np.full(n, k1 ^ _C[3], np.uint64)
    tmp = np.empty(n, np.uint64)
    with np.errstate(over="ignore"):
        for m in (m0, m1):
            v3 ^= m
            _rounds(v0, v1, v2, v3, tmp, 2)
            v0 ^= m
        v2 ^= np.uint64(0xFF)
        _rounds(v0, v1, v2, v3, tmp, 4)
        v0 ^= v1
        v2 ^= v3
        v0 ^= v2
    return (v0 & np.uint64(0xFFFFFFFF)).astype(np.uint32)
