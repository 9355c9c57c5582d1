"""IMAP: record the greeting and ``CAPABILITY``, try ``STARTTLS``, upgrade to TLS on ``OK``.

Dialogue (masscan.md §3, ``proto-imap4.c``): the greeting must be ``* OK`` (``* PREAUTH``/``* BYE``
end the grab); we send ``a001 CAPABILITY``; untagged lines are recorded until the tagged
``a001`` answer; then we send ``a002 STARTTLS``; ``a002 OK`` upgrades the stream to TLS,
anything else ends the grab.

Banner ``imap``: every line with ``\\r`` removed and followed by ``\\n``.
"""

from __future__ import annotations

from .base import Action, Close, LineParser, Send

__all__ = ["ImapParser"]

_GREETING, _CAPABILITY, _STARTTLS = 0, 1, 2


class ImapParser(LineParser):
    """``imap`` banner; CAPABILITY, STARTTLS, then ``Upgrade("ssl")`` on OK."""

    name = "imap"
    __slots__ = ()

    def _line(self, line: bytes, data: bytes, end: int) -> list[Action]:
        self._add("imap", line + b"\n")
        st = self._state
        if st == _GREETING:
            if not line[:5].upper() == b"* OK ":
                return self._finish(Close())
            self._state = _CAPABILITY
            return [Send(b"a001 CAPABILITY\r\n")]
        if st == _CAPABILITY:
            if line[:5].lower() == b"a001 ":
                self._state = _STARTTLS
                return [Send(b"a002 STARTTLS\r\n")]
            if not line.startswith(b"*"):
                return self._finish(Close())
            return []
        if line[:5].lower() == b"a002 ":
            if line[5:7].upper() == b"OK":
                return self._upgrade("ssl", data[end:])
            return self._finish(Close())
        if not line.startswith(b"*"):
            return self._finish(Close())
        return []
