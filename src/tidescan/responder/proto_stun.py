"""STUN: a Binding request gets a Binding success response carrying the client's address.

Why this exists: STUN servers are scanned for NAT discovery and reflection; the answer tells the
client the address and port it was seen from (RFC 5389 MAPPED-ADDRESS, not XOR-ed, as masscanned
sends it, reference §12).  RFC 3489's CHANGE-REQUEST with the change-port flag makes the answer
come from `dport + 1` (wrapping 65535 -> 0), so classic NAT-type tests get a reply from "another
port"; the change-IP flag is ignored.

Recognition (masscanned's patterns): `00 01 ?? ?? 21 12 a4 42` (RFC 5389 magic), or over UDP a
datagram of exactly 20 bytes starting `00 01 00 00` (classic, empty) or exactly 28 bytes
`00 01 00 08 <16-byte id> 00 03 00 04 00 00 00 ??` (classic with CHANGE-REQUEST).

Robustness fix: masscanned panics on an attribute running past the message, a MAPPED-ADDRESS of an
unknown family, or a truncated CHANGE-REQUEST; here attribute walking simply stops at the first
malformed attribute, and the request is still answered.  Change-port only applies over UDP (over
TCP a reply from another port could not belong to the connection).
"""

from __future__ import annotations

import struct

from .context import Ctx

MAGIC = b"\x21\x12\xa4\x42"
BINDING_REQUEST = 0x0001
BINDING_SUCCESS = 0x0101
ATTR_MAPPED_ADDRESS = 0x0001
ATTR_CHANGE_REQUEST = 0x0003
CHANGE_PORT = 0x2


def matches(data: bytes, udp: bool) -> bool:
    if len(data) >= 8 and data[:2] == b"\x00\x01" and data[4:8] == MAGIC:
        return True
    if not udp:
        return False
    if len(data) == 20 and data[:4] == b"\x00\x01\x00\x00":
        return True
    return (len(data) == 28 and data[:4] == b"\x00\x01\x00\x08"
            and data[20:27] == b"\x00\x03\x00\x04\x00\x00\x00")


def parse_request(data: bytes) -> tuple[bytes, bool] | None:
    """(16 bytes after the length field, change_port) for a Binding request, else None."""
    if len(data) < 20:
        return None
    mtype, length = struct.unpack_from("!HH", data)
    if mtype != BINDING_REQUEST or len(data) < 20 + length:
        return None
    change_port = False
    off, end = 20, 20 + length
    while off + 4 <= end:
        atype, alen = struct.unpack_from("!HH", data, off)
        if off + 4 + alen > end:
            break
        if atype == ATTR_CHANGE_REQUEST and alen >= 4:
            (flags,) = struct.unpack_from("!I", data, off + 4)
            change_port = bool(flags & CHANGE_PORT)
        off += 4 + alen + (-alen % 4)
    return data[4:20], change_port


def binding_response(tid: bytes, ctx: Ctx) -> bytes:
    if ctx.ip_version == 4:
        attr = struct.pack("!HHBBH", ATTR_MAPPED_ADDRESS, 8, 0, 1, ctx.sport) + ctx.ip_src
    else:
        attr = struct.pack("!HHBBH", ATTR_MAPPED_ADDRESS, 20, 0, 2, ctx.sport) + ctx.ip_src
    return struct.pack("!HH", BINDING_SUCCESS, len(attr)) + tid + attr


class Stun:
    """Stateless per message."""

    name = "stun"

    def feed(self, data: bytes, ctx: Ctx) -> bytes | None:
        req = parse_request(data)
        if req is None:
            return None
        tid, change_port = req
        if change_port and ctx.transport == "udp":
            ctx.reply_sport = (ctx.dport + 1) & 0xFFFF
        ctx.note = "stun binding response" + (" (change port)" if ctx.reply_sport is not None else "")
        return binding_response(tid, ctx)
