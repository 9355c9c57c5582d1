"""The real oracle: frames sent by Debian's masscan 1.3.2 in a veth lab, rebuilt by our probes
from the same inputs (seed, addresses, ports, MACs) and compared byte for byte.

Known and asserted differences: the IPv4 ID of ICMP echo requests (masscan derives it from its
TCP-style cookie); and masscan 1.3.2 garbles UDP frames longer than 126 bytes (its SSDP and SIP
probes repeat the payload from its start at frame byte 126, and checksum that), so those frames
are compared up to byte 126, and the repetition is asserted.
"""

from __future__ import annotations

import shutil
import socket
import time

import numpy as np
import pytest

from tidescan import netns
from tidescan.packets.template import SynTemplate
from tidescan.probes.arp import ArpProbe
from tidescan.probes.base import ARP_PORT, ICMP_ECHO, UDP_BASE, Probe, Targets4
from tidescan.probes.icmp_echo import IcmpEchoProbe
from tidescan.probes.tcp_syn import TcpSynProbe
from tidescan.probes.udp import UdpProbe
from tidescan.probes.udp_payloads import MASSCAN_132_PORTS

pytestmark = [pytest.mark.lab,
              pytest.mark.skipif(shutil.which("masscan") is None, reason="masscan not installed")]

ROUTER = "66:55:44:33:22:11"
SRC_IP, DST_IP = "10.198.7.5", "10.198.7.2"
UDP_PORTS = sorted(MASSCAN_132_PORTS) + [9999]
GARBLED_FROM = 126


def ip4(a: str) -> int:
    return int.from_bytes(socket.inet_aton(a), "big")


def capture(pair: netns.VethPair, args: list[str]) -> list[bytes]:
    """Run masscan in namespace a; return the frames seen on b from our source IP."""
    with netns.entered(pair.b.name):
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
    try:
        s.bind((pair.b_if, 0))
        s.settimeout(0.5)
        out = pair.a.run(["masscan", "-e", pair.a_if, "--source-ip", SRC_IP, "--seed", "1",
                          "--rate", "2000", "--wait", "0", *args], check=False, timeout=60)
        assert out.returncode == 0, out.stderr
        frames = []
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                frames.append(s.recv(4096))
            except socket.timeout:
                break
    finally:
        s.close()
    src = socket.inet_aton(SRC_IP)
    ours = [f for f in frames if (f[12:14] == b"\x08\x00" and f[26:30] == src)
            or (f[12:14] == b"\x08\x06" and f[28:32] == src)]
    return ours


def rebuild(probe: Probe, them: int, port_them: int, port_me: int) -> bytes:
    seq = probe.seq4(them, port_them, ip4(SRC_IP), port_me, 1)
    buf = probe.new_buffer(1)
    n = probe.build(buf, Targets4(them, port_them, ip4(SRC_IP), port_me, seq))
    return buf[0, :n[0]].tobytes()


def test_frames_match_masscan_132() -> None:
    with netns.VethPair(tag="pm", a_ip="10.198.7.1/24", b_ip="10.198.7.2/24") as pair:
        mac = pair.mac("a")
        ports = "80,443,8080," + ",".join(f"U:{p}" for p in UDP_PORTS)
        scan = capture(pair, ["--router-mac", ROUTER, "--source-port", "40000", "--ping",
                              "-p", ports, DST_IP])
        arp = capture(pair, ["--arp", DST_IP, "10.198.7.9"])

    syn = TcpSynProbe(SynTemplate(mac, ROUTER, mss=None))  # 1.3.2: window 1024, no options
    udp = UdpProbe(mac, ROUTER)
    icmp = IcmpEchoProbe(mac, ROUTER)
    them = ip4(DST_IP)
    seen = {"tcp": set(), "udp": set(), "icmp": 0}
    for f in scan:
        proto = f[23]
        if proto == 6:
            port = int.from_bytes(f[36:38], "big")
            assert f == rebuild(syn, them, port, 40000), port
            seen["tcp"].add(port)
        elif proto == 17:
            port = int.from_bytes(f[36:38], "big")
            mine = rebuild(udp, them, UDP_BASE + port, 40000)
            assert len(mine) == len(f), port
            if len(f) <= GARBLED_FROM:
                assert mine == f, port
            else:  # masscan 1.3.2 bug: from byte 126 on it repeats the payload from its start
                assert mine[:40] == f[:40] and mine[42:GARBLED_FROM] == f[42:GARBLED_FROM], port
                assert f[GARBLED_FROM:] == mine[42:42 + len(f) - GARBLED_FROM], port
            seen["udp"].add(port)
        elif proto == 1:
            mine = rebuild(icmp, them, ICMP_ECHO, 40000)
            diff = {i for i in range(len(f)) if mine[i] != f[i]}
            assert len(mine) == len(f) and diff <= {18, 19, 24, 25}
            seen["icmp"] += 1
    assert seen["tcp"] == {80, 443, 8080}
    assert seen["udp"] == set(UDP_PORTS)
    assert seen["icmp"] == 1

    arp_probe = ArpProbe(mac)
    targets = {int.from_bytes(f[38:42], "big") for f in arp}
    assert targets == {them, ip4("10.198.7.9")}
    for f in arp:
        assert f == rebuild(arp_probe, int.from_bytes(f[38:42], "big"), ARP_PORT, 0)
    assert np.frombuffer(arp[0][:6], np.uint8).tolist() == [255] * 6
