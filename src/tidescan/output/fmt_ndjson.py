"""`-oD`: newline-delimited JSON, one self-contained object per line, no header or trailer.

The format masscan's maintainers recommend for pipelines, because a killed scan still leaves
valid lines.  Layout of `out-ndjson.c` (timestamps are strings; banners use `\\u00HH` escapes):

    {"ip":"10.0.0.2","timestamp":"1700000000","port":443,"proto":"tcp","rec_type":"status","data":{"status":"closed","reason":"rst-ack","ttl":128}}
    {"ip":"10.0.0.4","timestamp":"1700000000","port":22,"proto":"tcp","rec_type":"banner","data":{"service_name":"ssh","banner":"SSH-2.0-OpenSSH_8.9p1"}}
"""

from __future__ import annotations

from tidescan.output.apps import app_display
from tidescan.output.base import Writer
from tidescan.output.batch import StatusBatch
from tidescan.output.record import Record, proto_display, reason_text
from tidescan.output.text import escape_u


class NdjsonWriter(Writer):
    name = "ndjson"

    def _status(self, rec: Record) -> str:
        ip = rec.ip_text
        return (f'{{"ip":"{ip}","timestamp":"{rec.timestamp}","port":{rec.port},'
                f'"proto":"{proto_display(rec.proto)}","rec_type":"status","data":{{'
                f'"status":"{rec.status}","reason":"{reason_text(rec.reason)}","ttl":{rec.ttl}}}}}\n')

    def _status_batch(self, b: StatusBatch) -> str:
        return "".join([
            f'{{"ip":"{ip}","timestamp":"{ts}","port":{port},"proto":"{proto}","rec_type":"status",'
            f'"data":{{"status":"{st}","reason":"{reason}","ttl":{ttl}}}}}\n'
            for ip, ts, port, proto, st, reason, ttl in zip(
                b.ip_text(), b.column("timestamp"), b.column("port"), b.text("display"), b.text("status"),
                b.text("reason"), b.column("ttl"))])

    def _banner(self, rec: Record) -> str:
        ip = rec.ip_text
        return (f'{{"ip":"{ip}","timestamp":"{rec.timestamp}","port":{rec.port},'
                f'"proto":"{proto_display(rec.proto)}","rec_type":"banner","data":{{'
                f'"service_name":"{app_display(rec.app)}","banner":"{escape_u(rec.banner)}"}}}}\n')
