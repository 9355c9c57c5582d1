"""Sample records and a masscan runner shared by the tests/test_output_*.py files."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tidescan.output.record import Record, banner_record, status_record

TS = 1700000000
MASSCAN = shutil.which("masscan") or "/usr/bin/masscan"

V6 = [
    0x20010DB8 << 96 | 1,                                   # 2001:db8::1
    0x20010DB8_0000_0001_0000_0000_0000_0001,               # 2001:db8::1:0:0:0:1 (quirk)
    0x20010DB8_000A_0000_000C_000D_000E_000F,               # 2001:db8:a::c:d:e:f
    1,                                                      # ::1
    0,                                                      # ::
    1 << 112,                                               # 1::
    0xFFFF_0A00,                                            # ::ffff:a00 (no dotted quad)
    0x0001_0002_0003_0004_0005_0006_0007_0000,              # 1:2:3:4:5:6:7::
    0xFD00_0000_0000_0000_0000_0000_0000_0000 | 0xABCD,
]

# Every banner type masscan 1.3.2 knows (ids 0..30), by key.
APPS_132 = ["none", "unknown", "ssh1", "ssh", "http", "ftp", "dns-ver", "snmp", "nbtstat", "ssl",
            "smb", "smtp", "pop", "imap", "zeroaccess", "X509", "title", "html", "ntp", "vuln",
            "heartbleed", "ticketbleed", "vnc", "safe", "memcached", "scripting", "versioning",
            "coap", "telnet", "rdp", "http.server"]

ALL_BYTES = bytes(range(256))


def interop_records(*, long_banners: bool = True) -> list[Record]:
    """Records masscan 1.3.2 can read and print exactly as we do."""
    recs: list[Record] = [
        status_record(TS, 0x0A000001, 80, "tcp", "open", 0x12, 64),
        status_record(TS + 1, 0x0A000002, 443, "tcp", "closed", 0x14, 128),
        status_record(TS + 2, 0x0A000003, 53, "udp", "open", 0, 64),
        status_record(TS + 3, 0x0A000003, 0, "icmp", "open", 0, 57),
        status_record(TS + 4, 0x0A000003, 2905, "sctp", "open", 0, 1),
        status_record(TS + 5, 0x0A000003, 7, "ip47", "open", 0xFF, 255),
        status_record(TS + 6, 0xFFFFFFFF, 65535, "tcp", "closed", 0x04, 0),
        status_record(TS + 7, 0x0A000004, 1, "udp", "closed", 0, 3),
        status_record(TS + 8, 0x0A000004, 444, "tcp", "open", 0x52, 3),
    ]
    for i, app in enumerate(APPS_132):
        recs.append(banner_record(TS + 10 + i, 0x0A000005, 80 + i, app, f"{app} banner {i}".encode(), ttl=i))
    recs += [
        banner_record(TS, 0x0A000006, 80, "title", b"Welcome & <hi> \\ \" '", ttl=64),
        banner_record(TS, 0x0A000006, 81, "http", ALL_BYTES, ttl=64),
        banner_record(TS, 0x0A000006, 82, "http", b"", ttl=64),
        banner_record(TS, 0x0A000006, 161, "snmp", b"\x00" * 100, proto="udp", ttl=64),
        banner_record(TS, 0x0A000006, 83, "html", b"A" * 4093 + b"\x00" + b"B" * 6),
        banner_record(TS, 0x0A000006, 84, "html", b"A" * 4090 + b"\x00" + b"B" * 6),
        banner_record(TS, 0x0A000006, 85, "html", b"A" * 4094 + b"\x01"),
        banner_record(TS, 0x0A000006, 86, "html", b"x" * 5000),
        banner_record(TS, 0x0A000006, 87, "html", ALL_BYTES * 40),   # > 16 KiB escaped, < 16 KiB raw
    ]
    if long_banners:
        recs += [
            banner_record(TS, 0x0A000006, 88, "html", b"L" * 70000),              # 3-byte varint length
            banner_record(TS, 0x0A000006, 89, "html", b"\x7f" * 12000 + b"z"),     # JSON cut quirk
        ]
    for i, ip in enumerate(V6):
        recs.append(status_record(TS + 100 + i, ip, 443, "tcp", "open" if i % 2 else "closed",
                                  0x12 if i % 2 else 0x14, 55, ip_version=6))
        if ip & 0xFFFF:
            # masscan 1.3.2 formats an address whose last group is 0 by reading 2 bytes past its
            # buffer (fixed in HEAD): its text then depends on stack garbage ("1:" or "1::").
            # Its status lines happen to come out right; we compare banners elsewhere only.
            recs.append(banner_record(TS + 100 + i, ip, 443, "ssl", b"TLS/1.2 cipher:0xc02f",
                                      ttl=55, ip_version=6))
    return recs


def run_masscan(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[bytes]:
    proc = subprocess.run([MASSCAN, *args], capture_output=True, timeout=60, cwd=cwd)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    return proc
