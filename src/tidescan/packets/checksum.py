"""The Internet checksum (RFC 1071), vectorized over batches of frames, plus a scalar version.

Why this module exists: every probe carries an IPv4 header checksum and a TCP/UDP/ICMP checksum,
and they change with every target.  Computing them frame by frame in Python would cost more than
everything else on the transmit path together.  The one's-complement sum has two properties that
make it cheap in batches:

1. It is a plain sum of 16-bit big-endian words, folded (end-around carry) at the end, so partial
   sums can be computed in any order and added later.  A builder therefore precomputes the sum of
   a template's constant words *once* and, per batch, adds only the per-target fields (addresses,
   ports, sequence numbers), each split into 16-bit halves, as NumPy `uint32` arithmetic over the
   whole batch.  That is what `template.py` and the probes do.
2. A 32-bit accumulator cannot overflow while adding fewer than 65 537 words, and frames are
   shorter than that, so `uint32` sums need folding only at the end (`fold`: two folds suffice).

`sum16_rows` sums whole byte ranges of a block of frames (column sums of the even and odd bytes),
for code that checks or builds frames whose bytes are not known field by field (tests, the
responder).  `internet_checksum` is the scalar reference for single frames (ARP/ND replies, tests).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

_M16 = 0xFFFF


def fold(s: ArrayLike) -> NDArray[np.uint32]:
    """Fold carries of a one's-complement partial sum (array or scalar) into 16 bits (uint32)."""
    a = np.asarray(s)
    if a.dtype.kind not in "iu":
        raise TypeError(f"checksum partial sums must be integers, got {a.dtype}")
    if a.dtype.itemsize > 4:  # 64-bit sums (and Python ints): four folds reach 16 bits
        a = a.astype(np.uint64, copy=False)
        for _ in range(4):
            a = (a & np.uint64(_M16)) + (a >> np.uint64(16))
        return a.astype(np.uint32)
    a = a.astype(np.uint32, copy=False)
    a = (a & _M16) + (a >> 16)  # <= 0x1FFFE
    return (a & _M16) + (a >> 16)  # <= 0xFFFF


def finish(s: ArrayLike) -> NDArray[np.uint16]:
    """The checksum field value for partial sum `s`: one's complement of the folded sum."""
    return (~fold(s) & _M16).astype(np.uint16)


def sum16_u32(x: ArrayLike) -> NDArray[np.uint32]:
    """Sum of the two 16-bit halves of 32-bit values (an IPv4 address, a sequence number)."""
    a = np.asarray(x).astype(np.uint32, copy=False)
    return (a >> 16) + (a & _M16)


def sum16_u64(x: ArrayLike) -> NDArray[np.uint32]:
    """Sum of the four 16-bit quarters of 64-bit values (one half of an IPv6 address)."""
    a = np.asarray(x).astype(np.uint64, copy=False)
    hi = (a >> np.uint64(32)).astype(np.uint32)
    lo = (a & np.uint64(0xFFFFFFFF)).astype(np.uint32)
    return (hi >> 16) + (hi & _M16) + (lo >> 16) + (lo & _M16)


def sum16_rows(rows: NDArray[np.uint8]) -> NDArray[np.uint32]:
    """One's-complement partial sum (unfolded, uint32) of each row of a (k, L) uint8 array.

    Bytes at even positions are the high halves of the 16-bit words; an odd trailing byte is
    padded with a zero byte, as RFC 1071 says.
    """
    hi = rows[:, 0::2].sum(axis=1, dtype=np.uint32)
    lo = rows[:, 1::2].sum(axis=1, dtype=np.uint32)
    return (hi << 8) + lo


def checksum_rows(rows: NDArray[np.uint8], initial: ArrayLike = 0) -> NDArray[np.uint16]:
    """Checksum field values for each row of a (k, L) block, plus per-row `initial` partial sums
    (a pseudo-header).  A block whose checksum field is already filled in sums to 0 here."""
    return finish(fold(sum16_rows(rows)) + fold(initial))


def internet_checksum(data: bytes, initial: int = 0) -> int:
    """Scalar RFC 1071 checksum of `data` plus partial sum `initial` (e.g. a pseudo-header sum)."""
    if len(data) % 2:
        data = bytes(data) + b"\0"
    words = np.frombuffer(data, dtype=">u2")
    s = int(words.sum(dtype=np.uint64)) + initial
    while s >> 16:
        s = (s & _M16) + (s >> 16)
    return ~s & _M16


def pseudo_sum4(src: int, dst: int, proto: int, length: int) -> int:
    """Partial sum of the IPv4 pseudo-header (addresses as 32-bit integers)."""
    return (src >> 16) + (src & _M16) + (dst >> 16) + (dst & _M16) + proto + length


def pseudo_sum6(src: int, dst: int, proto: int, length: int) -> int:
    """Partial sum of the IPv6 pseudo-header (addresses as 128-bit integers)."""
    s = proto + (length >> 16) + (length & _M16)
    for a in (src, dst):
        for i in range(8):
            s += (a >> (16 * i)) & _M16
    return s
