"""VNC (RFB, RFC 6143): version, security types, and -- when no password is needed -- the desktop.

Dialogue (masscan.md §3, ``proto-vnc.c``; flow checked against Debian's masscan 1.3.2):

1. Server: ``RFB xxx.yyy\\n``.  We answer ``RFB 003.003``, ``003.007`` or ``003.008`` (the highest
   we share; Apple's ``003.889`` counts as 3.8).
2. 3.3: the server picks the security type (4 bytes).  3.7+: it lists them (count byte, then the
   types; a count of 0 is followed by a reason string).  If "None" (1) is on offer we pick it
   (3.7: ``01 01`` = choose None + ClientInit; 3.8: ``01``, then a 4-byte SecurityResult, and on
   success ClientInit ``01``).  Otherwise the grab ends.
3. ServerInit: width, height, pixel format (16 bytes), name length and name.

Banners (masscan HEAD's split into two types; the text format is HEAD's):
``vnc``: ``RFB 003.008`` (+ `` width=W height=H`` once ServerInit arrives);
``vnc-info``: ``Security types:\\n  none\\n  VNC-chap\\n`` then ``Name: <desktop>\\n``, or
``ERROR: <reason>`` when the server refuses.  State between segments: one fixed-size field being
collected (the desktop name is kept up to 1 KiB).
"""

from __future__ import annotations

import struct

from .base import Action, BannerConfig, Close, Collector, Parser, Send
from .identify import vnc_version

__all__ = ["VncParser", "SECURITY_NAMES"]

SECURITY_NAMES = {
    0: "invalid", 1: "none", 2: "VNC-chap", 5: "RA2", 6: "RA2ne", 7: "SSPI", 8: "SSPIne",
    16: "Tight", 17: "Ultra", 18: "TLS", 19: "VeNCrypt", 20: "GTK-VNC-SASL", 21: "MD5",
    22: "Colin-Dean-xvp", 30: "Apple30", 35: "Apple35",
}
_REPLY = {3: b"RFB 003.003\n", 7: b"RFB 003.007\n", 8: b"RFB 003.008\n"}
NAME_MAX = 1024

(_VERSION, _SEC33, _SEC_COUNT, _SEC_LIST, _SEC_RESULT, _REASON_LEN, _REASON,
 _INIT, _NAME) = range(9)


class VncParser(Parser):
    """``vnc`` and ``vnc-info`` banners."""

    name = "vnc"
    __slots__ = ("_field", "_state", "_version")

    def __init__(self, cfg: BannerConfig) -> None:
        super().__init__(cfg)
        self._field = Collector()
        self._field.expect(12)
        self._state = _VERSION
        self._version = 3

    def _sec_name(self, kind: int) -> bytes:
        return f"  {SECURITY_NAMES.get(kind, str(kind))}\n".encode()

    def _feed(self, data: bytes, now: float) -> list[Action]:
        out: list[Action] = []
        i = 0
        while i < len(data):
            field, i = self._field.take(data, i)
            if field is None:
                break
            done = self._on_field(field, out)
            if done is not None:
                return out + done
        return out

    def _expect(self, state: int, n: int, keep: int | None = None) -> None:
        self._state = state
        self._field.expect(n, keep)

    def _on_field(self, f: bytes, out: list[Action]) -> list[Action] | None:
        st = self._state
        if st == _VERSION:
            if f[:4] != b"RFB " or f[11:12] != b"\n":
                return self._finish(Close())
            self._add("vnc", f[:11])
            self._version = vnc_version(f)
            out.append(Send(_REPLY[self._version]))
            if self._version == 3:
                self._expect(_SEC33, 4)
            else:
                self._expect(_SEC_COUNT, 1)
        elif st == _SEC33:
            kind = struct.unpack(">I", f)[0]
            self._add("vnc-info", b"Security types:\n" + self._sec_name(kind))
            if kind == 0:
                self._expect(_REASON_LEN, 4)
            elif kind == 1:
                out.append(Send(b"\x01"))
                self._expect(_INIT, 24)
            else:
                return self._finish(Close())
        elif st == _SEC_COUNT:
            if f[0] == 0:
                self._expect(_REASON_LEN, 4)
            else:
                self._expect(_SEC_LIST, f[0])
        elif st == _SEC_LIST:
            self._add("vnc-info", b"Security types:\n" + b"".join(self._sec_name(k) for k in f))
            if 1 not in f:
                return self._finish(Close())
            if self._version == 7:
                out.append(Send(b"\x01\x01"))
                self._expect(_INIT, 24)
            else:
                out.append(Send(b"\x01"))
                self._expect(_SEC_RESULT, 4)
        elif st == _SEC_RESULT:
            if f == b"\x00\x00\x00\x00":
                out.append(Send(b"\x01"))
                self._expect(_INIT, 24)
            else:
                self._expect(_REASON_LEN, 4)
        elif st == _REASON_LEN:
            size = struct.unpack(">I", f)[0]
            if size == 0:
                return self._finish(Close())
            self._expect(_REASON, size, keep=NAME_MAX)
        elif st == _REASON:
            self._add("vnc-info", b"ERROR: " + f)
            return self._finish(Close())
        elif st == _INIT:
            width, height = struct.unpack_from(">HH", f)
            self._add("vnc", f" width={width} height={height}".encode())
            size = struct.unpack_from(">I", f, 20)[0]
            if size == 0:
                return self._finish(Close())
            self._expect(_NAME, size, keep=NAME_MAX)
        else:
            self._add("vnc-info", b"Name: " + f + b"\n")
            return self._finish(Close())
        return None
