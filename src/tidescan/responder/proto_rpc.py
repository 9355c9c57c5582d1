"""ONC-RPC (portmap/rpcbind, program 100000) over TCP and UDP.

Why this exists: `rpcinfo`, nmap's `rpcinfo`/`rpc-grind` scripts and bots probe port 111 (and any
port, to find RPC services); masscanned answers as a portmapper that knows only itself
(reference masscanned.md §15).  Recognition: a CALL (message type 0) of RPC version 0..255 to a
program 0x186xx (`00 01 86 ??`), with the 4-byte record mark over TCP.

Answer: xid copied, REPLY, MSG_ACCEPTED, null verifier, then
- program version < 2 or > 4 (any program): PROG_MISMATCH, low 2, high 4;
- procedure 0 (NULL): SUCCESS, no result;
- program 100000: proc 3 GETPORT (v2: the local port) / GETADDR (v3, v4: universal address
  `"<local ip>.<port hi>.<port lo>"`); proc 4 DUMP (program 100000 versions 2, 3, 4 at the local
  address, netid `tcp`/`tcp6`, owner `superuser`; v2 in portmap's (prog, vers, prot, port) form);
  any other procedure: PROC_UNAVAIL;
- any other program: PROG_UNAVAIL.
Over TCP the answer carries a last-fragment record mark.

Theory: the call header (up to and including the verifier) is parsed from a small buffer; over TCP
the buffer lives in the connection, so a call split across segments is answered when its header is
complete, and after answering the rest of that record is skipped so the next call on the same
connection is parsed afresh (masscanned kept answering every later segment with the first xid).
"""

from __future__ import annotations

import struct

from .context import Ctx

PORTMAP = 100000
_MAX_BUFFER = 4096


def matches(data: bytes, tcp: bool) -> bool:
    d = data[4:] if tcp else data
    return (len(d) >= 24 and d[4:11] == b"\x00\x00\x00\x00\x00\x00\x00"
            and d[12:15] == b"\x00\x01\x86" and d[20:23] == b"\x00\x00\x00")


def parse_call(d: bytes) -> tuple[tuple[int, int, int, int], int] | None:
    """((xid, prog, vers, proc), header length) once the call header is complete, else None."""
    if len(d) < 32:
        return None
    xid, _mtype, _rpcvers, prog, vers, proc, _cflavor, clen = struct.unpack_from("!8I", d)
    off = 32 + clen + (-clen % 4)
    if off + 8 > len(d):
        return None
    _vflavor, vlen = struct.unpack_from("!II", d, off)
    off += 8 + vlen + (-vlen % 4)
    if off > len(d):
        return None
    return (xid, prog, vers, proc), off


def _xdr_string(s: str) -> bytes:
    b = s.encode()
    return struct.pack("!I", len(b)) + b + b"\x00" * (-len(b) % 4)


def build_reply(call: tuple[int, int, int, int], ctx: Ctx) -> bytes:
    xid, prog, vers, proc = call
    head = struct.pack("!IIIII", xid, 1, 0, 0, 0)
    if vers < 2 or vers > 4:
        ctx.note = f"rpc prog {prog}: version {vers} mismatch"
        return head + struct.pack("!III", 2, 2, 4)
    if proc == 0:
        ctx.note = f"rpc prog {prog} v{vers}: NULL"
        return head + struct.pack("!I", 0)
    if prog != PORTMAP:
        ctx.note = f"rpc prog {prog}: unavailable"
        return head + struct.pack("!I", 1)
    local = ctx.dst_text
    port = ctx.dport
    uaddr = f"{local}.{port >> 8}.{port & 0xFF}"
    if proc == 3:
        ctx.note = f"rpc portmap v{vers} GETPORT/GETADDR"
        body = struct.pack("!I", port) if vers == 2 else _xdr_string(uaddr)
        return head + struct.pack("!I", 0) + body
    if proc == 4:
        ctx.note = f"rpc portmap v{vers} DUMP"
        netid = "tcp" if ctx.ip_version == 4 else "tcp6"
        parts = [head, struct.pack("!I", 0)]
        for v in (2, 3, 4):
            parts.append(struct.pack("!III", 1, PORTMAP, v))
            if vers == 2:
                parts.append(struct.pack("!II", 6, port))
            else:
                parts += [_xdr_string(netid), _xdr_string(uaddr), _xdr_string("superuser")]
        parts.append(struct.pack("!I", 0))
        return b"".join(parts)
    ctx.note = f"rpc portmap v{vers}: procedure {proc} unavailable"
    return head + struct.pack("!I", 5)


class RpcUdp:
    name = "rpc"

    def feed(self, data: bytes, ctx: Ctx) -> bytes | None:
        parsed = parse_call(data)
        return None if parsed is None else build_reply(parsed[0], ctx)


class RpcTcp:
    """Record-marked calls over one TCP connection."""

    name = "rpc"

    def __init__(self) -> None:
        self.buf = b""
        self.skip = 0          # bytes of an answered record still to discard

    def feed(self, data: bytes, ctx: Ctx) -> bytes | None:
        if self.skip:
            dropped = min(self.skip, len(data))
            self.skip -= dropped
            data = data[dropped:]
        self.buf = (self.buf + data)[:_MAX_BUFFER]
        out = []
        while len(self.buf) >= 4:
            (mark,) = struct.unpack_from("!I", self.buf)
            frag_len = mark & 0x7FFFFFFF
            parsed = parse_call(self.buf[4:4 + frag_len] if frag_len >= 32 else self.buf[4:])
            if parsed is None:
                break
            reply = build_reply(parsed[0], ctx)
            out.append(struct.pack("!I", 0x80000000 | len(reply)) + reply)
            consumed = 4 + max(frag_len, parsed[1])
            if consumed > len(self.buf):
                self.skip = consumed - len(self.buf)
                self.buf = b""
            else:
                self.buf = self.buf[consumed:]
        return b"".join(out) if out else None
