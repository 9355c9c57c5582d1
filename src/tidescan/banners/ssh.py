"""SSH: the server's identification line (RFC 4253 §4.2), e.g. ``SSH-2.0-OpenSSH_9.2p1 Debian-2``.

The session picks this parser when the reply starts ``SSH-1.`` or ``SSH-2.``.  The banner ``ssh`` is
that first line without its ``\\r\\n`` (as Debian's masscan 1.3.2 prints it); then the parser is done
and closes -- nothing we could learn later (the KEXINIT) is part of masscan's report.
State between segments: the partial line (at most 255 bytes are kept, the RFC's limit).
"""

from __future__ import annotations

from .base import Action, BannerConfig, Close, LineSplitter, Parser

__all__ = ["SshParser"]


class SshParser(Parser):
    """``ssh`` banner: the identification line."""

    name = "ssh"
    __slots__ = ("_lines",)

    def __init__(self, cfg: BannerConfig) -> None:
        super().__init__(cfg)
        self._lines = LineSplitter(max_line=255)

    def _feed(self, data: bytes, now: float) -> list[Action]:
        lines = self._lines.feed(data)
        if not lines:
            return []
        self._add("ssh", lines[0].rstrip(b"\r"))
        return self._finish(Close())

    def on_close(self, now: float) -> list[Action]:
        if not self.done and self._lines.partial:
            self._add("ssh", self._lines.partial.rstrip(b"\r"))
        return super().on_close(now)
