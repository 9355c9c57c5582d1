"""SYN frames: byte-for-byte against masscan's captured SYN, scapy-built frames, and checksums
re-verified by scapy and dpkt."""

from __future__ import annotations

import ipaddress

import dpkt
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.all import IP, TCP, Dot1Q, Ether, IPv6

from tidescan.errors import UsageError
from tidescan.packets.template import SynTemplate, tcp_syn_options

SRC_MAC, DST_MAC = "02:00:00:00:00:01", "66:55:44:33:22:11"

# masscan reference §6: the SYN captured from masscan HEAD (58 bytes, window 1025, MSS 1460).
CAPTURED_HEAD_SYN = bytes.fromhex(
    "665544332211 020000000001 0800"
    "4500 002c 3ecc 0000 ff06 68f9 0affff01 0a000006"
    "9c40 0050 41ea3e9a 00000000 6002 0401 630a 0000 0204 05b4".replace(" ", ""))


def ip4(text: str) -> int:
    return int(ipaddress.IPv4Address(text))


def test_matches_captured_masscan_head_syn() -> None:
    t = SynTemplate(SRC_MAC, DST_MAC, window=1025, mss=1460)
    frame = t.frame_v4(ip4("10.0.0.6"), 80, ip4("10.255.255.1"), 40000, 0x41EA3E9A)
    assert frame == CAPTURED_HEAD_SYN
    assert (0x0A000006 ^ 80 ^ 0x41EA3E9A) & 0xFFFF == 0x3ECC  # the IP ID rule


def test_mss_none_is_masscan_132_frame() -> None:
    t = SynTemplate(SRC_MAC, DST_MAC, mss=None)
    frame = t.frame_v4(ip4("10.0.0.6"), 80, ip4("10.255.255.1"), 40000, 0x41EA3E9A)
    assert len(frame) == t.frame_len_v4 == 54
    assert frame[46:48] == b"\x50\x02"      # data offset 5, SYN
    assert frame[48:50] == b"\x04\x00"      # window 1024
    assert frame[16:18] == b"\x00\x28"      # IP total length 40
    assert frame[20:22] == b"\x00\x00"      # DF not set
    _assert_checksums_ok(frame)


def test_defaults() -> None:
    t = SynTemplate(SRC_MAC, DST_MAC)
    assert t.options == b"\x02\x04\x05\xb4"  # MSS 1460 (masscan HEAD / ZMap default)
    assert t.window == 1024 and t.ttl == 255
    assert t.frame_len_v4 == 58 and t.frame_len_v6 == 78


@pytest.mark.parametrize("kw,opts", [
    (dict(mss=None), b""),
    (dict(mss=1400, sackok=True), b"\x02\x04\x05\x78\x01\x01\x04\x02"),
    (dict(mss=None, wscale=3), b"\x01\x03\x03\x03"),
    (dict(mss=1460, sackok=True, tsecho=0x12345678, wscale=7),
     bytes.fromhex("020405b4 0402080a 12345678 00000000 01030307".replace(" ", ""))),
    (dict(mss=None, tsecho=1), bytes.fromhex("0101080a0000000100000000")),
])
def test_option_layouts(kw: dict, opts: bytes) -> None:
    assert tcp_syn_options(**kw) == opts


@pytest.mark.parametrize("kw,option", [
    (dict(ttl=256), "--ttl"), (dict(mss=70000), "--tcp-mss"), (dict(wscale=15), "--tcp-wscale"),
    (dict(vlan=4096), "--vlan"), (dict(tsecho=-1), "--tcp-tsecho"), (dict(window=-2), "--tcp-window"),
])
def test_bad_values_name_the_option(kw: dict, option: str) -> None:
    with pytest.raises(UsageError, match=option):
        SynTemplate(SRC_MAC, DST_MAC, **kw)


def _scapy_opts(mss: int | None, wscale: int | None, sackok: bool, tsecho: int | None) -> list:
    o: list = []
    if mss is not None:
        o.append(("MSS", mss))
    if tsecho is not None:
        o += ([("SAckOK", b"")] if sackok else [("NOP", None), ("NOP", None)])
        o.append(("Timestamp", (tsecho, 0)))
    elif sackok:
        o += [("NOP", None), ("NOP", None), ("SAckOK", b"")]
    if wscale is not None:
        o += [("NOP", None), ("WScale", wscale)]
    return o


def _assert_checksums_ok(frame: bytes) -> None:
    """Checksums as recomputed independently by scapy and by dpkt."""
    pkt = Ether(frame)
    l3 = pkt[IP] if IP in pkt else pkt[IPv6]
    fresh = pkt.copy()
    if IP in fresh:
        del fresh[IP].chksum
    del fresh[TCP].chksum
    again = Ether(bytes(fresh))
    if IP in pkt:
        assert again[IP].chksum == l3.chksum
    assert again[TCP].chksum == pkt[TCP].chksum
    eth = dpkt.ethernet.Ethernet(frame)
    ip = eth.data
    tcp = ip.data
    want_tcp = tcp.sum
    tcp.sum = 0
    if isinstance(ip, dpkt.ip.IP):
        want_ip = ip.sum
        ip.sum = 0
        rebuilt = dpkt.ip.IP(bytes(ip))
        assert rebuilt.sum == want_ip
    else:
        rebuilt = dpkt.ip6.IP6(bytes(ip))
    assert rebuilt.data.sum == want_tcp


opts_st = st.fixed_dictionaries({
    "mss": st.none() | st.integers(0, 65535),
    "wscale": st.none() | st.integers(0, 14),
    "sackok": st.booleans(),
    "tsecho": st.none() | st.integers(0, 2**32 - 1),
    "vlan": st.none() | st.integers(0, 4095),
    "ttl": st.integers(0, 255),
    "window": st.integers(0, 65535),
})
u32 = st.integers(0, 2**32 - 1)
port = st.integers(0, 65535)


@settings(max_examples=60, deadline=None)
@given(opts_st, st.lists(st.tuples(u32, port, u32, port, u32), min_size=1, max_size=6))
def test_v4_matches_scapy(opts: dict, rows: list[tuple[int, int, int, int, int]]) -> None:
    t = SynTemplate(SRC_MAC, DST_MAC, **opts)
    arr = np.array(rows, dtype=np.uint64).T
    buf = np.full((len(rows) + 2, 80), 0xEE, dtype=np.uint8)  # unprepared garbage buffer
    n = t.build_v4(buf, arr[0], arr[1], arr[2], arr[3], arr[4])
    assert n == len(rows)
    for i, (them, pt, me, pm, seq) in enumerate(rows):
        eth = Ether(src=SRC_MAC, dst=DST_MAC)
        if opts["vlan"] is not None:
            eth = eth / Dot1Q(vlan=opts["vlan"], prio=0)
        ref = eth / IP(src=str(ipaddress.IPv4Address(me)), dst=str(ipaddress.IPv4Address(them)),
                       ttl=opts["ttl"], id=(them ^ pt ^ seq) & 0xFFFF, flags=0) / TCP(
            sport=pm, dport=pt, seq=seq, ack=0, flags="S", window=opts["window"],
            options=_scapy_opts(opts["mss"], opts["wscale"], opts["sackok"], opts["tsecho"]))
        frame = buf[i, :t.frame_len_v4].tobytes()
        assert frame == bytes(ref)
        _assert_checksums_ok(frame)


u64 = st.integers(0, 2**64 - 1)


@settings(max_examples=40, deadline=None)
@given(opts_st, st.lists(st.tuples(u64, u64, port, u64, u64, port, u32), min_size=1, max_size=5))
def test_v6_matches_scapy(opts: dict, rows: list[tuple[int, ...]]) -> None:
    t = SynTemplate(SRC_MAC, DST_MAC, **opts)
    cols = [np.array(c, dtype=np.uint64) for c in zip(*rows)]
    buf = np.zeros((len(rows), 128), dtype=np.uint8)
    t.prepare_v6(buf)
    t.build_v6(buf, *cols)
    for i, (th, tl, pt, mh, ml, pm, seq) in enumerate(rows):
        eth = Ether(src=SRC_MAC, dst=DST_MAC)
        if opts["vlan"] is not None:
            eth = eth / Dot1Q(vlan=opts["vlan"], prio=0)
        ref = eth / IPv6(src=str(ipaddress.IPv6Address(mh << 64 | ml)),
                         dst=str(ipaddress.IPv6Address(th << 64 | tl)), hlim=opts["ttl"]) / TCP(
            sport=pm, dport=pt, seq=seq, flags="S", window=opts["window"],
            options=_scapy_opts(opts["mss"], opts["wscale"], opts["sackok"], opts["tsecho"]))
        frame = buf[i, :t.frame_len_v6].tobytes()
        assert frame == bytes(ref)
        _assert_checksums_ok(frame)


def test_scalar_arguments_broadcast_and_internal_ports() -> None:
    t = SynTemplate(SRC_MAC, DST_MAC)
    buf = np.zeros((4, 64), dtype=np.uint8)
    them = np.array([ip4("10.0.0.1"), ip4("10.0.0.2"), ip4("10.0.0.3")], dtype=np.uint64)
    n = t.build_v4(buf, them, 443, ip4("10.9.9.9"), 40000, np.array([1, 2, 3], dtype=np.uint32))
    assert n == 3
    for i in range(3):
        assert buf[i, :58].tobytes() == t.frame_v4(int(them[i]), 443, ip4("10.9.9.9"), 40000, i + 1)
    # a fresh buffer is prepared whole: rows past the batch hold the template, no target fields
    assert buf[3, :58].tobytes() == t.template_bytes(4)
    # the per-target write touches only per-target columns: a second batch reuses the template
    t.build_v4(buf, them[:1], 22, 1, 2, 3)
    assert buf[0, :58].tobytes() == t.frame_v4(int(them[0]), 22, 1, 2, 3)


def test_large_batch_crosses_chunks() -> None:
    from tidescan.packets.template import CHUNK
    t = SynTemplate(SRC_MAC, DST_MAC, vlan=5)
    n = 2 * CHUNK + 123
    rng = np.random.default_rng(3)
    them, seq = (rng.integers(0, 2**32, n, dtype=np.uint64) for _ in range(2))
    ports = rng.integers(0, 65536, n, dtype=np.uint64)
    buf = np.zeros((n, 64), np.uint8)
    assert t.build_v4(buf, them, ports, 0x0A000001, 40016, seq) == n
    for i in (0, CHUNK - 1, CHUNK, 2 * CHUNK, n - 1):
        want = t.frame_v4(int(them[i]), int(ports[i]), 0x0A000001, 40016, int(seq[i]))
        assert buf[i, :t.frame_len_v4].tobytes() == want
    hi = rng.integers(0, 2**63, n, dtype=np.uint64)
    buf6 = np.zeros((n, 96), np.uint8)
    t.build_v6(buf6, hi, them, ports, 7, 9, 40000, seq)
    for i in (CHUNK - 1, CHUNK, n - 1):
        want = t.frame_v6(int(hi[i]) << 64 | int(them[i]), int(ports[i]), 7 << 64 | 9, 40000,
                          int(seq[i]))
        assert buf6[i, :t.frame_len_v6].tobytes() == want


def test_bad_buffers() -> None:
    t = SynTemplate(SRC_MAC, DST_MAC)
    with pytest.raises(ValueError, match="stride"):
        t.build_v4(np.zeros((2, 40), np.uint8), 1, 2, 3, 4, 5)
    with pytest.raises(ValueError, match="rows"):
        t.build_v4(np.zeros((1, 64), np.uint8), [1, 2], 2, 3, 4, 5)
    with pytest.raises(ValueError, match="uint8"):
        t.build_v4(np.zeros((2, 64), np.int16), 1, 2, 3, 4, 5)
