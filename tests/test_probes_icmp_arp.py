"""ICMP echo and ARP probe kinds: frames against masscan 1.3.2 and scapy, reply classification."""

from __future__ import annotations

import ipaddress

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.all import ARP, ICMP, IP, Dot1Q, Ether, ICMPv6EchoReply, ICMPv6EchoRequest, IPv6, Raw

from tidescan import siphash
from tidescan.packets.triage import parse_frames
from tidescan.probes.arp import ArpProbe
from tidescan.probes.base import ARP_PORT, ICMP_ECHO, OPEN, UP, Ours, Targets4, Targets6
from tidescan.probes.icmp_echo import ECHO_PAYLOAD, IcmpEchoProbe

MAC_ME, MAC_GW = "62:4a:6c:17:9f:9a", "66:55:44:33:22:11"
ME4 = int(ipaddress.IPv4Address("10.199.0.5"))
ME6 = int(ipaddress.IPv6Address("fd00::5"))
OURS = Ours(ip4_first=ME4, ip4_last=ME4, ip6=ME6)

# Captured from Debian's masscan 1.3.2 (`--ping --seed 1 --source-ip 10.199.0.5 --source-port 40000
# --router-mac 66:55:44:33:22:11`, target 10.199.0.2) in a veth lab.
MASSCAN_132_ECHO = bytes.fromhex(
    "665544332211624a6c179f9a08004500004c4f950000ff0156870ac700050ac7000208000149e81023a3"
    + ECHO_PAYLOAD.hex())


def block(frames: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
    buf = np.zeros((len(frames), 256), np.uint8)
    for i, f in enumerate(frames):
        buf[i, :len(f)] = np.frombuffer(f, np.uint8)
    return buf, np.array([len(f) for f in frames])


def test_echo_matches_masscan_132_except_ip_id() -> None:
    probe = IcmpEchoProbe(MAC_ME, MAC_GW)
    them = int(ipaddress.IPv4Address("10.199.0.2"))
    seq = probe.seq4(them, ICMP_ECHO, ME4, 40000, 1)  # the source port is ignored
    assert int(seq) == siphash.cookie4(them, ICMP_ECHO, ME4, 0, 1) & 0xFFFFFFFF == 0xE81023A3
    buf = probe.new_buffer(1)
    n = probe.build(buf, Targets4(them, ICMP_ECHO, ME4, 40000, seq))
    ours = buf[0, :n[0]].tobytes()
    assert len(ours) == len(MASSCAN_132_ECHO) == 90
    diff = [i for i in range(90) if ours[i] != MASSCAN_132_ECHO[i]]
    assert set(diff) <= {18, 19, 24, 25}  # IP ID and IP checksum only
    # masscan derives this one IP ID from its TCP-style cookie (with the source port):
    tcp_style = siphash.cookie4(them, ICMP_ECHO, ME4, 40000, 1) & 0xFFFFFFFF
    assert (them ^ ICMP_ECHO ^ tcp_style) & 0xFFFF == 0x4F95
    assert Ether(ours)[IP].chksum == Ether(bytes(Ether(ours)))[IP].chksum


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 2**32 - 1), st.integers(1, 2**128 - 1)), min_size=1,
                max_size=6), st.none() | st.integers(0, 4095), st.integers(0, 255))
def test_echo_frames_match_scapy(targets: list[tuple[int, int]], vlan: int | None, ttl: int) -> None:
    probe = IcmpEchoProbe(MAC_ME, MAC_GW, ttl=ttl, vlan=vlan)
    t4 = np.array([t[0] for t in targets], dtype=np.uint64)
    seq4 = probe.seq4(t4, ICMP_ECHO, ME4, 0, 5)
    b4 = probe.new_buffer(len(targets))
    l4 = probe.build(b4, Targets4(t4, ICMP_ECHO, ME4, 0, seq4))
    hi = np.array([t[1] >> 64 for t in targets], dtype=np.uint64)
    lo = np.array([t[1] & (2**64 - 1) for t in targets], dtype=np.uint64)
    seq6 = probe.seq6(hi, lo, ICMP_ECHO, ME6 >> 64, ME6 & (2**64 - 1), 0, 5)
    b6 = probe.new_buffer(len(targets), 6)
    l6 = probe.build(b6, Targets6(hi, lo, ICMP_ECHO, ME6 >> 64, ME6 & (2**64 - 1), 0, seq6))
    for i, (a4, a6) in enumerate(targets):
        eth = Ether(src=MAC_ME, dst=MAC_GW)
        if vlan is not None:
            eth = eth / Dot1Q(vlan=vlan, prio=0)
        s4, s6 = int(seq4[i]), int(seq6[i])
        ref4 = eth / IP(src="10.199.0.5", dst=str(ipaddress.IPv4Address(a4)), ttl=ttl, flags=0,
                        id=(a4 ^ s4) & 0xFFFF) / ICMP(type=8, id=s4 >> 16, seq=s4 & 0xFFFF) / Raw(
            ECHO_PAYLOAD)
        assert b4[i, :l4[i]].tobytes() == bytes(ref4)
        ref6 = eth / IPv6(src="fd00::5", dst=str(ipaddress.IPv6Address(a6)), hlim=ttl) / \
            ICMPv6EchoRequest(id=s6 >> 16, seq=s6 & 0xFFFF, data=ECHO_PAYLOAD)
        assert b6[i, :l6[i]].tobytes() == bytes(ref6)


def test_echo_classify() -> None:
    probe = IcmpEchoProbe(MAC_ME, MAC_GW)
    them = int(ipaddress.IPv4Address("10.199.0.9"))
    c = siphash.cookie4(them, ICMP_ECHO, ME4, 0, 77) & 0xFFFFFFFF
    t6 = int(ipaddress.IPv6Address("fd00::9"))
    c6 = siphash.cookie6(t6, ICMP_ECHO, ME6, 0, 77) & 0xFFFFFFFF
    frames = [
        bytes(Ether() / IP(src="10.199.0.9", dst="10.199.0.5") / ICMP(type=0, id=c >> 16, seq=c & 0xFFFF)),
        bytes(Ether() / IP(src="10.199.0.9", dst="10.199.0.5") / ICMP(type=0, id=c >> 16, seq=(c + 1) & 0xFFFF)),
        bytes(Ether() / IP(src="10.199.0.9", dst="10.199.0.6") / ICMP(type=0, id=c >> 16, seq=c & 0xFFFF)),
        bytes(Ether() / IP(src="10.199.0.9", dst="10.199.0.5") / ICMP(type=8, id=c >> 16, seq=c & 0xFFFF)),
        bytes(Ether() / IPv6(src="fd00::9", dst="fd00::5") / ICMPv6EchoReply(id=c6 >> 16, seq=c6 & 0xFFFF)),
    ]
    r = probe.classify(parse_frames(*block(frames)), 77, OURS)
    assert r.rows.tolist() == [0, 4]
    assert r.status.tolist() == [OPEN, OPEN] and r.port.tolist() == [ICMP_ECHO, ICMP_ECHO]
    assert int(r.ip4[0]) == them and r.is_v6.tolist() == [False, True]
    assert int(r.ip6_lo[1]) == t6 & (2**64 - 1)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=8), st.none() | st.integers(0, 4095))
def test_arp_frames_match_scapy(targets: list[int], vlan: int | None) -> None:
    probe = ArpProbe(MAC_ME, vlan=vlan)
    t = np.array(targets, dtype=np.uint64)
    seq = probe.seq4(t, ARP_PORT, ME4, 0, 1)
    assert not seq.any()
    buf = np.full((len(targets), 64), 0x33, np.uint8)  # not prepared: build notices
    lengths = probe.build(buf, Targets4(t, ARP_PORT, ME4, 0, seq))
    for i, a in enumerate(targets):
        eth = Ether(src=MAC_ME, dst="ff:ff:ff:ff:ff:ff")
        if vlan is not None:
            eth = eth / Dot1Q(vlan=vlan, prio=0)
        ref = eth / ARP(op=1, hwsrc=MAC_ME, psrc="10.199.0.5", hwdst="00:00:00:00:00:00",
                        pdst=str(ipaddress.IPv4Address(a)))
        assert buf[i, :lengths[i]].tobytes() == bytes(ref)


def test_arp_classify_and_ipv6_refused() -> None:
    probe = ArpProbe(MAC_ME)
    frames = [
        bytes(Ether() / ARP(op=2, hwsrc="00:0c:29:33:44:55", psrc="10.199.0.9", pdst="10.199.0.5")),
        bytes(Ether() / ARP(op=1, hwsrc="00:0c:29:33:44:55", psrc="10.199.0.9", pdst="10.199.0.5")),
        bytes(Ether() / ARP(op=2, hwsrc="00:0c:29:33:44:55", psrc="10.199.0.9", pdst="10.199.0.7")),
    ]
    p = parse_frames(*block(frames))
    r = probe.classify(p, 0, OURS)
    assert r.rows.tolist() == [0] and int(r.status[0]) == UP and int(r.port[0]) == ARP_PORT
    assert int(r.ip4[0]) == int(ipaddress.IPv4Address("10.199.0.9"))
    assert int(p.arp_sha[r.rows[0]]) == 0x000C29334455
    with pytest.raises(ValueError):
        probe.build(probe.new_buffer(1), Targets6(0, 1, ARP_PORT, 0, 1, 0, 0))
