"""UDP probe kind: masscan's payload table, cookies in the named fields (the §4 observed values),
frames against scapy/dpkt, grouping of mixed batches, and reply classification."""

from __future__ import annotations

import ipaddress

import dpkt
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.all import ICMP, IP, UDP, Dot1Q, Ether, IPv6, Raw

from tidescan import siphash
from tidescan.packets.triage import parse_frames
from tidescan.probes.base import CLOSED, OPEN, UDP_BASE, Ours, Targets4, Targets6
from tidescan.probes.udp import UdpProbe
from tidescan.probes.udp_payloads import MASSCAN_132_PORTS, PAYLOADS, payload_for

MAC_ME, MAC_GW = "02:00:00:00:00:01", "66:55:44:33:22:11"
ME4 = int(ipaddress.IPv4Address("10.255.255.1"))
ME6 = int(ipaddress.IPv6Address("fd00::1"))
OURS = Ours(ip4_first=ME4, ip4_last=ME4, ip6=ME6, port_first=59031, port_last=59047)


def ip4(a: str) -> int:
    return int(ipaddress.IPv4Address(a))


def expected_payload(port: int, seq: int) -> bytes:
    r = PAYLOADS.get(port)
    if r is None:
        return b""
    data = bytearray(r.data)
    if r.cookie:
        c = r.cookie
        data[c.offset:c.offset + c.width] = (seq & c.mask).to_bytes(c.width, "big")
    return bytes(data)


def one(probe: UdpProbe, them: int, port: int, me: int, pm: int, entropy: int) -> bytes:
    seq = probe.seq4(them, UDP_BASE + port, me, pm, entropy)
    buf = probe.new_buffer(1)
    n = probe.build(buf, Targets4(them, UDP_BASE + port, me, pm, seq))
    return buf[0, :n[0]].tobytes()


def test_observed_cookie_values_from_reference() -> None:
    """masscan.md §4 [obs], seed 1, target 10.0.0.1, source 10.255.255.1 (the §6 lab)."""
    probe = UdpProbe(MAC_ME, MAC_GW)
    dns = one(probe, ip4("10.0.0.1"), 53, ME4, 59031, 1)
    assert dns[42:44].hex() == "9227"
    snmp = one(probe, ip4("10.0.0.1"), 161, ME4, 59031, 1)
    assert snmp[42 + 17:42 + 21].hex() == "789a8d3b"
    # memcached's observed id came from HEAD's second source port, base + 16 (§6)
    mc = one(probe, ip4("10.0.0.1"), 11211, ME4, 59031 + 16, 1)
    assert mc[42:44].hex() == "e3c0"


def test_payload_table_matches_reference() -> None:
    lengths = {7: 12, 17: 12, 19: 12, 53: 31, 69: 24, 111: 40, 123: 48, 137: 50, 138: 174, 161: 59,
               443: 115, 500: 352, 520: 24, 1645: 20, 1646: 20, 1701: 60, 1812: 20, 1813: 20,
               2049: 40, 5683: 21, 11211: 15, 16464: 16, 16465: 16, 16470: 16, 16471: 16,
               27960: 14}
    for port, n in lengths.items():
        assert len(PAYLOADS[port].data) == n, port
    assert set(PAYLOADS) == set(lengths) | {1900, 5060}
    assert MASSCAN_132_PORTS == {7, 17, 19, 53, 123, 137, 161, 1900, 5060, 5683, 11211,
                                 16464, 16465, 16470, 16471, 27960}
    assert PAYLOADS[53].data[12:26] == b"\x07version\x04bind\x00"
    assert PAYLOADS[1900].data.startswith(b"M-SEARCH * HTTP/1.1\r\n")
    assert b"ST: ssdp:all\r\n" in PAYLOADS[1900].data and b"masscan/1.x" in PAYLOADS[1900].data
    ike = PAYLOADS[500].data  # header length 352, SA 324, proposal 312 with 13 transforms
    assert (ike[24:28], ike[30:32], ike[42:44], ike[47]) == (b"\0\0\x01\x60", b"\x01\x44",
                                                             b"\x01\x38", 13)
    isakmp = dpkt.ip.IP(bytes(IP(src="1.1.1.1", dst="2.2.2.2") / UDP(sport=500, dport=500)
                              / Raw(PAYLOADS[500].data)))
    assert len(isakmp.data.data) == 352
    assert payload_for(65536 + 161) == PAYLOADS[161].data and payload_for(9999) == b""


ports = st.sampled_from(sorted(PAYLOADS) + [9, 80, 1234, 65535])


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 2**32 - 1), ports, st.integers(1024, 65535)),
                min_size=1, max_size=10), st.none() | st.integers(0, 4095), st.integers(0, 255))
def test_v4_frames_match_scapy_and_dpkt(rows: list[tuple[int, int, int]], vlan: int | None,
                                        ttl: int) -> None:
    probe = UdpProbe(MAC_ME, MAC_GW, ttl=ttl, vlan=vlan)
    them = np.array([r[0] for r in rows], dtype=np.uint64)
    pt = np.array([UDP_BASE + r[1] for r in rows], dtype=np.uint64)
    pm = np.array([r[2] for r in rows], dtype=np.uint64)
    seq = probe.seq4(them, pt, ME4, pm, 7)
    buf = np.full((len(rows), probe.frame_len(4)), 0x5A, np.uint8)  # unprepared, dirty
    lengths = probe.build(buf, Targets4(them, pt, ME4, pm, seq))
    for i, (t, port, sport) in enumerate(rows):
        frame = buf[i, :lengths[i]].tobytes()
        s = int(seq[i])
        eth = Ether(src=MAC_ME, dst=MAC_GW)
        if vlan is not None:
            eth = eth / Dot1Q(vlan=vlan, prio=0)
        ref = eth / IP(src="10.255.255.1", dst=str(ipaddress.IPv4Address(t)), ttl=ttl, flags=0,
                       id=(t ^ port ^ s) & 0xFFFF) / UDP(sport=sport, dport=port) / Raw(
            expected_payload(port, s))
        assert frame == bytes(ref), port
        ip = dpkt.ethernet.Ethernet(frame).data
        udp = ip.data
        want, want_ip = udp.sum, ip.sum
        udp.sum = ip.sum = 0  # dpkt recomputes both on serialisation
        again = dpkt.ip.IP(bytes(ip))
        assert (again.sum, again.data.sum) == (want_ip, want)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 2**128 - 1), ports), min_size=1, max_size=6))
def test_v6_frames_match_scapy(rows: list[tuple[int, int]]) -> None:
    probe = UdpProbe(MAC_ME, MAC_GW)
    hi = np.array([r[0] >> 64 for r in rows], dtype=np.uint64)
    lo = np.array([r[0] & (2**64 - 1) for r in rows], dtype=np.uint64)
    pt = np.array([UDP_BASE + r[1] for r in rows], dtype=np.uint64)
    seq = probe.seq6(hi, lo, pt, ME6 >> 64, ME6 & (2**64 - 1), 40000, 3)
    assert int(seq[0]) == siphash.cookie6(rows[0][0], UDP_BASE + rows[0][1], ME6, 40000, 3) & 0xFFFFFFFF
    buf = probe.new_buffer(len(rows), version=6)
    lengths = probe.build(buf, Targets6(hi, lo, pt, ME6 >> 64, ME6 & (2**64 - 1), 40000, seq))
    for i, (t, port) in enumerate(rows):
        ref = (Ether(src=MAC_ME, dst=MAC_GW)
               / IPv6(src="fd00::1", dst=str(ipaddress.IPv6Address(t)), hlim=255)
               / UDP(sport=40000, dport=port) / Raw(expected_payload(port, int(seq[i]))))
        assert buf[i, :lengths[i]].tobytes() == bytes(ref)


def test_zero_checksum_is_sent_as_ffff() -> None:
    """Sweep all 65536 DNS ids for one target: the ids whose checksum computes to 0 (one's
    complement sum 0xFFFF; nonzero data never sums to 0, so 0xFFFF is otherwise impossible) go
    out as 0xFFFF, as RFC 768 asks and scapy does."""
    probe = UdpProbe(MAC_ME, MAC_GW)
    n = 65536
    buf = probe.new_buffer(n)
    seq = np.arange(n, dtype=np.uint32)
    probe.build(buf, Targets4(ip4("10.1.2.3"), UDP_BASE + 53, ME4, 40000, seq))
    csum = buf[:, 40:42].view(">u2")[:, 0]
    assert not (csum == 0).any()
    assert 1 <= (csum == 0xFFFF).sum() <= 2
    for i in np.flatnonzero(csum == 0xFFFF):
        f = Ether(buf[i, :73].tobytes())
        del f[UDP].chksum
        assert Ether(bytes(f))[UDP].chksum == 0xFFFF  # scapy agrees


def test_mixed_batch_groups_and_lengths() -> None:
    probe = UdpProbe(MAC_ME, MAC_GW)
    ports_ = [53, 9999, 161, 53, 500, 9999, 1900, 161]
    pt = np.array([UDP_BASE + p for p in ports_], dtype=np.uint64)
    them = np.arange(1, len(ports_) + 1, dtype=np.uint64) + ip4("10.0.0.0")
    seq = probe.seq4(them, pt, ME4, 40000, 11)
    buf = probe.new_buffer(len(ports_))
    lengths = probe.build(buf, Targets4(them, pt, ME4, 40000, seq))
    assert lengths.tolist() == [42 + len(payload_for(p)) for p in ports_]
    isakmp = buf[4, 42:50].tobytes()
    assert isakmp == b"\0\0\0\0" + int(seq[4]).to_bytes(4, "big")  # 32-bit seq in 8 bytes
    # a second batch to other ports rewrites the rows (no stale payload bytes count)
    lengths2 = probe.build(buf, Targets4(them[:2], UDP_BASE + 123, ME4, 40000, seq[:2]))
    assert lengths2.tolist() == [90, 90]
    assert buf[1, 42:90].tobytes() == PAYLOADS[123].data


def test_classify_replies_and_unreachables() -> None:
    probe = UdpProbe(MAC_ME, MAC_GW)
    t = ip4("10.0.0.53")
    e = 99

    def cookie(port: int, pm: int = 59040) -> int:
        return siphash.cookie4(t, UDP_BASE + port, ME4, pm, e) & 0xFFFFFFFF

    def reply(port: int, payload: bytes, dst: str = "10.255.255.1", dport: int = 59040) -> bytes:
        return bytes(Ether() / IP(src="10.0.0.53", dst=dst) / UDP(sport=port, dport=dport)
                     / Raw(payload))

    dns_ok = reply(53, (cookie(53) & 0xFFFF).to_bytes(2, "big") + b"\x81\x80" + bytes(8))
    dns_bad = reply(53, ((cookie(53) + 1) & 0xFFFF).to_bytes(2, "big") + bytes(10))
    snmp_long = reply(161, b"\x30\x81\x90\x02\x01\x00\x04\x06public\xa2\x81\x82\x02\x04"
                      + (cookie(161) & 0x7FFFFFFF).to_bytes(4, "big") + bytes(20))
    ntp = reply(123, b"\x97\x00\x03\x2a" + bytes(40))          # no cookie field: unverified
    stray = reply(53, b"\0" * 12, dport=1234)                   # port not ours
    other = reply(53, b"\0" * 12, dst="10.255.255.9")           # address not ours
    sent = Ether(one(probe, ip4("10.0.0.77"), 161, ME4, 59035, e))
    unreach = bytes(Ether() / IP(src="10.0.0.77", dst="10.255.255.1") / ICMP(type=3, code=3)
                    / bytes(sent[IP])[:28])
    frames = [dns_ok, dns_bad, snmp_long, ntp, stray, other, unreach]
    r = probe.classify(parse_frames(*np_block(frames)), e, OURS)
    assert r.rows.tolist() == [0, 1, 2, 3, 6]
    assert r.status.tolist() == [OPEN, OPEN, OPEN, OPEN, CLOSED]
    assert r.port.tolist() == [UDP_BASE + p for p in (53, 53, 161, 123, 161)]
    assert r.verified.tolist() == [True, False, True, False, False]
    assert int(r.ip4[4]) == ip4("10.0.0.77")


def np_block(frames: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
    buf = np.zeros((len(frames), 512), np.uint8)
    for i, f in enumerate(frames):
        buf[i, :len(f)] = np.frombuffer(f, np.uint8)
    return buf, np.array([len(f) for f in frames])


def test_bad_options() -> None:
    from tidescan.errors import UsageError
    with pytest.raises(UsageError, match="--ttl"):
        UdpProbe(MAC_ME, MAC_GW, ttl=300)
    with pytest.raises(UsageError, match="--vlan"):
        UdpProbe(MAC_ME, MAC_GW, vlan=5000)
