"""HTTP: every request (any of nine verbs) gets nginx's `401 Authorization Required` page.

Why this exists: a scanner's HTTP banner grabber, a crawler or a bot must see a plausible web
server that never serves content.  masscanned's answer (reference masscanned.md §11) is imitated
byte for byte, including its quirks: lines end in a bare LF, the body is followed by one extra LF
(189 bytes after the blank line while Content-Length says 188), the same page is sent for HEAD.

Theory of operation: an incremental request-line + header parser (a state machine fed any number
of bytes at a time, so a request split over TCP segments parses the same as a whole one).  The
answer is produced only once the empty line ending the headers has been seen; a malformed request
(bad request line, CR/LF inside a header name) puts the parser in FAIL for good.  Over TCP one
parser lives in the connection's control block, so after a complete request every further segment
gets another 401; over UDP the whole request must be in one datagram.
"""

from __future__ import annotations

import time

from .context import Ctx

HTTP_VERBS = (b"GET", b"PUT", b"POST", b"HEAD", b"DELETE", b"CONNECT", b"OPTIONS", b"TRACE", b"PATCH")
PATTERNS = tuple(v + b" /" for v in HTTP_VERBS)

BODY = (b"<html>\n<head><title>401 Authorization Required</title></head>\n"
        b"<body bgcolor=\"white\">\n<center><h1>401 Authorization Required</h1></center>\n"
        b"<hr><center>nginx/1.14.2</center>\n</body>\n</html>\n")

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def rfc2822(now: float) -> str:
    """`Tue, 1 Jul 2003 10:52:37 +0000` (day not zero-padded, as Rust's chrono prints it)."""
    t = time.gmtime(now)
    return (f"{_DAYS[t.tm_wday]}, {t.tm_mday} {_MONTHS[t.tm_mon - 1]} {t.tm_year} "
            f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} +0000")


def response(now: float) -> bytes:
    head = (b"HTTP/1.1 401 Unauthorized\nServer: nginx/1.14.2\nDate: " + rfc2822(now).encode()
            + b"\nContent-Type: text/html\nContent-Length: " + str(len(BODY)).encode()
            + b"\nConnection: keep-alive\nWWW-Authenticate: Basic realm=\"Access to admin page\"\n\n")
    return head + BODY + b"\n"


# parser states
VERB, URI, HTTP, MAJOR, MINOR, FIELD_START, FIELD_NAME, FIELD_VALUE, CONTENT, FAIL = range(10)
_MAX_VERB = max(len(v) for v in HTTP_VERBS)


class HttpParser:
    """Incremental request parser (request line, then headers, then the empty line)."""

    __slots__ = ("state", "verb", "uri", "_i")

    def __init__(self) -> None:
        self.state = VERB
        self.verb = b""
        self.uri = b""
        self._i = 0

    def feed(self, data: bytes) -> None:
        state = self.state
        for i, c in enumerate(data):
            if state == CONTENT or state == FAIL:
                break
            if state == VERB:
                if c == 0x20:
                    state = URI if self.verb.upper() in HTTP_VERBS else FAIL
                else:
                    self.verb += bytes((c,))
                    up = self.verb.upper()
                    if len(self.verb) > _MAX_VERB or not any(v.startswith(up) for v in HTTP_VERBS):
                        state = FAIL
            elif state == URI:
                if c == 0x20:
                    state, self._i = HTTP, 0
                elif len(self.uri) < 4096:
                    self.uri += bytes((c,))
            elif state == HTTP:
                if c != b"HTTP/"[self._i]:
                    state = FAIL
                else:
                    self._i += 1
                    if self._i == 5:
                        state = MAJOR
            elif state == MAJOR:
                if c == 0x2E:
                    state = MINOR
                elif not 0x30 <= c <= 0x39:
                    state = FAIL
            elif state == MINOR:
                if c == 0x0A:
                    state = FIELD_START
                elif c != 0x0D and not 0x30 <= c <= 0x39:
                    state = FAIL
            elif state == FIELD_START:
                if c == 0x0A:
                    state = CONTENT
                elif c != 0x0D:
                    state = FIELD_NAME
            elif state == FIELD_NAME:
                if c in (0x0D, 0x0A):
                    state = FAIL
                elif c == 0x3A:
                    state = FIELD_VALUE
            elif state == FIELD_VALUE:
                if c == 0x0A:
                    state = FIELD_START
        self.state = state


class Http:
    """One HTTP conversation (a TCP connection or a UDP datagram)."""

    name = "http"

    def __init__(self) -> None:
        self.parser = HttpParser()

    def feed(self, data: bytes, ctx: Ctx) -> bytes | None:
        self.parser.feed(data)
        if self.parser.state != CONTENT:
            return None
        ctx.note = "http 401 to " + self.parser.verb.decode("latin-1") + " " + \
            self.parser.uri[:200].decode("utf-8", "backslashreplace")
        return response(ctx.now)
