"""Frame triage: every header field of a block of received frames, extracted at once.

Why this module exists: the receive side reads the RX ring a block at a time (thousands of frames,
one per row of a `(n, snap)` uint8 array) and must decide, for each frame, what it is and whether
it answers one of our probes.  Walking frames one by one in Python costs microseconds each; here
each header *field* of the whole block is one NumPy column operation, so a 4096-frame block costs
about as much as a few dozen frames would in a loop.  Everything downstream (cookie checks,
dedup, reports, the TCP stack, the responder) reads the `Parsed` arrays; only rare frames (banner
segments, ARP, ND) are later looked at one by one.

How: the first `HDR_WINDOW` (160) bytes of every frame are copied into one small contiguous block
(enough for Ethernet + one VLAN tag + an IPv4 header with options + an ICMP error quoting another
IPv4 header with options + 8 bytes).  Header offsets vary from frame to frame (VLAN tag or not,
IPv4 options, IPv4 vs IPv6), so each layer is first *aligned*: `_window` gathers, for every row,
the bytes starting at that row's layer offset into a `(n, width)` array.  Frames share only a
handful of distinct offsets (usually one), so the gather is one slice in the common case and one
fancy-indexed copy per distinct offset otherwise.  Fields are then fixed columns of the aligned
arrays.

Robustness rules: lengths are clipped to the snap length; every read stays inside the copied
window (short frames read zero or stale bytes, never out of bounds); a frame whose headers do not
fit in its captured length, or whose IP header is inconsistent, gets `ok = False` and none of the
protocol masks.  Field values are meaningful only where the matching mask is set (they are zero
elsewhere).  Not parsed: IPv6 extension headers (`proto` is then the first next-header value and
no L4 mask is set), IPv4 fragments after the first (no L4 mask), more than one VLAN tag.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from tidescan.packets import layout as L

__all__ = ["Parsed", "parse_frames", "HDR_WINDOW"]

HDR_WINDOW = 160

I32 = NDArray[np.int32]
U8 = NDArray[np.uint8]
U16 = NDArray[np.uint16]
U32 = NDArray[np.uint32]
U64 = NDArray[np.uint64]
B = NDArray[np.bool_]


@dataclass(slots=True, eq=False)
class Parsed:
    """Fields of a block of n frames (arrays of length n; see the module docstring for validity).

    Addresses: IPv4 as uint32, IPv6 as (hi, lo) uint64 halves, MACs as 48-bit uint64.  Offsets
    (`l3_off`, `l4_off`, `payload_off`) are byte offsets into the frame's row of `frames`.
    For ICMP errors (`has_inner`), the `inner_*` fields describe the quoted datagram: for a probe
    of ours, `inner_src*`/`inner_sport` are our address/port and `inner_dst*`/`inner_dport` the
    target's; `inner_seq` is the quoted TCP sequence number (or UDP length+checksum).
    """

    n: int
    frames: NDArray[np.uint8]
    lengths: I32           # captured length, clipped to the snap length
    ok: B
    # Ethernet
    dst_mac: U64
    src_mac: U64
    ethertype: U16         # after the VLAN tag, if any
    has_vlan: B
    vlan_id: U16
    l3_off: I32
    # protocol masks
    is_arp: B
    is_ip4: B
    is_ip6: B
    is_tcp: B
    is_udp: B
    is_icmp4: B
    is_icmp6: B
    # IP
    proto: U8              # IPv4 protocol / IPv6 next header
    ttl: U8                # TTL / hop limit
    src4: U32
    dst4: U32
    src6_hi: U64
    src6_lo: U64
    dst6_hi: U64
    dst6_lo: U64
    ip_end: I32            # end of the IP datagram inside the frame (Ethernet padding excluded)
    # L4
    l4_off: I32
    sport: U16             # TCP or UDP
    dport: U16
    seq: U32               # TCP
    ack: U32
    tcp_flags: U8
    tcp_window: U16
    payload_off: I32       # TCP/UDP/ICMP payload (after the 8-byte ICMP header)
    payload_len: I32
    icmp_type: U8          # ICMPv4 or ICMPv6
    icmp_code: U8
    icmp_id: U16
    icmp_seq: U16
    nd_target_hi: U64      # ICMPv6 neighbour solicitation/advertisement target
    nd_target_lo: U64
    # ICMP errors: the quoted datagram
    has_inner: B
    inner_proto: U8
    inner_src4: U32
    inner_dst4: U32
    inner_src6_hi: U64
    inner_src6_lo: U64
    inner_dst6_hi: U64
    inner_dst6_lo: U64
    inner_sport: U16
    inner_dport: U16
    inner_seq: U32
    # ARP
    arp_op: U16
    arp_sha: U64
    arp_spa: U32
    arp_tha: U64
    arp_tpa: U32

    def payload(self, i: int) -> bytes:
        """The TCP/UDP/ICMP payload bytes of frame `i` (empty if none)."""
        off, ln = int(self.payload_off[i]), int(self.payload_len[i])
        return self.frames[i, off:off + ln].tobytes() if ln > 0 else b""

    def frame(self, i: int) -> bytes:
        """The captured bytes of frame `i`."""
        return self.frames[i, :int(self.lengths[i])].tobytes()


def _window(h: NDArray[np.uint8], off: NDArray[np.int32], width: int) -> NDArray[np.uint8]:
    """Row i of the result = `h[i, off[i] : off[i] + width]` (zero past the end of `h`)."""
    n, w = h.shape
    if n == 0:
        return np.zeros((0, width), dtype=np.uint8)
    o0 = int(off[0])
    if o0 + width <= w and bool((off == o0).all()):
        return h[:, o0:o0 + width]
    out = np.zeros((n, width), dtype=np.uint8)
    for o in np.flatnonzero(np.bincount(off)).tolist():  # a handful of distinct offsets
        take = min(width, w - o)
        if take > 0:
            rows = np.flatnonzero(off == o)
            out[rows, :take] = h[rows, o:o + take]
    return out


def _z(mask: B, values: NDArray) -> NDArray:  # type: ignore[type-arg]
    """`values` where `mask`, else 0 (same dtype)."""
    return np.where(mask, values, values.dtype.type(0))


class _Mask:
    """A row mask with its any()/all() computed once, so that a field whose mask is empty is not
    extracted at all and a field whose mask is full is not masked (the common block is all TCP)."""

    __slots__ = ("m", "any", "all")

    def __init__(self, m: B) -> None:
        self.m = m
        self.any = bool(m.any())
        self.all = self.any and bool(m.all())

    def take(self, fn: Callable[[], NDArray], dtype: type) -> NDArray:  # type: ignore[type-arg]
        """`fn()` (the field for every row) where the mask is set, 0 elsewhere."""
        if not self.any:
            return np.zeros(len(self.m), dtype=dtype)
        v = fn()
        return v if self.all else np.where(self.m, v, v.dtype.type(0))


def parse_frames(buf: NDArray[np.uint8], lengths: ArrayLike) -> Parsed:
    """Parse a block of received frames (`buf` rows, `lengths` captured lengths) into `Parsed`."""
    buf = np.asarray(buf)
    if buf.dtype != np.uint8 or buf.ndim != 2:
        raise ValueError(f"frames must be a 2-D uint8 array, got {buf.dtype} {buf.shape}")
    n, snap = buf.shape
    avail = np.minimum(np.broadcast_to(np.asarray(lengths, dtype=np.int64), (n,)), snap)
    avail = np.maximum(avail, 0).astype(np.int32)

    # 0. Copy the header window of every frame into one contiguous block.
    if snap >= HDR_WINDOW:
        h = np.ascontiguousarray(buf[:, :HDR_WINDOW])
    else:
        h = np.zeros((n, HDR_WINDOW), dtype=np.uint8)
        h[:, :snap] = buf

    # 1. Ethernet and one optional VLAN tag.
    et0 = L.get_u16(h, 12)
    tagged = (et0 == L.ETHERTYPE_VLAN) | (et0 == L.ETHERTYPE_QINQ)
    l3 = np.where(tagged, L.ETH_HLEN + L.VLAN_TAG_LEN, L.ETH_HLEN).astype(np.int32)
    ethertype = np.where(tagged, L.get_u16(h, 16), et0)
    vlan_id = _z(tagged, L.get_u16(h, 14) & np.uint16(0x0FFF))
    eth_ok = avail >= l3
    has_vlan = tagged & eth_ok

    # 2. Network layer (IPv4, IPv6, ARP), aligned at l3.
    n3 = _window(h, l3, L.IPV6_HLEN)
    vihl = n3[:, 0]
    ver = vihl >> 4
    ihl = ((vihl & 0x0F).astype(np.int32)) * 4
    totlen4 = L.get_u16(n3, L.IP4_TOTLEN).astype(np.int32)
    fragoff = L.get_u16(n3, L.IP4_FRAG) & np.uint16(0x1FFF)
    plen6 = L.get_u16(n3, L.IP6_PLEN).astype(np.int32)

    is_ip4 = (eth_ok & (ethertype == L.ETHERTYPE_IPV4) & (ver == 4) & (ihl >= L.IPV4_HLEN)
              & (avail >= l3 + ihl) & (totlen4 >= ihl))
    is_ip6 = (eth_ok & (ethertype == L.ETHERTYPE_IPV6) & (ver == 6)
              & (avail >= l3 + L.IPV6_HLEN))
    is_ip = is_ip4 | is_ip6
    m4, m6 = _Mask(is_ip4), _Mask(is_ip6)
    proto = np.where(is_ip4, n3[:, L.IP4_PROTO], m6.take(lambda: n3[:, L.IP6_NXT], np.uint8))
    ttl = np.where(is_ip4, n3[:, L.IP4_TTL], m6.take(lambda: n3[:, L.IP6_HLIM], np.uint8))
    src4 = m4.take(lambda: L.get_u32(n3, L.IP4_SRC), np.uint32)
    dst4 = m4.take(lambda: L.get_u32(n3, L.IP4_DST), np.uint32)
    src6_hi = m6.take(lambda: L.get_u64(n3, L.IP6_SRC), np.uint64)
    src6_lo = m6.take(lambda: L.get_u64(n3, L.IP6_SRC + 8), np.uint64)
    dst6_hi = m6.take(lambda: L.get_u64(n3, L.IP6_DST), np.uint64)
    dst6_lo = m6.take(lambda: L.get_u64(n3, L.IP6_DST + 8), np.uint64)
    ip_end = np.where(is_ip4, l3 + totlen4, np.where(is_ip6, l3 + L.IPV6_HLEN + plen6, avail))
    end = np.minimum(ip_end, avail).astype(np.int32)
    ip_end = ip_end.astype(np.int32)

    is_arp = eth_ok & (ethertype == L.ETHERTYPE_ARP) & (avail >= l3 + L.ARP_LEN)
    if is_arp.any():
        is_arp &= ((L.get_u16(n3, 0) == 1) & (L.get_u16(n3, 2) == L.ETHERTYPE_IPV4)
                   & (n3[:, 4] == 6) & (n3[:, 5] == 4))
    ma = _Mask(is_arp)
    arp_op = ma.take(lambda: L.get_u16(n3, L.ARP_OP), np.uint16)
    arp_sha = ma.take(lambda: L.get_mac(n3, L.ARP_SHA), np.uint64)
    arp_spa = ma.take(lambda: L.get_u32(n3, L.ARP_SPA), np.uint32)
    arp_tha = ma.take(lambda: L.get_mac(n3, L.ARP_THA), np.uint64)
    arp_tpa = ma.take(lambda: L.get_u32(n3, L.ARP_TPA), np.uint32)

    # 3. Transport layer, aligned at l4 (non-IP rows get a dummy offset to keep one group).
    l4 = (l3 + np.where(is_ip6, L.IPV6_HLEN, np.where(is_ip4, ihl, L.IPV4_HLEN))).astype(np.int32)
    n4 = _window(h, l4, 24)
    has_l4 = (is_ip4 & (fragoff == 0)) | is_ip6
    doff = ((n4[:, L.TCP_OFF] >> 4).astype(np.int32)) * 4
    is_tcp = (has_l4 & (proto == L.IPPROTO_TCP) & (doff >= L.TCP_HLEN)
              & (end >= l4 + doff))
    is_udp = has_l4 & (proto == L.IPPROTO_UDP) & (end >= l4 + L.UDP_HLEN)
    is_icmp4 = has_l4 & is_ip4 & (proto == L.IPPROTO_ICMP) & (end >= l4 + L.ICMP_HLEN)
    is_icmp6 = has_l4 & is_ip6 & (proto == L.IPPROTO_ICMPV6) & (end >= l4 + L.ICMP_HLEN)
    is_icmp = is_icmp4 | is_icmp6
    l4_ok = is_tcp | is_udp | is_icmp

    known = has_l4 & (((proto == L.IPPROTO_TCP) | (proto == L.IPPROTO_UDP))
                      | (is_ip4 & (proto == L.IPPROTO_ICMP))
                      | (is_ip6 & (proto == L.IPPROTO_ICMPV6)))
    ip_claim = (ethertype == L.ETHERTYPE_IPV4) | (ethertype == L.ETHERTYPE_IPV6)
    ok = eth_ok & np.where(ip_claim, is_ip & (~known | l4_ok),
                           np.where(ethertype == L.ETHERTYPE_ARP, is_arp, True))

    mt, mtu, mi = _Mask(is_tcp), _Mask(is_tcp | is_udp), _Mask(is_icmp)
    sport = mtu.take(lambda: L.get_u16(n4, L.TCP_SPORT), np.uint16)
    dport = mtu.take(lambda: L.get_u16(n4, L.TCP_DPORT), np.uint16)
    seq = mt.take(lambda: L.get_u32(n4, L.TCP_SEQ), np.uint32)
    ack = mt.take(lambda: L.get_u32(n4, L.TCP_ACK), np.uint32)
    tcp_flags = mt.take(lambda: n4[:, L.TCP_FLAGS], np.uint8)
    tcp_window = mt.take(lambda: L.get_u16(n4, L.TCP_WIN), np.uint16)
    icmp_type = mi.take(lambda: n4[:, L.ICMP_TYPE], np.uint8)
    icmp_code = mi.take(lambda: n4[:, L.ICMP_CODE], np.uint8)
    icmp_id = mi.take(lambda: L.get_u16(n4, L.ICMP_ID), np.uint16)
    icmp_seq = mi.take(lambda: L.get_u16(n4, L.ICMP_SEQ), np.uint16)
    mnd = _Mask(is_icmp6 & ((icmp_type == L.ND_NEIGHBOR_SOLICIT)
                            | (icmp_type == L.ND_NEIGHBOR_ADVERT)) & (end >= l4 + 24))
    nd_target_hi = mnd.take(lambda: L.get_u64(n4, 8), np.uint64)
    nd_target_lo = mnd.take(lambda: L.get_u64(n4, 16), np.uint64)
    mok = _Mask(l4_ok)
    payload_off = mok.take(lambda: l4 + np.where(is_tcp, doff, L.UDP_HLEN), np.int32)
    payload_len = mok.take(lambda: np.maximum(end - payload_off, 0), np.int32)

    # 4. ICMP errors: the quoted datagram (only for the rows that are ICMP errors).
    err4 = is_icmp4 & ((icmp_type == L.ICMP_UNREACH) | (icmp_type == L.ICMP_TIME_EXCEEDED)
                       | (icmp_type == 12))
    err6 = is_icmp6 & (icmp_type >= L.ICMP6_UNREACH) & (icmp_type <= L.ICMP6_PARAM_PROBLEM)
    has_inner = np.zeros(n, dtype=bool)
    inner_proto = np.zeros(n, dtype=np.uint8)
    inner_src4 = np.zeros(n, dtype=np.uint32)
    inner_dst4 = np.zeros(n, dtype=np.uint32)
    inner6 = [np.zeros(n, dtype=np.uint64) for _ in range(4)]
    inner_sport = np.zeros(n, dtype=np.uint16)
    inner_dport = np.zeros(n, dtype=np.uint16)
    inner_seq = np.zeros(n, dtype=np.uint32)
    rows = np.flatnonzero(err4 | err6) if mi.any else np.zeros(0, dtype=np.intp)
    if rows.size:
        hs = h[rows]
        e4, e6, end_s = err4[rows], err6[rows], end[rows]
        ioff = l4[rows] + L.ICMP_HLEN
        q3 = _window(hs, ioff, L.IPV6_HLEN)
        iver = q3[:, 0] >> 4
        iihl = ((q3[:, 0] & 0x0F).astype(np.int32)) * 4
        in4 = e4 & (iver == 4) & (iihl >= L.IPV4_HLEN)
        in6 = e6 & (iver == 6)
        il4 = (ioff + np.where(in6, L.IPV6_HLEN, np.where(in4, iihl, L.IPV4_HLEN))).astype(np.int32)
        valid = (in4 | in6) & (end_s >= il4 + 8)
        in4 &= valid
        in6 &= valid
        q4 = _window(hs, il4, 8)
        has_inner[rows] = valid
        inner_proto[rows] = np.where(in4, q3[:, L.IP4_PROTO], _z(in6, q3[:, L.IP6_NXT]))
        inner_src4[rows] = _z(in4, L.get_u32(q3, L.IP4_SRC))
        inner_dst4[rows] = _z(in4, L.get_u32(q3, L.IP4_DST))
        for arr, col in zip(inner6, (L.IP6_SRC, L.IP6_SRC + 8, L.IP6_DST, L.IP6_DST + 8)):
            arr[rows] = _z(in6, L.get_u64(q3, col))
        inner_sport[rows] = _z(valid, L.get_u16(q4, 0))
        inner_dport[rows] = _z(valid, L.get_u16(q4, 2))
        inner_seq[rows] = _z(valid, L.get_u32(q4, 4))

    return Parsed(
        n=n, frames=buf, lengths=avail, ok=ok,
        dst_mac=L.get_mac(h, 0), src_mac=L.get_mac(h, 6), ethertype=ethertype.astype(np.uint16),
        has_vlan=has_vlan, vlan_id=vlan_id.astype(np.uint16), l3_off=l3,
        is_arp=is_arp, is_ip4=is_ip4, is_ip6=is_ip6, is_tcp=is_tcp, is_udp=is_udp,
        is_icmp4=is_icmp4, is_icmp6=is_icmp6,
        proto=proto.astype(np.uint8), ttl=ttl.astype(np.uint8),
        src4=src4, dst4=dst4, src6_hi=src6_hi, src6_lo=src6_lo, dst6_hi=dst6_hi, dst6_lo=dst6_lo,
        ip_end=ip_end, l4_off=l4, sport=sport, dport=dport, seq=seq, ack=ack,
        tcp_flags=tcp_flags, tcp_window=tcp_window, payload_off=payload_off,
        payload_len=payload_len, icmp_type=icmp_type, icmp_code=icmp_code, icmp_id=icmp_id,
        icmp_seq=icmp_seq, nd_target_hi=nd_target_hi, nd_target_lo=nd_target_lo,
        has_inner=has_inner, inner_proto=inner_proto, inner_src4=inner_src4,
        inner_dst4=inner_dst4, inner_src6_hi=inner6[0], inner_src6_lo=inner6[1],
        inner_dst6_hi=inner6[2], inner_dst6_lo=inner6[3], inner_sport=inner_sport,
        inner_dport=inner_dport, inner_seq=inner_seq,
        arp_op=arp_op, arp_sha=arp_sha, arp_spa=arp_spa, arp_tha=arp_tha, arp_tpa=arp_tpa,
    )
