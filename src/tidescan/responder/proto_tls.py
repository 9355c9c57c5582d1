"""TLS (beyond masscanned): a ClientHello gets ServerHello + Certificate + ServerHelloDone.

Why this exists: masscanned has no TLS, so a scanner's certificate grabber (masscan `--banners`,
nmap ssl-cert, zgrab) found nothing to read on 443.  tidescanned answers a TLS 1.0-1.2 style
ClientHello (record type 22, version 3.x, handshake type 1) on any TCP port with one record holding:

- ServerHello: version TLS 1.2 (or the client's version if lower), a server random and a fresh
  session id derived from the client random (never the client's session id, which would announce
  a resumption), the first client suite found in our preference list (RSA key exchange first, so
  ServerHelloDone is the correct next message; then ECDHE-RSA; else the client's first real suite),
  no compression, and an empty renegotiation_info extension (OpenSSL 3 clients refuse servers
  without it before even reading the certificate);
- Certificate: the self-signed certificate made at start (`tls_cert.py`);
- ServerHelloDone.

The handshake is never completed (no key exchange is processed): the client gets the certificate,
then times out or aborts, which is all a banner grabber needs.  A TLS-1.3-only client aborts at the
ServerHello (its certificate would be encrypted, out of scope).  The ClientHello may span several
TCP segments and records: bytes are buffered in the connection (at most 20 kB) until the whole
handshake message is there.
"""

from __future__ import annotations

import hashlib
import struct

from .context import Ctx
from .tls_cert import TlsIdentity, default_identity

# Preference: RSA key exchange (AES-GCM, AES-CBC), then ECDHE-RSA.
PREFERRED = (0x009C, 0x009D, 0x002F, 0x0035, 0x003C, 0x003D, 0x000A,
             0xC02F, 0xC030, 0xCCA8, 0xC013, 0xC014, 0xC027, 0xC028)
_SCSV = {0x00FF, 0x5600}
_MAX = 20000


def matches(data: bytes) -> bool:
    return len(data) >= 6 and data[0] == 0x16 and data[1] == 3 and data[2] <= 4 and data[5] == 1


def _handshake_bytes(buf: bytes) -> bytes | None:
    """Concatenated handshake-record payloads, or None if a non-handshake record is in the way."""
    out = []
    off = 0
    while off + 5 <= len(buf):
        rtype, _major, _minor, rlen = struct.unpack_from("!BBBH", buf, off)
        if rtype != 0x16:
            return None
        out.append(buf[off + 5:off + 5 + rlen])
        off += 5 + rlen
    return b"".join(out)


def parse_client_hello(hs: bytes) -> tuple[int, bytes, list[int]] | None:
    """(client_version, client_random, cipher suites) of a complete ClientHello, else None."""
    if len(hs) < 4 or hs[0] != 1:
        return None
    length = int.from_bytes(hs[1:4], "big")
    body = hs[4:4 + length]
    if len(body) < length or len(body) < 35:
        return None
    version = int.from_bytes(body[0:2], "big")
    random = body[2:34]
    off = 34 + 1 + body[34]
    if off + 2 > len(body):
        return None
    (slen,) = struct.unpack_from("!H", body, off)
    suites_raw = body[off + 2:off + 2 + slen]
    if len(suites_raw) < slen or slen % 2:
        return None
    suites = list(struct.unpack(f"!{slen // 2}H", suites_raw))
    return version, random, suites


def choose_suite(suites: list[int]) -> int:
    offered = set(suites)
    for s in PREFERRED:
        if s in offered:
            return s
    for s in suites:
        if s not in _SCSV and (s & 0x0F0F) != 0x0A0A:   # skip GREASE
            return s
    return 0x009C


def server_flight(version: int, random: bytes, suites: list[int], identity: TlsIdentity) -> bytes:
    ver = min(max(version, 0x0301), 0x0303)
    seed = hashlib.sha256(b"tidescanned" + random).digest()
    server_random = hashlib.sha256(seed).digest()
    exts = b"\xff\x01\x00\x01\x00"                     # renegotiation_info, empty
    hello_body = (struct.pack("!H", ver) + server_random + b"\x20" + seed
                  + struct.pack("!HB", choose_suite(suites), 0) + struct.pack("!H", len(exts)) + exts)
    cert = identity.cert_der
    cert_list = len(cert).to_bytes(3, "big") + cert
    cert_body = len(cert_list).to_bytes(3, "big") + cert_list
    hs = (b"\x02" + len(hello_body).to_bytes(3, "big") + hello_body
          + b"\x0b" + len(cert_body).to_bytes(3, "big") + cert_body
          + b"\x0e\x00\x00\x00")
    return struct.pack("!BHH", 0x16, ver, len(hs)) + hs


class Tls:
    """Buffers the ClientHello across segments, answers once."""

    name = "tls"

    def __init__(self, identity: TlsIdentity | None = None) -> None:
        self.identity = identity
        self.buf = b""
        self.done = False

    def feed(self, data: bytes, ctx: Ctx) -> bytes | None:
        if self.done:
            return None
        self.buf = (self.buf + data)[:_MAX]
        hs = _handshake_bytes(self.buf)
        if hs is None:
            self.done = True
            return None
        hello = parse_client_hello(hs)
        if hello is None:
            return None
        self.done = True
        self.buf = b""
        identity = self.identity or default_identity()
        ctx.note = f"tls server hello + certificate (suite 0x{choose_suite(hello[2]):04x})"
        return server_flight(*hello, identity)
