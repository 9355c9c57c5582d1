"""SMB on 445 (and 139): negotiate, then an anonymous NTLM session setup to read the CHALLENGE.

Dialogue (masscan.md §3, ``proto-smb.c``; flow and text checked against Debian's masscan 1.3.2
talking to tidescanned's SMB responder):

* Hello (445): an SMB1 NEGOTIATE offering ``NT LM 0.12``, ``SMB 2.002`` and ``SMB 2.???``
  (``--hello smbv1``: only ``NT LM 0.12``).  On 139 it is preceded by a NetBIOS session request for
  ``*SMBSERVER`` (a negative answer is reported as masscan's ``ERROR(...)`` text).
* SMB1 answer: with extended security we send SESSION_SETUP_ANDX carrying an NTLM NEGOTIATE in
  SPNEGO; without, a null session setup.  SMB2 answer: if the dialect is the ``0x02FF`` wildcard
  we send an SMB2 NEGOTIATE (2.0.2, 2.1, 3.0, 3.0.2) first; then an SMB2 SESSION_SETUP with the
  NTLM NEGOTIATE.  The session-setup answer ends the grab (Close).

Banner ``smb``:
``SMBv1  time=<server time> TZ=<minutes> `` (+ `` domain= name=`` without extended security)
or ``SMBv2  guid=<server guid> time=<server time> `` (guid and time of the first answer), then
the NTLM CHALLENGE fields (ntlmssp.py), then for SMB1 `` os= ver= domain=`` from the session
setup answer.

Messages are NetBIOS-framed (4-byte header with the length); each message is collected whole
(at most 16 KiB are kept) and parsed once complete -- bounded state, no stream reassembly.
"""

from __future__ import annotations

import datetime
import struct

from .base import Action, BannerConfig, Close, Collector, Parser, Send
from .ntlmssp import challenge_text, negotiate_token

__all__ = ["SmbParser", "hello_445", "hello_139", "nbt_session_request"]

MAX_MESSAGE = 16384
STATUS_MORE_PROCESSING = 0xC0000016
CAP_EXTENDED_SECURITY = 0x80000000
FLAGS2 = 0xC801                 # unicode | NT status | extended security | long names
FLAGS2_NO_EXT = 0xC001
CAPABILITIES = 0x800000D4       # extended security | NT status | NT SMBs | unicode | large files
SMB2_DIALECTS = (0x0202, 0x0210, 0x0300, 0x0302)
CLIENT_GUID = bytes.fromhex("7469646573636e6e657220736d623220")[:16]

_NBT_ERRORS = {
    0x80: b"ERROR(Not listening on called name)",
    0x81: b"ERROR(Not listening for calling name)",
    0x82: b"ERROR(Called name not present)",
    0x83: b"ERROR(Called name present, but insufficient resources)",
    0x8F: b"ERROR(Unspecified error)",
}


# ------------------------------------------------------------------------------------ requests

def _nbt(message: bytes) -> bytes:
    return struct.pack(">I", len(message) & 0x1FFFF) + message


def _netbios_name(name: str, suffix: int) -> bytes:
    raw = name.encode("ascii")[:15].ljust(15, b" ") + bytes((suffix,))
    enc = bytearray()
    for b in raw:
        enc += bytes((0x41 + (b >> 4), 0x41 + (b & 0x0F)))
    return b"\x20" + bytes(enc) + b"\x00"


def nbt_session_request(called: str = "*SMBSERVER", calling: str = "TIDESCAN") -> bytes:
    body = _netbios_name(called, 0x20) + _netbios_name(calling, 0x00)
    return b"\x81\x00" + struct.pack(">H", len(body)) + body


def _smb1_header(cmd: int, flags2: int = FLAGS2, mid: int = 0) -> bytes:
    return (b"\xffSMB" + struct.pack("<BIBH", cmd, 0, 0x18, flags2) + bytes(12)
            + struct.pack("<HHHH", 0xFFFF, 0xFEFF, 0, mid))


def hello_445(v1_only: bool = False) -> bytes:
    names = [b"NT LM 0.12"] if v1_only else [b"NT LM 0.12", b"SMB 2.002", b"SMB 2.???"]
    dialects = b"".join(b"\x02" + d + b"\x00" for d in names)
    return _nbt(_smb1_header(0x72) + b"\x00" + struct.pack("<H", len(dialects)) + dialects)


def hello_139(v1_only: bool = False) -> bytes:
    return nbt_session_request() + hello_445(v1_only)


def _smb1_session_setup_ext(mid: int) -> bytes:
    blob = negotiate_token()
    words = struct.pack("<BBHHHHIHII", 0xFF, 0, 0, 4356, 50, 0, 0, len(blob), 0, CAPABILITIES)
    data = blob
    if (32 + 1 + len(words) + 2 + len(data)) & 1:
        data += b"\x00"
    data += b"\x00\x00\x00\x00"                       # NativeOS "", NativeLanMan ""
    return _nbt(_smb1_header(0x73, mid=mid) + bytes((len(words) // 2,)) + words
                + struct.pack("<H", len(data)) + data)


def _smb1_session_setup_null(mid: int) -> bytes:
    words = struct.pack("<BBHHHHIHHII", 0xFF, 0, 0, 4356, 50, 0, 0, 0, 0, 0, CAPABILITIES & 0x7FFFFFFF)
    data = b"\x00" + b"\x00\x00" * 4                  # pad, then four empty unicode strings
    return _nbt(_smb1_header(0x73, FLAGS2_NO_EXT, mid) + bytes((len(words) // 2,)) + words
                + struct.pack("<H", len(data)) + data)


def _smb2_header(command: int, message_id: int, session_id: int = 0) -> bytes:
    return (b"\xfeSMB" + struct.pack("<HHIHHIIQIIQ", 64, 0, 0, command, 31, 0, 0, message_id,
                                     0xFEFF, 0, session_id) + bytes(16))


def _smb2_negotiate(message_id: int) -> bytes:
    body = struct.pack("<HHHHI", 36, len(SMB2_DIALECTS), 1, 0, 0) + CLIENT_GUID + bytes(8)
    body += b"".join(struct.pack("<H", d) for d in SMB2_DIALECTS)
    return _nbt(_smb2_header(0, message_id) + body)


def _smb2_session_setup(message_id: int) -> bytes:
    blob = negotiate_token()
    body = struct.pack("<HBBIIHHQ", 25, 0, 1, 0, 0, 64 + 24, len(blob), 0) + blob
    return _nbt(_smb2_header(1, message_id) + body)


# ------------------------------------------------------------------------------------- helpers

def _filetime_text(ft: int) -> bytes | None:
    try:
        when = datetime.datetime(1601, 1, 1) + datetime.timedelta(microseconds=ft // 10)
    except (OverflowError, ValueError):
        return None
    return when.strftime("%Y-%m-%d %H:%M:%S").encode()


def _guid_text(g: bytes) -> bytes:
    a, b, c = struct.unpack_from("<IHH", g)
    return f"{a:08x}-{b:04x}-{c:04x}-{g[8:10].hex()}-{g[10:16].hex()}".encode()


def _strings(data: bytes, unicode: bool, count: int) -> list[bytes]:
    """Up to ``count`` NUL-terminated strings (UTF-16LE when ``unicode``), as UTF-8."""
    out: list[bytes] = []
    i = 0
    while len(out) < count and i < len(data):
        if unicode:
            j = data.find(b"\x00\x00", i)
            while j >= 0 and (j - i) & 1:              # a NUL pair straddling two characters
                j = data.find(b"\x00\x00", j + 1)
            j = len(data) if j < 0 else j
            out.append(data[i:j].decode("utf-16-le", "replace").encode("utf-8", "replace"))
            i = j + 2
        else:
            j = data.find(b"\x00", i)
            j = len(data) if j < 0 else j
            out.append(data[i:j])
            i = j + 1
    return out


# -------------------------------------------------------------------------------------- parser

_NBT_HDR, _NBT_BODY = 0, 1


class SmbParser(Parser):
    """``smb`` banner (negotiate + NTLM CHALLENGE)."""

    name = "smb"
    __slots__ = ("port", "_field", "_state", "_nbt_type", "_printed_version", "_printed_guid", "_message_id")

    def __init__(self, cfg: BannerConfig, port: int = 445) -> None:
        super().__init__(cfg)
        self.port = port
        self._field = Collector()
        self._field.expect(4)
        self._state = _NBT_HDR
        self._nbt_type = 0
        self._printed_version = False
        self._printed_guid = False
        self._message_id = 1

    def hello(self) -> bytes:
        v1 = self.cfg.hello == "smbv1"
        return hello_139(v1) if self.port == 139 else hello_445(v1)

    def _feed(self, data: bytes, now: float) -> list[Action]:
        out: list[Action] = []
        i = 0
        while i < len(data):
            field, i = self._field.take(data, i)
            if field is None:
                break
            if self._state == _NBT_HDR:
                self._nbt_type = field[0]
                size = ((field[1] & 1) << 16) | (field[2] << 8) | field[3]
                if self._nbt_type not in (0x00, 0x82, 0x83, 0x85):
                    return out + self._finish(Close())
                if size == 0:
                    self._field.expect(4)
                    continue
                self._state = _NBT_BODY
                self._field.expect(size, keep=MAX_MESSAGE)
                continue
            self._state = _NBT_HDR
            self._field.expect(4)
            if self._nbt_type == 0x83:
                self._add("smb", _NBT_ERRORS.get(field[0], b"ERROR(UNKNOWN)"))
                return out + self._finish(Close())
            if self._nbt_type != 0x00:
                continue
            result = self._message(field)
            if result is None:
                return out + self._finish(Close())
            out.extend(result)
        return out

    def _version(self, text: bytes) -> None:
        if not self._printed_version:
            self._printed_version = True
            self._add("smb", text)

    def _message(self, m: bytes) -> list[Action] | None:
        """Actions for one SMB message; None when the grab is over."""
        if m[:4] == b"\xffSMB" and len(m) >= 35:
            self._version(b"SMBv1 ")
            return self._smb1(m)
        if m[:4] == b"\xfeSMB" and len(m) >= 64:
            self._version(b"SMBv2 ")
            return self._smb2(m)
        self._version(b"SMBv? ")
        return None

    # -- SMB1 -----------------------------------------------------------------------------------
    def _smb1(self, m: bytes) -> list[Action] | None:
        cmd = m[4]
        flags2 = struct.unpack_from("<H", m, 10)[0]
        unicode = bool(flags2 & 0x8000)
        wc = m[32]
        data_at = 33 + 2 * wc + 2
        if data_at > len(m):
            return None
        words = m[33:33 + 2 * wc]
        bc = struct.unpack_from("<H", m, 33 + 2 * wc)[0]
        data = m[data_at:data_at + bc]
        if cmd == 0x72:
            if wc != 17:
                return None
            (dialect, _sec, _mpx, _vcs, _buf, _raw, _key, caps, systime, tz,
             chal_len) = struct.unpack("<HBHHIIIIQhB", words)
            if dialect == 0xFFFF:
                return None
            when = _filetime_text(systime)
            if when is not None:
                self._add("smb", b" time=" + when + b" ")
            self._add("smb", f"TZ={tz:+d} ".encode())
            self._message_id += 1
            if caps & CAP_EXTENDED_SECURITY:
                return [Send(_smb1_session_setup_ext(self._message_id))]
            domain, name = (_strings(data[chal_len:], unicode, 2) + [b"", b""])[:2]
            if domain:
                self._add("smb", b" domain=" + domain)
            if name:
                self._add("smb", b" name=" + name)
            return [Send(_smb1_session_setup_null(self._message_id))]
        if cmd == 0x73:
            rest = data
            if wc == 4:
                blob_len = struct.unpack_from("<H", words, 6)[0]
                self._add("smb", challenge_text(data[:blob_len]))
                rest = data[blob_len:]
                pad_at = data_at + blob_len
            else:
                pad_at = data_at
            if unicode and pad_at & 1:
                rest = rest[1:]
            for label, value in zip((b" os=", b" ver=", b" domain="), _strings(rest, unicode, 3)):
                if value:
                    self._add("smb", label + value)
        return None

    # -- SMB2 -----------------------------------------------------------------------------------
    def _smb2(self, m: bytes) -> list[Action] | None:
        status, command = struct.unpack_from("<IH", m, 8)
        if command == 0 and status == 0 and len(m) >= 64 + 64:
            dialect = struct.unpack_from("<H", m, 68)[0]
            guid = m[72:88]
            systime = struct.unpack_from("<Q", m, 104)[0]
            if not self._printed_guid:
                self._printed_guid = True
                self._add("smb", b" guid=" + _guid_text(guid))
                when = _filetime_text(systime)
                if when is not None:
                    self._add("smb", b" time=" + when + b" ")
            self._message_id += 1
            if dialect == 0x02FF:
                return [Send(_smb2_negotiate(self._message_id))]
            return [Send(_smb2_session_setup(self._message_id))]
        if command == 1 and len(m) >= 72:
            off, size = struct.unpack_from("<HH", m, 68)
            self._add("smb", challenge_text(m[off:off + size]))
        return None
