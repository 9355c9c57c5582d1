"""Port lists: masscan's -p syntax, its --echo form (checked against masscan itself), pick, the
interval algebra (hypothesis against a Python set model), and the nmap top-ports ranking."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tidescan.errors import ParseError, UsageError
from tidescan.ports import (
    ARP_PORT, ICMP_ECHO, ICMP_TIMESTAMP, OPROTO_BASE, SCTP_BASE, UDP_BASE,
    PortList, add_arp, add_ping, decode_ports, parse_ports, top_ports, top_ports_ranked,
)

ROOT = Path(__file__).resolve().parents[1]
MASSCAN = shutil.which("masscan") or "/usr/bin/masscan"


def expand(pl: PortList) -> list[int]:
    return [p for a, b in zip(pl.starts.tolist(), pl.ends.tolist()) for p in range(a, b + 1)]


# -- encoding and syntax ------------------------------------------------------------------

def test_internal_encoding_constants() -> None:
    assert (UDP_BASE, SCTP_BASE, ICMP_ECHO, ICMP_TIMESTAMP, ARP_PORT, OPROTO_BASE) == (
        65536, 131072, 196608, 196609, 196610, 196864)


def test_masscan_regress_vector_three_ranges() -> None:
    pl = parse_ports("80,1000-2000,1234,4444")
    assert pl.n_ranges == 3
    assert pl.starts.dtype == np.uint64 and pl.ends.dtype == np.uint64
    assert list(zip(pl.starts.tolist(), pl.ends.tolist())) == [(80, 80), (1000, 2000), (4444, 4444)]
    assert pl.count == len(pl) == 1003


@pytest.mark.parametrize("text, want", [
    ("80,8000-8100", [(80, 80), (8000, 8100)]),
    ("-", [(1, 65535)]),                                   # 1-65535: port 0 left out, like masscan
    ("65000-", [(65000, 65535)]),
    ("-80", [(1, 80)]),
    ("0", [(0, 0)]),
    ("U:53,80", [(UDP_BASE + 53, UDP_BASE + 53), (UDP_BASE + 80, UDP_BASE + 80)]),  # sticky
    ("U:53,T:80", [(80, 80), (UDP_BASE + 53, UDP_BASE + 53)]),
    ("u:53", [(UDP_BASE + 53, UDP_BASE + 53)]),            # prefixes are case-insensitive
    ("S:1-5,6", [(SCTP_BASE + 1, SCTP_BASE + 6)]),
    ("O:47", [(OPROTO_BASE + 47, OPROTO_BASE + 47)]),
    ("O:0-255", [(OPROTO_BASE, OPROTO_BASE + 255)]),
    ("I:0", [(ICMP_ECHO, ICMP_ECHO)]),
    ("I:1,I:2", [(ICMP_TIMESTAMP, ARP_PORT)]),
    ("I:303", [(OPROTO_BASE + 47, OPROTO_BASE + 47)]),    # masscan's echo form of O:47
    ("80 443\t22", [(22, 22), (80, 80), (443, 443)]),
    (" 80,, 443 ,", [(80, 80), (443, 443)]),
    ("80-443,443-500", [(80, 500)]),
    ("65535,U:0", [(65535, 65536)]),                       # adjacent across protocols: one interval
    ("", []),
])
def test_parse_ports(text: str, want: list[tuple[int, int]]) -> None:
    pl = parse_ports(text)
    assert list(zip(pl.starts.tolist(), pl.ends.tolist())) == want


def test_default_proto() -> None:
    assert parse_ports("53,T:80", default_proto="udp") == parse_ports("T:80,U:53")
    assert parse_ports("7", default_proto="sctp") == parse_ports("S:7")
    assert parse_ports("47", default_proto="oproto") == parse_ports("O:47")


@pytest.mark.parametrize("text, column, fragment", [
    ("80,70000", 4, "70000 out of range"),
    ("80-70", 1, "reversed"),
    ("X:80", 1, "unknown protocol prefix"),
    ("80,U:abc", 6, "unexpected 'a'"),
    ("1-2-3", 4, "unexpected '-'"),
    ("O:256", 3, "out of range (max 255"),
    ("80-99999", 4, "99999 out of range"),
    ("I:512", 3, "out of range (max 511"),
    ("U:", 3, "missing port number"),
    ("80;443", 3, "unexpected ';'"),
    ("U:T:80", 3, "unexpected 'T'"),
    ("٣", 1, "unexpected"),                                # non-ASCII digits are not digits
])
def test_parse_errors_have_columns(text: str, column: int, fragment: str) -> None:
    with pytest.raises(ParseError) as info:
        parse_ports(text)
    assert info.value.column == column
    assert fragment in info.value.message


# -- --echo form, against masscan ------------------------------------------------------------

def test_format_masscan_echo_form() -> None:
    assert parse_ports("80,U:53-55,S:7,I:0").format() == "80,U:53-55,S:7,I:0"
    assert add_arp(parse_ports("")).format() == "I:2"
    assert parse_ports("O:47").format() == "O:47"                      # not masscan's I:303
    assert parse_ports("65535,U:0").format() == "65535,U:0"            # split at the protocol line
    assert parse_ports("I:250-260").format() == "I:250-255,O:0-4"
    assert parse_ports("U:53,80").format() == "U:53,U:80"
    assert PortList().format() == ""


def masscan_echo_ports(args: list[str]) -> str:
    proc = subprocess.run([MASSCAN, "10.0.0.0/31", *args, "--echo"],
                          capture_output=True, text=True, timeout=30)
    m = re.search(r"^ports = (.*)$", proc.stdout, re.M)
    assert m, proc.stdout + proc.stderr
    return m.group(1).strip()


@pytest.mark.parametrize("args, ours", [
    (["-p", "80,U:53-55,S:7,O:47", "--ping"], "80,U:53-55,S:7,I:0,O:47"),
    (["-p", "U:53,80"], None),
    (["-p", "-"], None),
    (["-p", "65000-"], None),
    (["-p", "80-443,443-500,22"], None),
    (["-p", "I:0-3"], None),
    (["-p", "O:0,O:255"], "O:0,O:255"),
    (["--arp"], "I:2"),
])
def test_format_and_parse_agree_with_masscan(args: list[str], ours: str | None) -> None:
    echoed = masscan_echo_ports(args)
    mine = parse_ports(args[1]) if args[0] == "-p" else PortList()
    if "--ping" in args:
        mine = add_ping(mine)
    if "--arp" in args:
        mine = add_arp(mine)
    # masscan's echo form reads back as the same set (I:256+p included) ...
    assert parse_ports(echoed) == mine
    # ... and ours is masscan's text, except that other protocols are written O:p.
    assert mine.format() == (ours if ours is not None else echoed)
    assert parse_ports(mine.format()) == mine


# -- pick, flags, decode ----------------------------------------------------------------------

def test_pick_vectorized_and_bounds() -> None:
    pl = parse_ports("80,1000-2000,U:53,I:0")
    want = expand(pl)
    got = pl.pick(np.arange(pl.count, dtype=np.uint64))
    assert got.dtype == np.uint64 and got.tolist() == want
    assert pl.pick(np.array([1003, 0, 1002])).tolist() == [ICMP_ECHO, 80, UDP_BASE + 53]
    with pytest.raises(IndexError):
        pl.pick(np.array([pl.count]))


def test_flags_and_helpers() -> None:
    pl = parse_ports("80")
    assert pl.has_tcp and not (pl.has_udp or pl.has_sctp or pl.has_icmp or pl.has_arp or pl.has_oproto)
    pl = add_arp(add_ping(parse_ports("U:53,S:1,O:6,I:1")))
    assert not pl.has_tcp
    assert pl.has_udp and pl.has_sctp and pl.has_icmp and pl.has_icmp_timestamp and pl.has_arp and pl.has_oproto
    assert pl.only("udp") == parse_ports("U:53")
    assert pl.only("icmp") == parse_ports("I:0-1")
    assert pl.only("arp") == PortList.single(ARP_PORT)
    kinds, numbers = decode_ports(np.array([80, UDP_BASE + 53, SCTP_BASE + 7, ICMP_ECHO,
                                            ICMP_TIMESTAMP, ARP_PORT, OPROTO_BASE + 47]))
    assert kinds.tolist() == [0, 1, 2, 3, 3, 4, 5]
    assert numbers.tolist() == [80, 53, 7, 0, 1, 0, 47]


def test_contains() -> None:
    pl = parse_ports("80,1000-2000,U:53")
    q = np.array([79, 80, 81, 999, 1000, 2000, 2001, 53, UDP_BASE + 53], dtype=np.uint64)
    assert pl.contains(q).tolist() == [False, True, False, False, True, True, False, False, True]


# -- properties against a set model ----------------------------------------------------------

spans = st.lists(st.tuples(st.integers(0, 300), st.integers(0, 12)), max_size=30)


def build(sp: list[tuple[int, int]], base: int) -> tuple[PortList, set[int]]:
    s = [base + a for a, _ in sp]
    e = [base + a + n for a, n in sp]
    return PortList(s, e), {p for a, n in sp for p in range(base + a, base + a + n + 1)}


@settings(max_examples=120, deadline=None)
@given(spans, spans, st.sampled_from([0, UDP_BASE - 150, ICMP_ECHO]))
def test_algebra_matches_set_model(a: list, b: list, base: int) -> None:
    pa, sa = build(a, base)
    pb, sb = build(b, base)
    for got, want in ((pa.merge(pb), sa | sb), (pa.exclude(pb), sa - sb), (pa.only("tcp"), {p for p in sa if p < UDP_BASE})):
        assert expand(got) == sorted(want)
        assert got.count == len(want)
        # normalized: sorted, disjoint and never adjacent
        s, e = got.starts.astype(np.int64), got.ends.astype(np.int64)
        assert np.all(s <= e) and np.all(s[1:] > e[:-1] + 1)
        # pick is a bijection [0, count) -> the set, in ascending order
        assert got.pick(np.arange(got.count)).tolist() == sorted(want)
        # the echo form reads back to the same set
        assert parse_ports(got.format()) == got


# -- top ports --------------------------------------------------------------------------------

NMAP_TOP100_TCP = (  # nmap 7.93 <scaninfo services=...> for -sS --top-ports 100
    "7,9,13,21-23,25-26,37,53,79-81,88,106,110-111,113,119,135,139,143-144,179,199,389,427,"
    "443-445,465,513-515,543-544,548,554,587,631,646,873,990,993,995,1025-1029,1110,1433,1720,"
    "1723,1755,1900,2000-2001,2049,2121,2717,3000,3128,3306,3389,3986,4899,5000,5009,5051,5060,"
    "5101,5190,5357,5432,5631,5666,5800,5900,6000-6001,6646,7070,8000,8008-8009,8080-8081,8443,"
    "8888,9100,9999-10000,32768,49152-49157")
NMAP_TOP100_UDP = (  # nmap 7.93 for -sU --top-ports 100
    "7,9,17,19,49,53,67-69,80,88,111,120,123,135-139,158,161-162,177,427,443,445,497,500,"
    "514-515,518,520,593,623,626,631,996-999,1022-1023,1025-1030,1433-1434,1645-1646,1701,"
    "1718-1719,1812-1813,1900,2000,2048-2049,2222-2223,3283,3456,3703,4444,4500,5000,5060,5353,"
    "5632,9200,10000,17185,20031,30718,31337,32768-32769,32771,32815,33281,49152-49154,49156,"
    "49181-49182,49185-49186,49188,49190-49194,49200-49201,65024")


def test_top_ports_match_nmap_100_and_1000() -> None:
    assert top_ports(100) == parse_ports(NMAP_TOP100_TCP)
    assert top_ports(None) == top_ports(100)                    # the documented default
    assert top_ports(100, "udp") == parse_ports(NMAP_TOP100_UDP, default_proto="udp")
    lines = (ROOT / "tests" / "data" / "nmap_top1000_scaninfo.txt").read_text().splitlines()
    for line in lines:
        if line.startswith("#"):
            continue
        proto = re.search(r'protocol="(\w+)"', line).group(1)
        services = re.search(r' services="([^"]+)"', line).group(1)
        assert top_ports(1000, proto) == parse_ports(services, default_proto=proto), proto


def test_top_ports_rank_order_and_limits() -> None:
    assert top_ports_ranked(5).tolist() == [80, 23, 443, 21, 22]
    assert top_ports_ranked(2, "udp").tolist() == [UDP_BASE + 631, UDP_BASE + 161]
    assert top_ports(0).count == 0
    assert top_ports(10).format() == "21-23,25,80,110,139,443,445,3389"
    everything = top_ports(10**6)
    assert everything.count == len(top_ports_ranked(10**6)) == 8366   # nmap 7.93 tcp entries
    assert top_ports(10**6, "udp").count == 19022
    with pytest.raises(UsageError):
        top_ports(-1)
    with pytest.raises(UsageError):
        top_ports(10, "sctp")


def test_shipped_tables_are_reproducible(tmp_path: Path) -> None:
    """The generator, run now, writes the same ranking as the shipped package data."""
    subprocess.run([sys.executable, str(ROOT / "scripts" / "gen_top_ports.py"), "--out", str(tmp_path)],
                   check=True, capture_output=True, timeout=60)
    from importlib import resources
    for proto in ("tcp", "udp"):
        shipped = resources.files("tidescan").joinpath(f"data/top_ports_{proto}.txt").read_text()
        fresh = (tmp_path / f"top_ports_{proto}.txt").read_text()
        header = [ln for ln in shipped.splitlines() if ln.startswith("#")]
        assert any(ln.startswith("# source: /usr/share/nmap/nmap-services ($Id:") for ln in header)
        assert any("nmap version: 7.93" in ln for ln in header)
        assert any("generated: " in ln and "scripts/gen_top_ports.py" in ln for ln in header)

        def body(t: str) -> list[str]:
            return [ln for ln in t.splitlines() if not ln.startswith("# generated:")]
        assert body(shipped) == body(fresh)
