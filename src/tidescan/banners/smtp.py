"""SMTP: record the greeting and the EHLO answer, try ``STARTTLS``, upgrade to TLS on 220.

Dialogue (masscan.md §3, ``proto-smtp.c``): after the final greeting line (2xx) we send
``EHLO tidescan``; after the final line of its answer we send ``STARTTLS`` whether or not it was
advertised; a ``220`` answer upgrades the stream to TLS (``Upgrade("ssl")``), anything else ends
the grab.  Replies use the FTP grammar (``ddd-`` continues, ``ddd `` ends; see ftp.py).

Banner ``smtp`` (checked against Debian's masscan 1.3.2): every line with ``\\r`` removed, each
followed by ``\\n`` except the last line of the STARTTLS answer, e.g.
``220 mail.example.com ESMTP\\n250-mail.example.com\\n250 8BITMIME\\n454 4.7.0 TLS not available``.
"""

from __future__ import annotations

from .base import Action, BannerConfig, Close, LineSplitter, Parser, Send
from .ftp import ReplyReader

__all__ = ["SmtpParser", "EHLO"]

EHLO = b"EHLO tidescan\r\n"
_GREETING, _EHLO, _STARTTLS = 0, 1, 2


class SmtpParser(Parser):
    """``smtp`` banner; EHLO, STARTTLS, then ``Upgrade("ssl")`` on 220."""

    name = "smtp"
    __slots__ = ("_lines", "_replies", "_state")

    def __init__(self, cfg: BannerConfig) -> None:
        super().__init__(cfg)
        self._lines = LineSplitter()
        self._replies = ReplyReader()
        self._state = _GREETING

    def _feed(self, data: bytes, now: float) -> list[Action]:
        out: list[Action] = []
        for raw, end in self._lines.feed_ends(data):
            line = raw.replace(b"\r", b"")
            rc = self._replies.line(line)
            if rc is None:
                return out + self._finish(Close())
            code, complete = rc
            if self._state == _STARTTLS and complete:
                self._add("smtp", line)
                if code == 220:
                    return out + self._upgrade("ssl", data[end:])
                return out + self._finish(Close())
            self._add("smtp", line + b"\n")
            if not complete:
                continue
            if self._state == _GREETING:
                if code // 100 != 2:
                    return out + self._finish(Close())
                out.append(Send(EHLO))
                self._state = _EHLO
            elif self._state == _EHLO:
                out.append(Send(b"STARTTLS\r\n"))
                self._state = _STARTTLS
        return out
