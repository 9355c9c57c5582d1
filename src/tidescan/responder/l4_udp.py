"""UDP: a datagram is answered only if an application protocol produces an answer.

Why this exists: there is no "open UDP port" to show (no ICMP port-unreachable is ever sent);
content decides (reference masscanned.md §9, protocols in `dispatch.py`).  The answer goes from the
request's destination port (or `dport + 1` for STUN change-port) to its source port; length and
checksum are computed.  An empty payload or a header shorter than 8 bytes is dropped.  The UDP
length field is trusted only when it fits (8 <= length <= what arrived); otherwise the datagram
runs to the end of the IP payload.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from .context import Ctx

if TYPE_CHECKING:
    from .core import Responder


def handle(r: Responder, ctx: Ctx, seg: bytes) -> list[bytes]:
    ctx.transport = "udp"
    if len(seg) < 8:
        ctx.drop = "truncated UDP header"
        return []
    sport, dport, ulen = struct.unpack_from("!HHH", seg)
    ctx.sport, ctx.dport = sport, dport
    payload = seg[8:ulen] if 8 <= ulen <= len(seg) else seg[8:]
    if not payload:
        ctx.drop = "empty UDP payload"
        return []
    data = r.apps.on_udp(ctx, payload)
    if data is None:
        ctx.drop = ctx.drop or "no application answer"
        return []
    src_port = dport if ctx.reply_sport is None else ctx.reply_sport
    return [struct.pack("!HHHH", src_port, sport, 8 + len(data), 0) + data]
