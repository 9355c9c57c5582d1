"""`-oX`: nmap-style XML, masscan's `out-xml.c` layout (CRLF line ends), always well-formed.

One `<host>` element per record (masscan never groups per host), so nmap-XML consumers see the
same address several times.  Differences from masscan, on purpose:

- `addrtype="ipv6"` for IPv6 addresses (masscan says `ipv4` for everything, #807, fixed after
  1.3.2 by PR #808);
- the document is complete from the moment the file is opened and after every flush (see
  `base.py`); with `--output-append` new hosts go before the existing `<runstats>` and the
  counts in `<hosts up= down= total=>` continue from the old ones.

Kept from masscan for byte parity: `start`/`finished` are wall-clock times, `endtime` is the
record's time, `<hosts up/down>` count TCP open/closed *records* written, and a banner's reason is
`syn-ack` only for the `dns-ver` type (masscan compares the app id with 6), else `response`.
"""

from __future__ import annotations

import os
import re
import time

from tidescan.errors import UsageError
from tidescan.ipfmt import format_ipv4, format_ipv6
from tidescan.output.apps import app_display
import numpy as np

from tidescan.output.base import Writer
from tidescan.output.batch import StatusBatch
from tidescan.output.record import Record, proto_display, reason_text
from tidescan.output.text import escape_x, local_datetime

_PROTOCOL_OF_SCAN = {"syn": "tcp", "udp": "udp", "sctp": "sctp", "ping": "icmp", "arp": "arp"}
_HOSTS = re.compile(rb'<hosts up="(\d+)" down="(\d+)"')
_OPEN_TCP = re.compile(rb'<port protocol="tcp" portid="\d+"><state state="open" reason="[^"]*" reason_ttl="\d+"/>')
_CLOSED_TCP = re.compile(rb'<port protocol="tcp" portid="\d+"><state state="closed"')


def _attr(text: str) -> str:
    return (text.replace("&", "&amp;").replace('"', "&quot;")
            .replace("<", "&lt;").replace(">", "&gt;"))


class XmlWriter(Writer):
    name = "xml"
    keeps_trailer = True

    tcp_open = 0
    tcp_closed = 0

    def _header(self) -> str:
        meta = self.meta
        sheet = ""
        if meta.stylesheet:
            sheet = f'<?xml-stylesheet href="{_attr(meta.stylesheet)}" type="text/xsl"?>\r\n'
        start = self.start_time if self.start_time is not None else self.opened_at
        proto = _PROTOCOL_OF_SCAN.get(meta.scan_type, "tcp")
        return ('<?xml version="1.0"?>\r\n<!-- masscan v1.0 scan -->\r\n' + sheet +
                f'<nmaprun scanner="masscan" start="{start}" version="1.0-BETA"  '
                f'xmloutputversion="1.03">\r\n<scaninfo type="{_attr(meta.scan_type)}" protocol="{proto}" />\r\n')

    def _trailer(self) -> str:
        now = int(time.time())
        up, down = self.tcp_open, self.tcp_closed
        return (f'<runstats>\r\n<finished time="{now}" timestr="{local_datetime(now, self.meta.gmt)}" '
                f'elapsed="{max(0, now - self.opened_at)}" />\r\n'
                f'<hosts up="{up}" down="{down}" total="{up + down}" />\r\n</runstats>\r\n</nmaprun>\r\n')

    def _queued(self, rec: Record) -> None:
        if rec.kind == "status" and rec.proto == "tcp":
            if rec.status == "open":
                self.tcp_open += 1
            elif rec.status == "closed":
                self.tcp_closed += 1

    def _queued_batch(self, b: StatusBatch) -> None:
        tcp = b.proto == 6
        self.tcp_open += int(np.count_nonzero(tcp & (b.status == 1)))
        self.tcp_closed += int(np.count_nonzero(tcp & (b.status == 2)))

    def _status_batch(self, b: StatusBatch) -> str:
        return "".join([
            f'<host endtime="{ts}"><address addr="{ip}" addrtype="{"ipv6" if v6 else "ipv4"}"/><ports>'
            f'<port protocol="{proto}" portid="{port}"><state state="{st}" reason="{reason}" '
            f'reason_ttl="{ttl}"/></port></ports></host>\r\n'
            for ts, ip, v6, proto, port, st, reason, ttl in zip(
                b.column("timestamp"), b.ip_text(), b.column("is_v6"), b.text("display"), b.column("port"),
                b.text("status"), b.text("reason"), b.column("ttl"))])

    def _status(self, rec: Record) -> str:
        if rec.ip_version == 6:
            ip, kind = format_ipv6(rec.ip), "ipv6"
        else:
            ip, kind = format_ipv4(rec.ip), "ipv4"
        return (f'<host endtime="{rec.timestamp}"><address addr="{ip}" addrtype="{kind}"/><ports>'
                f'<port protocol="{proto_display(rec.proto)}" portid="{rec.port}"><state state="{rec.status}" '
                f'reason="{reason_text(rec.reason)}" reason_ttl="{rec.ttl}"/></port></ports></host>\r\n')

    def _banner(self, rec: Record) -> str:
        if rec.ip_version == 6:
            ip, kind = format_ipv6(rec.ip), "ipv6"
        else:
            ip, kind = format_ipv4(rec.ip), "ipv4"
        reason = "syn-ack" if rec.app == "dns-ver" else "response"
        return (f'<host endtime="{rec.timestamp}"><address addr="{ip}" addrtype="{kind}"/><ports>'
                f'<port protocol="{proto_display(rec.proto)}" portid="{rec.port}"><state state="open" '
                f'reason="{reason}" reason_ttl="{rec.ttl}" /><service name="{_attr(app_display(rec.app))}" '
                f'banner="{escape_x(rec.banner)}"></service></port></ports></host>\r\n')

    def _resume(self, tail: bytes, tail_start: int) -> int:
        """Continue before the old `<runstats>`, or at the end of an unterminated masscan file."""
        if b"<nmaprun" in os.pread(self._fd, 4096, 0):
            at = tail.rfind(b"<runstats>")
            if at >= 0:
                m = _HOSTS.search(tail, at)
                if m:
                    self.tcp_open, self.tcp_closed = int(m.group(1)), int(m.group(2))
                return tail_start + at
            body = tail.rstrip()
            if body.endswith(b"</host>") or body.endswith(b"/>"):
                # masscan killed before its trailer: recount what the file holds.
                whole = os.pread(self._fd, os.fstat(self._fd).st_size, 0)
                self.tcp_open = len(_OPEN_TCP.findall(whole))
                self.tcp_closed = len(_CLOSED_TCP.findall(whole))
                return tail_start + len(tail)
        raise UsageError(f"{self.path}: --output-append: the file is not an XML document written by "
                         "masscan or tidescan; refusing to append to it")
