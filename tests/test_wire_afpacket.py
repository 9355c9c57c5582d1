"""AF_PACKET batch transmit and the TPACKET_V3 receive ring.

Unit part: a ring laid out by hand the way the kernel lays it out (frame chains of equal, mixed
and adversarial sizes) must be walked and copied exactly.  Lab part: batches sent with
`PacketSender` in one namespace arrive byte for byte in an `RxRing` in the other, with the kernel's
counters agreeing; timeouts, outgoing-frame suppression, snap length and drop accounting.
"""

from __future__ import annotations

import mmap
import struct
import threading
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from wire_helpers import ETH_OTHER, drain, ring_in, sender_in

from tidescan import netns
from tidescan.errors import EnvironmentProblem
from tidescan.wire import bpf, linux
from tidescan.wire.afpacket import PacketSender, PendingRxRing, RxRing

MACOFF, NETOFF = 82, 96  # where the kernel puts an Ethernet frame after a tpacket3_hdr


# ------------------------------------------------------------------------------------------------
# a ring laid out by hand

def lay_out(blocks: list[list[bytes]], block_size: int = 1 << 16) -> tuple[mmap.mmap, list[list[int]]]:
    """Anonymous memory holding TPACKET_V3 blocks of `frames`, all handed to user space."""
    mm = mmap.mmap(-1, block_size * len(blocks))
    ring = np.frombuffer(mm, np.uint8)
    u32, u16 = ring.view(np.uint32), ring.view(np.uint16)
    where = []
    for b, frames in enumerate(blocks):
        base = b * block_size
        o = base + 48
        offs = []
        for i, f in enumerate(frames):
            step = (MACOFF + len(f) + 7) & ~7
            assert o + step <= base + block_size
            u32[o >> 2] = step
            u32[(o + 4) >> 2] = 1_700_000_000 + i
            u32[(o + 8) >> 2] = 500_000_000
            u32[(o + 12) >> 2] = len(f)
            u32[(o + 16) >> 2] = len(f) + 3
            u16[(o + 24) >> 1], u16[(o + 26) >> 1] = MACOFF, NETOFF
            ring[o + linux.SLL_PKTTYPE] = i % 3
            ring[o + MACOFF:o + MACOFF + len(f)] = np.frombuffer(f, np.uint8)
            offs.append(o)
            o += step
        u32[(base + linux.BD_BLOCK_STATUS) >> 2] = linux.TP_STATUS_USER
        u32[(base + linux.BD_NUM_PKTS) >> 2] = len(frames)
        u32[(base + linux.BD_OFFSET_TO_FIRST_PKT) >> 2] = 48
        u32[(base + linux.BD_BLK_LEN) >> 2] = o - base
        where.append(offs)
    del ring, u32, u16
    return mm, where


def check_block(ring: RxRing, blocks: list[list[bytes]]) -> None:
    got = ring.read(0)
    flat = [f for fr in blocks for f in fr]
    assert got is not None and len(got) == len(flat)
    assert got.frames.shape[1] >= max(128, max(len(f) for f in flat))
    for i, f in enumerate(flat):
        assert got.lengths[i] == len(f) and got.wirelens[i] == len(f) + 3
        assert bytes(got.frames[i, :len(f)]) == f
        assert not got.frames[i, len(f):].any()
    assert ring.read(0) is None  # blocks were released
    for b in range(len(blocks)):
        assert ring._u32[(b * ring.block_size + linux.BD_BLOCK_STATUS) >> 2] == linux.TP_STATUS_KERNEL


def payloads(sizes: list[int], seed: int = 0) -> list[bytes]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, n, dtype=np.uint8).tobytes() for n in sizes]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.integers(14, 300), min_size=1, max_size=150), min_size=1, max_size=3),
       st.integers(0, 2**31))
def test_walk_and_copy_any_sizes(sizes: list[list[int]], seed: int) -> None:
    blocks = [payloads(s, seed + i) for i, s in enumerate(sizes)]
    mm, _ = lay_out(blocks)
    ring = RxRing._over_memory(mm, 1 << 16, len(blocks))
    try:
        check_block(ring, blocks)
    finally:
        ring.close()


def test_each_walk_method_is_taken_and_exact() -> None:
    same = payloads([60] * 300)
    mixed = payloads(list(np.random.default_rng(1).integers(54, 200, 300)))
    # frames carrying a complete, coherent fake frame header at an 8-byte-aligned ring position
    # (frame data starts at +82, so data offset 6): the signature scan must not trust it
    fake = bytearray(120)
    struct.pack_into("<I", fake, 6, (MACOFF + 10 + 7) & ~7)  # tp_next_offset
    struct.pack_into("<II", fake, 6 + 12, 10, 10)  # tp_snaplen, tp_len
    struct.pack_into("<HH", fake, 6 + 24, MACOFF, NETOFF)  # tp_mac, tp_net
    forged = [bytes(fake[: 110 + i % 3]) for i in range(200)]
    for frames, method in ((same, "equal"), (mixed, "scan"), (forged, "runs")):
        mm, _ = lay_out([frames])
        ring = RxRing._over_memory(mm, 1 << 16, 1)
        try:
            check_block(ring, [frames])
            assert ring.walks[method] == 1, (method, ring.walks)
        finally:
            ring.close()


def test_frame_at_the_very_end_of_the_ring() -> None:
    # two blocks of 4 KiB; the last frame ends 8 bytes before the ring's end, so its full-width
    # window would run past the mapping and must be copied separately
    block = 4096
    first = payloads([100] * 19)
    tail_room = block - 48 - 19 * ((MACOFF + 100 + 7) & ~7) - MACOFF - 8
    last = first + payloads([tail_room], seed=5)
    mm, where = lay_out([first, last], block)
    assert where[1][-1] + MACOFF + tail_room == 2 * block - 8
    ring = RxRing._over_memory(mm, block, 2)
    try:
        check_block(ring, [first, last])
    finally:
        ring.close()


def test_timestamps_and_pkttypes_from_headers() -> None:
    frames = payloads([70] * 5)
    mm, _ = lay_out([frames])
    ring = RxRing._over_memory(mm, 1 << 16, 1)
    try:
        got = ring.read(0)
        assert got is not None
        assert np.allclose(got.timestamps, 1_700_000_000 + np.arange(5) + 0.5)
        assert list(got.pkttypes) == [0, 1, 2, 0, 1]
    finally:
        ring.close()


# ------------------------------------------------------------------------------------------------
# the lab

def tagged_batch(n: int, dst: bytes, src: bytes, sizes: np.ndarray, stride: int = 1536,
                 seed: int = 0) -> np.ndarray:
    """`(n, stride)` random frames to `dst` with ethertype ETH_OTHER and the index in bytes 14..17."""
    rng = np.random.default_rng(seed)
    frames = rng.integers(0, 256, (n, stride), dtype=np.uint8)
    frames[:, 0:6] = np.frombuffer(dst, np.uint8)
    frames[:, 6:12] = np.frombuffer(src, np.uint8)
    frames[:, 12:14] = [ETH_OTHER >> 8, ETH_OTHER & 0xFF]
    frames[:, 14:18] = np.arange(n, dtype=">u4").view(np.uint8).reshape(n, 4)
    return frames


@pytest.mark.lab
def test_ten_thousand_frames_arrive_intact(veth_pair: netns.VethPair) -> None:
    n = 10_000
    mac_a, mac_b = veth_pair.mac("a"), veth_pair.mac("b")
    sizes = np.random.default_rng(3).integers(60, 1515, n)
    frames = tagged_batch(n, mac_b, mac_a, sizes)
    with ring_in(veth_pair.b, veth_pair.b_if, bpf=bpf.ethertype_filter(ETH_OTHER),
                 block_size=1 << 18, block_count=64) as ring, \
            sender_in(veth_pair.a, veth_pair.a_if) as tx:
        sent: list[int] = []
        t0 = time.time()
        th = threading.Thread(target=lambda: sent.append(tx.send(frames, sizes)))
        th.start()
        blocks = drain(ring, quiet=0.5)
        th.join()
        t1 = time.time()
        packets, drops = ring.stats()
    assert sent == [n] and tx.sent == n and tx.calls >= n // 1024
    got_lens = np.concatenate([b.lengths for b in blocks])
    assert len(got_lens) == n and (packets, drops) == (n, 0)
    index = np.concatenate([b.frames[:, 14:18].copy().view(">u4").ravel() for b in blocks])
    assert sorted(index) == list(range(n))
    for b in blocks:
        idx = b.frames[:, 14:18].copy().view(">u4").ravel()
        assert (b.lengths == sizes[idx]).all() and (b.wirelens == b.lengths).all()
        for j in range(len(b)):
            ln = int(b.lengths[j])
            assert np.array_equal(b.frames[j, :ln], frames[idx[j], :ln])
        assert ((b.timestamps >= t0 - 1) & (b.timestamps <= t1 + 1)).all()


@pytest.mark.lab
def test_equal_sizes_use_the_vector_walk_and_drops_are_counted(veth_pair: netns.VethPair) -> None:
    mac_a, mac_b = veth_pair.mac("a"), veth_pair.mac("b")
    n = 6000
    frames = tagged_batch(n, mac_b, mac_a, np.full(n, 60), stride=64)
    # a deliberately small ring nobody reads while the batch arrives: the kernel must drop
    with ring_in(veth_pair.b, veth_pair.b_if, bpf=bpf.ethertype_filter(ETH_OTHER),
                 block_size=1 << 16, block_count=4) as ring, \
            sender_in(veth_pair.a, veth_pair.a_if, qdisc_bypass=True) as tx:
        assert tx.send(frames, 60) == n
        blocks = drain(ring, quiet=0.3)
        packets, drops = ring.stats()
        assert ring.stats() == (packets, drops)  # cumulative although the kernel resets
        delivered = sum(len(b) for b in blocks)
        assert drops > 0 and packets == n and delivered + drops == n
        assert ring.walks["equal"] >= 1 and ring.walks["runs"] == 0
        assert all((b.lengths == 60).all() and b.frames.shape[1] == 128 for b in blocks)


@pytest.mark.lab
def test_read_times_out_without_spinning(veth_pair: netns.VethPair) -> None:
    with ring_in(veth_pair.b, veth_pair.b_if, bpf=bpf.drop_all(), block_size=1 << 16,
                 block_count=4) as ring:
        assert ring.read(0) is None
        c0, t0 = time.process_time(), time.monotonic()
        assert ring.read(0.3) is None
        elapsed, cpu = time.monotonic() - t0, time.process_time() - c0
    assert 0.29 <= elapsed < 1.5 and cpu < 0.15  # (generous: the machine is shared)


@pytest.mark.lab
def test_outgoing_frames_are_ignored_unless_asked(veth_pair: netns.VethPair) -> None:
    mac_b = veth_pair.mac("b")
    frame = bytes(tagged_batch(1, b"\xff" * 6, mac_b, np.array([60]))[0, :60])
    kw = dict(bpf=bpf.ethertype_filter(ETH_OTHER), block_size=1 << 16, block_count=4)
    with ring_in(veth_pair.b, veth_pair.b_if, **kw) as quiet_ring, \
            ring_in(veth_pair.b, veth_pair.b_if, ignore_outgoing=False, **kw) as all_ring, \
            sender_in(veth_pair.b, veth_pair.b_if) as tx:
        tx.send_one(frame)
        seen = drain(all_ring, quiet=0.2)
        assert drain(quiet_ring, quiet=0.1) == []
    assert len(seen) == 1 and len(seen[0]) == 1
    assert seen[0].pkttypes[0] == linux.PACKET_OUTGOING
    assert bytes(seen[0].frames[0, :60]) == frame


@pytest.mark.lab
def test_snaplen_truncates_but_keeps_wire_length(veth_pair: netns.VethPair) -> None:
    mac_a, mac_b = veth_pair.mac("a"), veth_pair.mac("b")
    frames = tagged_batch(3, mac_b, mac_a, np.array([1000, 90, 1514]))
    with ring_in(veth_pair.b, veth_pair.b_if, bpf=bpf.ethertype_filter(ETH_OTHER), snaplen=100,
                 block_size=1 << 16, block_count=4) as ring, \
            sender_in(veth_pair.a, veth_pair.a_if) as tx:
        tx.send(frames, np.array([1000, 90, 1514]))
        blocks = drain(ring, quiet=0.2)
    b = blocks[0]
    assert list(b.lengths) == [100, 90, 100] and list(b.wirelens) == [1000, 90, 1514]
    assert b.frames.shape[1] == 128 and np.array_equal(b.frames[0, :100], frames[0, :100])


@pytest.mark.lab
def test_sender_rejects_bad_batches_and_missing_interfaces(veth_pair: netns.VethPair) -> None:
    with sender_in(veth_pair.a, veth_pair.a_if) as tx:
        frames = np.zeros((4, 64), np.uint8)
        with pytest.raises(ValueError):
            tx.send(frames, 65)
        with pytest.raises(ValueError):
            tx.send(frames, np.array([60, 60, 0, 60]))
        with pytest.raises(ValueError):
            tx.send(frames.astype(np.uint16), 60)
        with pytest.raises(ValueError):
            tx.send(frames, np.array([60, 60]))
        assert tx.send(frames[:0], 60) == 0 and tx.sent == 0
    with netns.entered(veth_pair.a.name):
        with pytest.raises(EnvironmentProblem, match="no such interface; try --iflist"):
            PacketSender("tsnosuchif0")
        with pytest.raises(EnvironmentProblem, match="no such interface"):
            RxRing("tsnosuchif0", block_size=1 << 16, block_count=2)


@pytest.mark.lab
def test_ring_set_up_in_the_background(veth_pair: netns.VethPair) -> None:
    """PendingRxRing: built in a thread (in the caller's namespace), handed over whole; errors
    come back in the caller's thread; an unclaimed ring is closed."""
    mac_a, mac_b = veth_pair.mac("a"), veth_pair.mac("b")
    frames = tagged_batch(50, mac_b, mac_a, np.full(50, 80))
    kw = dict(bpf=bpf.ethertype_filter(ETH_OTHER), block_size=1 << 16, block_count=4)
    with netns.entered(veth_pair.b.name):
        pending = PendingRxRing(veth_pair.b_if, **kw)
        missing = PendingRxRing("tsnosuchif0", **kw)
        unclaimed = PendingRxRing(veth_pair.b_if, **kw)
    ring = pending.result()
    pending.close()  # handed over: not closed
    with ring, sender_in(veth_pair.a, veth_pair.a_if) as tx:
        assert tx.send(frames, 80) == 50
        blocks = drain(ring, quiet=0.2)
    assert sum(len(b) for b in blocks) == 50
    with pytest.raises(EnvironmentProblem, match="no such interface"):
        missing.result()
    unclaimed.close()
    assert unclaimed._ring is not None and unclaimed._ring.sock.fileno() == -1


@pytest.mark.lab
def test_full_device_queue_is_retried_then_given_up(veth_pair: netns.VethPair) -> None:
    """A token-bucket qdisc on a's side makes the kernel answer ENOBUFS; nothing may be lost."""
    veth_pair.a.run(["tc", "qdisc", "add", "dev", veth_pair.a_if, "root", "tbf", "rate", "80mbit",
                     "burst", "16kb", "limit", "16kb"])
    n = 1500
    mac_a, mac_b = veth_pair.mac("a"), veth_pair.mac("b")
    frames = tagged_batch(n, mac_b, mac_a, np.full(n, 1000), stride=1024)
    # paced arrival: the kernel retires a block every 2 ms with only ~20 frames in it, and
    # nobody reads during send(), so the ring needs many blocks rather than big ones
    with ring_in(veth_pair.b, veth_pair.b_if, bpf=bpf.ethertype_filter(ETH_OTHER),
                 block_size=1 << 16, block_count=256) as ring, \
            sender_in(veth_pair.a, veth_pair.a_if, stall_timeout=0.2) as tx:
        assert tx.send(frames, 1000) == n
        assert tx.retries > 0
        got = np.concatenate([b.frames[:, 14:18].copy().view(">u4").ravel() for b in drain(ring)])
        missing = sorted(set(range(n)) - set(got.tolist()))
        assert len(got) == n and not missing, (len(got), missing[:20], ring.stats())
        # now a queue that drains one frame a second: the sender gives up after stall_timeout
        veth_pair.a.run(["tc", "qdisc", "replace", "dev", veth_pair.a_if, "root", "tbf", "rate",
                         "8kbit", "burst", "2kb", "limit", "3kb"])
        t0 = time.monotonic()
        sent = tx.send(frames[:100], 1000)
        assert 0 < sent < 20 and time.monotonic() - t0 < 2.0
