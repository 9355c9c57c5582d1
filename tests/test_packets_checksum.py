"""Vectorized Internet checksum against the RFC 1071 definition, scapy and a naive reference."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.all import IP, UDP, Raw
from scapy.utils import checksum as scapy_checksum

from tidescan.packets.checksum import (checksum_rows, finish, fold, internet_checksum, pseudo_sum4,
                                       pseudo_sum6, sum16_rows, sum16_u32, sum16_u64)


def naive(data: bytes, initial: int = 0) -> int:
    if len(data) % 2:
        data += b"\0"
    s = initial + sum(int.from_bytes(data[i:i + 2], "big") for i in range(0, len(data), 2))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def test_rfc1071_example() -> None:
    # RFC 1071 section 3 example: bytes 00 01 f2 03 f4 f5 f6 f7 sum to ddf2 (checksum 220d).
    data = bytes.fromhex("0001f203f4f5f6f7")
    assert internet_checksum(data) == 0x220D
    assert int(fold(sum16_rows(np.frombuffer(data, np.uint8)[None, :]))[0]) == 0xDDF2


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(min_size=0, max_size=70), min_size=1, max_size=8), st.integers(0, 2**20))
def test_rows_match_scalar(rows: list[bytes], initial: int) -> None:
    width = max(len(r) for r in rows)
    block = np.zeros((len(rows), width), dtype=np.uint8)  # zero padding does not change the sum
    for i, r in enumerate(rows):
        block[i, :len(r)] = np.frombuffer(r, np.uint8)
    got = checksum_rows(block, np.full(len(rows), initial, dtype=np.uint64))
    for i, r in enumerate(rows):
        assert int(got[i]) == naive(r, initial) == internet_checksum(r, initial)
        assert internet_checksum(r) == scapy_checksum(r) if r else True


@given(st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=20))
def test_halves_and_quarters(xs: list[int]) -> None:
    a = np.array(xs, dtype=np.uint32)
    assert sum16_u32(a).tolist() == [(x >> 16) + (x & 0xFFFF) for x in xs]
    b = np.array(xs, dtype=np.uint64) * np.uint64(2**32 + 7)
    want = [sum((int(x) >> s) & 0xFFFF for s in (0, 16, 32, 48)) for x in b]
    assert sum16_u64(b).tolist() == want


def test_fold_limits() -> None:
    assert int(fold(np.uint32(0xFFFFFFFF))) == 0xFFFF
    assert int(fold(np.uint64(2**64 - 1))) == 0xFFFF
    assert int(fold(2**64 - 1)) == 0xFFFF
    assert int(finish(np.uint32(0xFFFF))) == 0
    assert int(finish(np.uint32(0))) == 0xFFFF


def test_pseudo_header_sums_match_scapy() -> None:
    pkt = IP(src="10.1.2.3", dst="192.168.77.1") / UDP(sport=1, dport=2) / Raw(b"xyz")
    raw = bytes(pkt)
    udp = raw[20:]
    zeroed = udp[:6] + b"\0\0" + udp[8:]
    ps = pseudo_sum4(0x0A010203, 0xC0A84D01, 17, len(udp))
    assert internet_checksum(zeroed, ps) == int.from_bytes(udp[6:8], "big")
    # IPv6: every 16-bit word of both addresses plus proto and the 32-bit length
    src, dst = (1 << 127) | 0xABCD, 0x20010DB8 << 96 | 1
    ws = sum((a >> (16 * i)) & 0xFFFF for a in (src, dst) for i in range(8))
    assert pseudo_sum6(src, dst, 6, 70000) == ws + 6 + (70000 >> 16) + (70000 & 0xFFFF)
