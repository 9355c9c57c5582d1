"""memcached: send ``stats``, report a few of the ``STAT`` lines.

Wire grammar: ``STAT <name> <value>\\r\\n`` lines ending with ``END\\r\\n``.  As in masscan
(``proto-memcached.c``; format checked against Debian's masscan 1.3.2) the banner ``memcached``
is ``name=value `` for the stats ``uptime``, ``time`` and ``version`` in the order the server sends
them, e.g. ``uptime=8 time=1795292316 version=1.6.18 ``.  ``END`` ends the grab (Close).
"""

from __future__ import annotations

from .base import Action, BannerConfig, Close, LineSplitter, Parser

__all__ = ["MemcachedParser", "HELLO"]

HELLO = b"stats\r\n"
_WANTED = (b"uptime", b"time", b"version")


class MemcachedParser(Parser):
    """``memcached`` banner from ``stats``."""

    name = "memcached"
    __slots__ = ("_lines",)

    def __init__(self, cfg: BannerConfig) -> None:
        super().__init__(cfg)
        self._lines = LineSplitter()

    def hello(self) -> bytes:
        return HELLO

    def _feed(self, data: bytes, now: float) -> list[Action]:
        for raw in self._lines.feed(data):
            parts = raw.replace(b"\r", b"").split(None, 2)
            if not parts:
                continue
            word = parts[0].upper()
            if word == b"END":
                return self._finish(Close())
            if word == b"STAT" and len(parts) == 3 and parts[1].lower() in _WANTED:
                self._add("memcached", parts[1].lower() + b"=" + parts[2] + b" ")
        return []
