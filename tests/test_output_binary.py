"""The -oB format: exact bytes, round trips, every record type masscan ever wrote, bad files."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tidescan.errors import UsageError
from tidescan.output.apps import APP_KEYS, TABLES, app_display, app_id, app_key, parse_app_name
from tidescan.output.binary import BinaryReader, encode_record, file_header
from tidescan.output.record import Record, banner_record, reason_text, status_record
from tidescan.output.writers import OutputMeta, open_output

HEADER = b"masscan/1.1\ns:1700000000\n".ljust(99, b"\0")
TRAILER = b"masscan/1.1".ljust(99, b"\0")


def test_record_bytes_match_the_reference_example() -> None:
    rec = status_record(0x6553F100, 0x0A000001, 80, "tcp", "open", 0x12, 64)
    assert encode_record(rec) == bytes.fromhex("060d6553f1000a00000106005012" "40")
    assert file_header(1700000000) == HEADER


def test_banner_length_encoding() -> None:
    short = encode_record(banner_record(1, 1, 80, "http", b"x" * 113))       # LEN 127
    assert short[:2] == bytes([9, 127])
    two = encode_record(banner_record(1, 1, 80, "http", b"x" * 140))         # LEN 154: 81 1a
    assert two[:3] == bytes([9, 0x81, 0x1A])
    big = encode_record(banner_record(1, 1, 80, "http", b"x" * 70000))       # LEN 70014
    n = 70014
    assert big[:4] == bytes([9, 0x80 | n >> 14, 0x80 | (n >> 7) & 0x7F, n & 0x7F])


def test_whole_file_layout(tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    recs = [status_record(1700000000, 0x0A000001, 80, "tcp", "open", 0x12, 64),
            banner_record(1700000001, 0x0A000001, 80, "ssh", b"SSH-2.0-x", ttl=64)]
    with open_output("binary", str(path), meta=OutputMeta()) as w:
        for r in recs:
            w.write(r)
    data = path.read_bytes()
    assert data[:99] == HEADER
    assert data[-99:] == TRAILER
    assert data[99:-99] == encode_record(recs[0]) + encode_record(recs[1])
    assert list(BinaryReader(str(path))) == recs


def test_empty_scan_file_is_well_formed(tmp_path: Path) -> None:
    path = tmp_path / "e.bin"
    open_output("binary", str(path), meta=OutputMeta(start_time=5)).close()
    assert path.read_bytes() == file_header(5) + TRAILER
    reader = BinaryReader(str(path))
    assert list(reader) == [] and reader.start_time == 5


ips4 = st.integers(0, 0xFFFFFFFF)
ips6 = st.integers(0, (1 << 128) - 1)
protos = st.sampled_from(["tcp", "udp", "icmp", "sctp", "arp", "ip47", "ip255"])


@st.composite
def records(draw: st.DrawFn, table: str) -> Record:
    v6 = draw(st.booleans())
    ip = draw(ips6 if v6 else ips4)
    ts = draw(st.integers(0, 0xFFFFFFFF))
    port = draw(st.integers(0, 65535))
    proto = draw(protos)
    ttl = draw(st.integers(0, 255))
    if draw(st.booleans()):
        status = draw(st.sampled_from(["open", "closed", "up"]))
        mac = draw(st.binary(min_size=6, max_size=6)) if status == "up" else None
        return Record("status", ts, ip, 6 if v6 else 4, port, proto, status,
                      draw(st.integers(0, 255)), ttl, "", b"", mac)
    keys = sorted(set(TABLES[table].values()) - ({"X509CA", "vnc-old"} if table == "1.3.2" else set()))
    app = draw(st.sampled_from(keys + ["(999)", "(65535)"]))
    # small banners, and long ones around the 2-byte/3-byte length boundary (16384)
    banner = draw(st.binary(max_size=300) | st.builds(lambda b, n: b * n, st.binary(min_size=1, max_size=4),
                                                      st.integers(4090, 4400)))
    return Record("banner", ts, ip, 6 if v6 else 4, port, proto, "open", 0, ttl, app, banner, None)


@pytest.mark.parametrize("table", ["1.3.2", "head"])
def test_round_trip(tmp_path: Path, table: str) -> None:
    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                      HealthCheck.too_slow])
    @given(st.lists(records(table), max_size=20), st.booleans())
    def check(recs: list[Record], append: bool) -> None:
        path = tmp_path / "rt.bin"
        path.unlink(missing_ok=True)
        meta = OutputMeta(show=frozenset({"open", "closed"}), app_table=table)
        half = len(recs) // 2 if append else len(recs)
        with open_output("binary", str(path), meta=meta) as w:
            for r in recs[:half]:
                w.write(r)
        with open_output("binary", str(path), meta=meta, append=True) as w:
            for r in recs[half:]:
                w.write(r)
        reader = BinaryReader(str(path), app_table=table)
        assert list(reader) == recs
        assert reader.warnings == []

    check()


def _rec(t: int, body: bytes) -> bytes:
    n = len(body)
    return bytes([t]) + (bytes([n]) if n < 128 else bytes([0x80 | n >> 7, n & 0x7F])) + body


def test_legacy_record_types(tmp_path: Path) -> None:
    ts = 1700000000
    mac = bytes.fromhex("000c29010203")
    data = HEADER
    data += _rec(1, struct.pack(">IIHBB", ts, 0x0A000001, 53, 0x12, 64))            # -> udp
    data += _rec(2, struct.pack(">IIHBB", ts, 0x0A000001, 2905, 0x14, 64))          # -> sctp
    data += _rec(1, struct.pack(">IIHBB", ts, 0, 80, 0x12, 64) + mac)               # ip 0: mac
    data += _rec(3, struct.pack(">IIHH", ts, 0x0A000001, 80, 4) + b"legacy3")
    data += _rec(4, struct.pack(">IIBHH", ts, 0x0A000001, 17, 161, 7) + b"legacy4") + b"Z"
    data += _rec(5, struct.pack(">IIBHH", ts, 0x0A000001, 17, 161, 7) + b"legacy5")
    data += TRAILER
    path = tmp_path / "legacy.bin"
    path.write_bytes(data)
    got = list(BinaryReader(str(path)))
    assert got == [
        status_record(ts, 0x0A000001, 53, "udp", "open", 0x12, 64),
        status_record(ts, 0x0A000001, 2905, "sctp", "closed", 0x14, 64),
        status_record(ts, 0, 80, "tcp", "open", 0x12, 64, mac=mac),
        banner_record(ts, 0x0A000001, 80, "http", b"legacy3"),
        banner_record(ts, 0x0A000001, 161, "snmp", b"legacy4Z", proto="udp"),  # type 4's extra byte
        banner_record(ts, 0x0A000001, 161, "snmp", b"legacy5", proto="udp"),
    ]


def test_arp_records_keep_the_mac(tmp_path: Path) -> None:
    mac = bytes.fromhex("000c29334455")
    recs = [status_record(1, 0x0A000009, 0, "arp", "up", 0, 0, mac=mac),
            status_record(1, 0xFD00 << 112 | 9, 0, "arp", "up", 0, 0, ip_version=6, mac=mac)]
    assert encode_record(recs[0])[:2] == bytes([8, 19])
    assert encode_record(recs[1])[:2] == bytes([12, 32])
    path = tmp_path / "arp.bin"
    with open_output("binary", str(path), meta=OutputMeta()) as w:
        for r in recs:
            w.write(r)
    assert list(BinaryReader(str(path))) == recs
    # masscan's own type-8 record (no MAC, LEN 13) reads too
    path.write_bytes(HEADER + _rec(8, struct.pack(">IIBHBB", 1, 0x0A000009, 0, 0, 0, 0)) + TRAILER)
    assert list(BinaryReader(str(path))) == [status_record(1, 0x0A000009, 0, "arp", "up")]


def test_corrupt_and_truncated_files(tmp_path: Path) -> None:
    good = encode_record(status_record(1, 0x0A000001, 80))
    path = tmp_path / "c.bin"
    warnings: list[str] = []

    path.write_bytes(HEADER + good + bytes([77, 3, 1, 2, 3]) + good)  # unknown type 77 ends the file
    assert list(BinaryReader(str(path), on_warning=warnings.append)) == [status_record(1, 0x0A000001, 80)]
    assert "unknown record type 77" in warnings[-1] and "offset 114" in warnings[-1]

    path.write_bytes(HEADER + good + good[:-3])                        # killed mid-record
    reader = BinaryReader(str(path))
    assert list(reader) == [status_record(1, 0x0A000001, 80)]
    assert "cut off" in reader.warnings[-1]

    path.write_bytes(HEADER + bytes([6, 5, 1, 2, 3, 4, 5]) + good)      # short type-6 skipped
    reader = BinaryReader(str(path))
    assert list(reader) == [status_record(1, 0x0A000001, 80)]
    assert "malformed type-6" in reader.warnings[0]

    path.write_bytes(b"")                                              # masscan, no results
    assert list(BinaryReader(str(path))) == []

    path.write_bytes(b"<?xml version=")
    with pytest.raises(UsageError, match="not a masscan binary file"):
        BinaryReader(str(path))
    with pytest.raises(UsageError, match="No such file"):
        BinaryReader(str(tmp_path / "missing.bin"))


def test_many_records_cross_chunk_boundaries(tmp_path: Path) -> None:
    """Records straddling the reader's 1 MiB read chunks come out whole."""
    recs = [banner_record(i, i, i % 65536, "http", bytes([i % 256]) * (i % 3000)) for i in range(3000)]
    path = tmp_path / "big.bin"
    with open_output("binary", str(path), meta=OutputMeta()) as w:
        for r in recs:
            w.write(r)
    assert path.stat().st_size > 2 * 1024 * 1024
    assert list(BinaryReader(str(path))) == recs


def test_app_tables() -> None:
    assert app_key(16, "1.3.2") == "title" and app_key(17, "head") == "title"
    assert app_key(16, "head") == "X509CA"
    assert app_key(30, "1.3.2") == "http.server" and app_key(31, "head") == "http.server"
    assert app_key(22, "1.3.2") == "vnc" and app_key(33, "head") == "vnc" and app_key(23, "head") == "vnc-old"
    assert app_key(31, "1.3.2") == "(31)" and app_id("(31)") == 31
    assert app_id("X509CA", "1.3.2") == 15 and app_id("X509CA", "head") == 16
    assert app_id("snmp") == 7 and app_id("X509") == 15 and app_id("http.server", "head") == 31
    assert app_id("no-such-type") == 1
    # every key of the HEAD table round-trips through HEAD ids
    for key in APP_KEYS:
        assert app_key(app_id(key, "head"), "head") == key
    assert [app_display(k) for k in ("none", "unknown", "ssh1", "ssh", "vnc-old", "X509")] == \
        ["unknown", "unknown", "ssh", "ssh", "vnc", "X509"]
    assert parse_app_name("x509") == "X509" and parse_app_name("SSH2") == "ssh"
    assert parse_app_name("heur") == "unknown" and parse_app_name("http.server") == "http.server"
    with pytest.raises(ValueError):
        parse_app_name("gopher")
    with pytest.raises(ValueError):
        app_key(1, "1.4")


def test_reason_text() -> None:
    assert reason_text(0x12) == "syn-ack"
    assert reason_text(0x14) == "rst-ack"
    assert reason_text(0) == "none"
    assert reason_text(0xFF) == "fin-syn-rst-psh-ack-urg-ece-cwr"
    assert reason_text(0x04) == "rst"
