"""NTLMSSP (MS-NLMP): the NEGOTIATE we send inside SMB, and what a server's CHALLENGE tells us.

Why this exists: an SMB server answers an anonymous Session Setup carrying an NTLM NEGOTIATE with
an NTLM CHALLENGE whose fields name the machine: NetBIOS and DNS computer/domain names, the forest,
and the Windows version.  That is most of what ``--banners`` learns on port 445.

``negotiate_token()`` builds the NEGOTIATE wrapped in SPNEGO's GSS-API ``negTokenInit``
(RFC 4178), as Windows clients send it.  ``challenge_text(blob)`` finds ``NTLMSSP\\0`` + type 2 in
any security blob (the SPNEGO wrapping is skipped by searching for the signature) and formats the
fields as masscan does (``proto-ntlmssp.c``; checked against Debian's masscan 1.3.2):
`` domain=<TargetName> version=<maj>.<min>.<build> ntlm-ver=<rev>`` then, for each AV pair in
order, `` name=``/`` domain=``/`` name-dns=``/`` domain-dns=``/`` forest=``/`` target=``.
Malformed or short messages give ``b""``; nothing here raises.
"""

from __future__ import annotations

import struct

__all__ = ["negotiate_token", "challenge_text", "der"]

SIGNATURE = b"NTLMSSP\x00"
SPNEGO_OID = bytes.fromhex("06062b0601050502")              # 1.3.6.1.5.5.2
NTLMSSP_OID = bytes.fromhex("060a2b06010401823702020a")     # 1.3.6.1.4.1.311.2.2.10
# UNICODE | OEM | REQUEST_TARGET | NTLM | ALWAYS_SIGN | EXTENDED_SESSIONSECURITY | VERSION |
# 128 | KEY_EXCH | 56
NEGOTIATE_FLAGS = 0x00000001 | 0x00000002 | 0x00000004 | 0x00000200 | 0x00008000 \
    | 0x00080000 | 0x02000000 | 0x20000000 | 0x40000000 | 0x80000000
CLIENT_VERSION = struct.pack("<BBHxxxB", 6, 1, 7601, 15)    # Windows 7 SP1, NTLM revision 15

_AV_NAMES = {1: b"name", 2: b"domain", 3: b"name-dns", 4: b"domain-dns", 5: b"forest",
             9: b"target"}


def der(tag: int, body: bytes) -> bytes:
    """One DER TLV (definite length)."""
    n = len(body)
    if n < 0x80:
        length = bytes((n,))
    elif n < 0x100:
        length = bytes((0x81, n))
    else:
        length = bytes((0x82,)) + n.to_bytes(2, "big")
    return bytes((tag,)) + length + body


def negotiate_message() -> bytes:
    """NTLM NEGOTIATE (type 1) with empty domain and workstation."""
    return (SIGNATURE + struct.pack("<II", 1, NEGOTIATE_FLAGS)
            + struct.pack("<HHI", 0, 0, 0) + struct.pack("<HHI", 0, 0, 0) + CLIENT_VERSION)


def negotiate_token() -> bytes:
    """GSS-API InitialContextToken: SPNEGO negTokenInit offering NTLMSSP, carrying NEGOTIATE."""
    init = der(0x30, der(0xA0, der(0x30, NTLMSSP_OID)) + der(0xA2, der(0x04, negotiate_message())))
    return der(0x60, SPNEGO_OID + der(0xA0, init))


def _utf16(raw: bytes) -> bytes:
    return raw[: len(raw) & ~1].decode("utf-16-le", "replace").encode("utf-8", "replace")


def challenge_text(blob: bytes) -> bytes:
    """masscan's text for the CHALLENGE found in ``blob`` (b"" if there is none)."""
    at = blob.find(SIGNATURE)
    if at < 0:
        return b""
    m = blob[at:]
    if len(m) < 56 or struct.unpack_from("<I", m, 8)[0] != 2:
        return b""
    out = bytearray()
    name_len, _, name_off = struct.unpack_from("<HHI", m, 12)
    if name_len and name_len + name_off < len(m):
        out += b" domain=" + _utf16(m[name_off:name_off + name_len])
    out += (f" version={m[48]}.{m[49]}.{m[50] | (m[51] << 8)} ntlm-ver={m[55]}").encode()
    info_len, _, info_off = struct.unpack_from("<HHI", m, 40)
    end = min(len(m), info_off + info_len)
    i = info_off
    while i + 4 <= end:
        kind, size = struct.unpack_from("<HH", m, i)
        i += 4
        if kind == 0:
            break
        value = m[i:min(i + size, end)]
        label = _AV_NAMES.get(kind)
        if label is not None:
            out += b" " + label + b"=" + _utf16(value)
        i += size
    return bytes(out)
