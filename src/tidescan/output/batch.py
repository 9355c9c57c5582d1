"""Status results as columns: the receive loop's fast path to the output writers.

Why this exists: a scan whose targets answer produces results at the rate replies arrive (100 k/s
and more with dense open ports).  Turning each reply into a `Record` and each record into text in
its own `Writer.write` call cost ~20 us per result: the receive process saturated its core at
~50 k results/s and the RX ring overflowed.  A `StatusBatch` carries one receive batch's status
results as NumPy columns, taken straight from the triage arrays; writers format the whole batch
at once (`Writer.write_batch`): binary packs a structured array, the text formats build every line
in one list comprehension over columns precomputed here once per batch and shared by all writers.
`Record` stays the unit for banners and rare kinds, and `records()` is the exact per-record
meaning of a batch: writing a batch must give the same bytes as writing its records one by one
(tested for every format, `tests/test_output_batch.py`).

Columns (arrays of one length n):
- `timestamp` int64 Unix seconds; `is_v6` bool; `ip4` uint32 (IPv4 rows); `ip6_hi`/`ip6_lo`
  uint64 (IPv6 rows);
- `port` uint16 (the bare port, 0 for ICMP/ARP); `proto` uint8 IP protocol number (6 tcp, 17 udp,
  1 icmp, 132 sctp, 0 arp; any other N is `ipN`, as `record.proto_from_number`);
- `status` uint8 (`OPEN=1`, `CLOSED=2`, `UP=3`, as `probes.base`); `reason` uint8 TCP flags;
  `ttl` uint8;
- `mac` uint64 or None: the responder's MAC (48-bit value) on ARP rows (`proto == 0`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from tidescan.ipfmt import format_ipv6
from tidescan.output.record import (PROTO_NUMBERS, Record, proto_display, proto_from_number, proto_number,
                                    reason_text)

__all__ = ["StatusBatch", "STATUS_CODES", "STATUS_TEXT", "PROTO_TEXT", "PROTO_DISPLAY", "REASON_TEXT"]

STATUS_CODES: dict[str, int] = {"open": 1, "closed": 2, "up": 3}
STATUS_TEXT: tuple[str, ...] = ("", "open", "closed", "up") + ("",) * 252
PROTO_TEXT: tuple[str, ...] = tuple(proto_from_number(n) for n in range(256))   # Record.proto
PROTO_DISPLAY: tuple[str, ...] = tuple(proto_display(p) for p in PROTO_TEXT)    # what masscan prints
REASON_TEXT: tuple[str, ...] = tuple(reason_text(f) for f in range(256))
_OCTET: tuple[str, ...] = tuple(str(i) for i in range(256))
_ARP = PROTO_NUMBERS["arp"]


class StatusBatch:
    """Status results as NumPy columns (see the module docstring); text columns are cached."""

    __slots__ = ("timestamp", "is_v6", "ip4", "ip6_hi", "ip6_lo", "port", "proto", "status",
                 "reason", "ttl", "mac", "_cache")

    def __init__(self, timestamp: ArrayLike, is_v6: ArrayLike, ip4: ArrayLike, ip6_hi: ArrayLike,
                 ip6_lo: ArrayLike, port: ArrayLike, proto: ArrayLike, status: ArrayLike,
                 reason: ArrayLike, ttl: ArrayLike, mac: ArrayLike | None = None) -> None:
        """Arrays of one length n, or scalars (broadcast to n); cast to the column dtypes."""
        cols = [timestamp, is_v6, ip4, ip6_hi, ip6_lo, port, proto, status, reason, ttl]
        n = max((np.size(c) for c in cols if np.ndim(c)), default=1)

        def col(x: ArrayLike, dt: Any) -> NDArray[Any]:
            a = np.asarray(x)
            if a.ndim == 0:
                return np.full(n, a, dtype=dt)
            return a.astype(dt, copy=False)

        self.timestamp = col(timestamp, np.int64)
        self.is_v6 = col(is_v6, np.bool_)
        self.ip4 = col(ip4, np.uint32)
        self.ip6_hi = col(ip6_hi, np.uint64)
        self.ip6_lo = col(ip6_lo, np.uint64)
        self.port = col(port, np.uint16)
        self.proto = col(proto, np.uint8)
        self.status = col(status, np.uint8)
        self.reason = col(reason, np.uint8)
        self.ttl = col(ttl, np.uint8)
        self.mac = None if mac is None else col(mac, np.uint64)
        self._cache: dict[str, Any] = {}

    def __len__(self) -> int:
        return len(self.timestamp)

    def take(self, sel: NDArray[Any]) -> StatusBatch:
        """The rows `sel` (index array or boolean mask), in that order."""
        return StatusBatch(self.timestamp[sel], self.is_v6[sel], self.ip4[sel], self.ip6_hi[sel],
                           self.ip6_lo[sel], self.port[sel], self.proto[sel], self.status[sel],
                           self.reason[sel], self.ttl[sel], None if self.mac is None else self.mac[sel])

    def shown(self, show_open: bool, show_closed: bool) -> StatusBatch:
        """The rows a writer with this `--show` setting writes (`up` always is)."""
        if show_open and show_closed:
            return self
        st = self.status
        keep = np.ones(len(st), dtype=bool)
        if not show_open:
            keep &= st != 1
        if not show_closed:
            keep &= st != 2
        return self if keep.all() else self.take(keep)

    @property
    def has_mac(self) -> bool:
        """True when some row is an ARP result carrying a MAC (those take the per-record path)."""
        return self.mac is not None and bool(np.any(self.proto == _ARP))

    # -- the per-record meaning ----------------------------------------------------------------
    def records(self) -> list[Record]:
        """The same results as `Record`s, in order (what `write_batch` must be equivalent to)."""
        out = []
        macs = self.mac.tolist() if self.mac is not None else None
        for i, (ts, v6, ip4, hi, lo, port, proto, st, reason, ttl) in enumerate(zip(
                self.timestamp.tolist(), self.is_v6.tolist(), self.ip4.tolist(), self.ip6_hi.tolist(),
                self.ip6_lo.tolist(), self.port.tolist(), self.proto.tolist(), self.status.tolist(),
                self.reason.tolist(), self.ttl.tolist())):
            ip, version = ((hi << 64) | lo, 6) if v6 else (ip4, 4)
            mac = macs[i].to_bytes(6, "big") if macs is not None and proto == _ARP else None
            out.append(Record("status", ts, ip, version, port, PROTO_TEXT[proto], STATUS_TEXT[st],
                              reason, ttl, "", b"", mac))
        return out

    @staticmethod
    def from_records(recs: list[Record]) -> StatusBatch:
        """Columns of status records (tests and tools; the scanner builds columns directly)."""
        m64 = (1 << 64) - 1
        macs = [int.from_bytes(r.mac[:6].rjust(6, b"\0"), "big") if r.mac is not None else 0 for r in recs]
        return StatusBatch(
            np.array([r.timestamp for r in recs], np.int64), np.array([r.ip_version == 6 for r in recs], bool),
            np.array([r.ip if r.ip_version != 6 else 0 for r in recs], np.uint32),
            np.array([r.ip >> 64 if r.ip_version == 6 else 0 for r in recs], np.uint64),
            np.array([r.ip & m64 if r.ip_version == 6 else 0 for r in recs], np.uint64),
            np.array([r.port for r in recs], np.uint16),
            np.array([proto_number(r.proto) for r in recs], np.uint8),
            np.array([STATUS_CODES[r.status] for r in recs], np.uint8),
            np.array([r.reason & 0xFF for r in recs], np.uint8), np.array([r.ttl & 0xFF for r in recs], np.uint8),
            np.array(macs, np.uint64) if any(r.mac is not None for r in recs) else None)

    # -- text columns, computed once per batch and shared by every writer ---------------------------
    def _cached(self, key: str, make: Any) -> Any:
        value = self._cache.get(key)
        if value is None:
            value = self._cache[key] = make()
        return value

    def ip_text(self) -> list[str]:
        """Address text of every row (masscan's forms, as `tidescan.ipfmt`)."""
        return self._cached("ip", self._make_ip_text)

    def _make_ip_text(self) -> list[str]:
        ip = self.ip4
        o = _OCTET
        text = [f"{o[a]}.{o[b]}.{o[c]}.{o[d]}" for a, b, c, d in zip(
            (ip >> 24).tolist(), ((ip >> 16) & 255).tolist(), ((ip >> 8) & 255).tolist(),
            (ip & 255).tolist())]
        for i in np.flatnonzero(self.is_v6).tolist():
            text[i] = format_ipv6((int(self.ip6_hi[i]) << 64) | int(self.ip6_lo[i]))
        return text

    def column(self, name: str) -> list[Any]:
        """A column as a Python list (`port`, `ttl`, `timestamp`...), cached."""
        return self._cached(name, lambda: getattr(self, name).tolist())

    def text(self, name: str) -> list[str]:
        """`status`, `proto` (Record.proto), `display` (masscan's protocol word), `reason` as text."""
        table, src = {"status": (STATUS_TEXT, "status"), "proto": (PROTO_TEXT, "proto"),
                      "display": (PROTO_DISPLAY, "proto"), "reason": (REASON_TEXT, "reason")}[name]
        return self._cached("t:" + name, lambda: [table[v] for v in self.column(src)])
