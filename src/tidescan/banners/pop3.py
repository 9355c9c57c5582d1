"""POP3: record the greeting and the ``CAPA`` list, try ``STLS``, upgrade to TLS on ``+OK``.

Dialogue (masscan.md §3, ``proto-pop3.c``): the greeting must be ``+OK``; we send ``CAPA``; its
answer is ``+OK`` followed by lines up to a lone ``.`` (or a single ``-ERR`` line); then we send
``STLS``; ``+OK`` upgrades the stream to TLS, ``-ERR`` ends the grab.

Banner ``pop`` (checked against Debian's masscan 1.3.2): every line with ``\\r`` removed and
followed by ``\\n``, e.g. ``+OK Dovecot ready.\\n+OK\\nCAPA\\nTOP\\nSTLS\\n.\\n-ERR Unknown command.\\n``.
"""

from __future__ import annotations

from .base import Action, Close, LineParser, Send

__all__ = ["Pop3Parser"]

_GREETING, _CAPA_STATUS, _CAPA_LIST, _STLS = 0, 1, 2, 3


class Pop3Parser(LineParser):
    """``pop`` banner; CAPA, STLS, then ``Upgrade("ssl")`` on +OK."""

    name = "pop3"
    __slots__ = ()

    def _line(self, line: bytes, data: bytes, end: int) -> list[Action]:
        self._add("pop", line + b"\n")
        st = self._state
        if st == _GREETING:
            if not line.startswith(b"+OK"):
                return self._finish(Close())
            self._state = _CAPA_STATUS
            return [Send(b"CAPA\r\n")]
        if st == _CAPA_STATUS:
            if line.startswith(b"+"):
                self._state = _CAPA_LIST
                return []
            if line.startswith(b"-"):
                self._state = _STLS
                return [Send(b"STLS\r\n")]
            return self._finish(Close())
        if st == _CAPA_LIST:
            if line == b".":
                self._state = _STLS
                return [Send(b"STLS\r\n")]
            return []
        if line.startswith(b"+OK"):
            return self._upgrade("ssl", data[end:])
        return self._finish(Close())
