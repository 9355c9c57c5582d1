"""DNS over UDP: every A question is answered with the address the query was sent to.

Why this exists: open resolvers and authoritative servers are scanned on port 53 and elsewhere;
masscanned answers any UDP datagram that no other pattern claimed and that parses as a DNS query
whose questions are all class IN / type A (reference masscanned.md §14).  Reply: id copied, QR=1,
opcode copied, AA=1, TC=0, RD copied, RA=0, RCODE=0; the questions echoed; one answer per question
(name = the question's name bytes, type A, class IN, TTL 43200, RDATA = the IPv4 destination).

Differences from masscanned, all fixes:

- records in the authority and additional sections are parsed and skipped (masscanned never
  finishes parsing when their counts are non-zero, so `dig`, which adds an EDNS OPT record, got
  no answer);
- a message with QR=1 (a response) is never answered, so two responders cannot ping-pong;
- a query received over IPv6 gets an empty NOERROR answer section instead of an A record with
  empty RDATA (there is no IPv4 address to give);
- names are walked label by label (a compression pointer ends a name); the name bytes are still
  echoed verbatim, which keeps pointers valid because the question section keeps its offsets.

masscanned's quirk is kept: a payload of 12+ bytes whose four counts are all zero gets a
header-only response.
"""

from __future__ import annotations

import struct

from .context import Ctx

TYPE_A = 1
CLASS_IN = 1
TTL = 43200


def _skip_name(data: bytes, off: int) -> int | None:
    """Offset just past the (possibly compressed) name at `off`, or None if malformed."""
    total = 0
    n = len(data)
    while off < n:
        length = data[off]
        if length == 0:
            return off + 1
        if length & 0xC0 == 0xC0:
            return off + 2 if off + 2 <= n else None
        if length & 0xC0:
            return None
        off += 1 + length
        total += 1 + length
        if total > 255:
            return None
    return None


def parse_query(data: bytes) -> tuple[int, int, list[bytes]] | None:
    """(id, flags, [question name bytes]) when `data` is a query of IN/A questions only."""
    if len(data) < 12:
        return None
    qid, flags, qd, an, ns, ar = struct.unpack_from("!HHHHHH", data)
    if flags & 0x8000:
        return None
    off = 12
    names: list[bytes] = []
    for _ in range(qd):
        end = _skip_name(data, off)
        if end is None or end + 4 > len(data):
            return None
        qtype, qclass = struct.unpack_from("!HH", data, end)
        if qtype != TYPE_A or qclass != CLASS_IN:
            return None
        names.append(data[off:end])
        off = end + 4
    for _ in range(an + ns + ar):
        end = _skip_name(data, off)
        if end is None or end + 10 > len(data):
            return None
        (rdlen,) = struct.unpack_from("!H", data, end + 8)
        off = end + 10 + rdlen
        if off > len(data):
            return None
    return qid, flags, names


def build_response(qid: int, flags: int, names: list[bytes], ctx: Ctx) -> bytes:
    out_flags = 0x8000 | (flags & 0x7800) | 0x0400 | (flags & 0x0100)
    answers = ctx.ip_version == 4
    parts = [struct.pack("!HHHHHH", qid, out_flags, len(names), len(names) if answers else 0, 0, 0)]
    parts.extend(name + struct.pack("!HH", TYPE_A, CLASS_IN) for name in names)
    if answers:
        parts.extend(name + struct.pack("!HHIH", TYPE_A, CLASS_IN, TTL, 4) + ctx.ip_dst for name in names)
    return b"".join(parts)


class Dns:
    name = "dns"

    def feed(self, data: bytes, ctx: Ctx) -> bytes | None:
        parsed = parse_query(data)
        if parsed is None:
            return None
        ctx.note = f"dns A answer ({len(parsed[2])} question(s))"
        return build_response(*parsed, ctx)
