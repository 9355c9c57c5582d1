"""POP3: record the greeting and the ``CAPA`` list, try ``STLS``, upgrade to TLS on ``+OK``.

Dialogue (masscan.md §3, ``proto-pop3.c``): the greeting must be ``+OK``; we send ``CAPA``; its
answer is ``+OK`` followed by lines up to a lone ``.`` (or a single ``-ERR`` line); then we send
``STLS``; ``+OK`` upgrades the stream to TLS, ``-ERR`` ends the grab.

Banner ``pop`` (checked against Debian's masscan 1.3.2): every line with ``\\r`` removed and
followed by ``\\n``, e.g. ``+OK Dovecot ready.\\n+OK\\nCAPA\\nTOP\\nSTLS\\n.\\n-ERR Unknown command.\\n``.
"""

from __future__ import annotations

from .base import Action, BannerConfig, Close, LineSplitter, Parser, Send

__all__ = ["Pop3Parser"]

_GREETING, _CAPA_STATUS, _CAPA_LIST, _STLS = 0, 1, 2, 3


class Pop3Parser(Parser):
    """``pop`` banner; CAPA, STLS, then ``Upgrade("ssl")`` on +OK."""

    name = "pop3"
    __slots__ = ("_lines", "_state")

    def __init__(self, cfg: BannerConfig) -> None:
        super().__init__(cfg)
        self._lines = LineSplitter()
        self._state = _GREETING

    def _feed(self, data: bytes, now: float) -> list[Action]:
        out: list[Action] = []
        for raw, end in self._lines.feed_ends(data):
            line = raw.replace(b"\r", b"")
            self._add("pop", line + b"\n")
            st = self._state
            if st == _GREETING:
                if not line.startswith(b"+OK"):
                    return out + self._finish(Close())
                out.append(Send(b"CAPA\r\n"))
                self._state = _CAPA_STATUS
            elif st == _CAPA_STATUS:
                if line.startswith(b"+"):
                    self._state = _CAPA_LIST
                elif line.startswith(b"-"):
                    out.append(Send(b"STLS\r\n"))
                    self._state = _STLS
                else:
                    return out + self._finish(Close())
            elif st == _CAPA_LIST:
                if line == b".":
                    out.append(Send(b"STLS\r\n"))
                    self._state = _STLS
            else:
                ok = line.startswith(b"+OK")
                if ok:
                    return out + self._upgrade("ssl", data[end:])
                return out + self._finish(Close())
        return out
