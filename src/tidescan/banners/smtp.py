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

from .base import Action, Close, Send
from .ftp import ReplyLineParser

__all__ = ["SmtpParser", "EHLO"]

EHLO = b"EHLO tidescan\r\n"
_GREETING, _EHLO, _STARTTLS = 0, 1, 2


class SmtpParser(ReplyLineParser):
    """``smtp`` banner; EHLO, STARTTLS, then ``Upgrade("ssl")`` on 220."""

    name = "smtp"
    __slots__ = ()

    def _reply(self, line: bytes, code: int, complete: bool, data: bytes, end: int) -> list[Action]:
        if self._state == _STARTTLS and complete:
            self._add("smtp", line)
            if code == 220:
                return self._upgrade("ssl", data[end:])
            return self._finish(Close())
        self._add("smtp", line + b"\n")
        if not complete:
            return []
        if self._state == _GREETING:
            if code // 100 != 2:
                return self._finish(Close())
            self._state = _EHLO
            return [Send(EHLO)]
        if self._state == _EHLO:
            self._state = _STARTTLS
            return [Send(b"STARTTLS\r\n")]
        return []
