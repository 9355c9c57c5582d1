"""masscan's `-oB` binary format: writer and reader.

Why a binary format at all: it is the only output that loses nothing, so users scan once with
`-oB` and convert with `--readscan` to whatever they need (masscan's advice for `-oA`, #733).
We read every record type masscan ever wrote and write what masscan 1.3.2 reads, so files move
freely between the two programs in both directions.

Layout (all integers big-endian):

- a 99-byte header `masscan/1.1\\ns:<start time>\\n` padded with NULs, and a 99-byte trailer
  `masscan/1.1` padded with NULs.  Both happen to parse as a record of type `'m'` and length 97,
  which readers skip; that is why appending to a file (a second header mid-file) is harmless;
- records: `TYPE` varint, `LEN` varint, `LEN` body bytes.  A varint is 7 bits per byte, most
  significant group first, high bit = more follows.  masscan's writer emits 1 length byte below
  128 and 2 below 16384, and silently *drops* longer banners; we emit the general varint instead
  (identical bytes below 16384), which masscan's reader accepts, so long banners survive.

| type | body |
|---|---|
| 1/2 open/closed (legacy) | ts4 ip4 port2 reason1 ttl1 [mac6 if ip==0]; proto inferred from the port |
| 3 banner (legacy) | ts4 ip4 port2 app2 data (TCP) |
| 4/5 banner (legacy) | ts4 ip4 proto1 port2 app2 data (type 4: one more byte after LEN belongs to data) |
| 6/7/8 open/closed/arp | ts4 ip4 proto1 port2 reason1 ttl1 |
| 9 banner | ts4 ip4 proto1 port2 app2 ttl1 data |
| 10/11/12 open6/closed6/arp6 | ts4 proto1 port2 reason1 ttl1 ver1(=6) ip_hi8 ip_lo8 |
| 13 banner6 | ts4 proto1 port2 app2 ttl1 ver1 ip_hi8 ip_lo8 data |

Differences from masscan, all compatible with its reader where it matters:
- ARP records (8/12) carry the responder's MAC after the fixed fields (masscan wrote none, and
  its reader rejects types 8 and 12 altogether, stopping the file: ours reads them);
- banners longer than 16383 bytes are kept (see above), up to masscan's 1 MiB record limit;
- the reader parses the header's start time (masscan's never did: it looked for `.` at byte 11).

Banner type ids depend on the masscan version (see `apps.py`): `app_table="1.3.2"` (default)
or `"head"`.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from typing import BinaryIO

import numpy as np

from tidescan.errors import UsageError
from tidescan.output.apps import app_id, app_key
from tidescan.output.base import OutputMeta, Writer
from tidescan.output.batch import StatusBatch
from tidescan.output.record import PROTO_NUMBERS, Record, proto_from_number, proto_number

__all__ = ["BinaryWriter", "BinaryReader", "encode_record", "encode_status_batch", "read_binary", "HEADER_LEN",
           "MAX_RECORD"]

HEADER_LEN = 99            # 'a' + 2
MAX_RECORD = 1024 * 1024   # masscan's reader gives up on longer records
_MAGIC = b"masscan/1.1"

_S4 = struct.Struct(">IIBHBB")      # 6/7/8
_B4 = struct.Struct(">IIBHHB")      # 9
_S6 = struct.Struct(">IBHBBBQQ")    # 10/11/12
_B6 = struct.Struct(">IBHHBBQQ")    # 13
_L12 = struct.Struct(">IIHBB")      # 1/2
_L3 = struct.Struct(">IIHH")        # 3
_L4 = struct.Struct(">IIBHH")       # 4/5

_STATUS_TYPE4 = {"open": 6, "closed": 7, "up": 8}
_STATUS_TYPE6 = {"open": 10, "closed": 11, "up": 12}
_M64 = (1 << 64) - 1


def _varint(n: int) -> bytes:
    if n < 0x80:
        return bytes((n,))
    groups = [n & 0x7F]
    n >>= 7
    while n:
        groups.append(0x80 | (n & 0x7F))
        n >>= 7
    return bytes(reversed(groups))


def _proto_num(proto: str) -> int:
    n = PROTO_NUMBERS.get(proto)
    return n if n is not None else proto_number(proto)


def encode_record(rec: Record, app_table: str = "1.3.2") -> bytes:
    """One record in masscan's binary layout (type, length, body)."""
    ts = rec.timestamp & 0xFFFFFFFF
    proto = _proto_num(rec.proto)
    if rec.kind == "status":
        if rec.ip_version == 6:
            rtype = _STATUS_TYPE6.get(rec.status, 10)
            body = _S6.pack(ts, proto, rec.port, rec.reason & 0xFF, rec.ttl & 0xFF, 6,
                            rec.ip >> 64, rec.ip & _M64)
        else:
            rtype = _STATUS_TYPE4.get(rec.status, 6)
            body = _S4.pack(ts, rec.ip, proto, rec.port, rec.reason & 0xFF, rec.ttl & 0xFF)
        if rtype in (8, 12) and rec.mac is not None:
            body += rec.mac[:6]
        return bytes((rtype, len(body))) + body
    aid = app_id(rec.app, app_table)
    if rec.ip_version == 6:
        head = _B6.pack(ts, proto, rec.port, aid, rec.ttl & 0xFF, 6, rec.ip >> 64, rec.ip & _M64)
        rtype = 13
    else:
        head = _B4.pack(ts, rec.ip, proto, rec.port, aid, rec.ttl & 0xFF)
        rtype = 9
    data = rec.banner[:MAX_RECORD - len(head)]
    n = len(head) + len(data)
    length = bytes((n,)) if n < 0x80 else (bytes((0x80 | n >> 7, n & 0x7F)) if n < 0x4000 else _varint(n))
    return bytes((rtype,)) + length + head + data


# Whole type-6/7/8 and type-10/11/12 records (type and length bytes included) as NumPy records,
# so a batch of status results is packed by column and written with one `tobytes()`.
_REC4 = np.dtype([("type", "u1"), ("len", "u1"), ("ts", ">u4"), ("ip", ">u4"), ("proto", "u1"),
                  ("port", ">u2"), ("reason", "u1"), ("ttl", "u1")])
_REC6 = np.dtype([("type", "u1"), ("len", "u1"), ("ts", ">u4"), ("proto", "u1"), ("port", ">u2"),
                  ("reason", "u1"), ("ttl", "u1"), ("ver", "u1"), ("hi", ">u8"), ("lo", ">u8")])
_TYPE4 = np.array([6, 6, 7, 8] + [6] * 252, np.uint8)     # by status code (batch.STATUS_CODES)
_TYPE6 = np.array([10, 10, 11, 12] + [10] * 252, np.uint8)


def _pack_status(b: StatusBatch, v6: bool) -> np.ndarray:
    out = np.empty(len(b), _REC6 if v6 else _REC4)
    out["type"] = (_TYPE6 if v6 else _TYPE4)[b.status]
    out["len"] = out.itemsize - 2
    out["ts"] = b.timestamp & 0xFFFFFFFF
    out["proto"], out["port"], out["reason"], out["ttl"] = b.proto, b.port, b.reason, b.ttl
    if v6:
        out["ver"], out["hi"], out["lo"] = 6, b.ip6_hi, b.ip6_lo
    else:
        out["ip"] = b.ip4
    return out


def encode_status_batch(b: StatusBatch) -> bytes:
    """`encode_record` of every row of `b` (ARP MACs excepted: those rows need `encode_record`),
    concatenated: one structured array per address family, interleaved back in row order."""
    v6 = b.is_v6
    if not v6.any():
        return _pack_status(b, False).tobytes()
    if v6.all():
        return _pack_status(b, True).tobytes()
    w4, w6 = _REC4.itemsize, _REC6.itemsize
    rows = np.zeros((len(b), w6), np.uint8)
    rows[~v6, :w4] = _pack_status(b.take(~v6), False).view(np.uint8).reshape(-1, w4)
    rows[v6] = _pack_status(b.take(v6), True).view(np.uint8).reshape(-1, w6)
    used = np.where(v6[:, None], True, np.arange(w6) < w4)
    return rows[used].tobytes()


def file_header(start_time: int) -> bytes:
    return f"masscan/1.1\ns:{start_time & 0xFFFFFFFF}\n".encode().ljust(HEADER_LEN, b"\0")


FILE_TRAILER = _MAGIC.ljust(HEADER_LEN, b"\0")


class BinaryWriter(Writer):
    """`-oB`.  Banner ids use `meta.app_table` (default 1.3.2, readable by Debian's masscan)."""

    name = "binary"
    is_binary = True

    def __init__(self, path: str, meta: OutputMeta, *, append: bool = False) -> None:
        self._table = meta.app_table
        super().__init__(path, meta, append=append)

    def _header(self) -> bytes:
        return file_header(self.start_time or 0)

    def _trailer(self) -> bytes:
        return FILE_TRAILER

    def _status(self, rec: Record) -> bytes:
        return encode_record(rec, self._table)

    _banner = _status

    def _status_batch(self, b: StatusBatch) -> bytes:
        return encode_status_batch(b)


# ----------------------------------------------------------------------------------------------
# Reader
# ----------------------------------------------------------------------------------------------

_LEGACY_UDP = frozenset({53, 123, 137, 161})
_LEGACY_SCTP = frozenset({36412, 36422, 2905})
_CHUNK = 1 << 20


def _legacy_proto(port: int) -> str:
    if port in _LEGACY_UDP:
        return "udp"
    if port in _LEGACY_SCTP:
        return "sctp"
    return "tcp"


class BinaryReader:
    """Iterate the records of one masscan/tidescan `-oB` file.

    `BinaryReader(path, app_table="1.3.2", on_warning=print_fn)`; `.start_time` is the header's
    scan start (None if absent).  Iteration yields `Record`s.  A record of unknown type ends the
    file (with a warning), like masscan; short or malformed records are skipped with a warning; a
    record cut off by the end of the file (an interrupted scan) ends it quietly.  A file of zero
    bytes (masscan with no results) holds no records.  A missing file or one that is not in this
    format raises `UsageError`.
    """

    def __init__(self, path: str, *, app_table: str = "1.3.2",
                 on_warning: Callable[[str], None] | None = None) -> None:
        self.path = path
        self.app_table = app_table
        self.start_time: int | None = None
        self.warnings: list[str] = []
        self._on_warning = on_warning
        try:
            self._f: BinaryIO = open(path, "rb")  # noqa: SIM115 - closed by close()/iteration
        except OSError as e:
            raise UsageError(f"--readscan {path}: {e.strerror}") from None
        header = self._f.read(HEADER_LEN)
        if header and not header.startswith(_MAGIC):
            self._f.close()
            raise UsageError(f"--readscan {path}: not a masscan binary file (expected \"masscan/1.1\")")
        self._empty = len(header) == 0
        if 0 < len(header) < HEADER_LEN:
            self._warn("file ends inside the 99-byte header")
            self._empty = True
        if not self._empty:
            self.start_time = _parse_start(header)

    def _warn(self, msg: str) -> None:
        text = f"--readscan {self.path}: {msg}"
        self.warnings.append(text)
        if self._on_warning is not None:
            self._on_warning(text)

    def close(self) -> None:
        self._f.close()

    def __enter__(self) -> BinaryReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __iter__(self) -> Iterator[Record]:
        try:
            if not self._empty:
                yield from self._records()
        finally:
            self._f.close()

    def _records(self) -> Iterator[Record]:
        f = self._f
        table = self.app_table
        buf = b""
        pos = 0
        offset = HEADER_LEN  # file offset of buf[0]
        while True:
            # Make sure the type and length varints (at most 4 + 4 bytes) are buffered.
            if len(buf) - pos < 8:
                more = f.read(_CHUNK)
                offset += pos
                buf = buf[pos:] + more
                pos = 0
                if not buf:
                    return
            start = pos
            rtype, pos = _read_varint(buf, pos)
            length, pos = _read_varint(buf, pos) if rtype >= 0 else (-1, pos)
            if rtype < 0 or length < 0:
                self._warn(f"offset {offset + start}: record header cut off by end of file")
                return
            if length > MAX_RECORD:
                self._warn(f"offset {offset + start}: record length {length} too large; file corrupt")
                return
            need = length + (1 if rtype == 4 else 0)
            if len(buf) - pos < need:
                more = f.read(max(_CHUNK, need))
                offset += start
                buf = buf[start:] + more
                pos -= start
                start = 0
                if len(buf) - pos < need:
                    self._warn(f"offset {offset}: last record cut off by end of file")
                    return
            body = buf[pos:pos + need]
            pos += need
            if rtype == 109:  # 'm': a header or trailer
                continue
            rec = _decode(rtype, body, table)
            if rec is None:
                if rtype in _KNOWN_TYPES:
                    self._warn(f"offset {offset + start}: malformed type-{rtype} record skipped")
                    continue
                self._warn(f"offset {offset + start}: unknown record type {rtype}; file corrupt")
                return
            yield rec


def _read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    """(value, new pos); value -1 if the buffer ends inside the varint."""
    n = len(buf)
    if pos >= n:
        return -1, pos
    b = buf[pos]
    pos += 1
    value = b & 0x7F
    while b & 0x80:
        if pos >= n:
            return -1, pos
        b = buf[pos]
        pos += 1
        value = (value << 7) | (b & 0x7F)
    return value, pos


_KNOWN_TYPES = frozenset(range(1, 14))


def _decode(rtype: int, body: bytes, table: str) -> Record | None:
    n = len(body)
    if rtype in (6, 7, 8):
        if n < 13:
            return None
        ts, ip, proto, port, reason, ttl = _S4.unpack_from(body)
        mac = body[13:19] if rtype == 8 and n >= 19 else None
        status = "open" if rtype == 6 else ("closed" if rtype == 7 else "up")
        return Record("status", ts, ip, 4, port, proto_from_number(proto), status, reason, ttl,
                      "", b"", mac)
    if rtype == 9:
        if n < 14:
            return None
        ts, ip, proto, port, aid, ttl = _B4.unpack_from(body)
        return Record("banner", ts, ip, 4, port, proto_from_number(proto), "open", 0, ttl,
                      app_key(aid, table), body[14:], None)
    if rtype in (10, 11, 12):
        if n < 26:
            return None
        ts, proto, port, reason, ttl, ver, hi, lo = _S6.unpack_from(body)
        if ver != 6:
            return None
        mac = body[26:32] if rtype == 12 and n >= 32 else None
        status = "open" if rtype == 10 else ("closed" if rtype == 11 else "up")
        return Record("status", ts, hi << 64 | lo, 6, port, proto_from_number(proto), status, reason,
                      ttl, "", b"", mac)
    if rtype == 13:
        if n < 27:
            return None
        ts, proto, port, aid, ttl, ver, hi, lo = _B6.unpack_from(body)
        if ver != 6:
            return None
        return Record("banner", ts, hi << 64 | lo, 6, port, proto_from_number(proto), "open", 0, ttl,
                      app_key(aid, table), body[27:], None)
    if rtype in (1, 2):
        if n < 12:
            return None
        ts, ip, port, reason, ttl = _L12.unpack_from(body)
        mac = body[12:18] if ip == 0 and n >= 18 else None
        return Record("status", ts, ip, 4, port, _legacy_proto(port), "open" if rtype == 1 else "closed",
                      reason, ttl, "", b"", mac)
    if rtype == 3:
        if n < 12:
            return None
        ts, ip, port, aid = _L3.unpack_from(body)
        return Record("banner", ts, ip, 4, port, "tcp", "open", 0, 0, app_key(aid, table), body[12:], None)
    if rtype in (4, 5):
        if n < 13:
            return None
        ts, ip, proto, port, aid = _L4.unpack_from(body)
        return Record("banner", ts, ip, 4, port, proto_from_number(proto), "open", 0, 0,
                      app_key(aid, table), body[13:], None)
    return None


def _parse_start(header: bytes) -> int | None:
    """`masscan/1.1\\ns:1700000000\\n...` -> 1700000000."""
    at = header.find(b"\ns:")
    if at < 0:
        return None
    digits = header[at + 3:].split(b"\n", 1)[0]
    return int(digits) if digits.isdigit() else None


def read_binary(path: str, *, app_table: str = "1.3.2",
                on_warning: Callable[[str], None] | None = None) -> Iterator[Record]:
    """All records of `path` (see `BinaryReader`)."""
    yield from BinaryReader(path, app_table=app_table, on_warning=on_warning)
