"""SSH: a client identification line gets the server identification `SSH-2.0-1\r\n`.

Why this exists: SSH is server-*and*-client-first; scanners and bots that speak first
(`SSH-2.0-OpenSSH_9.2p1\r\n`) must get a server identification back, which is all a banner grabber
records.  masscanned's exact behaviour (reference §13): the whole identification must be in one
segment/datagram (parsed from scratch each time, no state kept), `SSH-` then a version of digits
and dots ending in `-`, the software version up to a space or CR, an optional comment, and a
terminating CR LF (an LF alone never completes; a CR followed by anything but LF inside the software
or comment is kept as data).  The reply is exactly 11 bytes, no key exchange follows.
"""

from __future__ import annotations

from .context import Ctx

PATTERNS = (b"SSH-2.0", b"SSH-1.99")
BANNER = b"SSH-2.0-1\r\n"

_PREFIX, _VERSION, _SOFTWARE, _COMMENT, _LF, _DONE, _FAIL = range(7)


def parse_identification(data: bytes) -> tuple[bytes, bytes, bytes] | None:
    """(version, software, comment) when `data` holds a complete identification line, else None."""
    if not data.startswith(b"SSH-"):
        return None
    version = bytearray()
    software = bytearray()
    comment = bytearray()
    state, prev = _VERSION, _VERSION
    i, n = 4, len(data)
    while i < n and state != _DONE:
        c = data[i]
        if state == _LF:
            if c == 0x0A:
                state = _DONE
            elif prev in (_SOFTWARE, _COMMENT):
                (software if prev == _SOFTWARE else comment).append(0x0D)
                state = prev
                continue  # re-read this byte in the previous state
            else:
                return None
        elif state == _VERSION:
            if c == 0x2D:
                state = _SOFTWARE
            elif c == 0x2E or 0x30 <= c <= 0x39:
                version.append(c)
            else:
                return None
        elif state == _SOFTWARE:
            if c == 0x0D:
                prev, state = _SOFTWARE, _LF
            elif c == 0x20:
                state = _COMMENT
            else:
                software.append(c)
        elif state == _COMMENT:
            if c == 0x0D:
                prev, state = _COMMENT, _LF
            else:
                comment.append(c)
        i += 1
    if state != _DONE:
        return None
    return bytes(version), bytes(software), bytes(comment)


class Ssh:
    """Stateless: each segment is parsed on its own, as masscanned does."""

    name = "ssh"

    def feed(self, data: bytes, ctx: Ctx) -> bytes | None:
        parsed = parse_identification(data)
        if parsed is None:
            return None
        ctx.note = "ssh banner to " + parsed[1][:100].decode("utf-8", "backslashreplace")
        return BANNER
