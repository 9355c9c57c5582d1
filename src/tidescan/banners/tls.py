"""TLS: the ClientHello we send and a streaming parser of the server's first flight.

The hello
---------
``build_client_hello(server_name, tls13)`` makes a TLS 1.2 ClientHello (record version 1.0,
client version 1.2) offering the usual ECDHE/RSA AES-GCM, ChaCha20 and CBC suites, with SNI when a
name is given, supported groups, point formats, signature algorithms (incl. RSA-PSS),
extended-master-secret and renegotiation-info.  With ``tls13`` it also offers TLS 1.3
(``supported_versions``, an X25519 ``key_share``, ``psk_key_exchange_modes`` and the 1.3 suites).
TLS 1.3 is off by default because a 1.3 server encrypts its certificate, and the certificate is
what ``--banners`` is for; a 1.3-only server then answers with an alert, which is reported.

The parser
----------
Records (5-byte header, kept across segments) carry handshake messages (4-byte header, kept
across records and segments).  Only two messages are looked into: ServerHello (buffered whole,
at most 16 KiB; gives the version -- ``supported_versions`` wins over the legacy field -- and the
cipher) and Certificate, whose certificates are collected one at a time (each at most 16 KiB;
larger ones are skipped) so the leaf's names can be read and, with ``--capture cert``, every DER
reported.  Everything else is skipped by length.  The parse ends (banners + Close) at
ServerHelloDone, at an alert, at the first encrypted record (TLS 1.3: the certificate is
encrypted, so only version and cipher are visible), at a HelloRetryRequest, or on garbage.

Banners (masscan.md §3, format checked against Debian's masscan 1.3.2):

* ``ssl``: ``TLS/1.2 cipher:0xc02f, <CN>, <SAN dNSName>...`` (``SSLv3 ``, ``TLS/1.0``..``TLS/1.3``,
  else ``SSLver[a,b]``), plus `` ALERT(0xLLDD) `` for an alert (level, description);
* ``X509`` for the server's certificate and ``X509CA`` for the rest of the chain: base64 DER.
"""

from __future__ import annotations

import base64
import os
import struct
from collections.abc import Callable

from .base import Action, Banner, BannerConfig, Close, Collector, Parser
from .x509 import cert_names

__all__ = ["TlsParser", "build_client_hello", "version_text"]

MAX_MESSAGE = 16384          # largest ServerHello we buffer
MAX_CERT = 16384             # largest certificate we collect
MAX_CERTS = 8                # certificates reported per connection

HRR_RANDOM = bytes.fromhex("cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c")

_SUITES_12 = [
    0xC02B, 0xC02F, 0xC02C, 0xC030, 0xCCA9, 0xCCA8, 0xC009, 0xC013, 0xC00A, 0xC014,
    0x009C, 0x009D, 0x002F, 0x0035, 0x009E, 0x009F, 0x0033, 0x0039, 0xC012, 0x000A,
]
_SUITES_13 = [0x1301, 0x1302, 0x1303]
_GROUPS = [0x001D, 0x0017, 0x0018, 0x0019]
_SIGALGS = [0x0403, 0x0503, 0x0603, 0x0804, 0x0805, 0x0806, 0x0401, 0x0501, 0x0601,
            0x0203, 0x0201]


def _ext(kind: int, body: bytes) -> bytes:
    return struct.pack(">HH", kind, len(body)) + body


def _u16list(values: list[int]) -> bytes:
    raw = b"".join(struct.pack(">H", v) for v in values)
    return struct.pack(">H", len(raw)) + raw


def build_client_hello(server_name: str | None = None, tls13: bool = False,
                       rng: Callable[[int], bytes] = os.urandom) -> bytes:
    """A ClientHello record (see the module docstring); ``rng(n)`` gives random bytes."""
    rnd = rng(32)
    session_id = rng(32) if tls13 else b""
    suites = (_SUITES_13 if tls13 else []) + _SUITES_12 + [0x00FF]
    exts = b""
    if server_name:
        host = server_name.encode("idna") if not server_name.isascii() else server_name.encode()
        entry = b"\x00" + struct.pack(">H", len(host)) + host
        exts += _ext(0x0000, struct.pack(">H", len(entry)) + entry)
    exts += _ext(0x000A, _u16list(_GROUPS))
    exts += _ext(0x000B, b"\x01\x00")
    exts += _ext(0x000D, _u16list(_SIGALGS))
    exts += _ext(0x0017, b"")                       # extended_master_secret
    exts += _ext(0x0023, b"")                       # session_ticket
    if tls13:
        exts += _ext(0x002B, b"\x06\x03\x04\x03\x03\x03\x02")   # supported_versions
        exts += _ext(0x002D, b"\x01\x01")                       # psk_dhe_ke
        pub = rng(32)                                           # an X25519 public value
        share = struct.pack(">HH", 0x001D, len(pub)) + pub
        exts += _ext(0x0033, struct.pack(">H", len(share)) + share)
    body = (b"\x03\x03" + rnd + bytes((len(session_id),)) + session_id
            + _u16list(suites) + b"\x01\x00" + struct.pack(">H", len(exts)) + exts)
    hs = b"\x01" + len(body).to_bytes(3, "big") + body
    return b"\x16\x03\x01" + struct.pack(">H", len(hs)) + hs


def version_text(version: int) -> str:
    """masscan's version word: ``SSLv3 ``, ``TLS/1.0 ``..``TLS/1.3 ``, else ``SSLver[a,b] ``."""
    if version == 0x0300:
        return "SSLv3 "
    if 0x0301 <= version <= 0x0304:
        return f"TLS/1.{version - 0x0301} "
    return f"SSLver[{version >> 8},{version & 0xFF}] "


# record-layer states
_REC_HDR, _REC_BODY = 0, 1
# certificate-message states
_C_LIST, _C_LEN, _C_BODY = 0, 1, 2


class TlsParser(Parser):
    """Server-flight parser: ``ssl`` (+ ``X509``/``X509CA`` with --capture cert)."""

    name = "ssl"
    __slots__ = ("server_name", "_rec", "_rec_state", "_rec_type", "_rec_left", "_hs", "_hs_type",
                 "_hs_left", "_cert_state", "_cert", "_alert", "version", "cipher", "alert",
                 "names", "certs", "_cert_count", "_capture")

    def __init__(self, cfg: BannerConfig, server_name: str | None = None) -> None:
        super().__init__(cfg)
        self.server_name = server_name if server_name is not None else cfg.server_name
        self._rec = Collector()
        self._rec.expect(5)
        self._rec_state = _REC_HDR
        self._rec_type = 0
        self._rec_left = 0
        self._hs = Collector()          # handshake header, then a buffered message body
        self._hs.expect(4)
        self._hs_type = -1              # -1: reading a handshake header
        self._hs_left = 0
        self._cert_state = _C_LIST
        self._cert = Collector()
        self._alert = Collector()
        self._alert.expect(2)
        self.version: int | None = None
        self.cipher: int | None = None
        self.alert: int | None = None
        self.names: list[str] = []
        self.certs: list[tuple[int, bytes]] = []    # (position in the chain, DER)
        self._cert_count = 0
        self._capture = "cert" in cfg.capture

    def hello(self) -> bytes:
        return build_client_hello(self.server_name, self.cfg.tls13, self.cfg.random)

    # -- the banners --------------------------------------------------------------------------
    def _finish(self, *tail: Action) -> list[Action]:
        self.done = True
        out: list[Action] = []
        text = ""
        if self.version is not None and self.cipher is not None:
            text = version_text(self.version) + f"cipher:0x{self.cipher:x}"
            text += "".join(f", {n}" for n in self.names)
        if self.alert is not None:
            text += f" ALERT(0x{self.alert:04x}) "
        if text:
            out.append(Banner("ssl", text.encode("utf-8", "replace")[:self.cfg.max_banner]))
        for index, der in self.certs:
            out.append(Banner("X509" if index == 0 else "X509CA", base64.b64encode(der)))
        out.extend(tail)
        return out

    # -- records ------------------------------------------------------------------------------
    def _feed(self, data: bytes, now: float) -> list[Action]:
        i, n = 0, len(data)
        while i < n:
            if self._rec_state == _REC_HDR:
                hdr, i = self._rec.take(data, i)
                if hdr is None:
                    return []
                ctype, major, length = hdr[0], hdr[1], (hdr[3] << 8) | hdr[4]
                if ctype not in (20, 21, 22, 23) or major != 3 or length > 18432:
                    return self._finish(Close())
                if ctype == 23:
                    return self._finish(Close())        # encrypted: nothing more to see
                self._rec_type, self._rec_left = ctype, length
                self._rec_state = _REC_BODY
                if length == 0:
                    self._end_record()
                continue
            take = min(self._rec_left, n - i)
            chunk = data[i:i + take]
            i += take
            self._rec_left -= take
            if self._rec_type == 22:
                if self._handshake(chunk):
                    return self._finish(Close())
            elif self._rec_type == 21:
                alert, _ = self._alert.take(chunk, 0)
                if alert is not None:
                    self.alert = (alert[0] << 8) | alert[1]
                    return self._finish(Close())
            if self._rec_left == 0:
                self._end_record()
        return []

    def _end_record(self) -> None:
        self._rec_state = _REC_HDR
        self._rec.expect(5)

    # -- handshake messages -------------------------------------------------------------------
    def _handshake(self, chunk: bytes) -> bool:
        """Parse handshake bytes; True when the server's flight is over (or unusable)."""
        j, n = 0, len(chunk)
        while j < n:
            if self._hs_type < 0:
                hdr, j = self._hs.take(chunk, j)
                if hdr is None:
                    return False
                self._hs_type = hdr[0]
                self._hs_left = int.from_bytes(hdr[1:4], "big")
                if self._hs_type == 2:
                    self._hs.expect(self._hs_left, keep=MAX_MESSAGE)
                elif self._hs_type == 11:
                    self._cert_state = _C_LIST
                    self._cert.expect(3)
                if self._hs_left == 0 and self._end_message():
                    return True
                continue
            take = min(self._hs_left, n - j)
            part = chunk[j:j + take]
            j += take
            self._hs_left -= take
            if self._hs_type == 2:
                body, _ = self._hs.take(part, 0)
                if body is not None and self._server_hello(body):
                    return True
            elif self._hs_type == 11:
                self._certificates(part)
            if self._hs_left == 0 and self._end_message():
                return True
        return False

    def _end_message(self) -> bool:
        kind = self._hs_type
        self._hs_type = -1
        self._hs.expect(4)
        return kind == 14                               # ServerHelloDone

    def _server_hello(self, body: bytes) -> bool:
        """Read version and cipher; True if the flight cannot continue (HRR, garbage)."""
        if len(body) < 38:
            return True
        version = (body[0] << 8) | body[1]
        random = body[2:34]
        sid_len = body[34]
        k = 35 + sid_len
        if k + 3 > len(body):
            return True
        self.cipher = (body[k] << 8) | body[k + 1]
        k += 3
        if k + 2 <= len(body):
            ext_end = min(len(body), k + 2 + ((body[k] << 8) | body[k + 1]))
            k += 2
            while k + 4 <= ext_end:
                kind, length = struct.unpack_from(">HH", body, k)
                k += 4
                if kind == 0x002B and length >= 2 and k + 2 <= ext_end:
                    version = (body[k] << 8) | body[k + 1]
                k += length
        self.version = version
        return random == HRR_RANDOM

    def _certificates(self, part: bytes) -> None:
        k, n = 0, len(part)
        while k < n:
            field, k = self._cert.take(part, k)
            if field is None:
                return
            if self._cert_state == _C_LIST:
                self._cert_state = _C_LEN
                self._cert.expect(3)
            elif self._cert_state == _C_LEN:
                size = int.from_bytes(field, "big")
                wanted = self._cert_count == 0 or (self._capture and self._cert_count < MAX_CERTS)
                keep = size if (wanted and size <= MAX_CERT) else 0
                self._cert_state = _C_BODY
                self._cert.expect(size, keep=keep)
                if size == 0:
                    self._cert_state = _C_LEN
                    self._cert.expect(3)
            else:
                if field:
                    self._got_cert(field)
                self._cert_count += 1
                self._cert_state = _C_LEN
                self._cert.expect(3)

    def _got_cert(self, der: bytes) -> None:
        if self._cert_count == 0:
            self.names = cert_names(der)
        if self._capture and len(self.certs) < MAX_CERTS:
            self.certs.append((self._cert_count, der))
