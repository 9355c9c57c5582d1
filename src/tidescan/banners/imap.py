"""IMAP: record the greeting and ``CAPABILITY``, try ``STARTTLS``, upgrade to TLS on ``OK``.

Dialogue (masscan.md §3, ``proto-imap4.c``): the greeting must be ``* OK`` (``* PREAUTH``/``* BYE``
end the grab); we send ``a001 CAPABILITY``; untagged lines are recorded until the tagged
``a001`` answer; then we send ``a002 STARTTLS``; ``a002 OK`` upgrades the stream to TLS,
anything else ends the grab.

Banner ``imap``: every line with ``\\r`` removed and followed by ``\\n``.
"""

from __future__ import annotations

from .base import Action, BannerConfig, Close, LineSplitter, Parser, Send

__all__ = ["ImapParser"]

_GREETING, _CAPABILITY, _STARTTLS = 0, 1, 2


class ImapParser(Parser):
    """``imap`` banner; CAPABILITY, STARTTLS, then ``Upgrade("ssl")`` on OK."""

    name = "imap"
    __slots__ = ("_lines", "_state")

    def __init__(self, cfg: BannerConfig) -> None:
        super().__init__(cfg)
        self._lines = LineSplitter()
        self._state = _GREETING

    def _feed(self, data: bytes, now: float) -> list[Action]:
        out: list[Action] = []
        for raw, end in self._lines.feed_ends(data):
            line = raw.replace(b"\r", b"")
            self._add("imap", line + b"\n")
            st = self._state
            if st == _GREETING:
                if not line[:5].upper() == b"* OK ":
                    return out + self._finish(Close())
                out.append(Send(b"a001 CAPABILITY\r\n"))
                self._state = _CAPABILITY
            elif st == _CAPABILITY:
                if line[:5].lower() == b"a001 ":
                    out.append(Send(b"a002 STARTTLS\r\n"))
                    self._state = _STARTTLS
                elif not line.startswith(b"*"):
                    return out + self._finish(Close())
            else:
                if line[:5].lower() == b"a002 ":
                    ok = line[5:7].upper() == b"OK"
                    if ok:
                        return out + self._upgrade("ssl", data[end:])
                    return out + self._finish(Close())
                if not line.startswith(b"*"):
                    return out + self._finish(Close())
        return out
