"""Internet checksums for the frames the responder writes (RFC 1071), scalar and vectorized.

Why this exists: every reply carries an IPv4 header checksum and a TCP/UDP/ICMP checksum computed
over a pseudo-header.  Incoming checksums are *not* verified (masscanned does not either, and on a
veth link the kernel hands AF_PACKET readers frames whose L4 checksum is only partially filled by
offload), so this module only ever computes.

Scalar theory: the one's-complement sum of big-endian 16-bit words equals the whole byte string
read as one big integer, modulo 0xFFFF (because 2**16 = 1 mod 0xFFFF), with a zero remainder of a
non-zero input meaning 0xFFFF.  One `int.from_bytes` plus one modulo is far faster in CPython than
a loop over words.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray


def ones_sum(data: bytes) -> int:
    """One's-complement sum (0..0xFFFF) of `data` as big-endian 16-bit words (odd length padded)."""
    if len(data) & 1:
        data = data + b"\x00"
    n = int.from_bytes(data, "big")
    s = n % 0xFFFF
    if s == 0 and n != 0:
        return 0xFFFF
    return s


def checksum(data: bytes, initial: int = 0) -> int:
    """RFC 1071 checksum of `data` with an extra pre-summed `initial` (e.g. a pseudo-header)."""
    s = ones_sum(data) + initial
    s = (s & 0xFFFF) + (s >> 16)
    s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def pseudo_v4(src: bytes, dst: bytes, proto: int, length: int) -> int:
    """Pre-summed IPv4 pseudo-header."""
    return ones_sum(src + dst + bytes((0, proto)) + length.to_bytes(2, "big"))


def pseudo_v6(src: bytes, dst: bytes, proto: int, length: int) -> int:
    """Pre-summed IPv6 pseudo-header."""
    return ones_sum(src + dst + length.to_bytes(4, "big") + bytes((0, 0, 0, proto)))


def fold_words(words: NDArray[np.uint64]) -> NDArray[np.uint16]:
    """Vectorized: per-row sums of 16-bit words (uint64, any size) -> final checksum values."""
    s = words.astype(np.uint64)
    for _ in range(3):
        s = (s & np.uint64(0xFFFF)) + (s >> np.uint64(16))
    return (~s & np.uint64(0xFFFF)).astype(np.uint16)


def row_word_sums(rows: NDArray[np.uint8], start: int, stop: int) -> NDArray[np.uint64]:
    """Vectorized: sum of big-endian 16-bit words of `rows[:, start:stop]` (even span) per row."""
    seg = rows[:, start:stop].astype(np.uint64)
    return (seg[:, 0::2] * np.uint64(256) + seg[:, 1::2]).sum(axis=1, dtype=np.uint64)
