"""`-oJ`: one JSON array of per-result objects, masscan's `out-json.c` layout, always valid.

    [
    {   "ip": "10.0.0.1",   "timestamp": "1700000000", "ports": [ {"port": 80, "proto": "tcp", "status": "open", "reason": "syn-ack", "ttl": 64} ] }
    ,
    {   "ip": "10.0.0.1",   "timestamp": "1700000000", "ports": [ {"port": 80, "proto": "tcp", "service": {"name": "http", "banner": "..."} } ] }
    ]

The separator `,` goes *before* every record after the first (masscan's fix for #314).  Unlike
masscan, the file is a complete array from the moment it is opened (`[\\n]\\n` with no results)
and stays one after every flush, a kill, or `--output-append` (see `base.py`).
"""

from __future__ import annotations

import os

from tidescan.errors import UsageError
from tidescan.output.apps import app_display
from tidescan.output.base import Writer
from tidescan.output.batch import StatusBatch
from tidescan.output.record import Record, proto_display, reason_text
from tidescan.output.text import escape_u

_WS = b" \t\r\n"


class JsonWriter(Writer):
    name = "json"
    keeps_trailer = True

    _seen_record = False

    def _header(self) -> str:
        return "[\n"

    def _trailer(self) -> str:
        return "]\n"

    def _sep(self) -> str:
        if self._seen_record:
            return ",\n"
        self._seen_record = True
        return ""

    def _status(self, rec: Record) -> str:
        ip = rec.ip_text
        return (f'{self._sep()}{{   "ip": "{ip}",   "timestamp": "{rec.timestamp}", "ports": [ '
                f'{{"port": {rec.port}, "proto": "{proto_display(rec.proto)}", "status": "{rec.status}",'
                f' "reason": "{reason_text(rec.reason)}", "ttl": {rec.ttl}}} ] }}\n')

    def _status_batch(self, b: StatusBatch) -> str:
        # Every record but the file's first starts with the separator: the batch's first takes
        # whatever `_sep` says, the others ",\n".
        return self._sep() + ",\n".join([
            f'{{   "ip": "{ip}",   "timestamp": "{ts}", "ports": [ {{"port": {port}, "proto": "{proto}", '
            f'"status": "{st}", "reason": "{reason}", "ttl": {ttl}}} ] }}\n'
            for ip, ts, port, proto, st, reason, ttl in zip(
                b.ip_text(), b.column("timestamp"), b.column("port"), b.text("display"), b.text("status"),
                b.text("reason"), b.column("ttl"))])

    def _banner(self, rec: Record) -> str:
        ip = rec.ip_text
        return (f'{self._sep()}{{   "ip": "{ip}",   "timestamp": "{rec.timestamp}", "ports": [ '
                f'{{"port": {rec.port}, "proto": "{proto_display(rec.proto)}", "service": '
                f'{{"name": "{app_display(rec.app)}", "banner": "{escape_u(rec.banner)}"}} }} ] }}\n')

    def _resume(self, tail: bytes, tail_start: int) -> int:
        """Continue an existing array: ours/masscan's (`]` at the end), an unterminated one left
        by a killed masscan (ends with `}`), or one with the old trailing comma (#314)."""
        if not os.pread(self._fd, 4096, 0).lstrip(_WS).startswith(b"["):
            raise UsageError(f"{self.path}: --output-append: the file is not a JSON array written "
                             "by masscan or tidescan; refusing to append to it")
        body = tail.rstrip(_WS)
        if body.endswith(b"]"):
            close_at = len(body) - 1           # the new records overwrite the closing bracket
            before = body[:-1].rstrip(_WS)
            if before.endswith(b","):           # old masscan's trailing comma: overwrite it too
                self._seen_record = True
                return tail_start + len(before) - 1
            self._seen_record = not before.endswith(b"[")
            return tail_start + close_at
        if body.endswith(b"}") or body.endswith(b"["):  # unterminated: continue at the end
            self._seen_record = body.endswith(b"}")
            return tail_start + len(tail)
        if body.endswith(b","):
            self._seen_record = True
            return tail_start + len(body) - 1
        raise UsageError(f"{self.path}: --output-append: the file is not a JSON array written by "
                         "masscan or tidescan; refusing to append to it")
