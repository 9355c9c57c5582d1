"""Target ranges: masscan's parse/merge/exclude vectors, error positions, hypothesis properties
against a set model, exclude speed, the pick layouts, size guards, and `masscan -sL` itself."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tidescan.blackrock import BlackRock
from tidescan.errors import ParseError, UsageError
from tidescan.ipfmt import format_ipv4, format_ipv6
from tidescan.ports import ICMP_ECHO, PortList, add_ping, parse_ports
from tidescan.targets import (
    Range6List, RangeList, TargetSet, check_size, parse_target_file, parse_targets,
)

MASSCAN = shutil.which("masscan") or "/usr/bin/masscan"
M64 = (1 << 64) - 1


def v4(text: str) -> RangeList:
    r4, r6 = parse_targets(text)
    assert r6.count == 0
    return r4


def v6(text: str) -> Range6List:
    r4, r6 = parse_targets(text)
    assert r4.count == 0
    return r6


def pairs4(r: RangeList) -> list[tuple[int, int]]:
    return list(zip(r.starts.tolist(), r.ends.tolist()))


def pairs6(r: Range6List) -> list[tuple[int, int]]:
    return list(zip(r.starts.tolist(), r.ends.tolist()))


# -- parsing: masscan's vectors (reference §9) -------------------------------------------------

@pytest.mark.parametrize("text, lo, hi", [
    ("[1::1]/126", 0x0001 << 112, (0x0001 << 112) + 3),
    ("1::1/126", 0x0001 << 112, (0x0001 << 112) + 3),
    ("[1::1]-[2::3]", (1 << 112) + 1, (2 << 112) + 3),
    ("1::1-2::3", (1 << 112) + 1, (2 << 112) + 3),
    ("[1234:5678:9abc:def0:0fed:cba9:8765:4321]", 0x123456789abcdef00fedcba987654321,
     0x123456789abcdef00fedcba987654321),
    ("22ab::1", (0x22ab << 112) + 1, (0x22ab << 112) + 1),
    ("240e:33c:2:c080:d08:d0e:b53:e74e", 0x240e033c0002c080_0d080d0e0b53e74e,
     0x240e033c0002c080_0d080d0e0b53e74e),
    ("2a03:9060:0:400::2", 0x2a03906000000400_0000000000000002, 0x2a03906000000400_0000000000000002),
    ("fec0:0:0:ffff::1", 0xfec000000000ffff_0000000000000001, 0xfec000000000ffff_0000000000000001),
    ("2001:db8::/66", 0x20010db8 << 96, (0x20010db8 << 96) + (1 << 62) - 1),
])
def test_ipv6_parse_vectors(text: str, lo: int, hi: int) -> None:
    assert pairs6(v6(text)) == [(lo, hi)]


@pytest.mark.parametrize("text, want", [
    ("1.2.3.4", [(0x01020304, 0x01020304)]),
    ("1.2.3.4/24", [(0x01020300, 0x010203ff)]),
    ("10.0.1.2/16", [(0x0A000000, 0x0A00FFFF)]),             # host bits masked
    (" 1.2.3.4-1.2.3.5\n", [(0x01020304, 0x01020305)]),
    ("97.86.162.161\x9697.86.162.175", [(0x6156a2a1, 0x6156a2af)]),   # 0x96 is a dash
    ("97.86.162.161\u201397.86.162.175", [(0x6156a2a1, 0x6156a2af)]),
    ("0.0.1.0/24,0.0.3.0-0.0.4.0", [(0x100, 0x1ff), (0x300, 0x400)]),
    ("0.0.1.0-0.0.1.255,0.0.3.0-0.0.4.0", [(0x100, 0x1ff), (0x300, 0x400)]),
    ("0.0.1.0/24 0.0.3.0-0.0.4.0", [(0x100, 0x1ff), (0x300, 0x400)]),
    ("01.2.3.4", [(0x01020304, 0x01020304)]),                 # masscan reads leading zeros as decimal
    ("1.2.3.4/0", [(0, 0xFFFFFFFF)]),
    ("10.0.0.1/32, 10.0.0.2", [(0x0A000001, 0x0A000002)]),
])
def test_ipv4_parse_vectors(text: str, want: list[tuple[int, int]]) -> None:
    assert pairs4(v4(text)) == want


def test_mixed_list() -> None:
    r4, r6 = parse_targets("10.0.0.0/30, [2001:db8::1]  2001:db8::/127,192.168.1.1")
    assert r4.format() == "10.0.0.0/30,192.168.1.1"
    assert r6.format() == "2001:db8::/127"
    assert (r4.count, r6.count) == (5, 2)


@pytest.mark.parametrize("content, line, column", [
    # masscan's massip_parse_selftest error cases: same line and character
    ("#bad ipv4\n 257.1.1.1\n", 2, 5),
    ("#bad ipv4\n 1.257.1.1.1\n", 2, 6),
    ("#bad ipv4\n 1.10.257.1.1.1\n", 2, 9),
    ("#bad ipv4\n 1.10.255.256.1.1.1\n", 2, 13),
    ("#bad ipv4\n 1.1.1.1.1\n", 2, 9),
])
def test_file_error_positions_match_masscan(tmp_path: Path, content: str, line: int, column: int) -> None:
    f = tmp_path / "targets.txt"
    f.write_text(content)
    with pytest.raises(UsageError) as info:
        parse_target_file(f)
    assert str(info.value).startswith(f"{f}:{line}:{column}: ")
    # the same text given inline reports the same place
    with pytest.raises(ParseError) as pinfo:
        parse_targets(content.replace("#bad ipv4", ""))
    assert (pinfo.value.line, pinfo.value.column) == (line, column)


@pytest.mark.parametrize("text, column, fragment", [
    ("10.0.0.1/", 10, "missing CIDR prefix"),         # masscan silently takes this as /0
    ("10.0.0.0/33", 10, "must be 0-32"),
    ("10.0.0.5-10.0.0.1", 1, "reversed range"),       # masscan silently drops it
    ("1.2.3", 6, "incomplete"),
    ("10.0.0.1 10.0.0.1-5", 20, "incomplete"),      # just past the end
    ("::1/129", 5, "must be 0-128"),
    ("1::2::3", 1, "bad IPv6 address"),
    ("2001:db8::1-2001:db8::0", 1, "reversed range"),
    ("10.0.0.1-::1", 9, "cannot mix"),
    ("[::1", 5, "missing ']'"),
    ("::1]", 4, "without '['"),
    ("fe80::1%eth0", 8, "zone index"),
    ("example.com", 1, "unexpected 'e'"),
    ("10.0.0.0/24-10.0.1.0", 12, "unexpected '-'"),
    ("10.0.0.1:80", 1, "bad IPv6 address"),
])
def test_parse_errors(text: str, column: int, fragment: str) -> None:
    with pytest.raises(ParseError) as info:
        parse_targets(text)
    assert info.value.column == column, info.value.message
    assert fragment in info.value.message


def test_target_file(tmp_path: Path) -> None:
    f = tmp_path / "list"
    f.write_bytes(b"# header comment\n10.0.0.0/30, 10.0.0.8 # trailing\n\n"
                  b"  97.86.162.161\x9697.86.162.175\n2001:db8::/126 [2001:db8:1::1]\r\n")
    r4, r6 = parse_target_file(f)
    assert r4.format() == "10.0.0.0/30,10.0.0.8,97.86.162.161-97.86.162.175"
    assert r6.format() == "2001:db8::/126,2001:db8:1::1"
    with pytest.raises(UsageError, match=r"nonexistent\.txt: cannot read target file"):
        parse_target_file(tmp_path / "nonexistent.txt")
    bad = tmp_path / "bad"
    bad.write_text("10.0.0.1\n# x\n  10.0.0.2, 10.0.0.300\n")
    with pytest.raises(UsageError, match=r"bad:3:22: bad IPv4 address"):
        parse_target_file(bad)


# -- algebra: masscan's vectors ----------------------------------------------------------------

def test_merge_vector() -> None:
    r = v4("10.0.0.0/24").merge(v4("10.0.1.10-10.0.1.19")).merge(v4("10.0.1.20-10.0.1.30"))
    r = r.merge(v4("10.0.0.0-10.0.1.12"))
    assert r.format() == "10.0.0.0-10.0.1.30" and r.n_ranges == 1


def test_exclude_vectors() -> None:
    r = v4("10.0.0.0/8").exclude(v4("1.0.0.0-10.0.0.0")).exclude(v4("10.255.255.255-11.0.0.0"))
    assert pairs4(r) == [(0x0A000001, 0x0AFFFFFE)]
    r = v4("10.0.0.0/8").exclude(v4("10.10.0.0/16")).exclude(v4("10.20.0.0/16"))
    assert r.n_ranges == 3
    r = r.exclude(v4("10.12.0.0/16"))
    assert r.n_ranges == 4
    r = r.exclude(v4("10.10.10.10-10.12.12.12"))
    assert r.n_ranges == 3
    assert r.count == (1 << 24) - 4 * 65536   # 10.10.0.0-10.12.255.255 and 10.20/16 are gone


def test_ipv6_exclude_vector() -> None:
    r = v6("2001:db8::/120").exclude(v6("2001:db8::10-2001:db8::ff"))
    assert r.format() == "2001:db8::/124" and r.count == 16
    r = v6("::/0").exclude(v6("::/1"))
    assert r.format() == "8000::/1"


def test_format_forms() -> None:
    assert v4("10.0.0.0-10.0.0.255").format() == "10.0.0.0/24"
    assert v4("10.0.0.1-10.0.1.0").format() == "10.0.0.1-10.0.1.0"
    assert v4("0.0.0.0/0").format() == "0.0.0.0/0"
    assert v4("10.0.0.7/32").format() == "10.0.0.7"
    assert v6("2001:db8:0:1::1").format() == "2001:db8::1:0:0:0:1"          # masscan's text form
    assert v6("2001:db8::/66").format() == "2001:db8::/66"
    assert v6("2001:db8::1-2001:db8::4").format() == "2001:db8::1-2001:db8::4"
    for text in ("10.0.0.0/8,10.1.0.1-10.1.0.5,192.168.0.1", "2001:db8::/126,2001:db8:1::3-2001:db8:1::9"):
        r4, r6 = parse_targets(text)
        assert parse_targets(text) == parse_targets(",".join(filter(None, [r4.format(), r6.format()])))


def test_contains() -> None:
    r = v4("10.0.0.0/24, 10.0.2.5")
    q = np.array([0x0A000000, 0x0A0000FF, 0x0A000100, 0x0A000205, 0x0A000204, 0, 0xFFFFFFFF], dtype=np.uint32)
    assert r.contains(q).tolist() == [True, True, False, True, False, False, False]
    r6 = v6("2001:db8::/126, 2001:db8:1::ff00:0-2001:db8:1::ffff:ffff")
    addrs = [0x20010db8 << 96, (0x20010db8 << 96) + 3, (0x20010db8 << 96) + 4,
             (0x20010db80001 << 80) + 0xff000000, (0x20010db80001 << 80) + 0x1_0000_0000, 0, (1 << 128) - 1]
    hi = np.array([a >> 64 for a in addrs], dtype=np.uint64)
    lo = np.array([a & M64 for a in addrs], dtype=np.uint64)
    assert r6.contains(hi, lo).tolist() == [True, True, False, True, False, False, False]


# -- properties against a set model ------------------------------------------------------------

def spans(width: int) -> st.SearchStrategy:
    # up to 40 intervals: both pick paths (boundary counting, bucket table) get exercised
    return st.lists(st.tuples(st.integers(0, width), st.integers(0, 9)), max_size=40)


def model(sp: list[tuple[int, int]], base: int, top: int) -> set[int]:
    return {base + p for a, n in sp for p in range(a, a + n + 1) if base + p <= top}


def make(cls: type, sp: list[tuple[int, int]], base: int, top: int) -> tuple[object, set[int]]:
    s = [base + a for a, _ in sp if base + a <= top]
    e = [min(base + a + n, top) for a, n in sp if base + a <= top]
    return cls(s, e), model(sp, base, top)


def members4(r: RangeList) -> list[int]:
    return [x for a, b in pairs4(r) for x in range(a, b + 1)]


def members6(r: Range6List) -> list[int]:
    return [x for a, b in pairs6(r) for x in range(a, b + 1)]


@settings(max_examples=150, deadline=None)
@given(spans(200), spans(200), st.sampled_from([0, 0x0A000000, (1 << 32) - 150]))
def test_ipv4_algebra_properties(a: list, b: list, base: int) -> None:
    top = (1 << 32) - 1
    ra, sa = make(RangeList, a, base, top)
    rb, sb = make(RangeList, b, base, top)
    for got, want in ((ra.merge(rb), sa | sb), (ra.exclude(rb), sa - sb)):
        assert members4(got) == sorted(want) and got.count == len(want)
        s, e = got.starts.astype(np.int64), got.ends.astype(np.int64)
        assert np.all(s[1:] > e[:-1] + 1)              # normalized: sorted, disjoint, not adjacent
        picked = got.pick(np.arange(got.count, dtype=np.uint64))
        assert picked.dtype == np.uint64 and picked.tolist() == sorted(want)   # bijection, ascending
        q = np.arange(max(base - 3, 0), min(base + 225, top + 1), dtype=np.uint64)
        assert got.contains(q).tolist() == [int(x) in want for x in q]
        assert parse_targets(got.format())[0] == got if got.count else True


@settings(max_examples=150, deadline=None)
@given(spans(200), spans(200), st.sampled_from([0, (1 << 64) - 100, (0x20010db8 << 96), (1 << 128) - 150]))
def test_ipv6_algebra_properties(a: list, b: list, base: int) -> None:
    top = (1 << 128) - 1
    ra, sa = make(Range6List, a, base, top)
    rb, sb = make(Range6List, b, base, top)
    for got, want in ((ra.merge(rb), sa | sb), (ra.exclude(rb), sa - sb)):
        assert members6(got) == sorted(want) and got.count == len(want)
        hi, lo = got.pick(np.arange(got.count, dtype=np.uint64))    # crosses the 2**64 carry
        assert hi.dtype == lo.dtype == np.uint64
        assert [(h << 64) | l_ for h, l_ in zip(hi.tolist(), lo.tolist())] == sorted(want)
        q = [x for x in range(max(base - 3, 0), min(base + 225, top + 1))]
        qh = np.array([x >> 64 for x in q], dtype=np.uint64)
        ql = np.array([x & M64 for x in q], dtype=np.uint64)
        assert got.contains(qh, ql).tolist() == [x in want for x in q]
        if got.count:
            assert parse_targets(got.format())[1] == got


def test_pick_with_many_ranges() -> None:
    """The bucket-table path of pick (more than a dozen intervals), against searchsorted."""
    rng = np.random.default_rng(7)
    for n in (13, 100, 5000):
        s = np.sort(rng.choice(1 << 31, n, replace=False)).astype(np.int64) * 2
        e = s + rng.integers(0, [1, 1000, 100_000][n % 3], n)
        r = RangeList(s, np.minimum(e, (1 << 32) - 1))
        starts, ends = r.starts.astype(np.int64), r.ends.astype(np.int64)
        cum = np.cumsum(ends - starts + 1)
        idx = np.concatenate([rng.integers(0, r.count, 200_000), cum[:-1] - 1, cum[:-1], [0, r.count - 1]])
        k = np.searchsorted(cum, idx, side="right")
        want = starts[k] + idx - (cum[k] - (ends[k] - starts[k] + 1))
        assert np.array_equal(r.pick(idx.astype(np.uint64)).astype(np.int64), want)
    # IPv6: intervals around the 2**64 carry and beyond 2**64 members (saturated totals)
    starts = [(i << 60) + 5 for i in range(20)] + [1 << 100]
    ends = [(i << 60) + 5 + i * i for i in range(20)] + [(1 << 127) - 1]
    r6 = Range6List(starts, ends)
    members = [x for a, b in zip(starts[:-1], ends[:-1]) for x in range(a, b + 1)]
    idx = np.arange(len(members) + 1000, dtype=np.uint64)
    hi, lo = r6.pick(idx)
    got = [(h << 64) | l_ for h, l_ in zip(hi.tolist(), lo.tolist())]
    assert got == members + [(1 << 100) + i for i in range(1000)]
    hi, lo = r6.pick(np.array([M64 - 1], dtype=np.uint64))
    assert (int(hi[0]) << 64 | int(lo[0])) == (1 << 100) + M64 - 1 - len(members)


# -- speed -------------------------------------------------------------------------------------

def best_of(fn, n: int = 5) -> float:  # noqa: ANN001
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def test_exclude_is_vectorized_and_fast() -> None:
    rng = np.random.default_rng(1)
    base = v4("10.0.0.0/8")
    for n in (1000, 100_000):
        s = rng.integers(0x0A000000, 0x0B000000, n)
        ex = RangeList(s, np.minimum(s + rng.integers(0, 300, n), 0x0AFFFFFF))
        got = base.exclude(ex)
        # check against a bitmap model of the /8
        bitmap = np.ones(1 << 24, dtype=bool)
        for a, b in pairs4(ex):
            bitmap[a - 0x0A000000:b - 0x0A000000 + 1] = False
        assert got.count == int(bitmap.sum())
        sample = rng.integers(0x0A000000, 0x0B000000, 10_000)
        assert np.array_equal(got.contains(sample), bitmap[sample - 0x0A000000])
        seconds = best_of(lambda: base.exclude(ex))
        assert seconds < (0.02 if n == 1000 else 0.5), f"/8 minus {n} excludes took {seconds * 1e3:.1f} ms"


def test_pick_throughput() -> None:
    ts = TargetSet(*parse_targets("10.0.0.0/8 172.16.0.0/12 192.168.0.0/16"), parse_ports("1-1024"))
    x = np.arange(0, ts.range_, ts.range_ // 1_000_000, dtype=np.uint64)[:1_000_000]
    seconds = best_of(lambda: ts.pick_scan(x), 3)
    assert seconds < 0.5, f"pick_scan of 1M indexes took {seconds:.3f} s"


# -- index layouts ---------------------------------------------------------------------------

def reference_pick(ts: TargetSet, x: int, v6_first: bool) -> tuple[bool, int, int]:
    """masscan §5 in scalar Python: returns (is_v6, address, internal port)."""
    v4_members, v6_members = members4(ts.ipv4), members6(ts.ipv6)
    ports = [p for a, b in zip(ts.ports.starts.tolist(), ts.ports.ends.tolist()) for p in range(a, b + 1)]
    families = [(True, v6_members), (False, v4_members)]
    if not v6_first:
        families.reverse()
    (fam1, m1), (fam2, m2) = families
    if x < len(m1) * len(ports):
        return fam1, m1[x % len(m1)], ports[x // len(m1)]
    x -= len(m1) * len(ports)
    return fam2, m2[x % len(m2)], ports[x // len(m2)]


def as_tuples(p) -> list[tuple[bool, int, int]]:  # noqa: ANN001
    out = []
    for i in range(len(p)):
        v6 = bool(p.is_v6[i])
        addr = (int(p.ip6_hi[i]) << 64 | int(p.ip6_lo[i])) if v6 else int(p.ip4[i])
        out.append((v6, addr, int(p.port[i])))
    return out


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 6), st.integers(0, 5), st.lists(st.integers(0, 200), min_size=1, max_size=4))
def test_pick_layouts_match_masscan_formula(n4_bits: int, n6_extra: int, ports: list[int]) -> None:
    r4 = RangeList([0x0A000000], [0x0A000000 + n4_bits * 3]) if n4_bits else RangeList()
    r6 = Range6List([(1 << 64) - 2], [(1 << 64) - 2 + n6_extra]) if n6_extra or not n4_bits else Range6List()
    ts = TargetSet(r4, r6, PortList(ports, ports))
    x = np.arange(ts.range_, dtype=np.uint64)
    assert as_tuples(ts.pick_scan(x)) == [reference_pick(ts, i, True) for i in range(ts.range_)]
    assert as_tuples(ts.pick_list(x)) == [reference_pick(ts, i, False) for i in range(ts.range_)]
    rev = x[::-1].copy()   # arbitrary order, mixed families in one batch
    assert as_tuples(ts.pick_scan(rev)) == [reference_pick(ts, int(i), True) for i in rev]


def test_pick_bounds_and_empty() -> None:
    ts = TargetSet(*parse_targets("10.0.0.0/30"), parse_ports("80"))
    with pytest.raises(IndexError):
        ts.pick_scan(np.array([4]))
    assert len(ts.pick_list(np.array([], dtype=np.uint64))) == 0
    p = ts.pick_scan(np.array([3, 0]))
    assert p.ip4.tolist() == [0x0A000003, 0x0A000000] and not p.is_v6.any()


def test_masscan_transmit_vector() -> None:
    # reference §5: scan of 10.0.0.0/29 -p80,443 --rate 4 --seed 1 sends shuffle(i + 4) for i = 0..
    ts = TargetSet(*parse_targets("10.0.0.0/29"), parse_ports("80,443"))
    p = ts.pick_scan(BlackRock(ts.range_, 1).shuffle_array(np.arange(4, 12)))
    got = [(format_ipv4(a).rsplit(".", 1)[1], b) for a, b in zip(p.ip4.tolist(), p.port.tolist())]
    assert got == [("6", 80), ("5", 443), ("7", 443), ("3", 443), ("1", 80), ("4", 80), ("7", 80), ("6", 443)]


# -- size guards ----------------------------------------------------------------------------

def test_check_size() -> None:
    big = TargetSet(*parse_targets("0.0.0.0/2"), parse_ports("80"))     # 2**30 > 1e9
    with pytest.raises(UsageError, match=r"range too big.*--exclude 255\.255\.255\.255"):
        check_size(big, has_exclude=False)
    check_size(big, has_exclude=True)
    check_size(TargetSet(*parse_targets("0.0.0.0/3"), parse_ports("80")), has_exclude=False)
    with pytest.raises(UsageError, match=r"max is 63-bits, requested is 65 bits.*/66"):
        check_size(TargetSet(*parse_targets("2001:db8::/64"), parse_ports("80")), has_exclude=False)
    check_size(TargetSet(*parse_targets("2001:db8::/66"), parse_ports("80")), has_exclude=False)
    with pytest.raises(UsageError, match=r"requested is 64 bits"):
        check_size(TargetSet(*parse_targets("2001:db8::/66 10.0.0.0/8"), parse_ports("1-3")), True)
    with pytest.raises(UsageError, match=r"requested is 128 bits"):
        check_size(TargetSet(*parse_targets("::/0"), parse_ports("80")), True)
    # IPv4 alone never reaches 63 bits: 2**32 addresses x every port of every protocol
    check_size(TargetSet(*parse_targets("0.0.0.0/0"), parse_ports("T:0-,U:0-,S:0-,O:0-,I:0-2")), True)


# -- masscan -sL ---------------------------------------------------------------------------

def sl_lines(ts: TargetSet, p) -> list[str]:  # noqa: ANN001
    """masscan 1.3.2's -sL line format: the address alone when there is one port, else
    `ip:port` / `[v6]:port` with the port as the raw internal number (UDP 53 prints 65589)."""
    out = []
    for v6, addr, port in as_tuples(p):
        ip = format_ipv6(addr) if v6 else format_ipv4(addr)
        if ts.nports == 1:
            out.append(ip)
        else:
            out.append(f"[{ip}]:{port}" if v6 else f"{ip}:{port}")
    return out


def masscan_list(targets: list[str], ports: str | None, seed: int, shard: tuple[int, int] | None = None,
                 extra: list[str] = ()) -> list[str]:  # type: ignore[assignment]
    args = [MASSCAN, "-sL", *targets, "--seed", str(seed), *extra]
    if ports is not None:
        args.append(f"-p{ports}")
    if shard:
        args += ["--shard", f"{shard[0]}/{shard[1]}"]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.splitlines()


def our_targets(targets: list[str], ports: str | None, extra: list[str]) -> TargetSet:
    r4, r6 = parse_targets(" ".join(targets))
    pl = parse_ports(ports or "")
    if "--ping" in extra:
        pl = add_ping(pl)
    if "--exclude" in extra:
        e4, e6 = parse_targets(extra[extra.index("--exclude") + 1])
        r4, r6 = r4.exclude(e4), r6.exclude(e6)
    if "--exclude-ports" in extra:
        pl = pl.exclude(parse_ports(extra[extra.index("--exclude-ports") + 1]))
    return TargetSet(r4, r6, pl)


# (targets, ports, seed, shard, extra masscan options).  IPv6 targets start with a digit and
# not with "::": masscan 1.3.2 mis-parses "fd00::", "ad00::1" and "::/127" (it lists nothing or
# a single address for them).
SL_CASES = [
    (["10.0.0.0/28"], "80", 1, None, []),
    (["10.0.0.0/30"], "80,443", 1, None, []),
    (["10.0.0.0/29"], "80", 42, (2, 3), []),
    (["10.0.0.0/24", "10.1.0.0/28", "192.168.5.7"], "22,80,U:53", 99, (2, 5), ["--exclude", "10.0.0.128/26"]),
    (["10.0.0.0/28", "2001:db8::/124", "2001:db8:1::5-2001:db8:1::9"], "80,443,8080", 7, None, []),
    (["10.0.0.0/30", "2001:db8::/126"], "80", 1, None, []),
    (["10.0.0.0/29", "2001:db8::/125"], "80", 5, (1, 2), ["--ping"]),
    (["2001:db8::/120"], "80,443", 3, (1, 2), []),
    (["10.0.0.0/29", "2001:db8::/126"], "80,81,82", 11, None, ["--exclude-ports", "81"]),
    (["10.0.0.0/20", "2001:db8:5::/118"], "80,443", 12345, (3, 7), ["--exclude", "10.0.3.0/24"]),
]


@pytest.mark.parametrize("targets, ports, seed, shard, extra", SL_CASES)
def test_masscan_list_scan_line_by_line(targets: list[str], ports: str, seed: int,
                                        shard: tuple[int, int] | None, extra: list[str]) -> None:
    ts = our_targets(targets, ports, extra)
    theirs = masscan_list(targets, ports, seed, shard, extra)
    # BlackRock-free check: without a shard, masscan lists the whole index space once.
    if shard is None:
        everything = sl_lines(ts, ts.pick_list(np.arange(ts.range_, dtype=np.uint64)))
        assert sorted(theirs) == sorted(everything)
    # Exact order: line j is pick_list(shuffle(k-1 + j*K)).
    k, big_k = shard or (1, 1)
    i = np.arange(k - 1, ts.range_, big_k, dtype=np.uint64)
    ours = sl_lines(ts, ts.pick_list(BlackRock(ts.range_, seed).shuffle_array(i)))
    assert ours == theirs


def test_masscan_list_scan_known_order_without_blackrock() -> None:
    # reference §5 vector: BlackRock(16, seed 1) = 0 8 5 9 6 13 15 11 1 4 7 14 10 12 2 3
    order = np.array([0, 8, 5, 9, 6, 13, 15, 11, 1, 4, 7, 14, 10, 12, 2, 3], dtype=np.uint64)
    for targets, ports in ((["10.0.0.0/28"], "80"), (["10.0.0.0/30", "2001:db8::/126"], "80,443"),
                           (["10.0.0.0/29"], "80,U:53")):
        ts = our_targets(targets, ports, [])
        assert ts.range_ == 16
        assert sl_lines(ts, ts.pick_list(order)) == masscan_list(targets, ports, 1)


def test_ping_prints_internal_port() -> None:
    ts = our_targets(["10.0.0.0/31"], "80", ["--ping"])
    lines = sl_lines(ts, ts.pick_list(np.arange(ts.range_)))
    assert f"10.0.0.1:{ICMP_ECHO}" in lines
    assert sorted(lines) == sorted(masscan_list(["10.0.0.0/31"], "80", 1, extra=["--ping"]))
