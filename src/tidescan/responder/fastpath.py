"""The SYN-flood fast path: a whole batch of IPv4 SYNs answered with NumPy, no Python per packet.

Why this exists: a scanner (or a benchmark) sends SYNs at hundreds of thousands per second; the
per-frame Python path costs ~20 us a frame.  This module recognises, with vectorized comparisons
over a `(n, snap)` uint8 batch, the frames for which the scalar path would answer exactly one
SYN-ACK, and writes those SYN-ACKs for the whole batch at once: cookies by the vectorized SipHash
(`synack_cookie.cookie_v4_array`), header fields by column assignment, both checksums by summing
16-bit word columns.  Every other frame (and every frame when the packet log wants per-packet
lines) goes through the scalar path, so behaviour is identical by construction; the tests compare
the bytes of both paths on random SYNs.

A frame takes the fast path when all of these hold (each mirrors a scalar-path rule): at least 54
bytes; destination MAC = ours; EtherType IPv4; version 4 / IHL 5; not a non-first fragment;
protocol TCP; a TCP header that fits; destination handled, not multicast/broadcast; source not
denied; flags answered by `l4_tcp.syn_answered`.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from .config import ResponderConfig
from .l4_tcp import syn_answered
from .synack_cookie import cookie_v4_array

SYNACK_LEN = 54
_SYN_OK = np.array([syn_answered(f) for f in range(256)], dtype=bool)


def _be16(cols: NDArray[np.uint8], i: int) -> NDArray[np.uint32]:
    return (cols[:, i].astype(np.uint32) << 8) | cols[:, i + 1]


def _be32(cols: NDArray[np.uint8], i: int) -> NDArray[np.uint32]:
    return (_be16(cols, i) << 16) | _be16(cols, i + 2)


def _fold(s: NDArray[np.uint32]) -> NDArray[np.uint32]:
    s = (s & 0xFFFF) + (s >> 16)
    s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


class SynFastPath:
    def __init__(self, cfg: ResponderConfig) -> None:
        self.cfg = cfg
        self.mac = np.frombuffer(cfg.mac, dtype=np.uint8)
        self.self_v4 = np.array(sorted(cfg.self_ips.v4), dtype=np.uint32)
        self.deny_v4 = np.array(sorted(cfg.deny_ips.v4), dtype=np.uint32)
        self.handle_all = cfg.handle_all

    def answer(self, frames: NDArray[np.uint8], lengths: NDArray[np.int64]
               ) -> tuple[NDArray[np.bool_], NDArray[np.uint8]]:
        """(mask of frames answered here, their SYN-ACKs in mask order)."""
        n = len(lengths)
        if n == 0 or frames.shape[1] < SYNACK_LEN:
            return np.zeros(n, dtype=bool), np.empty((0, SYNACK_LEN), np.uint8)
        h = frames[:, :SYNACK_LEN]
        ok = lengths >= SYNACK_LEN
        ok &= (h[:, 0:6] == self.mac).all(axis=1)
        ok &= (h[:, 12] == 0x08) & (h[:, 13] == 0x00) & (h[:, 14] == 0x45) & (h[:, 23] == 6)
        ok &= ((_be16(h, 20) & 0x1FFF) == 0)
        total = _be16(h, 16).astype(np.int64)
        tcp_len = np.minimum(total, lengths - 14) - 20
        doff = (h[:, 46] >> 4).astype(np.int64) * 4
        ok &= (total >= 20) & (doff >= 20) & (doff <= tcp_len)
        ok &= _SYN_OK[h[:, 47]]
        if not ok.any():
            return ok, np.empty((0, SYNACK_LEN), np.uint8)
        src = _be32(h, 26)
        dst = _be32(h, 30)
        if not self.handle_all:
            ok &= np.isin(dst, self.self_v4)
        if len(self.deny_v4):
            ok &= ~np.isin(src, self.deny_v4)
        ok &= ((dst >> 28) != 0xE) & (dst != 0xFFFFFFFF)
        idx = np.flatnonzero(ok)
        m = len(idx)
        if m == 0:
            return ok, np.empty((0, SYNACK_LEN), np.uint8)
        r = h[idx]
        src, dst = src[idx], dst[idx]
        sport, dport = _be16(r, 34), _be16(r, 36)
        seq_out = cookie_v4_array(src, dst, sport, dport, self.cfg.synack_key).astype(np.uint32)
        ack_out = (_be32(r, 38).astype(np.uint64) + 1).astype(np.uint32)

        out = np.zeros((m, SYNACK_LEN), dtype=np.uint8)
        out[:, 0:6] = r[:, 6:12]
        out[:, 6:12] = self.mac
        out[:, 12] = 0x08
        out[:, 14] = 0x45
        out[:, 17] = 40
        out[:, 20] = 0x40
        out[:, 22] = 64
        out[:, 23] = 6
        out[:, 26:30] = r[:, 30:34]
        out[:, 30:34] = r[:, 26:30]
        out[:, 34:36] = r[:, 36:38]
        out[:, 36:38] = r[:, 34:36]
        out[:, 38:42] = seq_out.astype(">u4").view(np.uint8).reshape(m, 4)
        out[:, 42:46] = ack_out.astype(">u4").view(np.uint8).reshape(m, 4)
        out[:, 46] = 0x50
        out[:, 47] = 0x12
        out[:, 48] = 0xFF
        out[:, 49] = 0xFF
        addr_sum = (src >> 16) + (src & 0xFFFF) + (dst >> 16) + (dst & 0xFFFF)
        ip_c = _fold(addr_sum + (0x4500 + 40 + 0x4000 + 0x4006))
        out[:, 24] = ip_c >> 8
        out[:, 25] = ip_c & 0xFF
        tcp_sum = (addr_sum + (6 + 20) + sport + dport + (seq_out >> 16) + (seq_out & 0xFFFF)
                   + (ack_out >> 16) + (ack_out & 0xFFFF) + 0x5012 + 0xFFFF)
        tcp_c = _fold(tcp_sum.astype(np.uint32))
        out[:, 50] = tcp_c >> 8
        out[:, 51] = tcp_c & 0xFF
        return ok, out
