"""ARP: who-has requests for handled IPv4 addresses get an is-at with the responder's MAC.

Why this exists: before a neighbour can send an IPv4 packet to an address on the link it must
resolve the address to a MAC; answering makes every handled address reachable (reference
masscanned.md §3).  Trigger: operation 1 (request) and the target protocol address handled (any
address when no self-IP is configured).  The reply is the request with operation 2, hardware type
1, sender = (responder MAC, requested address), target = the requester; protocol type and address
lengths are copied.  Requests shorter than 28 bytes are dropped; the source deny list does not
apply to ARP (masscanned's rule).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .context import Ctx

if TYPE_CHECKING:
    from .core import Responder


def handle(r: Responder, ctx: Ctx, arp: bytes) -> list[bytes]:
    ctx.transport = "arp"
    if len(arp) < 28:
        ctx.drop = "truncated ARP"
        return []
    op = (arp[6] << 8) | arp[7]
    sha, spa, tpa = arp[8:14], arp[14:18], arp[24:28]
    ctx.ip_src, ctx.ip_dst = spa, tpa
    if op != 1:
        ctx.drop = f"ARP operation {op} ignored"
        return []
    if not r.cfg.handles_v4(int.from_bytes(tpa, "big")):
        ctx.drop = "ARP for an address not handled"
        return []
    ctx.note = "arp is-at"
    return [b"\x00\x01" + arp[2:6] + b"\x00\x02" + r.cfg.mac + tpa + sha + spa]
