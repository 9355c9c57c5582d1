"""`--readscan`: turn `-oB` binary files into any other output format, with filters.

    readscan(["a.bin", "b.bin"], [open_output("json", "out.json", meta=m)],
             ranges=ip_filter(v4=[(0x0A000000, 0x0AFFFFFF)]), ports=port_filter([(80, 80)]),
             banner_types={"http", "title"})

Records stream from each file in order into every writer (the writers apply `--show`).

**Filters are plain callables** (the simplest interface that fits any range/port structure):
`ranges(ip: int, version: int) -> bool` and `ports(port: int, proto: str) -> bool`.  Helpers
build them from sorted inclusive interval lists: `ip_filter(v4=..., v6=...)` and
`port_filter(...)`, each accepting an object with `starts`/`ends` (e.g. `RangeList`,
`PortList`) or an iterable of `(start, end)` pairs.  For convenience `readscan` also takes
`ranges=(RangeList, Range6List)` and `ports=PortList` directly and wraps them with these helpers.

Semantics, fixed where masscan's are broken:
- masscan applies `--range` only when IPv4 ranges were given: an IPv6-only filter is ignored,
  and an IPv4 filter drops every IPv6 record.  Here each address family is filtered by its own
  ranges, and a family for which no range was given is not filtered (`ip_filter` with only
  IPv6 ranges keeps IPv4 records, and vice versa);
- masscan compares `-p` ranges (internal encoding, `U:53` = 65589) with the bare record port,
  so UDP filters never match; `port_filter` maps each record to the internal encoding first
  (`tcp` p, `udp` 65536+p, `sctp` 131072+p, `icmp` 196608, `arp` 196610, other IP protocol N
  196864+N);
- `banner_types` (names as in `--banner-types`, see `apps.parse_app_name`) keeps only banners of
  those types and drops status records, as masscan does (it is meant for `--banner-types x509`
  with `-oX`/`certs`).
"""

from __future__ import annotations

import sys
from bisect import bisect_right
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from tidescan.output.apps import parse_app_name
from tidescan.output.base import Writer
from tidescan.output.binary import BinaryReader
from tidescan.output.record import PROTO_NUMBERS

__all__ = ["readscan", "ip_filter", "port_filter", "internal_port"]

IpFilter = Callable[[int, int], bool]
PortFilter = Callable[[int, str], bool]

_UDP_BASE, _SCTP_BASE, _ICMP_ECHO, _ARP_PORT, _OPROTO_BASE = 65536, 131072, 196608, 196610, 196864


def internal_port(port: int, proto: str) -> int:
    """A record's (port, proto) in masscan's internal port encoding (see docs/internals.md)."""
    if proto == "tcp":
        return port
    if proto == "udp":
        return _UDP_BASE + port
    if proto == "sctp":
        return _SCTP_BASE + port
    if proto == "icmp":
        return _ICMP_ECHO
    if proto == "arp":
        return _ARP_PORT
    num = PROTO_NUMBERS.get(proto)
    if num is None and proto.startswith("ip") and proto[2:].isdigit():
        num = int(proto[2:])
    return _OPROTO_BASE + (num or 0)


def _pairs(obj: Any) -> tuple[list[int], list[int]]:
    if hasattr(obj, "starts") and hasattr(obj, "ends"):
        pairs = sorted(zip((int(x) for x in obj.starts), (int(x) for x in obj.ends)))
    else:
        pairs = sorted((int(a), int(b)) for a, b in obj)
    return [a for a, _ in pairs], [b for _, b in pairs]


def _contains(starts: Sequence[int], ends: Sequence[int]) -> Callable[[int], bool]:
    # Intervals may overlap if the caller did not merge them: test the candidates' ends.
    max_end: list[int] = []
    best = -1
    for e in ends:
        best = max(best, e)
        max_end.append(best)

    def contains(x: int) -> bool:
        i = bisect_right(starts, x) - 1
        return i >= 0 and max_end[i] >= x

    return contains


def _maybe_contains(obj: Any) -> Callable[[int], bool] | None:
    if obj is None:
        return None
    starts, ends = _pairs(obj)
    return _contains(starts, ends) if starts else None  # no ranges: family not filtered


def ip_filter(v4: Any = None, v6: Any = None) -> IpFilter:
    """Predicate over (ip, version) from IPv4 and/or IPv6 inclusive intervals (see module doc).
    A family given no ranges (None or empty) is not filtered."""
    in4 = _maybe_contains(v4)
    in6 = _maybe_contains(v6)

    def accept(ip: int, version: int) -> bool:
        test = in6 if version == 6 else in4
        return True if test is None else test(ip)

    return accept


def port_filter(ranges: Any) -> PortFilter:
    """Predicate over (port, proto) from internal-encoding inclusive intervals (empty: no filter)."""
    inside = _maybe_contains(ranges)
    if inside is None:
        return lambda port, proto: True
    return lambda port, proto: inside(internal_port(port, proto))


def _as_ip_filter(ranges: Any) -> IpFilter | None:
    """Callable, `(v4, v6)` pair of range lists, or None."""
    if ranges is None or callable(ranges):
        return ranges
    if isinstance(ranges, tuple) and len(ranges) == 2:
        return ip_filter(v4=ranges[0], v6=ranges[1])
    return ip_filter(v4=ranges)


def _as_port_filter(ports: Any) -> PortFilter | None:
    """Callable, a `PortList`-like object / pairs, or None."""
    if ports is None or callable(ports):
        return ports
    return port_filter(ports)


def _stderr_warning(msg: str) -> None:
    print(f"tidescan: warning: {msg}", file=sys.stderr)


def readscan(paths: Iterable[str], writers: Sequence[Writer], *, ranges: Any = None,
             ports: Any = None, banner_types: Iterable[str] | None = None,
             app_table: str = "1.3.2",
             on_warning: Callable[[str], None] | None = _stderr_warning) -> int:
    """Stream every record of `paths` through the filters into `writers`; returns how many
    records passed the filters.  The writers are not closed here (the caller owns them).
    A missing or non-binary file raises `UsageError` (files before it are already converted)."""
    types = frozenset(parse_app_name(t) for t in banner_types) if banner_types else None
    ranges = _as_ip_filter(ranges)
    ports = _as_port_filter(ports)
    count = 0
    for path in paths:
        for rec in BinaryReader(path, app_table=app_table, on_warning=on_warning):
            if types is not None and (rec.kind != "banner" or rec.app not in types):
                continue
            if ranges is not None and not ranges(rec.ip, rec.ip_version):
                continue
            if ports is not None and not ports(rec.port, rec.proto):
                continue
            count += 1
            for w in writers:
                w.write(rec)
    return count
