"""--readscan: conversion and filters, against masscan where masscan is right, fixed where not."""

from __future__ import annotations

from pathlib import Path

import pytest

from output_samples import interop_records, run_masscan
from tidescan.errors import UsageError
from tidescan.output.readscan import internal_port, ip_filter, port_filter, readscan
from tidescan.output.record import Record, banner_record, status_record
from tidescan.output.writers import OutputMeta, open_output

ALL = frozenset({"open", "closed"})


class Collect:
    """A minimal writer: remembers what it was given."""

    def __init__(self) -> None:
        self.records: list[Record] = []

    def write(self, rec: Record) -> None:
        self.records.append(rec)


def binfile(path: Path, recs: list[Record]) -> str:
    with open_output("binary", str(path), meta=OutputMeta(show=ALL)) as w:
        for r in recs:
            w.write(r)
    return str(path)


def convert(paths: list[str], fmt: str, out: Path, **filters: object) -> bytes:
    w = open_output(fmt, str(out), meta=OutputMeta(show=ALL))
    readscan(paths, [w], **filters)  # type: ignore[arg-type]
    w.close()
    return out.read_bytes()


def test_ipv4_range_and_port_filter_match_masscan(tmp_path: Path) -> None:
    v4 = [r for r in interop_records() if r.ip_version == 4]
    src = binfile(tmp_path / "v4.bin", v4)
    theirs = run_masscan("--readscan", src, "--show", "closed", "--range", "10.0.0.1-10.0.0.5",
                         "-p", "80-85,443", "-oL", "-").stdout
    ours = convert([src], "list", tmp_path / "ours.lst",
                   ranges=ip_filter(v4=[(0x0A000001, 0x0A000005)]),
                   ports=port_filter([(80, 85), (443, 443)]))
    assert ours == theirs
    assert ours.count(b"\n") > 5


def test_banner_types_match_masscan(tmp_path: Path) -> None:
    src = binfile(tmp_path / "all.bin", interop_records())
    theirs = run_masscan("--readscan", src, "--banner-types", "title", "--banner-types", "ssl",
                         "--banner-types", "x509", "-oJ", "-").stdout
    ours = convert([src], "json", tmp_path / "ours.json", banner_types=["title", "ssl", "x509"])
    assert ours == theirs
    assert ours.count(b'"service"') >= 5


def test_families_are_filtered_by_their_own_ranges(tmp_path: Path) -> None:
    v6 = 0x20010DB8 << 96
    recs = [status_record(1, 0x0A000001, 80), status_record(2, 0x0B000001, 80),
            status_record(3, v6 | 1, 80, ip_version=6), status_record(4, v6 | 0x99, 80, ip_version=6),
            banner_record(5, v6 | 1, 80, "http", b"x", ip_version=6)]
    src = binfile(tmp_path / "mixed.bin", recs)

    def run(**kw: object) -> list[int]:
        sink = Collect()
        n = readscan([src], [sink], **kw)  # type: ignore[arg-type]
        assert n == len(sink.records)
        return [r.timestamp for r in sink.records]

    assert run() == [1, 2, 3, 4, 5]
    # masscan ignores an IPv6-only --range; ours applies it and leaves IPv4 alone
    assert run(ranges=ip_filter(v6=[(v6, v6 | 0xF)])) == [1, 2, 3, 5]
    # masscan drops every IPv6 record under an IPv4 --range; ours keeps them
    assert run(ranges=ip_filter(v4=[(0x0A000000, 0x0AFFFFFF)])) == [1, 3, 4, 5]
    assert run(ranges=ip_filter(v4=[(0x0A000000, 0x0AFFFFFF)], v6=[(v6 | 0x90, v6 | 0x99)])) == [1, 4]
    # a callable is all readscan needs
    assert run(ranges=lambda ip, version: version == 6) == [3, 4, 5]
    assert run(banner_types={"http"}) == [5]


def test_port_filter_uses_the_internal_encoding(tmp_path: Path) -> None:
    recs = [status_record(1, 1, 53, "udp"), status_record(2, 1, 53, "tcp"),
            status_record(3, 1, 0, "icmp"), status_record(4, 1, 9, "sctp"),
            status_record(5, 1, 0, "arp", "up", mac=b"\x00" * 6), status_record(6, 1, 0, "ip47")]
    src = binfile(tmp_path / "p.bin", recs)
    # masscan: -p U:53 matches nothing (it compares 65589 with the bare port 53)
    assert run_masscan("--readscan", src, "-p", "U:53", "-oL", "-").stdout == b""

    def run(ranges: list[tuple[int, int]]) -> list[int]:
        sink = Collect()
        readscan([src], [sink], ports=port_filter(ranges))
        return [r.timestamp for r in sink.records]

    assert run([(65536 + 53, 65536 + 53)]) == [1]
    assert run([(53, 53)]) == [2]
    assert run([(196608, 196608)]) == [3]
    assert run([(131072 + 9, 131072 + 9)]) == [4]
    assert run([(196610, 196610)]) == [5]
    assert run([(196864 + 47, 196864 + 47)]) == [6]
    assert internal_port(80, "tcp") == 80 and internal_port(80, "udp") == 65616


def test_filters_accept_range_list_objects() -> None:
    class Ranges:  # shaped like RangeList / PortList: parallel starts/ends arrays
        starts = [30, 10]
        ends = [40, 20]

    f = ip_filter(v4=Ranges())
    assert [x for x in range(0, 50, 5) if f(x, 4)] == [10, 15, 20, 30, 35, 40]
    overlapping = ip_filter(v4=[(0, 100), (10, 20)])
    assert overlapping(50, 4) and not overlapping(101, 4)
    pf = port_filter(Ranges())
    assert pf(15, "tcp") and not pf(15, "udp")


def test_several_files_in_order_and_errors(tmp_path: Path) -> None:
    a = binfile(tmp_path / "a.bin", [status_record(1, 1, 1)])
    b = binfile(tmp_path / "b.bin", [status_record(2, 2, 2), status_record(3, 3, 3)])
    empty = tmp_path / "empty.bin"
    empty.write_bytes(b"")
    sink = Collect()
    assert readscan([a, str(empty), b], [sink]) == 3
    assert [r.timestamp for r in sink.records] == [1, 2, 3]
    with pytest.raises(UsageError, match="missing.bin"):
        readscan([a, str(tmp_path / "missing.bin")], [Collect()])


def test_masscan_can_read_what_readscan_writes(tmp_path: Path) -> None:
    """Binary -> (our readscan) -> binary -> (masscan readscan) -> list equals the original list."""
    src = binfile(tmp_path / "src.bin", interop_records(long_banners=False))
    copy = tmp_path / "copy.bin"
    convert([src], "binary", copy)
    assert run_masscan("--readscan", str(copy), "--show", "closed", "-oL", "-").stdout == \
        run_masscan("--readscan", src, "--show", "closed", "-oL", "-").stdout


def test_range_list_objects_are_accepted_directly(tmp_path: Path) -> None:
    """cli.py passes (RangeList, Range6List) and a PortList as they come from the config."""
    from tidescan.ports import parse_ports
    from tidescan.targets import parse_targets
    v6 = 0x20010DB8 << 96
    src = binfile(tmp_path / "m.bin", [status_record(1, 0x0A000001, 80), status_record(2, 0x0A000002, 80),
                                       status_record(3, v6 | 1, 53, "udp", ip_version=6),
                                       status_record(4, v6 | 2, 80, ip_version=6)])

    def run(ranges: object = None, ports: object = None) -> list[int]:
        sink = Collect()
        readscan([src], [sink], ranges=ranges, ports=ports)
        return [r.timestamp for r in sink.records]

    assert run(ranges=parse_targets("10.0.0.1")) == [1, 3, 4]
    assert run(ranges=parse_targets("2001:db8::2")) == [1, 2, 4]
    assert run(ranges=parse_targets("10.0.0.2, 2001:db8::1")) == [2, 3]
    assert run(ports=parse_ports("U:53")) == [3]
    assert run(ports=parse_ports("80")) == [1, 2, 4]
