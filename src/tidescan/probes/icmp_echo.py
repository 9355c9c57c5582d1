"""ICMP echo ("ping sweep", masscan `--ping`): is the host up?

Why this module exists: the echo request is the one probe whose cookie is not over the full tuple:
masscan puts `cookie(ip_them, 196608, ip_me, 0)` (source port 0, since ICMP has none) into the
32-bit identifier+sequence field (identifier = high 16 bits), so `seq4`/`seq6` are overridden.
The frame is masscan's: IPv4 total length 76, echo request type 8 code 0, and 48 payload bytes
`08 09 .. 37` (90-byte frame); over IPv6 the same payload in an ICMPv6 echo request (type 128,
checksum over the pseudo-header, hop limit = ttl).  IPv4 ID = `(ip_them ^ seq) & 0xFFFF` (the SYN
rule with port 196608, whose low 16 bits are 0); masscan derives that one ID from its TCP-style
cookie instead, a cosmetic difference (nobody checks the ID of an echo request).

A reply is an echo reply (type 0 / 129, code 0) to one of our addresses whose identifier+sequence
equals the cookie recomputed from the reply (them = its source): status "open", port 196608
(masscan prints `open port 0/icmp`).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from tidescan.errors import UsageError
from tidescan.packets import layout as L
from tidescan.packets.checksum import finish, sum16_rows, sum16_u32, sum16_u64
from tidescan.packets.triage import Parsed
from tidescan.probes.base import (ICMP_ECHO, OPEN, Ours, Probe, Replies, Targets4, Targets6,
                                  cookie_seq4, cookie_seq6)

__all__ = ["IcmpEchoProbe", "ECHO_PAYLOAD"]

ECHO_PAYLOAD = bytes(range(0x08, 0x38))  # masscan's 48 bytes


class IcmpEchoProbe(Probe):
    """ICMPv4/ICMPv6 echo requests."""

    name = "icmp_echo"

    def __init__(self, src_mac: bytes | str, dst_mac: bytes | str, ttl: int = 255,
                 vlan: int | None = None) -> None:
        if not 0 <= ttl <= 255:
            raise UsageError(f"--ttl: {ttl!r} is not an integer in 0..255")
        self.l3 = L.ETH_HLEN + (L.VLAN_TAG_LEN if vlan is not None else 0)
        icmp_len = L.ICMP_HLEN + len(ECHO_PAYLOAD)
        src, dst = L.mac_bytes(src_mac), L.mac_bytes(dst_mac)
        ip4 = (bytes([0x45, 0]) + (L.IPV4_HLEN + icmp_len).to_bytes(2, "big") + bytes(4)
               + bytes([ttl, L.IPPROTO_ICMP]) + bytes(10))
        ip6 = (bytes([0x60, 0, 0, 0]) + icmp_len.to_bytes(2, "big")
               + bytes([L.IPPROTO_ICMPV6, ttl]) + bytes(32))
        icmp4 = bytes([L.ICMP_ECHO_REQUEST, 0]) + bytes(6) + ECHO_PAYLOAD
        icmp6 = bytes([L.ICMP6_ECHO_REQUEST, 0]) + bytes(6) + ECHO_PAYLOAD
        self._tmpl4 = np.frombuffer(L.eth_header(dst, src, L.ETHERTYPE_IPV4, vlan) + ip4 + icmp4,
                                    np.uint8)
        self._tmpl6 = np.frombuffer(L.eth_header(dst, src, L.ETHERTYPE_IPV6, vlan) + ip6 + icmp6,
                                    np.uint8)

        def s(b: bytes) -> int:
            return int(sum16_rows(np.frombuffer(b, np.uint8)[None, :])[0])

        self._ipconst4 = s(ip4)
        self._icmpconst4 = s(icmp4)
        self._icmpconst6 = s(icmp6) + L.IPPROTO_ICMPV6 + icmp_len  # + pseudo-header constants

    def frame_len(self, version: int) -> int:
        return len(self._tmpl4 if version == 4 else self._tmpl6)

    def prepare(self, out: NDArray[np.uint8], version: int) -> None:
        tmpl = self._tmpl4 if version == 4 else self._tmpl6
        L.check_buffer(out, 0, len(tmpl))
        out[:, :len(tmpl)] = tmpl

    def _ensure(self, out: NDArray[np.uint8], n: int, version: int) -> None:
        tmpl = self._tmpl4 if version == 4 else self._tmpl6
        L.check_buffer(out, n, len(tmpl))
        tail = slice(len(tmpl) - len(ECHO_PAYLOAD), len(tmpl))  # payload: constant
        if n and not (np.array_equal(out[0, :self.l3], tmpl[:self.l3])
                      and np.array_equal(out[n - 1, tail], tmpl[tail])):
            out[:, :len(tmpl)] = tmpl

    def seq4(self, ip_them: ArrayLike, port_them: ArrayLike, ip_me: ArrayLike,
             port_me: ArrayLike, entropy: int) -> NDArray[np.uint32]:
        """cookie(ip_them, 196608, ip_me, 0): ports are ignored."""
        return cookie_seq4(ip_them, ICMP_ECHO, ip_me, 0, entropy)

    def seq6(self, them_hi: ArrayLike, them_lo: ArrayLike, port_them: ArrayLike,
             me_hi: ArrayLike, me_lo: ArrayLike, port_me: ArrayLike,
             entropy: int) -> NDArray[np.uint32]:
        return cookie_seq6(them_hi, them_lo, ICMP_ECHO, me_hi, me_lo, 0, entropy)

    def build(self, out: NDArray[np.uint8], targets: Targets4 | Targets6) -> NDArray[np.int32]:
        t = targets
        sq = L.u32_array(t.seq)
        if isinstance(t, Targets4):
            n = L.batch_size(t.ip_them, t.ip_me, t.seq)
            self._ensure(out, n, 4)
            o = out[:n]
            them, me = L.u32_array(t.ip_them), L.u32_array(t.ip_me)
            ipid = (them ^ sq) & 0xFFFF
            ip, icmp = self.l3, self.l3 + L.IPV4_HLEN
            L.put_u16(o, ip + L.IP4_ID, ipid)
            L.put_u16(o, ip + L.IP4_CSUM,
                      finish(sum16_u32(them) + sum16_u32(me) + ipid + self._ipconst4))
            L.put_u32(o, ip + L.IP4_SRC, me)
            L.put_u32(o, ip + L.IP4_DST, them)
            L.put_u32(o, icmp + L.ICMP_ID, sq)
            L.put_u16(o, icmp + L.ICMP_CSUM, finish(sum16_u32(sq) + self._icmpconst4))
            return np.full(n, len(self._tmpl4), dtype=np.int32)
        n = L.batch_size(t.them_hi, t.them_lo, t.me_hi, t.me_lo, t.seq)
        self._ensure(out, n, 6)
        o = out[:n]
        th, tl, mh, ml = (L.u64_array(x) for x in (t.them_hi, t.them_lo, t.me_hi, t.me_lo))
        ip, icmp = self.l3, self.l3 + L.IPV6_HLEN
        L.put_u64(o, ip + L.IP6_SRC, mh)
        L.put_u64(o, ip + L.IP6_SRC + 8, ml)
        L.put_u64(o, ip + L.IP6_DST, th)
        L.put_u64(o, ip + L.IP6_DST + 8, tl)
        L.put_u32(o, icmp + L.ICMP_ID, sq)
        addr = sum16_u64(th) + sum16_u64(tl) + sum16_u64(mh) + sum16_u64(ml)
        L.put_u16(o, icmp + L.ICMP_CSUM, finish(addr + sum16_u32(sq) + self._icmpconst6))
        return np.full(n, len(self._tmpl6), dtype=np.int32)

    def classify(self, parsed: Parsed, entropy: int, ours: Ours) -> Replies:
        p = parsed
        reply = ((p.is_icmp4 & (p.icmp_type == L.ICMP_ECHO_REPLY))
                 | (p.is_icmp6 & (p.icmp_type == L.ICMP6_ECHO_REPLY)))
        rows = np.flatnonzero(reply & (p.icmp_code == 0) & ours.to_us(p))
        if not rows.size:
            return Replies.empty()
        got = (p.icmp_id[rows].astype(np.uint32) << 16) | p.icmp_seq[rows]
        v6 = p.is_ip6[rows]
        want = np.zeros(len(rows), dtype=np.uint32)
        if (~v6).any():
            r = rows[~v6]
            want[~v6] = self.seq4(p.src4[r], 0, p.dst4[r], 0, entropy)
        if v6.any():
            r = rows[v6]
            want[v6] = self.seq6(p.src6_hi[r], p.src6_lo[r], 0, p.dst6_hi[r], p.dst6_lo[r], 0,
                                 entropy)
        rows = rows[got == want]
        return Replies.of(p, rows, OPEN, ICMP_ECHO)
