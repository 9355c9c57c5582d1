"""UDP scan: datagrams carrying masscan's per-port payloads, with the cookie in a protocol field.

Why this module exists: a UDP probe's bytes depend on the destination port (a DNS query for 53, an
SNMP GetRequest for 161, nothing for most ports; see `udp_payloads.py`), yet a batch mixes ports.
The build stays vectorized by treating the payload as a per-row *lookup*, not a per-row branch:

1. A 65536-entry table maps each port to a payload index (0 = empty); one gather gives every row's
   payload index, and from it (more gathers) its payload length and the precomputed
   one's-complement sum of its constant bytes.
2. Header fields (lengths, addresses, ports, IP ID, IPv4 header checksum) are written for the
   whole batch at once.
3. Payload bytes and cookie bytes are written per payload *group*: the rows going to port 53, the
   rows going to 161, ...  A batch holds a handful of groups (one per payload port scanned), so
   this is a short loop over groups, never over frames.
4. The UDP checksum is the sum of the pseudo-header, header and payload constants plus the cookie
   bytes' contribution, folded; a computed 0 is sent as 0xFFFF (RFC 768).

The cookie is masscan's (low 32 bits of SipHash over ip_them, 65536+port, ip_me, port_me) and the
IPv4 ID follows the SYN rule.  Replies (`classify`): any UDP datagram to one of our addresses and
source ports is "open" for its source port, as in masscan (which checks no cookie); `verified`
is set where the probe's payload carried a cookie and the reply echoes it.  An ICMP
port-unreachable quoting one of our datagrams is "closed" for the quoted destination port.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from tidescan.errors import UsageError
from tidescan.packets import layout as L
from tidescan.packets.checksum import finish, sum16_rows, sum16_u32, sum16_u64
from tidescan.packets.triage import Parsed
from tidescan.probes.base import (CLOSED, OPEN, UDP_BASE, Ours, Probe, Replies, Targets4,
                                  Targets6, cookie_seq4, cookie_seq6)
from tidescan.probes.tcp_syn import unreachable_quoting
from tidescan.probes.udp_payloads import PAYLOADS, CookieField, UdpPayload

__all__ = ["UdpProbe"]


class UdpProbe(Probe):
    """UDP probes with per-port payloads (default: masscan HEAD's table)."""

    name = "udp"

    def __init__(self, src_mac: bytes | str, dst_mac: bytes | str, ttl: int = 255,
                 vlan: int | None = None, payloads: dict[int, UdpPayload] | None = None) -> None:
        if not 0 <= ttl <= 255:
            raise UsageError(f"--ttl: {ttl!r} is not an integer in 0..255")
        if vlan is not None and not 0 <= vlan <= 4095:
            raise UsageError(f"--vlan: {vlan!r} is not an integer in 0..4095")
        self.src_mac, self.dst_mac = L.mac_bytes(src_mac), L.mac_bytes(dst_mac)
        self.ttl, self.vlan = ttl, vlan
        self.payloads = PAYLOADS if payloads is None else payloads
        self.l3 = L.ETH_HLEN + (L.VLAN_TAG_LEN if vlan is not None else 0)
        # Payload index tables: entry 0 is the empty payload.
        entries: list[UdpPayload | None] = [None, *sorted(self.payloads.values(),
                                                          key=lambda r: r.port)]
        self._entries = entries
        self._lut = np.zeros(65536, dtype=np.uint8 if len(entries) < 256 else np.uint16)
        for i, r in enumerate(entries[1:], start=1):
            self._lut[r.port & 0xFFFF] = i
        self._len = np.array([0] + [len(r.data) for r in entries[1:]], dtype=np.uint32)
        self._max = int(self._len.max())
        sums = [0]
        for r in entries[1:]:
            data = np.frombuffer(self._zeroed(r), dtype=np.uint8)
            sums.append(int(sum16_rows(data[None, :])[0]))
        self._psum = np.array(sums, dtype=np.uint32)
        self._tmpl4 = np.frombuffer(
            L.eth_header(self.dst_mac, self.src_mac, L.ETHERTYPE_IPV4, vlan)
            + bytes([0x45, 0, 0, 0, 0, 0, 0, 0, ttl, L.IPPROTO_UDP]) + bytes(10), np.uint8)
        self._tmpl6 = np.frombuffer(
            L.eth_header(self.dst_mac, self.src_mac, L.ETHERTYPE_IPV6, vlan)
            + bytes([0x60, 0, 0, 0, 0, 0, L.IPPROTO_UDP, ttl]) + bytes(32), np.uint8)
        self._ipconst4 = (0x4500 + (ttl << 8) + L.IPPROTO_UDP)

    @staticmethod
    def _zeroed(r: UdpPayload) -> bytes:
        if r.cookie is None:
            return r.data
        c = r.cookie
        return r.data[:c.offset] + bytes(c.width) + r.data[c.offset + c.width:]

    def frame_len(self, version: int) -> int:
        return self.l3 + (L.IPV4_HLEN if version == 4 else L.IPV6_HLEN) + L.UDP_HLEN + self._max

    def prepare(self, out: NDArray[np.uint8], version: int) -> None:
        L.check_buffer(out, 0, self.frame_len(version))
        tmpl = self._tmpl4 if version == 4 else self._tmpl6
        out[:, :len(tmpl)] = tmpl

    def _ensure(self, out: NDArray[np.uint8], n: int, version: int) -> None:
        tmpl = self._tmpl4 if version == 4 else self._tmpl6
        L.check_buffer(out, n, self.frame_len(version))
        eth = len(tmpl) - (L.IPV4_HLEN if version == 4 else L.IPV6_HLEN)
        if n and not (np.array_equal(out[0, :eth], tmpl[:eth])
                      and np.array_equal(out[n - 1, :eth], tmpl[:eth])
                      and out[0, self.l3 + (8 if version == 4 else 7)] == self.ttl):
            out[:, :len(tmpl)] = tmpl

    # -- build -----------------------------------------------------------------------------

    def build(self, out: NDArray[np.uint8], targets: Targets4 | Targets6) -> NDArray[np.int32]:
        """Write UDP frames (with payloads and cookies) for the batch; return frame lengths."""
        t = targets
        v4 = isinstance(t, Targets4)
        if v4:
            n = L.batch_size(t.ip_them, t.port_them, t.ip_me, t.port_me, t.seq)
        else:
            n = L.batch_size(t.them_hi, t.them_lo, t.port_them, t.me_hi, t.me_lo, t.port_me, t.seq)
        self._ensure(out, n, 4 if v4 else 6)
        o = out[:n]
        pt = np.broadcast_to(L.u32_array(t.port_them) & 0xFFFF, (n,))
        pm = L.u32_array(t.port_me) & 0xFFFF
        sq = np.broadcast_to(L.u32_array(t.seq), (n,))
        pidx = self._lut[pt]
        ulen = self._len[pidx] + L.UDP_HLEN
        udp = self.l3 + (L.IPV4_HLEN if v4 else L.IPV6_HLEN)

        # 2. Header fields for the whole batch.
        if v4:
            them, me = L.u32_array(t.ip_them), L.u32_array(t.ip_me)
            addr = sum16_u32(them) + sum16_u32(me)
            ipid = (them ^ pt ^ sq) & 0xFFFF
            totlen = ulen + L.IPV4_HLEN
            ip = self.l3
            L.put_u16(o, ip + L.IP4_TOTLEN, totlen)
            L.put_u16(o, ip + L.IP4_ID, ipid)
            L.put_u16(o, ip + L.IP4_CSUM, finish(addr + ipid + totlen + self._ipconst4))
            L.put_u32(o, ip + L.IP4_SRC, me)
            L.put_u32(o, ip + L.IP4_DST, them)
        else:
            th, tl, mh, ml = (L.u64_array(x) for x in (t.them_hi, t.them_lo, t.me_hi, t.me_lo))
            addr = sum16_u64(th) + sum16_u64(tl) + sum16_u64(mh) + sum16_u64(ml)
            ip = self.l3
            L.put_u16(o, ip + L.IP6_PLEN, ulen)
            L.put_u64(o, ip + L.IP6_SRC, mh)
            L.put_u64(o, ip + L.IP6_SRC + 8, ml)
            L.put_u64(o, ip + L.IP6_DST, th)
            L.put_u64(o, ip + L.IP6_DST + 8, tl)
        L.put_u16(o, udp + L.UDP_SPORT, pm)
        L.put_u16(o, udp + L.UDP_DPORT, pt)
        L.put_u16(o, udp + L.UDP_LEN, ulen)

        # 3. Payload and cookie bytes, one group of rows per payload.
        csum = addr + pm + pt + 2 * ulen + L.IPPROTO_UDP + self._psum[pidx]
        counts = np.bincount(pidx, minlength=len(self._entries))
        for k in np.flatnonzero(counts[1:]).tolist():
            r = self._entries[k + 1]
            assert r is not None
            rows = slice(None) if counts[k + 1] == n else np.flatnonzero(pidx == k + 1)
            base = udp + L.UDP_HLEN
            o[rows, base:base + len(r.data)] = np.frombuffer(r.data, np.uint8)
            if r.cookie is not None:
                csum[rows] += self._write_cookie(o, rows, base, r.cookie, sq[rows])
        c = finish(csum)
        L.put_u16(o, udp + L.UDP_CSUM, np.where(c == 0, np.uint16(0xFFFF), c))
        return (ulen + udp).astype(np.int32)

    @staticmethod
    def _write_cookie(o: NDArray[np.uint8], rows: slice | NDArray[np.intp], base: int,
                      c: CookieField, seq: NDArray[np.uint32]) -> NDArray[np.uint32]:
        """Write `seq & mask` big-endian into the payload field; return its checksum words."""
        v = (seq & np.uint32(c.mask)).astype(np.uint32)
        contrib = np.zeros(len(v), dtype=np.uint32)
        for j in range(c.width):
            shift = 8 * (c.width - 1 - j)
            if shift >= 32:
                o[rows, base + c.offset + j] = 0
                continue
            byte = (v >> shift) & 0xFF
            o[rows, base + c.offset + j] = byte
            contrib += byte << 8 if (c.offset + j) % 2 == 0 else byte
        return contrib

    # -- receive ---------------------------------------------------------------------------

    def classify(self, parsed: Parsed, entropy: int, ours: Ours) -> Replies:
        p = parsed
        parts = []
        rows = np.flatnonzero(p.is_udp & ours.to_us(p) & ours.port(p.dport))
        if rows.size:
            verified = self._verify(p, rows, entropy)
            parts.append(Replies.of(p, rows, OPEN, UDP_BASE + p.sport[rows].astype(np.uint32),
                                    verified=verified))
        icmp = np.flatnonzero(unreachable_quoting(p, ours, L.IPPROTO_UDP))
        if icmp.size:
            parts.append(Replies.of(p, icmp, CLOSED,
                                    UDP_BASE + p.inner_dport[icmp].astype(np.uint32),
                                    verified=False, quoted=True))
        return Replies.concat(parts)

    def _verify(self, p: Parsed, rows: NDArray[np.intp], entropy: int) -> NDArray[np.bool_]:
        """Per reply row: the reply echoes the cookie field of the payload we sent its port."""
        out = np.zeros(len(rows), dtype=bool)
        pidx = self._lut[p.sport[rows]]
        for k in np.unique(pidx).tolist():
            r = self._entries[k]
            if r is None or r.cookie is None:
                continue
            sel = np.flatnonzero(pidx == k)
            rr = rows[sel]
            v6 = p.is_ip6[rr]
            want = np.zeros(len(rr), dtype=np.uint32)
            pt = UDP_BASE + p.sport[rr].astype(np.uint32)
            if (~v6).any():
                i = ~v6
                want[i] = cookie_seq4(p.src4[rr][i], pt[i], p.dst4[rr][i], p.dport[rr][i], entropy)
            if v6.any():
                want[v6] = cookie_seq6(p.src6_hi[rr][v6], p.src6_lo[rr][v6], pt[v6],
                                       p.dst6_hi[rr][v6], p.dst6_lo[rr][v6], p.dport[rr][v6],
                                       entropy)
            want = want.astype(np.uint64) & np.uint64(r.cookie.mask)
            hit = np.zeros(len(rr), dtype=bool)
            for off in r.cookie.replies_at():
                w = r.cookie.width
                fits = p.payload_len[rr] >= off + w
                pos = np.minimum(p.payload_off[rr] + off, p.frames.shape[1] - w)
                got = np.zeros(len(rr), dtype=np.uint64)
                for j in range(w):
                    got = (got << np.uint64(8)) | p.frames[rr, pos + j].astype(np.uint64)
                hit |= fits & (got == want)
            out[sel] = hit
        return out
