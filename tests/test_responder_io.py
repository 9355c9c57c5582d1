"""The responder's wire: ring receive, BPF pre-filter, batch send, drops counted, a burst answered.

In memory: the kernel-side filter (`responder_filter`, run by the reference BPF interpreter) never
hides a frame the core would answer, and does drop other hosts' unicast and other EtherTypes.

Over a veth pair in two namespaces of this run: the same filter attached to the real ring drops
and keeps exactly those frames in the kernel; `Wire.read` returns what was sent byte for byte;
`Wire.send` refuses frames longer than the MTU without failing the batch; a ring too small to
hold a burst reports the kernel's drops; and a tidescanned subprocess answers a 20,000-SYN burst
(sent in 1,024-frame sendmmsg calls) with exactly 20,000 SYN-ACKs carrying the right cookies.
"""

from __future__ import annotations

import random
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tidescan import netns
from tidescan.responder import io
from tidescan.responder.config import AddressSet, ResponderConfig
from tidescan.responder.core import Responder
from tidescan.responder.synack_cookie import cookie_v4_array
from tidescan.wire import bpf
from tidescan.wire.afpacket import PacketSender, RxRing

MAC = bytes.fromhex("02a1b2c3d4e5")
OTHER = bytes.fromhex("02a1b2c3d4e6")
CLIENT = bytes.fromhex("02cc00000001")


def ipv4_syn(dst_mac: bytes, src: int, dst: int, sport: int, dport: int, seq: int,
             src_mac: bytes = CLIENT, ethertype: int = 0x0800) -> bytes:
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, 0, 5 << 4, 0x02, 1024, 0, 0)
    ip = struct.pack("!BBHHHBBHII", 0x45, 0, 40, 1, 0, 64, 6, 0, src, dst)
    return dst_mac + src_mac + struct.pack("!H", ethertype) + ip + tcp


# ------------------------------------------------------------------------------------ in memory

def interesting_frames() -> st.SearchStrategy[bytes]:
    macs = st.sampled_from([MAC, OTHER, b"\xff" * 6, bytes.fromhex("333300000001"),
                            bytes.fromhex("3333ff000002"), bytes.fromhex("01005e000002"),
                            bytes.fromhex("03a1b2c3d4e5"), MAC[:5] + b"\x00"])
    types = st.sampled_from([0x0800, 0x86DD, 0x0806, 0x8100, 0x88B5, 0x0801])
    return st.builds(lambda d, t, rest: d + CLIENT + struct.pack("!H", t) + rest,
                     macs, types, st.binary(min_size=0, max_size=80))


@settings(max_examples=400, deadline=None)
@given(interesting_frames())
def test_filter_never_hides_what_the_core_answers(frame: bytes) -> None:
    cfg = ResponderConfig(mac=MAC, self_ips=AddressSet.of(["10.0.0.2", "fd00::2"]))
    kept = bpf.run(io.responder_filter(MAC), frame)
    if not kept:
        assert Responder(cfg, clock=lambda: 0.0).respond(frame) == []


def test_filter_keeps_ours_and_groups_drops_the_rest() -> None:
    prog = io.responder_filter(MAC)
    syn = ipv4_syn(MAC, 0x0A000001, 0x0A000002, 4000, 80, 1)
    assert bpf.run(prog, syn) > 0
    assert bpf.run(prog, b"\xff" * 6 + syn[6:12] + b"\x08\x06" + bytes(28)) > 0      # ARP broadcast
    assert bpf.run(prog, bytes.fromhex("3333ff000002") + syn[6:12] + b"\x86\xdd" + bytes(40)) > 0
    assert bpf.run(prog, OTHER + syn[6:]) == 0                                       # other host
    assert bpf.run(prog, MAC[:5] + bytes([MAC[5] ^ 0x80]) + syn[6:]) == 0
    assert bpf.run(prog, bytes([MAC[0] ^ 0x04]) + MAC[1:] + syn[6:]) == 0
    assert bpf.run(prog, MAC + syn[6:12] + b"\x81\x00" + syn[14:]) == 0              # VLAN tag
    assert bpf.run(prog, syn[:13]) == 0                                              # runt


# ------------------------------------------------------------------------------------ lab

@pytest.fixture(scope="module")
def pair() -> Iterator[netns.VethPair]:
    with netns.VethPair(tag="ri", a_ip="10.198.0.1/24", b_ip=None) as p:
        yield p


def sender_in(pair: netns.VethPair) -> PacketSender:
    with netns.entered(pair.a.name):
        return PacketSender(pair.a_if)


def wire_in(pair: netns.VethPair, **kw: int) -> io.Wire:
    with netns.entered(pair.b.name):
        return io.Wire(pair.b_if, **kw)


def read_all(wire: io.Wire, want: int, timeout: float = 3.0) -> list[bytes]:
    got: list[bytes] = []
    deadline = time.time() + timeout
    while len(got) < want and time.time() < deadline:
        r = wire.read(0.05)
        if r is not None:
            frames, lengths = r
            got += [frames[i, :lengths[i]].tobytes() for i in range(len(lengths))]
    return got


@pytest.mark.lab
def test_ring_and_kernel_filter(pair: netns.VethPair) -> None:
    bmac = pair.mac("b")
    tx = sender_in(pair)
    wire = wire_in(pair)
    try:
        wire.set_filter(io.responder_filter(bmac))
        tag = bytes(range(40))
        keep = [ipv4_syn(bmac, 0x0AC60001, 0x0AC60002, 1000 + i, 80, i) + tag for i in range(5)]
        keep.append(b"\xff" * 6 + CLIENT + b"\x08\x06" + bytes(28) + tag)
        keep.append(bytes.fromhex("3333ff000002") + CLIENT + b"\x86\xdd" + bytes(40) + tag)
        drop = [ipv4_syn(OTHER, 0x0AC60001, 0x0AC60002, 2000, 80, 0) + tag,
                bmac + CLIENT + b"\x88\xb5" + bytes(46) + tag,
                bmac + CLIENT + b"\x81\x00" + bytes(46) + tag]
        rng = random.Random(3)
        frames = keep + drop
        rng.shuffle(frames)
        for f in frames:
            tx.send_one(f)
        got = [f for f in read_all(wire, len(keep)) if f.endswith(tag)]
        time.sleep(0.1)
        got += [f for f in read_all(wire, 1, timeout=0.2) if f.endswith(tag)]
        assert sorted(got) == sorted(keep)
    finally:
        wire.close()
        tx.close()


@pytest.mark.lab
def test_send_skips_frames_over_the_mtu(pair: netns.VethPair) -> None:
    wire = wire_in(pair)
    with netns.entered(pair.a.name):
        rx = RxRing(pair.a_if, bpf=bpf.ethertype_filter(0x88B5), retire_ms=1, block_count=4)
    try:
        assert wire.max_len == 1514
        out = np.zeros((4, 2048), dtype=np.uint8)
        for i in range(4):
            out[i, :14] = np.frombuffer(pair.mac("a") + CLIENT + b"\x88\xb5", np.uint8)
            out[i, 14] = i
        sent = wire.send(out, np.array([60, 1515, 1514, 2000]))
        assert sent == 2
        seen: list[int] = []
        deadline = time.time() + 3
        while len(seen) < 2 and time.time() < deadline:
            b = rx.read(0.05)
            if b is not None:
                seen += [(int(b.frames[i, 14]), int(b.lengths[i])) for i in range(len(b))]
        assert sorted(seen) == [(0, 60), (2, 1514)]
    finally:
        rx.close()
        wire.close()


@pytest.mark.lab
def test_full_ring_counts_kernel_drops(pair: netns.VethPair) -> None:
    bmac = pair.mac("b")
    tx = sender_in(pair)
    wire = wire_in(pair, ring_blocks=2, block_size=1 << 14)
    try:
        wire.set_filter(io.responder_filter(bmac))
        syns = np.frombuffer(b"".join(ipv4_syn(bmac, 0x0AC60001, 0x0AC60002, 1 + i, 80, i)
                                      for i in range(2000)), np.uint8).reshape(2000, 54)
        for s in range(0, 2000, 500):
            tx.send(syns[s:s + 500], 54)
        time.sleep(0.05)
        got = [f for f in read_all(wire, 2000, timeout=0.5) if f[12:14] == b"\x08\x00"]
        packets, drops = wire.stats()
        # (the namespaces' kernels may add a few multicast frames of their own to both counts)
        assert drops > 0 and packets >= 2000 and len(got) + drops >= 2000
        assert all(f == bytes(syns[int.from_bytes(f[34:36], "big") - 1]) for f in got)
    finally:
        wire.close()
        tx.close()


def synack_filter() -> list[bpf.Insn]:
    a = bpf.Asm()
    a.ld(bpf.H, 12)
    a.jeq(0x0800, None, "drop")
    a.ld(bpf.B, 23)
    a.jeq(6, None, "drop")
    a.ld(bpf.B, 47)
    a.jeq(0x12, "yes", "drop")
    a.label("yes")
    a.ret(bpf.ACCEPT)
    a.label("drop")
    a.ret(0)
    return a.assemble()


@pytest.mark.lab
def test_tidescanned_answers_a_20k_syn_burst(pair: netns.VethPair) -> None:
    n = 20_000
    bmac = pair.mac("b")
    rng = np.random.default_rng(11)
    src = np.full(n, 0x0AC60001, np.uint32)
    dst = (0x0AC60100 + rng.integers(0, 256, n)).astype(np.uint32)          # 10.198.1.0/24
    sport = (10_000 + np.arange(n) % 50_000).astype(np.uint32)
    dport = rng.integers(1, 65536, n).astype(np.uint32)
    seq = rng.integers(0, 1 << 32, n, dtype=np.uint64).astype(np.uint32)
    frames = np.frombuffer(b"".join(ipv4_syn(bmac, int(src[i]), int(dst[i]), int(sport[i]), int(dport[i]),
                                             int(seq[i])) for i in range(n)), np.uint8).reshape(n, 54)
    log = tempfile.TemporaryFile()
    proc = pair.b.popen([sys.executable, "-m", "tidescan.responder.cli", "--iface", pair.b_if, "-q",
                         "--no-tls", "--self-ip-list", "10.198.1.0/24"], stderr=log)
    tx = sender_in(pair)
    with netns.entered(pair.a.name):
        rx = RxRing(pair.a_if, bpf=synack_filter(), retire_ms=2, block_count=16, promisc=True)
    try:
        deadline = time.time() + 20
        while proc.poll() is None and time.time() < deadline:
            log.seek(0)
            if b"answering" in log.read():
                break
            time.sleep(0.05)
        assert proc.poll() is None
        for s in range(0, n, 1024):
            assert tx.send(frames[s:s + 1024], 54) == min(1024, n - s)
        got = []
        deadline = time.time() + 15
        count = 0
        while count < n and time.time() < deadline:
            b = rx.read(0.1)
            if b is not None:
                got.append(b.frames[:, :54].copy())
                count += len(b)
        time.sleep(0.2)
        b = rx.read(0)
        extra = 0 if b is None else len(b)
        ans = np.concatenate(got) if got else np.zeros((0, 54), np.uint8)
        assert len(ans) == n and extra == 0
        a_dst = ans[:, 30:34].view(">u4")[:, 0].astype(np.uint64)
        a_sport = ans[:, 36:38].view(">u2")[:, 0].astype(np.uint64)       # = the SYN's sport
        order = np.argsort(a_sport * (1 << 16) + ans[:, 34:36].view(">u2")[:, 0])
        want = np.argsort(sport.astype(np.uint64) * (1 << 16) + dport)
        ans, a_dst = ans[order], a_dst[order]
        assert (a_dst == src[want]).all()
        got_seq = ans[:, 38:42].view(">u4")[:, 0]
        got_ack = ans[:, 42:46].view(">u4")[:, 0]
        assert (got_seq == cookie_v4_array(src[want], dst[want], sport[want], dport[want])).all()
        assert (got_ack == seq[want] + np.uint32(1)).all()
        assert (ans[:, 0:6] == np.frombuffer(CLIENT, np.uint8)).all()
    finally:
        rx.close()
        tx.close()
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    log.seek(0)
    summary = log.read().decode()
    assert "internal error" not in summary and "answers (0 not sent)" in summary, summary
