"""ScanConfig.targets(): texts -> TargetSet (ranges - excludes, ports - exclude-ports, guards)."""

from __future__ import annotations

import pytest

from tidescan.config import ScanConfig, cidr_text, parse_args
from tidescan.errors import UsageError
from tidescan.ports import ARP_PORT, ICMP_ECHO, UDP_BASE, PortList, parse_ports, top_ports
from tidescan.targets import parse_targets


def v4(text: str):  # type: ignore[no-untyped-def]
    return parse_targets(text)[0]


def test_ranges_minus_excludes_ports_minus_exclude_ports(tmp_path) -> None:  # type: ignore[no-untyped-def]
    inc = tmp_path / "inc.txt"
    inc.write_text("# more\n10.9.0.0/30\n")
    exc = tmp_path / "exc.txt"
    exc.write_text("10.9.0.1\n")
    cfg = parse_args(["-p80,443,U:53", "10.0.0.0/24", "--range", "fd00::/126", "-iL", str(inc),
                      "--exclude", "10.0.0.128/25,fd00::3", "--excludefile", str(exc),
                      "--exclude-ports", "443"])
    ts = cfg.targets()
    assert ts.ipv4 == v4("10.0.0.0/25,10.9.0.0,10.9.0.2-10.9.0.3")
    assert ts.ipv6 == parse_targets("fd00::-fd00::2")[1]
    assert ts.ports == parse_ports("80,U:53")
    assert ts.range_ == (128 + 3 + 3) * 2


def test_protocols_ping_arp_top_ports() -> None:
    cfg = parse_args(["-sU", "-p", "53", "--ping", "--arp", "10.0.0.1"])
    assert cfg.targets().ports == PortList([UDP_BASE + 53, ICMP_ECHO, ARP_PORT],
                                           [UDP_BASE + 53, ICMP_ECHO, ARP_PORT])
    tcp = parse_args(["--top-ports", "10", "10.0.0.1"]).targets().ports
    assert tcp == top_ports(10, "tcp")
    udp = parse_args(["-sU", "--top-ports", "5", "10.0.0.1"]).targets().ports
    assert udp == top_ports(5, "udp")
    both = parse_args(["-sSU", "--top-ports", "5", "10.0.0.1"]).targets().ports
    assert both == top_ports(5, "tcp").merge(top_ports(5, "udp"))


def test_size_guards_come_from_check_size() -> None:
    with pytest.raises(UsageError, match="range too big"):
        parse_args(["-p80", "0.0.0.0/0"]).targets()
    ok = parse_args(["-p80", "0.0.0.0/0", "--exclude", "255.255.255.255"]).targets()
    assert ok.n4 == 2**32 - 1
    with pytest.raises(UsageError, match="63-bits"):
        parse_args(["-p80", "--range", "fd00::/64"]).targets()
    assert parse_args(["-p80", "--range=fd00::/66"]).targets().n6 == 2**62


def test_errors_name_the_option_or_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    cfg = ScanConfig(ranges=["10.0.0.0/8", "10.0.0.999"])  # built by hand: not validated yet
    with pytest.raises(UsageError, match=r"^--range: .* at column"):
        cfg.targets()
    bad = tmp_path / "bad.txt"
    bad.write_text("10.0.0.1\n\n  10.0.0.x\n")
    cfg = ScanConfig(ranges=["10.0.0.1"], include_files=[str(bad)])
    with pytest.raises(UsageError, match=rf"^--includefile: {bad}:3:"):
        cfg.targets()
    with pytest.raises(UsageError, match="^--udp-ports: "):
        ScanConfig(ranges=["10.0.0.1"], ports=[("udp", "70000")]).targets()


def test_echo_cidr() -> None:
    cfg = parse_args(["10.0.0.0/24", "--exclude", "10.0.0.0/26", "[fd00::]-[fd00::2]"])
    assert cidr_text(cfg) == "10.0.0.64/26\n10.0.0.128/25\nfd00::/127\nfd00::2/128\n"
