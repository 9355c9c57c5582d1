"""IPv4 SYN fields for a batch with one source address and port, in four writes per frame.

Why this exists: on this project's machines writing one column of a `(n, 64)` frame buffer costs
~1.8 ns per frame whatever its width (every row is its own cache line: the cost is touching the
line, not the bytes), while a pass over a contiguous uint64 array costs ~0.3 ns.  The generic
`SynTemplate._fields_v4` writes eight columns (ID, IP checksum, source, destination, two ports,
sequence number, TCP checksum).  With a constant source (every scan that has one `--source-ip`
and one `--source-port`) the per-target bytes are three 8-byte runs and one 16-bit field:

    ip+4   ID, flags/fragment, TTL, protocol, IP checksum   (ID << 48 | mid << 16 | csum)
    ip+12  source, destination                             (src << 32 | dst)
    tcp+0  source port, destination port, sequence number  (sport << 48 | dport << 32 | seq)
    tcp+16 TCP checksum

Each run is composed in contiguous uint64 scratch arrays (a few cheap passes) and stored through
a big-endian `>u8` view of the frame matrix: four line-touching writes instead of eight.

Checksums: the constant words (template headers, pseudo-header, source address and port) are
summed once (`Consts`); per frame only the target's words are added.  The one's-complement
finish `~fold(s) & 0xFFFF` is computed as `0xFFFE - (s1 + s1 // 65535)` (mod 2**16) with
`s1 = s - 1`: folding is `1 + (s - 1) mod 65535` for `s >= 1`, and `65535 * q ≡ -q (mod 2**16)`,
which turns two folds and a NOT (seven passes) into a division by a constant (NumPy's libdivide
path), an add and a subtract.  The sums are never 0 (the constant header words are not).

Bytes are identical to `_fields_v4`'s: tests/test_packets_fixed_source.py compares them on random
batches, VLAN tags and option layouts.
"""

from __future__ import annotations

import threading
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

__all__ = ["CHUNK", "Consts", "write_v4"]

CHUNK = 16384  # rows per pass: the scratch arrays (6 x 128 KiB) stay in L2

_U = np.uint64


def _c(x: int) -> NDArray[np.uint64]:
    return np.array(x, dtype=np.uint64)  # 0-d: a cheaper ufunc operand than a NumPy scalar


_M16, _M32 = _c(0xFFFF), _c(0xFFFFFFFF)
_S16, _S32, _S48 = _c(16), _c(32), _c(48)
_D65535, _FFFE = _c(65535), _c(0xFFFE)


class Consts(NamedTuple):
    """Constant partial sums of one template and source (unfolded), and the 4 bytes between the
    IP ID and the IP checksum (flags/fragment, TTL, protocol) as a big-endian integer."""

    ip_sum: int
    tcp_sum: int
    mid: int


_local = threading.local()


def _scratch(k: int) -> list[NDArray[np.uint64]]:
    arrays = getattr(_local, "arrays", None)
    if arrays is None:
        arrays = _local.arrays = [np.empty(CHUNK, np.uint64) for _ in range(6)]
    return [a[:k] for a in arrays]


def _unsigned(a: NDArray) -> NDArray:
    if a.dtype.kind == "u":
        return a
    if a.dtype.kind != "i":
        raise TypeError(f"expected integers, got {a.dtype}")
    return a.astype(np.uint64)  # wraps negatives, like the generic path's uint32 conversion


def _column(o: NDArray[np.uint8], col: int, width: int) -> NDArray:
    return o[:, col:col + width].view(">u8" if width == 8 else ">u2")[:, 0]


def write_v4(o: NDArray[np.uint8], ip: int, them: NDArray, port_them: NDArray, seq: NDArray,
             ip_me: int, port_me: int, c: Consts) -> None:
    """Write the per-target fields of rows `0..len(them)-1` of `o` (template already there);
    `ip` is the IPv4 header's offset in the frame.  At most `CHUNK` rows per call."""
    k = len(them)
    if k == 0:
        return
    o = o[:k]
    d, q, t, x, a, b = _scratch(k)
    band, bor, xor, add = np.bitwise_and, np.bitwise_or, np.bitwise_xor, np.add
    lsh, rsh = np.left_shift, np.right_shift
    band(_unsigned(them), _M32, out=d)
    band(_unsigned(seq), _M32, out=q)
    band(_unsigned(port_them), _M16, out=t)

    # IP ID = (them ^ port_them ^ seq) & 0xFFFF, and sum16(them).
    xor(d, q, out=x)
    xor(x, t, out=x)
    band(x, _M16, out=x)
    rsh(d, _S16, out=a)
    band(d, _M16, out=b)
    add(a, b, out=a)

    # ip+4: ID, mid, IP checksum.
    add(a, x, out=b)
    add(b, _c(c.ip_sum - 1), out=b)
    _finish(b, q_tmp := _scratch_tail(k))
    band(b, _M16, out=b)
    lsh(x, _S48, out=x)
    bor(x, b, out=x)
    bor(x, _c(c.mid << 16), out=x)
    _column(o, ip + 4, 8)[...] = x

    # ip+12: source, destination.
    bor(d, _c(ip_me << 32), out=b)
    _column(o, ip + 12, 8)[...] = b

    # tcp+16: TCP checksum over sum16(them) + dport + sum16(seq) + the constants.
    rsh(q, _S16, out=b)
    add(a, b, out=a)
    band(q, _M16, out=b)
    add(a, b, out=a)
    add(a, t, out=a)
    add(a, _c(c.tcp_sum - 1), out=a)
    _finish(a, q_tmp)
    tcp = ip + 20
    _column(o, tcp + 16, 2)[...] = a  # the unsafe cast keeps the low 16 bits

    # tcp+0: source port, destination port, sequence number.
    lsh(t, _S32, out=t)
    bor(t, q, out=t)
    bor(t, _c(port_me << 48), out=t)
    _column(o, tcp, 8)[...] = t


def _scratch_tail(k: int) -> NDArray[np.uint64]:
    tail = getattr(_local, "tail", None)
    if tail is None:
        tail = _local.tail = np.empty(CHUNK, np.uint64)
    return tail[:k]


def _finish(s1: NDArray[np.uint64], tmp: NDArray[np.uint64]) -> None:
    """In place: s1 = s - 1 (s >= 1, an unfolded sum) -> the checksum field in the low 16 bits."""
    np.floor_divide(s1, _D65535, out=tmp)
    np.add(s1, tmp, out=s1)
    np.subtract(_FFFE, s1, out=s1)
