"""RDP: send an X.224 Connection Request asking for TLS+CredSSP, report whether NLA is on.

Wire grammar (MS-RDPBCGR 2.2.1.1-2): TPKT (``03 00 <len16>``) around an X.224 TPDU: length
indicator, code (``e0`` request, ``d0`` confirm), dst-ref, src-ref, class; then optionally an
RDP_NEG_RSP (type 2: selected protocol, 4 bytes little-endian) or RDP_NEG_FAILURE (type 3:
failure code).  Our hello is masscan's: the request carries ``Cookie: mstshash=<name>`` and an
RDP_NEG_REQ for ``PROTOCOL_SSL|PROTOCOL_HYBRID`` (3).

Banner ``rdp`` (masscan's words, ``proto-tcp-rdp.c``; checked against Debian's masscan 1.3.2):
`` NLA-supported`` when the selected protocol has the HYBRID bit (2), `` NLA-unused`` otherwise;
`` NLA-unsupported`` for failure code 5, `` failure`` for other failures; `` COTPPDU=unknown`` for a
TPDU that is not a confirm.  The first TPDU ends the grab (Close).  State: one TPKT being
collected (at most 512 bytes are kept).
"""

from __future__ import annotations

import struct

from .base import Action, BannerConfig, Close, Collector, Parser

__all__ = ["RdpParser", "HELLO"]


def _hello(cookie: bytes = b"tidescan") -> bytes:
    x224 = (b"\xe0\x00\x00\x00\x00\x00" + b"Cookie: mstshash=" + cookie + b"\r\n"
            + b"\x01\x00\x08\x00\x03\x00\x00\x00")
    tpdu = bytes((len(x224),)) + x224
    return b"\x03\x00" + struct.pack(">H", 4 + len(tpdu)) + tpdu


HELLO = _hello()
_HDR, _BODY = 0, 1


class RdpParser(Parser):
    """``rdp`` banner from the X.224 Connection Confirm."""

    name = "rdp"
    __slots__ = ("_field", "_state")

    def __init__(self, cfg: BannerConfig) -> None:
        super().__init__(cfg)
        self._field = Collector()
        self._field.expect(4)
        self._state = _HDR

    def hello(self) -> bytes:
        return HELLO

    def _feed(self, data: bytes, now: float) -> list[Action]:
        i = 0
        while i < len(data):
            field, i = self._field.take(data, i)
            if field is None:
                return []
            if self._state == _HDR:
                size = struct.unpack_from(">H", field, 2)[0]
                if field[0] != 3 or size < 4:
                    return self._finish(Close())
                self._state = _BODY
                self._field.expect(size - 4, keep=512)
                if size == 4:
                    self._state = _HDR
                    self._field.expect(4)
                continue
            self._tpdu(field)
            return self._finish(Close())
        return []

    def _tpdu(self, t: bytes) -> None:
        if len(t) < 2 or t[0] < 6:
            return
        if t[1] & 0xF0 != 0xD0:
            self._add("rdp", b" COTPPDU=unknown")
            return
        neg = t[7:1 + t[0]] if len(t) >= 1 + t[0] else t[7:]
        if len(neg) >= 8:
            kind = neg[0]
            value = struct.unpack_from("<I", neg, 4)[0]
            if kind == 2:
                self._add("rdp", b" NLA-supported" if value & 2 else b" NLA-unused")
            elif kind == 3:
                self._add("rdp", b" NLA-unsupported" if value == 5 else b" failure")
            else:
                self._add("rdp", b" unknown")
