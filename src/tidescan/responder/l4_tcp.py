"""TCP without connections: SYN cookies, data answered statelessly, never a RST.

Why this exists: every port of every handled address must look open (SYN -> SYN-ACK), and a
client that completes the handshake and sends data must get an application answer, without
keeping state for half-open connections (reference masscanned.md §8).  Decision on the flags byte,
in this order:

1. PSH and ACK both set (other flags allowed): if no control block exists for the 4-tuple, the
   acknowledgement number must be cookie + 1 (else drop silently); a control block is created and
   the payload goes to the application dispatcher.  Answer PSH-ACK + data if the application
   answered, else a bare ACK; seq = the request's ack, ack = the request's seq + payload length.
2. exactly ACK: ignored - except (tidescanned addition) the handshake-completing ACK
   (no data, ack = cookie + 1, no control block yet) to a server-first port (21, 23, 25, 110, 143,
   587), which gets the protocol's greeting (`proto_greetings.py`);
3. exactly RST: ignored (the control block is forgotten);
4. exactly FIN+ACK: answered FIN+ACK, seq = the request's ack, ack = its seq + 1 (the control
   block is forgotten);
5. SYN with no flag outside {SYN, PSH, URG, CWR, ECE} and not CWR+ECE together (Linux's choice):
   SYN-ACK with seq = cookie, ack = seq + 1, window 65535, no options;
6. anything else: ignored.

Answers have data offset 5, window 65535, no options, urgent 0.  Application answers longer than
one segment are split into several PSH-ACK segments (masscanned sent one oversized segment).
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from .context import Ctx
from .proto_greetings import GREETING_PORTS
from .synack_cookie import cookie_v4, cookie_v6

if TYPE_CHECKING:
    from .core import Responder

FIN, SYN, RST, PSH, ACK, URG, ECE, CWR = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80
SYN_ALLOWED = SYN | PSH | URG | CWR | ECE
MSS = {4: 1460, 6: 1440}


def syn_answered(flags: int) -> bool:
    """masscanned's (and Linux's) rule for which SYN variants get a SYN-ACK."""
    return bool(flags & SYN) and not (flags & ~SYN_ALLOWED & 0xFF) and (flags & (CWR | ECE)) != (CWR | ECE)


def cookie(r: Responder, ctx: Ctx) -> int:
    if ctx.ip_version == 4:
        return cookie_v4(ctx.src_int, ctx.dst_int, ctx.sport, ctx.dport, r.cfg.synack_key)
    return cookie_v6(ctx.src_int, ctx.dst_int, ctx.sport, ctx.dport, r.cfg.synack_key)


def segment(ctx: Ctx, seq: int, ack: int, flags: int, data: bytes = b"") -> bytes:
    return struct.pack("!HHIIBBHHH", ctx.dport, ctx.sport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF,
                       0x50, flags, 0xFFFF, 0, 0) + data


def handle(r: Responder, ctx: Ctx, seg: bytes) -> list[bytes]:
    ctx.transport = "tcp"
    if len(seg) < 20:
        ctx.drop = "truncated TCP header"
        return []
    sport, dport, seq, ack, off, flags = struct.unpack_from("!HHIIBB", seg)
    ctx.sport, ctx.dport = sport, dport
    doff = (off >> 4) * 4
    if doff < 20 or doff > len(seg):
        ctx.drop = "bad TCP data offset"
        return []
    payload = seg[doff:]
    key = (ctx.ip_src, ctx.ip_dst, sport, dport)

    if flags & (PSH | ACK) == PSH | ACK:
        tcb = r.tcbs.get(key)
        if tcb is None:
            if (ack - 1) & 0xFFFFFFFF != cookie(r, ctx):
                ctx.drop = "PSH-ACK with a bad cookie"
                return []
            tcb = r.tcbs.create(key)
        data = r.apps.on_tcp_data(ctx, tcb, payload) if payload else None
        ack_out = seq + len(payload)
        if not data:
            ctx.note = ctx.note or "ack"
            return [segment(ctx, ack, ack_out, ACK)]
        mss = MSS[ctx.ip_version]
        return [segment(ctx, ack + i, ack_out, PSH | ACK, data[i:i + mss])
                for i in range(0, len(data), mss)]

    if flags == ACK:
        if (r.cfg.greetings and not payload and dport in GREETING_PORTS
                and r.tcbs.get(key) is None and (ack - 1) & 0xFFFFFFFF == cookie(r, ctx)):
            server = GREETING_PORTS[dport]()
            r.tcbs.create(key).handler = server
            ctx.note = f"{server.name} greeting"
            return [segment(ctx, ack, seq, PSH | ACK, server.greeting())]
        ctx.drop = "ACK ignored"
        return []

    if flags == RST:
        r.tcbs.forget(key)
        ctx.drop = "RST ignored"
        return []

    if flags == FIN | ACK:
        r.tcbs.forget(key)
        ctx.note = "fin-ack"
        return [segment(ctx, ack, seq + 1, FIN | ACK)]

    if syn_answered(flags):
        ctx.note = "syn-ack"
        return [segment(ctx, cookie(r, ctx), seq + 1, SYN | ACK)]

    ctx.drop = f"TCP flags 0x{flags:02x} ignored"
    return []
