"""SMB1 and SMB2 over NetBIOS session framing: negotiate, then an NTLM challenge.

Why this exists: port 445/139 scanners (nmap's smb-protocols, smbclient, worms) start with a
Negotiate and then a Session Setup; answering both lets them record the dialect and the NTLM
target information, which is what masscanned offers (reference masscanned.md §16).

- SMB1 Negotiate (command 0x72): the first of `NT LM 0.12`, `SMB 2.???`, `SMB 2.002` offered is
  chosen (index 0 if none); extended-security answer carrying a SPNEGO offer of NTLMSSP.
  SMB1 Session Setup AndX (0x73) -> NTLMSSP CHALLENGE, native OS and LAN manager `Windows 4.0`.
- SMB2 Negotiate (command 0): the first of 0x0202, 0x0210, 0x02ff, 0x0300, 0x0302, 0x0310, 0x0311
  present is chosen (none -> no answer); ServerGuid = the client's GUID; times = now.
  SMB2 Session Setup (1) -> STATUS_MORE_PROCESSING_REQUIRED with the CHALLENGE.
- Requests flagged as responses are ignored; each segment is parsed on its own (the whole NBT
  message must be in it); a truncated request gets no answer.

Differences from masscanned: the SPNEGO/NTLM blobs are built from their definitions
(`smb_auth.py`) instead of a captured Windows blob; the SMB1 Session Setup answer carries
STATUS_MORE_PROCESSING_REQUIRED and a computed AndX offset; an SMB2 Session Setup answer assigns a
session id when the client sent 0, so real clients can continue.
"""

from __future__ import annotations

import struct

from . import smb_auth
from .context import Ctx

SMB1_MAGIC = b"\xffSMB"
SMB2_MAGIC = b"\xfeSMB"
STATUS_MORE_PROCESSING_REQUIRED = 0xC0000016
SMB2_DIALECTS = (0x0202, 0x0210, 0x02FF, 0x0300, 0x0302, 0x0310, 0x0311)
SMB1_PREFERRED = (b"NT LM 0.12", b"SMB 2.???", b"SMB 2.002")
NATIVE = "Windows 4.0\x00".encode("utf-16-le")
SESSION_ID = 0x0000_0400_0000_0001


def matches(data: bytes) -> bool:
    return len(data) >= 8 and data[:2] == b"\x00\x00" and data[4:8] in (SMB1_MAGIC, SMB2_MAGIC)


def nbt(payload: bytes) -> bytes:
    n = len(payload) & 0x1FFFF
    return bytes((0, n >> 16)) + (n & 0xFFFF).to_bytes(2, "big") + payload


# ----------------------------------------------------------------------------------------- SMB1

def _smb1_header(req: bytes, status: int = 0) -> bytes:
    cmd = req[4]
    pid_high, = struct.unpack_from("<H", req, 12)
    tid, pid_low, uid, mid = struct.unpack_from("<HHHH", req, 24)
    return (SMB1_MAGIC + bytes((cmd,)) + struct.pack("<IBH", status, 0x98, 0xC807)
            + struct.pack("<H", pid_high) + bytes(10) + struct.pack("<HHHH", tid, pid_low, uid, mid))


def _smb1_dialects(body: bytes) -> list[bytes] | None:
    if len(body) < 3:
        return None
    wc = body[0]
    off = 1 + 2 * wc
    if off + 2 > len(body):
        return None
    (bc,) = struct.unpack_from("<H", body, off)
    data = body[off + 2:off + 2 + bc]
    if len(data) < bc or bc == 0:
        return None
    dialects = []
    i = 0
    while i < bc:
        end = data.find(b"\x00", i + 1)
        if end < 0:
            return None
        dialects.append(data[i + 1:end])
        i = end + 1
    return dialects


def smb1(req: bytes, ctx: Ctx) -> bytes | None:
    if len(req) < 32 or req[9] & 0x80:
        return None
    cmd, body = req[4], req[32:]
    if cmd == 0x72:
        dialects = _smb1_dialects(body)
        if dialects is None:
            return None
        index = 0
        for d in SMB1_PREFERRED:
            if d in dialects:
                index = dialects.index(d)
                break
        blob = smb_auth.neg_token_init()
        words = struct.pack("<BHBHHIIII", 17, index, 3, 50, 50, 0x10000, 0x10000, 0, 0x8001E3FC)
        words += struct.pack("<QhB", smb_auth.filetime(ctx.now), 0x3C, 0)
        ctx.note = f"smb1 negotiate ({dialects[index].decode('latin-1') if dialects else '?'})"
        return _smb1_header(req) + words + struct.pack("<H", 16 + len(blob)) + bytes(16) + blob
    if cmd == 0x73:
        if len(body) < 27 or body[0] != 12:
            return None
        (sec_len,) = struct.unpack_from("<H", body, 15)
        (bc,) = struct.unpack_from("<H", body, 25)
        if len(body) < 27 + sec_len or bc < sec_len:
            return None
        blob = smb_auth.neg_token_resp(ctx.now)
        byte_count = len(blob) + 2 * len(NATIVE)
        andx_offset = 32 + 1 + 8 + 2 + byte_count
        words = struct.pack("<BBBHHH", 4, 0xFF, 0, andx_offset, 0, len(blob))
        ctx.note = "smb1 session setup: ntlm challenge"
        return (_smb1_header(req, STATUS_MORE_PROCESSING_REQUIRED) + words
                + struct.pack("<H", byte_count) + blob + NATIVE + NATIVE)
    return None


# ----------------------------------------------------------------------------------------- SMB2

def _smb2_header(req: bytes, status: int, session_id: int) -> bytes:
    (cmd,) = struct.unpack_from("<H", req, 12)
    (message_id, async_id) = struct.unpack_from("<QQ", req, 24)
    return (SMB2_MAGIC + struct.pack("<HHIHHII", 64, 0, status, cmd, 1, 1, 0)
            + struct.pack("<QQQ", message_id, async_id, session_id) + bytes(16))


def smb2(req: bytes, ctx: Ctx) -> bytes | None:
    if len(req) < 64:
        return None
    (cmd,) = struct.unpack_from("<H", req, 12)
    (flags,) = struct.unpack_from("<I", req, 16)
    (session_id,) = struct.unpack_from("<Q", req, 40)
    if flags & 1:
        return None
    body = req[64:]
    if cmd == 0:
        if len(body) < 36:
            return None
        (count,) = struct.unpack_from("<H", body, 2)
        guid = body[12:28]
        if count == 0 or len(body) < 36 + 2 * count:
            return None
        offered = set(struct.unpack_from(f"<{count}H", body, 36))
        dialect = next((d for d in SMB2_DIALECTS if d in offered), None)
        if dialect is None:
            return None
        blob = smb_auth.neg_token_init()
        now = smb_auth.filetime(ctx.now)
        resp = (struct.pack("<HHHH", 0x41, 1, dialect, 1) + guid
                + struct.pack("<IIIIQQHHI", 1, 0x10000, 0x10000, 0x10000, now, now, 0x80, len(blob), 0)
                + blob)
        ctx.note = f"smb2 negotiate (dialect 0x{dialect:04x})"
        return _smb2_header(req, 0, session_id) + resp
    if cmd == 1:
        if len(body) < 24:
            return None
        (sec_len,) = struct.unpack_from("<H", body, 14)
        if len(body) < 24 + sec_len:
            return None
        blob = smb_auth.neg_token_resp(ctx.now)
        ctx.note = "smb2 session setup: ntlm challenge"
        return (_smb2_header(req, STATUS_MORE_PROCESSING_REQUIRED, session_id or SESSION_ID)
                + struct.pack("<HHHH", 9, 0, 0x48, len(blob)) + blob)
    return None


class Smb:
    """Stateless: one NBT message per segment."""

    name = "smb"

    def feed(self, data: bytes, ctx: Ctx) -> bytes | None:
        if not matches(data):
            return None
        req = data[4:]
        reply = smb1(req, ctx) if req[:4] == SMB1_MAGIC else smb2(req, ctx)
        return None if reply is None else nbt(reply)
