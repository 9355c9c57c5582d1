"""The SYN-flood fast path: a whole batch of IPv4 SYNs answered with NumPy, no Python per packet.

Why this exists: a scanner (or a benchmark) sends SYNs at hundreds of thousands per second; the
per-frame Python path costs ~20 us a frame.  This module recognises, with vectorized comparisons
over a `(n, snap)` uint8 batch, the frames for which the scalar path would answer exactly one
SYN-ACK, and writes those SYN-ACKs for the whole batch at once.  Every other frame (and every
frame when the packet log wants per-packet lines) goes through the scalar path, so behaviour is
identical by construction; the tests compare the bytes of both paths on random frames.

A frame takes the fast path when all of these hold (each mirrors a scalar-path rule): at least 54
bytes; destination MAC = ours; EtherType IPv4; version 4 / IHL 5; not a non-first fragment;
protocol TCP; a TCP header that fits; destination handled, not multicast/broadcast; source not
denied; flags answered by `l4_tcp.syn_answered`.

How it stays cheap (every NumPy call costs ~1 us of overhead plus a pass over its data, so the
work is counted in calls and passes, not in lines):

* no copies or byte swaps to decide: the first 56 bytes of each row are *viewed* as seven
  little-endian 64-bit words (any batch whose rows are a multiple of 8 bytes: the ring's are
  128+; narrower batches are copied once), and each rule is one mask and compare on one word
  column: dst MAC = word 0, EtherType + version/IHL = word 1, fragment offset + protocol =
  word 2, data offset + flags = word 5;
* the SipHash message words are byte-swapped views of the frame: bytes 26-33 read as two
  big-endian u32 (client, responder address) and stored little-endian are exactly the first
  message word `src | dst << 32`; bytes 34-37 likewise give `sport | dport << 16`;
* the SYN-ACK is assembled by block copies (client MAC; addresses and ports swapped through
  2x32-bit and 2x16-bit views) onto a broadcast template;
* both checksums come from values already at hand, using the ones' complement rule that a sum of
  16-bit words is congruent to the whole number modulo 0xFFFF (since 2^16 = 1 mod 0xFFFF): the
  two addresses are `m0 = src | dst << 32`, the ports are `sport | dport << 16`, the sequence and
  acknowledgement numbers are themselves - no per-word extraction at all.  Folding any positive
  number lands in 1..0xFFFF, so the result is the scalar path's exactly, 0x0000 edge included
  (a test finds such rows among 2^19 random SYNs and compares them).

The cookie is `synack_cookie.cookie_v4_array` (vectorized SipHash-2-4, ~200 NumPy calls a batch,
the largest single cost; a variant on stacked state pairs measured no faster).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from .config import ResponderConfig
from .l4_tcp import syn_answered
from .synack_cookie import cookie_v4_array

SYNACK_LEN = 54
_SYN_OK = np.array([syn_answered(f) for f in range(256)], dtype=bool)
_U64 = np.uint64
_M16 = _U64(0xFFFF)
_M32 = _U64(0xFFFFFFFF)
_MAC_MASK = _U64((1 << 48) - 1)
# word 1 (bytes 8-15): bytes 12-14 = EtherType 0x0800, version/IHL 0x45
_W1_MASK, _W1_WANT = _U64(0xFFFFFF << 32), _U64((0x08 | 0x00 << 8 | 0x45 << 16) << 32)
# word 2 (bytes 16-23): fragment offset (low 13 bits of bytes 20-21) zero, protocol (byte 23) TCP
_W2_MASK, _W2_WANT = _U64(0x1F << 32 | 0xFF << 40 | 0xFF << 56), _U64(6 << 56)
_MSG_LEN = _U64(12 << 56)           # SipHash: message length in the top byte of the last word
# constant 16-bit words of every answer, summed: IP (0x4500, total 40, flags DF, TTL 64 / TCP);
# TCP pseudo-header protocol 6 + length 20, data offset 5 + SYN|ACK, window 65535
_IP_CONST = _U64(0x4500 + 40 + 0x4000 + 0x4006)
_TCP_CONST = _U64(6 + 20 + 0x5012 + 0xFFFF)
_ROW = 56                            # bytes viewed per row (7 words; only the first 54 are used)


def _fold(s: NDArray[np.uint64]) -> NDArray[np.uint64]:
    """Internet checksum of any number congruent (mod 0xFFFF) to the word sum, s < 2**40."""
    s = (s & _M16) + (s >> _U64(16))   # < 2**24 + 2**16
    s = (s & _M16) + (s >> _U64(16))   # <= 0xFFFF + 0x100
    s = (s & _M16) + (s >> _U64(16))   # <= 0xFFFF
    return s ^ _M16


def _template(mac: bytes) -> NDArray[np.uint8]:
    """The constant bytes of every SYN-ACK (addresses, ports, numbers and checksums filled later)."""
    t = np.zeros(SYNACK_LEN, dtype=np.uint8)
    t[6:12] = np.frombuffer(mac, dtype=np.uint8)
    t[12], t[14], t[17], t[20], t[22], t[23] = 0x08, 0x45, 40, 0x40, 64, 6
    t[46], t[47], t[48], t[49] = 0x50, 0x12, 0xFF, 0xFF
    return t


def _rows(frames: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """`frames` itself when its first 56 bytes per row can be viewed as 64-bit words, else a copy."""
    if (frames.shape[1] >= _ROW and frames.strides[1] == 1 and frames.strides[0] % 8 == 0
            and frames.ctypes.data % 8 == 0):
        return frames
    rows = np.zeros((len(frames), _ROW), dtype=np.uint8)
    width = min(_ROW, frames.shape[1])
    rows[:, :width] = frames[:, :width]
    return rows


class SynFastPath:
    def __init__(self, cfg: ResponderConfig) -> None:
        self.cfg = cfg
        self.mac_word = _U64(int.from_bytes(cfg.mac, "little"))
        self.self_v4 = np.array(sorted(cfg.self_ips.v4), dtype=np.uint32)
        self.deny_v4 = np.array(sorted(cfg.deny_ips.v4), dtype=np.uint32)
        self.handle_all = cfg.handle_all
        self.template = _template(cfg.mac)

    @staticmethod
    def _member(values: NDArray[np.uint32], sorted_set: NDArray[np.uint32]) -> NDArray[np.bool_]:
        pos = np.searchsorted(sorted_set, values).clip(0, len(sorted_set) - 1)
        return sorted_set[pos] == values

    def answer(self, frames: NDArray[np.uint8], lengths: NDArray[np.int64]
               ) -> tuple[NDArray[np.bool_], NDArray[np.uint8]]:
        """(mask of frames answered here, their SYN-ACKs in mask order)."""
        n = len(lengths)
        none = np.empty((0, SYNACK_LEN), np.uint8)
        if n == 0 or frames.shape[1] < SYNACK_LEN:
            return np.zeros(n, dtype=bool), none
        rows = _rows(frames[:n])
        q = rows[:, :_ROW].view("<u8")                              # (n, 7) words, a view
        lengths = np.asarray(lengths, dtype=np.int64)
        ok = (q[:, 0] & _MAC_MASK) == self.mac_word
        ok &= (q[:, 1] & _W1_MASK) == _W1_WANT
        ok &= (q[:, 2] & _W2_MASK) == _W2_WANT
        ok &= lengths >= SYNACK_LEN
        if not ok.any():
            return ok, none
        w5 = q[:, 5]
        ok &= _SYN_OK[(w5 >> _U64(56)).astype(np.intp)]
        # lengths: IP total >= 20 and 20 <= TCP data offset <= min(total, captured - 14) - 20
        total = rows[:, 16:18].view(">u2")[:, 0].astype(np.int64)
        doff = ((w5 >> _U64(52)) & _U64(0xF)).astype(np.int64) << 2
        ok &= (total >= 20) & (doff >= 20) & (doff <= np.minimum(total, lengths - 14) - 20)
        idx = np.flatnonzero(ok)
        if len(idx) == 0:
            return ok, none
        r = rows if len(idx) == n else rows[idx]                   # the requests answered here
        # (src, dst) numeric, little-endian: as one u64 this is the first SipHash word src | dst << 32
        addrs = r[:, 26:34].view(">u4").astype("<u4")              # (m, 2)
        m0 = addrs.view("<u8")[:, 0]
        ports = r[:, 34:38].view(">u2").astype("<u2")              # (m, 2): sport, dport
        p = ports.view("<u4")[:, 0].astype(_U64)                    # sport | dport << 16
        keep = np.ones(len(idx), dtype=bool)
        dst = addrs[:, 1]
        if not self.handle_all:
            keep &= self._member(dst, self.self_v4) if len(self.self_v4) else False
        if len(self.deny_v4):
            keep &= ~self._member(addrs[:, 0], self.deny_v4)
        keep &= ((dst >> 28) != 0xE) & (dst != 0xFFFFFFFF)
        if not keep.all():
            ok[idx[~keep]] = False
            r, addrs, m0, ports, p = r[keep], addrs[keep], m0[keep], ports[keep], p[keep]
        m = len(r)
        if m == 0:
            return ok, none
        src, dst = addrs[:, 0], addrs[:, 1]
        seq_out = cookie_v4_array(src, dst, ports[:, 0], ports[:, 1], self.cfg.synack_key)
        ack_out = r[:, 38:42].view(">u4")[:, 0] + np.uint32(1)       # uint32: wraps modulo 2**32

        out = np.empty((m, SYNACK_LEN), dtype=np.uint8)
        out[:] = self.template
        out[:, 0:6] = r[:, 6:12]                                    # to the client's MAC
        out[:, 26:34].view("<u4")[:] = r[:, 26:34].view("<u4")[:, ::-1]   # addresses swapped
        out[:, 34:38].view("<u2")[:] = r[:, 34:38].view("<u2")[:, ::-1]   # ports swapped
        out[:, 38:42].view(">u4")[:, 0] = seq_out
        out[:, 42:46].view(">u4")[:, 0] = ack_out
        a = (m0 & _M32) + (m0 >> _U64(32))                          # = both addresses (mod 0xFFFF)
        out[:, 24:26].view(">u2")[:, 0] = _fold(a + _IP_CONST)
        tcp = a + p
        tcp += seq_out
        tcp += ack_out
        tcp += _TCP_CONST
        out[:, 50:52].view(">u2")[:, 0] = _fold(tcp)
        return ok, out
