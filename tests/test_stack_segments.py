"""The segments the stack builds are valid frames: scapy re-dissects them and agrees on every field
and on both checksums (recomputed by scapy from scratch)."""

from __future__ import annotations

import ipaddress

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.layers.inet import IP, TCP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Dot1Q, Ether

from tidescan.stack.segments import ACK, FIN, PSH, RST, SegmentBatch, SegmentTemplate, join_frames
from tidescan.stack.tcb_table import TcbTable, map_v4

SRC, DST = "02:00:00:00:00:01", "02:00:00:00:00:fe"


def check(frame: bytes, version: int, vlan: int | None, them: int, pt: int, me: int, pm: int,
          seq: int, ack: int, flags: int, payload: bytes, ttl: int, window: int) -> None:
    p = Ether(frame)
    assert p.src == SRC and p.dst == DST
    if vlan is not None:
        assert p[Dot1Q].vlan == vlan
    ip = p[IPv6] if version == 6 else p[IP]
    assert int(ipaddress.ip_address(ip.src)) == me and int(ipaddress.ip_address(ip.dst)) == them
    t = p[TCP]
    assert (t.sport, t.dport, t.seq, t.ack, int(t.flags), t.window, t.dataofs) == (
        pm, pt, seq, ack, flags, window, 5)
    assert bytes(t.payload) == payload
    if version == 4:
        assert ip.ttl == ttl and ip.flags == 0 and ip.len == 40 + len(payload)
        assert ip.id == (them ^ pt ^ seq) & 0xFFFF
        ip_sum = ip.chksum
        del ip.chksum
    else:
        assert ip.hlim == ttl and ip.plen == 20 + len(payload)
    tcp_sum = t.chksum
    del t.chksum
    again = Ether(bytes(p))
    if version == 4:
        assert again[IP].chksum == ip_sum
    assert again[TCP].chksum == tcp_sum
    assert len(frame) == len(bytes(p))


FLAGS = st.sampled_from([ACK, PSH | ACK, FIN | ACK, RST | ACK, RST, FIN | PSH | ACK])


@settings(max_examples=30, deadline=None)
@given(version=st.sampled_from([4, 6]), vlan=st.one_of(st.none(), st.integers(0, 4095)),
       ttl=st.integers(1, 255), window=st.integers(0, 65535),
       segs=st.lists(st.tuples(st.integers(0, 2**128 - 1), st.integers(0, 65535),
                               st.integers(0, 2**128 - 1), st.integers(0, 65535),
                               st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1), FLAGS,
                               st.one_of(st.binary(max_size=40), st.binary(min_size=1390, max_size=1400))),
                     min_size=1, max_size=4))
def test_built_segments_dissect_and_checksum(version: int, vlan: int | None, ttl: int, window: int,
                                             segs: list) -> None:  # type: ignore[type-arg]
    tmpl = SegmentTemplate(SRC, DST, ttl=ttl, window=window, vlan=vlan)
    if version == 4:
        segs = [(a & 0xFFFFFFFF, b, c & 0xFFFFFFFF, *rest) for a, b, c, *rest in segs]
    m = (1 << 64) - 1
    cols = list(zip(*segs))
    frames, lengths = tmpl.build(version, [a >> 64 for a in cols[0]], [a & m for a in cols[0]], cols[1],
                                 [a >> 64 for a in cols[2]], [a & m for a in cols[2]], cols[3],
                                 cols[4], cols[5], cols[6], list(cols[7]))
    assert frames.shape[1] % 64 == 0
    for i, (them, pt, me, pm, seq, ack, flags, payload) in enumerate(segs):
        f = frames[i, :lengths[i]].tobytes()
        assert not frames[i, lengths[i]:].any()            # zero past the end
        check(f, version, vlan, them, pt, me, pm, seq, ack, flags, payload, ttl, window)
        assert f == tmpl.frame(version, them, pt, me, pm, seq, ack, flags, payload)


def test_batch_mixes_versions_slots_and_raw() -> None:
    tbl = TcbTable(16, key=3)
    them4, me4 = 0x0A000009, 0x0A000002
    them6, me6 = int(ipaddress.ip_address("fd00::9")), int(ipaddress.ip_address("fd00::2"))
    m = (1 << 64) - 1
    s4 = tbl.insert(0, int(map_v4(them4)), 0, int(map_v4(me4)), 80, 61000, 7)
    s6 = tbl.insert(them6 >> 64, them6 & m, me6 >> 64, me6 & m, 443, 61001, 8)
    tbl.flags[s6] = 1
    b = SegmentBatch()
    b.add(s4, 100, 200, ACK)
    b.add(s6, 300, 400, PSH | ACK, b"hello")
    b.add(s4, 101, 200, FIN | ACK)
    b.add_raw(False, 0, them4, 22, 0, me4, 61002, 555, 0, RST)
    tmpl = SegmentTemplate(SRC, DST, ttl=64)
    frames, lengths = b.build(tmpl, tbl)
    got = [Ether(frames[i, :n].tobytes()) for i, n in enumerate(lengths)]
    summary = [(("IPv6" in p), p[TCP].dport, p[TCP].seq, str(p[TCP].flags), bytes(p[TCP].payload))
               for p in got]
    assert summary == [(False, 80, 100, "A", b""), (False, 80, 101, "FA", b""),
                       (True, 443, 300, "PA", b"hello"), (False, 22, 555, "R", b"")]
    for p in got:
        check(bytes(p), 6 if "IPv6" in p else 4, None,
              int(ipaddress.ip_address((p[IPv6] if "IPv6" in p else p[IP]).dst)), p[TCP].dport,
              int(ipaddress.ip_address((p[IPv6] if "IPv6" in p else p[IP]).src)), p[TCP].sport,
              p[TCP].seq, p[TCP].ack, int(p[TCP].flags), bytes(p[TCP].payload), 64, 1200)


def test_join_frames_pads_strides() -> None:
    a = (np.ones((2, 64), np.uint8), np.array([54, 54], np.int32))
    b = (np.full((1, 128), 2, np.uint8), np.array([100], np.int32))
    f, n = join_frames([a, b])
    assert f.shape == (3, 128) and list(n) == [54, 54, 100]
    assert not f[:2, 64:].any() and (f[2] == 2).all()
