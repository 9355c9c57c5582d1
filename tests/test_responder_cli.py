"""tidescanned's command line: options -> config, one-line errors with file:line:column, packet log formats."""

from __future__ import annotations

import io
import subprocess
import sys

import pytest
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether

from tidescan.errors import ParseError, UsageError
from tidescan.responder.cli import build_parser, config_from_args
from tidescan.responder.config import DEFAULT_MAC, AddressSet, ResponderConfig, parse_address_file, parse_mac
from tidescan.responder.core import Responder
from tidescan.responder.packet_log import PacketLog


def cfg(argv: list[str], iface_mac: bytes | None = None) -> ResponderConfig:
    return config_from_args(build_parser().parse_args(["-i", "eth0", *argv]), iface_mac)


def test_mac_selection_order() -> None:
    assert cfg(["-m", "52:1c:4e:c2:a4:1f"], b"\x02" * 6).mac == bytes.fromhex("521c4ec2a41f")
    assert cfg([], b"\x02" * 6).mac == b"\x02" * 6
    assert cfg([]).mac == DEFAULT_MAC
    assert parse_mac("52-1C-4E-C2-A4-1F") == bytes.fromhex("521c4ec2a41f")
    for bad in ("52:1c:4e", "zz:1c:4e:c2:a4:1f", "521c4ec2a41f00"):
        with pytest.raises(ParseError):
            parse_mac(bad)
    with pytest.raises(UsageError, match="-m/--mac-addr"):
        cfg(["-m", "nope"])


def test_ip_file_and_list_are_merged(tmp_path) -> None:
    f = tmp_path / "ips.txt"
    f.write_text("# comment\n\n10.0.0.1\tweb server\n  fd00::1 other columns\n10.1.0.0/30\n")
    c = cfg(["--self-ip-file", str(f), "--self-ip-list", "10.0.0.9, fd00::9"])
    assert c.self_ips.v4 == {0x0A000001, 0x0A000009, 0x0A010000, 0x0A010001, 0x0A010002, 0x0A010003}
    assert c.self_ips.v6 == {0xFD000000000000000000000000000001, 0xFD000000000000000000000000000009}
    assert not c.handle_all


def test_empty_ip_file_means_every_address(tmp_path) -> None:
    f = tmp_path / "empty.txt"
    f.write_text("\n# nothing\n")
    c = cfg(["--self-ip-file", str(f)])
    assert c.handle_all and c.handles_v4(0x01020304) and c.handles_v6(1)


def test_bad_line_and_unreadable_file_errors(tmp_path) -> None:
    f = tmp_path / "bad.txt"
    f.write_text("10.0.0.1\n  10.0.0.300\n")
    with pytest.raises(UsageError, match=r"bad\.txt:2:3: bad address '10\.0\.0\.300'"):
        parse_address_file(str(f), "--self-ip-file")
    with pytest.raises(UsageError, match=r"--remote-ip-deny-file .*nope.*cannot read"):
        cfg(["--remote-ip-deny-file", str(tmp_path / "nope")])
    with pytest.raises(UsageError, match=r"--self-ip-list: column 10: bad address 'x'"):
        cfg(["--self-ip-list", "10.0.0.1,x"])
    (tmp_path / "bin.txt").write_bytes(b"10.0.0.1\n\xff\xfe\n")
    with pytest.raises(UsageError, match=r"bin\.txt:2:1: not UTF-8"):
        parse_address_file(str(tmp_path / "bin.txt"), "--self-ip-file")


def test_cli_errors_are_one_line_exit_1(tmp_path) -> None:
    run = lambda *a: subprocess.run([sys.executable, "-m", "tidescan.responder.cli", *a],  # noqa: E731
                                    capture_output=True, text=True, timeout=60)
    for args, msg in ((["--iface", "no-such-if0"], "no such interface"), ([], "required: -i/--iface"),
                      (["-i", "lo", "--format", "xml"], "invalid choice")):
        out = run(*args)
        assert out.returncode == 1 and msg in out.stderr, out.stderr
        assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr


def test_packet_log_levels_and_formats() -> None:
    mac = bytes.fromhex("021122334455")
    syn = bytes(Ether(dst="02:11:22:33:44:55", src="02:00:00:00:00:01") / IP(src="10.0.0.2", dst="10.0.0.1")
                / TCP(sport=1234, dport=80, flags="S"))
    other = bytes(Ether(dst="02:99:99:99:99:99") / IP() / TCP())
    lines = {}
    for level in range(4):
        for fmt in ("console", "logfmt"):
            buf = io.StringIO()
            r = Responder(ResponderConfig(mac=mac, self_ips=AddressSet.of(["10.0.0.1"])), clock=lambda: 1.5,
                          log=PacketLog(level, fmt, buf, clock=lambda: 1.5))
            r.respond(syn)
            r.respond(other)
            lines[level, fmt] = buf.getvalue().splitlines()
    assert lines[0, "console"] == []
    assert lines[1, "console"] == ["1.500\ttcp\tsend\t02:11:22:33:44:55\t02:00:00:00:00:01\t10.0.0.1\t10.0.0.2\ttcp\t80\t1234\tsyn-ack"]
    assert len(lines[2, "console"]) == 2 and lines[2, "console"][1].split("\t")[2] == "drop"
    assert [ln.split("\t")[2] for ln in lines[3, "console"]] == ["recv", "send", "recv", "drop"]
    assert lines[1, "logfmt"] == ['ts=1.500 proto=tcp verb=send src_mac=02:11:22:33:44:55 dst_mac=02:00:00:00:00:01 '
                                  'src=10.0.0.1 dst=10.0.0.2 transport=tcp sport=80 dport=1234 info="syn-ack"']
