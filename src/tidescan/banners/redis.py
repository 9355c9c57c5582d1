"""Redis: send ``INFO`` (the nmap probe ``*1\\r\\n$4\\r\\ninfo\\r\\n``), report who answered.

Wire grammar (RESP): the answer to INFO is a bulk string ``$<n>\\r\\n`` + n bytes + ``\\r\\n`` whose
body is ``key:value`` lines and ``# Section`` headers; a server that refuses answers one error
line (``-NOAUTH Authentication required.``, ``-DENIED ...``).  The session only hands a reply to
this parser when it starts ``$<digit>`` or ``-<letter>`` after we sent the probe.

Banner ``redis`` (masscan has no redis parser; the format follows its memcached one): the fields
``redis_version``, ``redis_mode``, ``os``, ``arch_bits``, ``uptime_in_seconds`` and ``role`` as
``key=value `` in the server's order, or the error line itself.  The parse ends (Close) when the
bulk string has been read or after an error line.  State: the partial line and a byte count.
"""

from __future__ import annotations

import re

from .base import Action, BannerConfig, Close, LineSplitter, Parser

__all__ = ["RedisParser", "HELLO"]

HELLO = b"*1\r\n$4\r\ninfo\r\n"
_WANTED = (b"redis_version", b"redis_mode", b"os", b"arch_bits", b"uptime_in_seconds", b"role")
_BULK = re.compile(rb"\$(-?\d{1,10})$")


class RedisParser(Parser):
    """``redis`` banner from INFO."""

    name = "redis"
    __slots__ = ("_first", "_body", "_left")

    def __init__(self, cfg: BannerConfig) -> None:
        super().__init__(cfg)
        self._first = b""               # the first line, until its \n arrives (<= 512 bytes)
        self._body: LineSplitter | None = None
        self._left = 0                  # bulk bytes still to come (body + final CRLF)

    def hello(self) -> bytes:
        return HELLO

    def _feed(self, data: bytes, now: float) -> list[Action]:
        if self._body is None:
            nl = data.find(b"\n")
            if nl < 0:
                self._first = (self._first + data)[:512]
                return []
            first = (self._first + data[:nl])[:512].rstrip(b"\r")
            m = _BULK.match(first)
            if m is None or int(m.group(1)) < 0:
                self._add("redis", first)
                return self._finish(Close())
            self._left = int(m.group(1)) + 2
            self._body = LineSplitter(max_line=512)
            data = data[nl + 1:]
        take = data[:self._left]
        self._left -= len(take)
        for raw in self._body.feed(take):
            key, sep, value = raw.rstrip(b"\r").partition(b":")
            if sep and key in _WANTED:
                self._add("redis", key + b"=" + value + b" ")
        if self._left <= 0:
            return self._finish(Close())
        return []
