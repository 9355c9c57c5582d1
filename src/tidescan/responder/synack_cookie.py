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

from tidescan.siphash import siphash24, siphash24_blocks

MASKS64 = (1 << 64) - 1

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


def cookie_v4_array(src: NDArray, dst: NDArray, sport: NDArray, dport: NDArray,
                    key: tuple[int, int] = DEFAULT_KEY) -> NDArray[np.uint32]:
    """Vectorized `cookie_v4` over equal-length arrays; returns uint32 sequence numbers.

    The 12-byte message is one whole block (`src | dst << 32`) and a final block carrying the two
    ports and the length (`sport | dport << 16 | 12 << 56`); the rounds are tidescan.siphash's.
    """
    src64 = np.asarray(src, dtype=np.uint64)
    m0 = src64 | (np.asarray(dst, dtype=np.uint64) << np.uint64(32))
    m1 = (np.asarray(sport, dtype=np.uint64) | (np.asarray(dport, dtype=np.uint64) << np.uint64(16))
          | np.uint64(12 << 56))
    h = siphash24_blocks(key[0], key[1], [m0, m1], m0.shape)
    return (h & np.uint64(0xFFFFFFFF)).astype(np.uint32)
