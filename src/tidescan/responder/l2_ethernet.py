"""Layer 2: which Ethernet frames are for us, and how replies are framed.

Why this exists: a responder on a shared link sees every frame (the socket is promiscuous); only
frames addressed to it may be answered (reference masscanned.md §2).  Accepted destination MACs:

1. the responder's MAC;
2. broadcast `ff:ff:ff:ff:ff:ff`;
3. the IPv6 all-nodes group `33:33:00:00:00:01`;
4. for each handled IPv4 `a.b.c.d`, the RFC 1112 group MAC `01:00:5e:(b & 0x7f):c:d` (masscanned
   applies the mapping even to unicast addresses);
5. for each handled IPv6, its solicited-node group MAC `33:33:ff:XX:YY:ZZ` (last three bytes).

Items 4 and 5 exist only when self-IPs are configured.  Difference from masscanned (a fix): with no
self-IP ("answer for every address") every solicited-node MAC `33:33:ff:*` is accepted, because
Linux sends Neighbor Solicitations there and masscanned could not be pinged over IPv6 in that mode.

Only EtherTypes ARP, IPv4 and IPv6 are processed (VLAN tags and 802.3 length frames are dropped).
A reply goes from the responder's MAC to the request's source MAC (or to the address an inner
layer chose), with the same EtherType, no padding.  Frames shorter than 14 bytes are dropped
(masscanned would panic on them).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import l2_arp, l3_ipv4, l3_ipv6
from .context import Ctx

if TYPE_CHECKING:
    from .core import Responder

ETH_ARP, ETH_IPV4, ETH_IPV6 = 0x0806, 0x0800, 0x86DD
BROADCAST = b"\xff" * 6
ALL_NODES = bytes.fromhex("333300000001")
MAX_FRAME = 1514


def accepted_macs(mac: bytes, v4: frozenset[int], v6: frozenset[int]) -> frozenset[bytes]:
    macs = {mac, BROADCAST, ALL_NODES}
    for ip in v4:
        macs.add(bytes((0x01, 0x00, 0x5E, (ip >> 16) & 0x7F, (ip >> 8) & 0xFF, ip & 0xFF)))
    for ip in v6:
        macs.add(b"\x33\x33\xff" + (ip & 0xFFFFFF).to_bytes(3, "big"))
    return frozenset(macs)


def handle(r: Responder, ctx: Ctx, frame: bytes) -> list[bytes]:
    if len(frame) < 14:
        ctx.drop = "frame shorter than an Ethernet header"
        return []
    dst, src = frame[0:6], frame[6:12]
    ethertype = (frame[12] << 8) | frame[13]
    ctx.dst_mac, ctx.src_mac, ctx.ethertype = dst, src, ethertype
    if dst not in r.accepted_macs and not (r.cfg.handle_all and dst[:3] == b"\x33\x33\xff"):
        ctx.drop = "destination MAC not ours"
        return []
    payload = frame[14:]
    if ethertype == ETH_ARP:
        replies = l2_arp.handle(r, ctx, payload)
    elif ethertype == ETH_IPV4:
        replies = l3_ipv4.handle(r, ctx, payload)
    elif ethertype == ETH_IPV6:
        replies = l3_ipv6.handle(r, ctx, payload)
    else:
        ctx.drop = f"ethertype 0x{ethertype:04x} not handled"
        return []
    if not replies:
        return []
    head = (ctx.reply_mac_dst or src) + r.cfg.mac + frame[12:14]
    out = [head + p for p in replies if 14 + len(p) <= MAX_FRAME]
    if len(out) < len(replies):
        ctx.drop = "reply larger than the link MTU"
    return out
