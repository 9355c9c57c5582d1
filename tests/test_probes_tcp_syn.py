"""TCP SYN probe kind: cookies, frames, and which replies classify() accepts (scapy-built replies)."""

from __future__ import annotations

import ipaddress

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.all import ICMP, IP, TCP, Ether, ICMPv6DestUnreach, IPv6

from tidescan import siphash
from tidescan.packets.template import SynTemplate
from tidescan.packets.triage import parse_frames
from tidescan.probes.base import CLOSED, OPEN, Ours, Targets4, Targets6
from tidescan.probes.tcp_syn import TcpSynProbe

MAC_ME, MAC_GW = "02:00:00:00:00:01", "66:55:44:33:22:11"
ME4 = int(ipaddress.IPv4Address("10.255.255.1"))
ME6 = int(ipaddress.IPv6Address("fd00::1"))
OURS = Ours(ip4_first=ME4, ip4_last=ME4 + 3, ip6=ME6, port_first=40000, port_last=40016)
E = 0x123456789ABCDEF0


def block(frames: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
    buf = np.zeros((len(frames), 256), dtype=np.uint8)
    for i, f in enumerate(frames):
        buf[i, :len(f)] = np.frombuffer(f, np.uint8)
    return buf, np.array([len(f) for f in frames])


def test_seq_is_masscan_cookie_and_frame_is_the_captured_one() -> None:
    probe = TcpSynProbe(SynTemplate(MAC_ME, MAC_GW, window=1025, mss=1460))
    them = int(ipaddress.IPv4Address("10.0.0.6"))
    seq = probe.seq4(them, 80, ME4, 40000, 1)
    assert int(seq) == 0x41EA3E9A  # masscan reference §6 vector, low 32 bits
    assert int(probe.seq4(0x0A000001, 80, 0xC0A80164, 40000, 0)) == 0x6899F1B7
    buf = probe.new_buffer(8)
    lengths = probe.build(buf, Targets4(them, 80, ME4, 40000, seq))
    assert lengths.tolist() == [58]
    assert buf[0, :58].tobytes().hex() == (
        "665544332211020000000001080045000" "02c3ecc0000ff0668f90affff010a000006"
        "9c40005041ea3e9a0000000060020401630a0000020405b4")


def _reply_to(syn: bytes, flags: str, ack_delta: int = 1) -> bytes:
    """The frame a target's kernel would send back for our SYN."""
    s = Ether(syn)
    l3 = IP(src=s[IP].dst, dst=s[IP].src) if IP in s else IPv6(src=s[IPv6].dst, dst=s[IPv6].src)
    return bytes(Ether(src=MAC_GW, dst=MAC_ME) / l3 / TCP(
        sport=s[TCP].dport, dport=s[TCP].sport, seq=777, flags=flags,
        ack=(s[TCP].seq + ack_delta) & 0xFFFFFFFF))


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 2**32 - 1), st.integers(0, 65535),
                          st.integers(40000, 40016), st.booleans()), min_size=1, max_size=8))
def test_round_trip_v4(targets: list[tuple[int, int, int, bool]]) -> None:
    probe = TcpSynProbe(SynTemplate(MAC_ME, MAC_GW))
    them = np.array([t[0] for t in targets], dtype=np.uint64)
    ports = np.array([t[1] for t in targets], dtype=np.uint64)
    pm = np.array([t[2] for t in targets], dtype=np.uint64)
    seq = probe.seq4(them, ports, ME4, pm, E)
    buf = probe.new_buffer(len(targets))
    lengths = probe.build(buf, Targets4(them, ports, ME4, pm, seq))
    syns = [buf[i, :lengths[i]].tobytes() for i in range(len(targets))]
    replies = [_reply_to(f, "SA" if opn else "RA") for f, (_, _, _, opn) in zip(syns, targets)]
    forged = [_reply_to(f, "SA", ack_delta=2) for f in syns]           # wrong ack: not ours
    r = probe.classify(parse_frames(*block(replies + forged)), E, OURS)
    assert sorted(r.rows.tolist()) == list(range(len(targets)))
    order = np.argsort(r.rows)
    assert r.ip4[order].tolist() == them.tolist()
    assert r.port[order].tolist() == ports.tolist()
    assert r.status[order].tolist() == [OPEN if t[3] else CLOSED for t in targets]
    assert r.reason[order].tolist() == [0x12 if t[3] else 0x14 for t in targets]
    assert r.verified.all() and not r.is_v6.any()
    # the same replies with another seed are not ours
    assert len(probe.classify(parse_frames(*block(replies)), E + 1, OURS)) == 0


def test_round_trip_v6_and_address_checks() -> None:
    probe = TcpSynProbe(SynTemplate(MAC_ME, MAC_GW, sackok=True, wscale=3))
    them = [int(ipaddress.IPv6Address(a)) for a in ("fd00::80", "2001:db8::5", "fd12::1:2")]
    hi = np.array([a >> 64 for a in them], dtype=np.uint64)
    lo = np.array([a & (2**64 - 1) for a in them], dtype=np.uint64)
    seq = probe.seq6(hi, lo, 443, ME6 >> 64, ME6 & (2**64 - 1), 40000, E)
    assert int(seq[1]) == siphash.cookie6(them[1], 443, ME6, 40000, E) & 0xFFFFFFFF
    buf = probe.new_buffer(3, version=6)
    lengths = probe.build(buf, Targets6(hi, lo, 443, ME6 >> 64, ME6 & (2**64 - 1), 40000, seq))
    syns = [buf[i, :lengths[i]].tobytes() for i in range(3)]
    frames = [_reply_to(f, "SA") for f in syns]
    # addressed to another IPv6 address / to a port outside our range / a bare ACK: ignored
    other = Ether(frames[0])
    other[IPv6].dst = "fd00::2"
    frames.append(bytes(other))
    outside = Ether(frames[1])
    outside[TCP].dport = 50000
    frames.append(bytes(outside))
    frames.append(_reply_to(syns[2], "A"))
    r = probe.classify(parse_frames(*block(frames)), E, OURS)
    assert r.rows.tolist() == [0, 1, 2]
    assert r.is_v6.all() and (r.status == OPEN).all()
    assert r.ip6_hi.tolist() == hi.tolist() and r.ip6_lo.tolist() == lo.tolist()


def test_icmp_port_unreachable_quoting_our_syn() -> None:
    probe = TcpSynProbe(SynTemplate(MAC_ME, MAC_GW))
    them = int(ipaddress.IPv4Address("10.0.0.99"))
    seq = int(probe.seq4(them, 8080, ME4, 40003, E))
    syn = Ether(probe.template.frame_v4(them, 8080, ME4, 40003, seq))
    quoted = bytes(syn[IP])[:28]  # IP header + first 8 bytes of TCP, as routers quote
    router = IP(src="10.0.0.254", dst=syn[IP].src)
    good = bytes(Ether() / router / ICMP(type=3, code=3) / quoted)
    wrong_code = bytes(Ether() / router / ICMP(type=3, code=1) / quoted)
    bad_seq = bytearray(good)
    bad_seq[14 + 20 + 8 + 20 + 4] ^= 0xFF  # quoted sequence number
    r = probe.classify(parse_frames(*block([good, wrong_code, bytes(bad_seq)])), E, OURS)
    assert r.rows.tolist() == [0]
    assert (int(r.status[0]), int(r.port[0]), int(r.ip4[0])) == (CLOSED, 8080, them)
    # IPv6: ICMPv6 destination unreachable, code 4 (port unreachable)
    th = int(ipaddress.IPv6Address("fd00::99"))
    s6 = int(probe.seq6(th >> 64, th & (2**64 - 1), 22, ME6 >> 64, ME6 & (2**64 - 1), 40000, E))
    syn6 = Ether(probe.template.frame_v6(th, 22, ME6, 40000, s6))
    icmp6 = bytes(Ether() / IPv6(src="fd00::fe", dst="fd00::1") / ICMPv6DestUnreach(code=4)
                  / bytes(syn6[IPv6])[:48])
    r6 = probe.classify(parse_frames(*block([icmp6])), E, OURS)
    assert r6.rows.tolist() == [0] and int(r6.ip6_lo[0]) == th & (2**64 - 1)
    assert int(r6.port[0]) == 22 and r6.is_v6[0]
