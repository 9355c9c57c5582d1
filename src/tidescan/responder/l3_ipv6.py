"""IPv6: destination and source filtering, dispatch to ICMPv6/TCP/UDP, reply headers.

Why this exists: the IPv6 twin of `l3_ipv4` (reference masscanned.md §5).  Dropped: destination
not handled (when self-IPs are configured) *unless* the next header is ICMPv6 (so Neighbor
Solicitations to solicited-node groups reach the ND code, which checks the target itself), source
in the deny list, next headers other than ICMPv6 (58), TCP (6), UDP (17) - extension headers are
not walked, as in masscanned.

Reply header: version 6, traffic class and flow label 0, hop limit 64 (255 for a Neighbor
Advertisement), source = the request's destination (for an NA: the solicited target), destination
= the request's source, payload length computed, L4 checksum over the pseudo-header.

Robustness: headers shorter than 40 bytes or of another version are dropped; the payload length is
clamped to the frame.  Fix: TCP and UDP sent to a multicast destination are not answered.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from . import l4_icmp, l4_tcp, l4_udp
from .checksum import checksum, pseudo_v6
from .context import Ctx

if TYPE_CHECKING:
    from .core import Responder

NH_TCP, NH_UDP, NH_ICMP6 = 6, 17, 58
_CSUM_OFFSET = {NH_TCP: 16, NH_UDP: 6, NH_ICMP6: 2}


def handle(r: Responder, ctx: Ctx, ip: bytes) -> list[bytes]:
    ctx.ip_version = 6
    if len(ip) < 40 or ip[0] >> 4 != 6:
        ctx.drop = "not an IPv6 header"
        return []
    plen = (ip[4] << 8) | ip[5]
    nh = ip[6]
    src, dst = ip[8:24], ip[24:40]
    ctx.ip_src, ctx.ip_dst = src, dst
    if nh != NH_ICMP6 and not r.cfg.handles_v6(int.from_bytes(dst, "big")):
        ctx.drop = "destination not handled"
        return []
    if int.from_bytes(src, "big") in r.cfg.deny_ips.v6:
        ctx.drop = "source denied"
        return []
    payload = ip[40:40 + plen]
    if nh == NH_ICMP6:
        segs = l4_icmp.handle_v6(r, ctx, payload)
    elif dst[0] == 0xFF:
        ctx.drop = "multicast destination"
        return []
    elif nh == NH_TCP:
        segs = l4_tcp.handle(r, ctx, payload)
    elif nh == NH_UDP:
        segs = l4_udp.handle(r, ctx, payload)
    else:
        ctx.drop = f"next header {nh} not handled"
        return []
    return [build(ctx, nh, seg) for seg in segs]


def build(ctx: Ctx, nh: int, seg: bytes) -> bytes:
    src = ctx.reply_ip_src or ctx.ip_dst
    dst = ctx.reply_ip_dst or ctx.ip_src
    off = _CSUM_OFFSET[nh]
    c = checksum(seg, pseudo_v6(src, dst, nh, len(seg)))
    if nh == NH_UDP and c == 0:
        c = 0xFFFF
    seg = seg[:off] + c.to_bytes(2, "big") + seg[off + 2:]
    return struct.pack("!IHBB", 6 << 28, len(seg), nh, ctx.reply_hop_limit) + src + dst + seg
