"""`-oG`: nmap-like "grepable" lines, masscan's `out-grepable.c` layout (tab-separated fields).

    # Masscan 1.3.2 scan initiated Tue Nov 14 22:13:20 2023
    # Ports scanned: TCP(2;80-80,443-443) UDP(0;) SCTP(0;) PROTOCOLS(0;)
    Timestamp: 1700000000	Host: 10.0.0.1 ()	Ports: 80/open/tcp//http//
    Host: 10.0.0.1 ()	Port: 80	Service: title	Banner: Welcome \\x26 \\x3chi\\x3e
    # Masscan done at Sat Nov 21 16:36:10 2026

Header times are UTC in C-locale `%c` form.  The service column comes from the system services
database for TCP/UDP and from /etc/protocols for other protocols (`services.py`), as in masscan.
The port list in the header prints each protocol's ranges by port number; masscan printed the
internal encoding (UDP 53 as 65589-65589) and misplaced commas.
"""

from __future__ import annotations

import time
from functools import lru_cache

from tidescan.output.apps import app_display
from tidescan.output.base import Writer
from tidescan.output.batch import PROTO_TEXT, StatusBatch
from tidescan.output.record import Record, proto_display, proto_number
from tidescan.output.services import ip_proto_name, tcp_service_name, udp_service_name
from tidescan.output.text import ctime_c, escape_x

_TYPES = (("TCP", 0), ("UDP", 65536), ("SCTP", 131072), ("PROTOCOLS", 196864))


def port_summary(ranges: list[tuple[int, int]]) -> str:
    """`TCP(2;80-80,443-443) UDP(0;) SCTP(0;) PROTOCOLS(0;)` from internal-encoding ranges."""
    parts = []
    for label, base in _TYPES:
        top = base + (255 if label == "PROTOCOLS" else 65535)
        clipped = [(max(a, base) - base, min(b, top) - base) for a, b in ranges if b >= base and a <= top]
        count = sum(b - a + 1 for a, b in clipped)
        parts.append(f"{label}({count};{','.join(f'{a}-{b}' for a, b in clipped)})")
    return " ".join(parts)


def service_name(rec: Record) -> str:
    if rec.proto == "tcp":
        return tcp_service_name(rec.port)
    if rec.proto == "udp":
        return udp_service_name(rec.port)
    try:
        return ip_proto_name(proto_number(rec.proto))
    except ValueError:
        return "unknown"


@lru_cache(maxsize=4096)
def _service_of(proto: int, port: int) -> str:
    """`service_name` by IP protocol number (the batch path's column)."""
    return service_name(Record("status", 0, 0, 4, port, PROTO_TEXT[proto]))


class GrepableWriter(Writer):
    name = "grepable"

    def _header(self) -> str:
        start = self.start_time if self.start_time is not None else self.opened_at
        return (f"# Masscan {self.meta.version} scan initiated {ctime_c(start)}\n"
                f"# Ports scanned: {port_summary(self.meta.port_ranges())}\n")

    def _trailer(self) -> str:
        return f"# Masscan done at {ctime_c(time.time())}\n"

    def _status(self, rec: Record) -> str:
        ip = rec.ip_text
        return (f"Timestamp: {rec.timestamp}\tHost: {ip} ()\tPorts: {rec.port}/{rec.status}/"
                f"{proto_display(rec.proto)}//{service_name(rec)}//\n")

    def _status_batch(self, b: StatusBatch) -> str:
        svc = _service_of
        return "".join([f"Timestamp: {ts}\tHost: {ip} ()\tPorts: {port}/{st}/{shown}//{svc(proto, port)}//\n"
                        for ts, ip, port, st, shown, proto in zip(
                            b.column("timestamp"), b.ip_text(), b.column("port"), b.text("status"),
                            b.text("display"), b.column("proto"))])

    def _banner(self, rec: Record) -> str:
        ip = rec.ip_text
        return (f"Host: {ip} ()\tPort: {rec.port}\tService: {app_display(rec.app)}\t"
                f"Banner: {escape_x(rec.banner)}\n")
