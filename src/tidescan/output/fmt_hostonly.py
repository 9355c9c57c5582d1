"""`-oH`: just the address, one line per status *or* banner record (no dedup), as masscan does.

Meant for piping into another tool (`sort -u` to deduplicate).
"""

from __future__ import annotations

from tidescan.output.base import Writer
from tidescan.output.batch import StatusBatch
from tidescan.output.record import Record


class HostOnlyWriter(Writer):
    name = "hostonly"

    def _status(self, rec: Record) -> str:
        return rec.ip_text + "\n"

    _banner = _status

    def _status_batch(self, b: StatusBatch) -> str:
        return "\n".join(b.ip_text()) + "\n"
