"""`-oL`: one line per record, masscan's `out-text.c` layout.

    #masscan
    open tcp 80 10.0.0.1 1700000000
    banner tcp 22 10.0.0.4 1700000000 ssh SSH-2.0-OpenSSH_8.9p1
    # end

Status lines: `<status> <proto> <port> <ip> <timestamp>`; banner lines add the banner type and
the `\\xHH`-escaped banner.  The simplest format to grep, and the fastest to write.
"""

from __future__ import annotations

from tidescan.output.apps import app_display
from tidescan.output.base import Writer
from tidescan.output.batch import StatusBatch
from tidescan.output.record import Record, proto_display
from tidescan.output.text import escape_x


class ListWriter(Writer):
    name = "list"

    def _header(self) -> str:
        return "#masscan\n"

    def _trailer(self) -> str:
        return "# end\n"

    def _status(self, rec: Record) -> str:
        ip = rec.ip_text
        return f"{rec.status} {proto_display(rec.proto)} {rec.port} {ip} {rec.timestamp}\n"

    def _status_batch(self, b: StatusBatch) -> str:
        return "".join([f"{st} {proto} {port} {ip} {ts}\n" for st, proto, port, ip, ts in zip(
            b.text("status"), b.text("display"), b.column("port"), b.ip_text(), b.column("timestamp"))])

    def _banner(self, rec: Record) -> str:
        ip = rec.ip_text
        return (f"banner {proto_display(rec.proto)} {rec.port} {ip} {rec.timestamp} "
                f"{app_display(rec.app)} {escape_x(rec.banner)}\n")
