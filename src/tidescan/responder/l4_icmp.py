"""ICMPv4 echo, ICMPv6 echo and IPv6 Neighbor Discovery.

Why this exists: `ping` must work against every handled address, and IPv6 neighbours must be able
to resolve them (reference masscanned.md §6-7).

- ICMPv4: type 8 code 0 -> type 0 code 0 with every byte after the 4-byte header (identifier,
  sequence, data) copied; anything else is dropped.
- ICMPv6 (code must be 0):
  * 135 Neighbor Solicitation whose target is handled (any target with no self-IP) -> 136 Neighbor
    Advertisement, flags R=0 S=1 O=1, the target, one Target Link-Layer Address option (type 2,
    length 1) with the responder's MAC; IPv6 source = target, destination = the solicitation's
    source, hop limit 255;
  * 128 Echo Request -> 129 Echo Reply, bytes after the header copied.
  * anything else (NA, RS, RA, MLD...) is dropped.

Fixes relative to masscanned: a truncated solicitation (< 24 bytes) is dropped (masscanned
panicked); a Duplicate Address Detection probe (source `::`) is answered to the all-nodes group
with S=0 as RFC 4861 §7.2.4 says (masscanned sent it to `::`); a multicast target is never claimed;
an echo request is answered only when its destination is handled and not multicast (masscanned
answered echo to *any* IPv6 destination, a side effect of letting ICMPv6 through for ND).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .context import Ctx

if TYPE_CHECKING:
    from .core import Responder

ALL_NODES_IP = bytes.fromhex("ff020000000000000000000000000001")
ALL_NODES_MAC = bytes.fromhex("333300000001")


def handle_v4(r: Responder, ctx: Ctx, icmp: bytes) -> list[bytes]:
    ctx.transport = "icmp"
    if len(icmp) < 4:
        ctx.drop = "truncated ICMP"
        return []
    if icmp[0] != 8 or icmp[1] != 0:
        ctx.drop = f"ICMP type {icmp[0]} code {icmp[1]} ignored"
        return []
    ctx.note = "icmp echo reply"
    return [b"\x00\x00\x00\x00" + icmp[4:]]


def handle_v6(r: Responder, ctx: Ctx, icmp: bytes) -> list[bytes]:
    ctx.transport = "icmp6"
    if len(icmp) < 4:
        ctx.drop = "truncated ICMPv6"
        return []
    itype, code = icmp[0], icmp[1]
    if code != 0:
        ctx.drop = f"ICMPv6 code {code} ignored"
        return []
    if itype == 135:
        if len(icmp) < 24:
            ctx.drop = "truncated neighbor solicitation"
            return []
        target = icmp[8:24]
        if target[0] == 0xFF or not r.cfg.handles_v6(int.from_bytes(target, "big")):
            ctx.drop = "neighbor solicitation for an address not handled"
            return []
        dad = ctx.ip_src == bytes(16)
        flags = b"\x20\x00\x00\x00" if dad else b"\x60\x00\x00\x00"
        ctx.reply_ip_src = target
        ctx.reply_hop_limit = 255
        if dad:
            ctx.reply_ip_dst = ALL_NODES_IP
            ctx.reply_mac_dst = ALL_NODES_MAC
        ctx.note = "neighbor advertisement"
        return [b"\x88\x00\x00\x00" + flags + target + b"\x02\x01" + r.cfg.mac]
    if itype == 128:
        if ctx.ip_dst[0] == 0xFF or not r.cfg.handles_v6(int.from_bytes(ctx.ip_dst, "big")):
            ctx.drop = "echo request to an address not handled"
            return []
        ctx.note = "icmp6 echo reply"
        return [b"\x81\x00\x00\x00" + icmp[4:]]
    ctx.drop = f"ICMPv6 type {itype} ignored"
    return []
