"""`-oU`: unicornscan-style lines, masscan's `out-unicornscan.c` layout.

    #masscan
    TCP open	            http[   80]		from 10.0.0.1  ttl 64 
    Host: 10.0.0.3 ()	Ports: 53/open/udp////
    # end

unicornscan is TCP-only: other protocols fall back to a grepable-style line, banners are not
written.  Service names come from the system services database (`services.py`).
"""

from __future__ import annotations

from tidescan.output.base import Writer
from tidescan.output.batch import StatusBatch
from tidescan.output.record import Record, proto_display
from tidescan.output.services import tcp_service_name


class UnicornscanWriter(Writer):
    name = "unicornscan"

    def _header(self) -> str:
        return "#masscan\n"

    def _trailer(self) -> str:
        return "# end\n"

    def _status(self, rec: Record) -> str:
        ip = rec.ip_text
        if rec.proto == "tcp":
            return (f"TCP {rec.status}\t{tcp_service_name(rec.port):>16}[{rec.port:5d}]\t\t"
                    f"from {ip}  ttl {rec.ttl:<3d}\n")
        return f"Host: {ip} ()\tPorts: {rec.port}/{rec.status}/{proto_display(rec.proto)}////\n"

    def _status_batch(self, b: StatusBatch) -> str:
        svc = tcp_service_name
        return "".join([
            f"TCP {st}\t{svc(port):>16}[{port:5d}]\t\tfrom {ip}  ttl {ttl:<3d}\n" if proto == 6 else
            f"Host: {ip} ()\tPorts: {port}/{st}/{shown}////\n"
            for proto, st, port, ip, ttl, shown in zip(
                b.column("proto"), b.text("status"), b.column("port"), b.ip_text(), b.column("ttl"),
                b.text("display"))])

    def _banner(self, rec: Record) -> None:
        return None
