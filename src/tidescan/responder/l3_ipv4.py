"""IPv4: destination and source filtering, dispatch to ICMP/TCP/UDP, reply headers.

Why this exists: the responder answers only for its addresses and never for denied sources
(reference masscanned.md §4).  Dropped: destination not handled (when self-IPs are configured),
source in the deny list, protocols other than ICMP (1), TCP (6), UDP (17).  Header checksum, TTL
and L4 checksums of requests are not checked (as masscanned; veth offload leaves them partial).

Reply header exactly as masscanned writes it: version 4, IHL 5 (options never echoed), TOS 0,
ID 0, flags DF, TTL 64, source = the request's destination, destination = the request's source,
header checksum computed; the L4 checksum is computed over the swapped pseudo-header.

Robustness (masscanned panics or misparses on some of these): a header shorter than 20 bytes, a
version other than 4, an IHL below 5 or past the data, a total length shorter than the header are
dropped; a total length longer than the frame is clamped to the frame; Ethernet padding beyond the
total length is ignored.  Fixes: non-first fragments (offset != 0, no L4 header inside) are
dropped, and packets sent to a multicast or broadcast destination are not answered (masscanned
answered *from* that group address, its own FIXME).
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from . import l4_icmp, l4_tcp, l4_udp
from .checksum import checksum, pseudo_v4
from .context import Ctx

if TYPE_CHECKING:
    from .core import Responder

PROTO_ICMP, PROTO_TCP, PROTO_UDP = 1, 6, 17
_CSUM_OFFSET = {PROTO_TCP: 16, PROTO_UDP: 6}


def handle(r: Responder, ctx: Ctx, ip: bytes) -> list[bytes]:
    ctx.ip_version = 4
    if len(ip) < 20 or ip[0] >> 4 != 4:
        ctx.drop = "not an IPv4 header"
        return []
    ihl = (ip[0] & 0x0F) * 4
    total = (ip[2] << 8) | ip[3]
    if ihl < 20 or ihl > len(ip) or total < ihl:
        ctx.drop = "bad IPv4 header length"
        return []
    proto = ip[9]
    src, dst = ip[12:16], ip[16:20]
    ctx.ip_src, ctx.ip_dst = src, dst
    dst_int = int.from_bytes(dst, "big")
    if not r.cfg.handles_v4(dst_int):
        ctx.drop = "destination not handled"
        return []
    if int.from_bytes(src, "big") in r.cfg.deny_ips.v4:
        ctx.drop = "source denied"
        return []
    if dst_int >> 28 == 0xE or dst_int == 0xFFFFFFFF:
        ctx.drop = "multicast/broadcast destination"
        return []
    if ((ip[6] << 8) | ip[7]) & 0x1FFF:
        ctx.drop = "non-first fragment"
        return []
    payload = ip[ihl:min(total, len(ip))]
    if proto == PROTO_ICMP:
        segs = l4_icmp.handle_v4(r, ctx, payload)
    elif proto == PROTO_TCP:
        segs = l4_tcp.handle(r, ctx, payload)
    elif proto == PROTO_UDP:
        segs = l4_udp.handle(r, ctx, payload)
    else:
        ctx.drop = f"IP protocol {proto} not handled"
        return []
    return [build(ctx, proto, seg) for seg in segs]


def build(ctx: Ctx, proto: int, seg: bytes) -> bytes:
    """IPv4 header + `seg` with its checksum (at the protocol's offset) filled in."""
    src = ctx.reply_ip_src or ctx.ip_dst
    dst = ctx.reply_ip_dst or ctx.ip_src
    if proto == PROTO_ICMP:
        c = checksum(seg)
        seg = seg[:2] + c.to_bytes(2, "big") + seg[4:]
    else:
        off = _CSUM_OFFSET[proto]
        c = checksum(seg, pseudo_v4(src, dst, proto, len(seg)))
        if proto == PROTO_UDP and c == 0:
            c = 0xFFFF
        seg = seg[:off] + c.to_bytes(2, "big") + seg[off + 2:]
    total = 20 + len(seg)
    head = struct.pack("!BBHHHBBH4s4s", 0x45, 0, total, 0, 0x4000, 64, proto, 0, src, dst)
    head = head[:10] + checksum(head).to_bytes(2, "big") + head[12:]
    return head + seg
