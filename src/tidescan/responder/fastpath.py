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
_M16 = np.uint32(0xFFFF)


def _fold(s: NDArray[np.uint32]) -> NDArray[np.uint32]:
    s = (s & _M16) + (s >> 16)
    s = (s & _M16) + (s >> 16)
    return (~s) & _M16


def _template(mac: bytes) -> NDArray[np.uint8]:
    """The constant bytes of every SYN-ACK (addresses, ports, numbers and checksums filled later)."""
    t = np.zeros(SYNACK_LEN, dtype=np.uint8)
    t[6:12] = np.frombuffer(mac, dtype=np.uint8)
    t[12], t[14], t[17], t[20], t[22], t[23] = 0x08, 0x45, 40, 0x40, 64, 6
    t[46], t[47], t[48], t[49] = 0x50, 0x12, 0xFF, 0xFF
    return t


class SynFastPath:
    def __init__(self, cfg: ResponderConfig) -> None:
        self.cfg = cfg
        mac = np.frombuffer(cfg.mac, dtype=np.uint8)
        self.mac_words = (mac[0::2].astype(np.uint32) << 8) | mac[1::2]
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
        # the 27 big-endian 16-bit words of each frame's first 54 bytes, as native uint32 columns
        w = np.ascontiguousarray(frames[:n, :SYNACK_LEN]).view(">u2").astype(np.uint32)
        ok = lengths >= SYNACK_LEN
        ok &= (w[:, 0] == self.mac_words[0]) & (w[:, 1] == self.mac_words[1]) & (w[:, 2] == self.mac_words[2])
        ok &= (w[:, 6] == 0x0800) & ((w[:, 7] >> 8) == 0x45) & ((w[:, 11] & 0xFF) == 6)
        ok &= (w[:, 10] & 0x1FFF) == 0
        total = w[:, 8].astype(np.int64)
        tcp_len = np.minimum(total, lengths - 14) - 20
        doff = (w[:, 23] >> 12).astype(np.int64) * 4
        ok &= (total >= 20) & (doff >= 20) & (doff <= tcp_len)
        ok &= _SYN_OK[w[:, 23] & 0xFF]
        if not ok.any():
            return ok, none
        src = (w[:, 13] << 16) | w[:, 14]
        dst = (w[:, 15] << 16) | w[:, 16]
        if not self.handle_all:
            ok &= self._member(dst, self.self_v4) if len(self.self_v4) else False
        if len(self.deny_v4):
            ok &= ~self._member(src, self.deny_v4)
        ok &= ((dst >> 28) != 0xE) & (dst != 0xFFFFFFFF)
        idx = np.flatnonzero(ok)
        m = len(idx)
        if m == 0:
            return ok, none
        r = w[idx]
        src, dst = src[idx], dst[idx]
        sport, dport = r[:, 17], r[:, 18]
        seq_out = cookie_v4_array(src, dst, sport, dport, self.cfg.synack_key).astype(np.uint32)
        ack_out = ((r[:, 19] << 16) | r[:, 20]) + np.uint32(1)       # wraps modulo 2**32

        out = np.empty((m, SYNACK_LEN), dtype=np.uint8)
        out[:] = self.template
        ow = out.view(">u2")                                        # (m, 27) big-endian words
        ow[:, 0:3] = r[:, 3:6]                                      # to the client's MAC
        ow[:, 13:15] = r[:, 15:17]                                  # from the address asked
        ow[:, 15:17] = r[:, 13:15]                                  # to the client
        ow[:, 17] = dport
        ow[:, 18] = sport
        ow[:, 19] = seq_out >> 16
        ow[:, 20] = seq_out & _M16
        ow[:, 21] = ack_out >> 16
        ow[:, 22] = ack_out & _M16
        addr_sum = r[:, 13] + r[:, 14] + r[:, 15] + r[:, 16]
        ow[:, 12] = _fold(addr_sum + np.uint32(0x4500 + 40 + 0x4000 + 0x4006))
        ow[:, 25] = _fold(addr_sum + np.uint32(6 + 20 + 0x5012 + 0xFFFF) + sport + dport
                          + ow[:, 19] + ow[:, 20] + ow[:, 21] + ow[:, 22])
        return ok, out
