"""The security blobs SMB answers carry: a SPNEGO offer of NTLMSSP and an NTLMSSP CHALLENGE.

Why this exists: an SMB negotiate answer advertises which authentication it accepts (SPNEGO
`negTokenInit` listing the NTLMSSP mechanism), and a session-setup answer returns an NTLM
CHALLENGE message.  Scanners (nmap's smb scripts, Zeek, IVRE) read the target name and version out
of that CHALLENGE.  The blobs are built here from their definitions (DER for SPNEGO, RFC 4178;
MS-NLMP for NTLM) with masscanned's visible values: target/computer/domain name `WIN1`, a fixed
server challenge, and Windows version 10.0 build 19041.
"""

from __future__ import annotations

import struct

from tidescan.banners.ntlmssp import NTLMSSP_OID, SPNEGO_OID, der  # the scanner's side of the same blobs

TARGET = "WIN1"
SERVER_CHALLENGE = bytes.fromhex("2491a8f6f3892d34")
NTLM_FLAGS = 0xE28A8215   # UNICODE|REQUEST_TARGET|SIGN|NTLM|ALWAYS_SIGN|TARGET_TYPE_SERVER|ESS|TARGET_INFO|VERSION|128|KEY_EXCH|56
VERSION = struct.pack("<BBHxxxB", 10, 0, 19041, 15)
EPOCH_1601 = 11644473600


def filetime(now: float) -> int:
    """Windows FILETIME (100 ns since 1601-01-01) of a Unix time."""
    return int((now + EPOCH_1601) * 10_000_000)


def neg_token_init() -> bytes:
    """GSS-API InitialContextToken wrapping a SPNEGO negTokenInit that offers NTLMSSP."""
    mech_types = der(0xA0, der(0x30, NTLMSSP_OID))
    return der(0x60, SPNEGO_OID + der(0xA0, der(0x30, mech_types)))


def ntlm_challenge(now: float) -> bytes:
    """An NTLMSSP CHALLENGE (type 2) message for target WIN1."""
    name = TARGET.encode("utf-16-le")
    av = b"".join(struct.pack("<HH", av_id, len(name)) + name for av_id in (2, 1, 4, 3))
    av += struct.pack("<HHQ", 7, 8, filetime(now)) + struct.pack("<HH", 0, 0)
    header_len = 56
    return (b"NTLMSSP\x00" + struct.pack("<I", 2)
            + struct.pack("<HHI", len(name), len(name), header_len)
            + struct.pack("<I", NTLM_FLAGS) + SERVER_CHALLENGE + bytes(8)
            + struct.pack("<HHI", len(av), len(av), header_len + len(name))
            + VERSION + name + av)


def neg_token_resp(now: float) -> bytes:
    """SPNEGO negTokenResp: accept-incomplete, NTLMSSP, carrying the CHALLENGE."""
    return der(0xA1, der(0x30, der(0xA0, b"\x0a\x01\x01") + der(0xA1, NTLMSSP_OID)
                         + der(0xA2, der(0x04, ntlm_challenge(now)))))
