"""FTP: record the greeting, ask for ``AUTH TLS``, and upgrade to TLS when the server agrees.

Wire grammar (RFC 959 replies): ``ddd-text`` continues a reply, ``ddd text`` (or ``ddd``) ends it;
lines between a ``ddd-`` and the closing ``ddd `` may be any text.  Dialogue (masscan.md §3,
``proto-ftp.c``): after the final greeting line we send ``AUTH TLS\\r\\n``; a ``234`` answer upgrades
the stream to TLS (the session then sends a ClientHello and the certificate is captured as on
port 443), any other answer ends the grab.  A greeting that is not a 2xx reply ends it too.

Banner ``ftp`` (checked against Debian's masscan 1.3.2): every line with ``\\r`` removed, each
followed by ``\\n`` except the final line of the answer to ``AUTH TLS``, e.g.
``220 (vsFTPd 3.0.3)\\n530 Please login with USER and PASS.``.  A line that is not a reply line
where one is required ends the grab (Close).

State between segments: the partial line and two small integers.
"""

from __future__ import annotations

import re

from .base import Action, BannerConfig, Close, LineParser, Send

__all__ = ["FtpParser", "reply_code", "ReplyReader", "ReplyLineParser"]

_REPLY = re.compile(rb"(\d{3})([ -]|$)")


def reply_code(line: bytes) -> tuple[int, bool] | None:
    """(code, is_last) of a reply line (``\\r`` already removed), or None if it is not one."""
    m = _REPLY.match(line)
    if m is None:
        return None
    return int(m.group(1)), m.group(2) != b"-"


class ReplyReader:
    """Groups reply lines into complete multi-line replies (FTP and SMTP share the grammar)."""

    __slots__ = ("_open",)

    def __init__(self) -> None:
        self._open: int | None = None      # code of a multi-line reply in progress

    def line(self, line: bytes) -> tuple[int, bool] | None:
        """(code, reply_complete) for a line, or None if the line is malformed."""
        rc = reply_code(line)
        if self._open is not None:
            if rc is not None and rc[0] == self._open and rc[1]:
                self._open = None
                return rc[0], True
            return self._open_code(), False
        if rc is None:
            return None
        if not rc[1]:
            self._open = rc[0]
        return rc

    def _open_code(self) -> int:
        return self._open if self._open is not None else 0


class ReplyLineParser(LineParser):
    """A `LineParser` over FTP-grammar replies (FTP, SMTP): `_reply` gets each line with its
    reply's code and whether it completes the reply; a line that is not a reply line where one
    is required ends the grab (Close)."""

    __slots__ = ("_replies",)

    def __init__(self, cfg: BannerConfig) -> None:
        super().__init__(cfg)
        self._replies = ReplyReader()

    def _line(self, line: bytes, data: bytes, end: int) -> list[Action]:
        rc = self._replies.line(line)
        if rc is None:
            return self._finish(Close())
        return self._reply(line, rc[0], rc[1], data, end)

    def _reply(self, line: bytes, code: int, complete: bool, data: bytes, end: int) -> list[Action]:
        raise NotImplementedError


_GREETING, _AUTH = 0, 1


class FtpParser(ReplyLineParser):
    """``ftp`` banner; ``AUTH TLS`` then ``Upgrade("ssl")`` on 234."""

    name = "ftp"
    __slots__ = ()

    def _reply(self, line: bytes, code: int, complete: bool, data: bytes, end: int) -> list[Action]:
        if self._state == _GREETING:
            self._add("ftp", line + b"\n")
            if not complete:
                return []
            if code // 100 != 2:
                return self._finish(Close())
            self._state = _AUTH
            return [Send(b"AUTH TLS\r\n")]
        if not complete:
            self._add("ftp", line + b"\n")
            return []
        self._add("ftp", line)
        if code == 234:
            return self._upgrade("ssl", data[end:])
        return self._finish(Close())
