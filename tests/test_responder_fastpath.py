"""The SYN fast path answers exactly what the scalar path answers; cookies match masscanned's layout."""

from __future__ import annotations

import random
import struct

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tidescan.responder.config import AddressSet, ResponderConfig
from tidescan.responder.core import Responder
from tidescan.responder.synack_cookie import cookie_v4, cookie_v4_array
from tidescan.siphash import siphash24

MAC = bytes.fromhex("021122334455")


def test_siphash_reference_vector() -> None:
    # SipHash-2-4 paper, appendix A: key 00..0f, message 00..0e.
    assert siphash24(bytes(range(16)), bytes(range(15))) == 0xA129CA6149BE45E5


def test_cookie_layout_is_masscanneds() -> None:
    # client 10.0.0.2:4242 -> responder 10.0.0.1:80, key [0, 0]: LE u32, LE u32, LE u16, LE u16.
    msg = struct.pack("<IIHH", 0x0A000002, 0x0A000001, 4242, 80)
    assert cookie_v4(0x0A000002, 0x0A000001, 4242, 80) == siphash24(bytes(16), msg) & 0xFFFFFFFF
    assert cookie_v4(1, 2, 3, 4, key=(5, 6)) == siphash24(struct.pack("<QQ", 5, 6), struct.pack("<IIHH", 1, 2, 3, 4)) & 0xFFFFFFFF


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1), st.integers(0, 65535),
                          st.integers(0, 65535)), min_size=1, max_size=40),
       st.tuples(st.integers(0, 2**64 - 1), st.integers(0, 2**64 - 1)))
def test_vectorized_cookie_equals_scalar(rows, key) -> None:
    a = np.array(rows, dtype=np.uint64)
    got = cookie_v4_array(a[:, 0], a[:, 1], a[:, 2], a[:, 3], key)
    assert got.tolist() == [cookie_v4(*row, key=key) for row in rows]


def random_frames(rng: random.Random, n: int) -> list[bytes]:
    """Mostly SYNs that qualify for the fast path, plus near-misses of every rule."""
    out = []
    for _ in range(n):
        dst_mac = MAC if rng.random() < 0.9 else rng.choice([b"\xff" * 6, bytes(6), bytes.fromhex("01005e000001")])
        ethertype = 0x0800 if rng.random() < 0.95 else rng.choice([0x86DD, 0x0806, 0x8100])
        ihl = 5 if rng.random() < 0.9 else rng.choice([4, 6, 15])
        src = rng.choice([0x0A000002, 0x0A000042, rng.getrandbits(32)])
        dst = rng.choice([0x0A000001, 0x0A000001, 0x0A000003, 0xE0000001, 0xFFFFFFFF, rng.getrandbits(32)])
        flags = rng.choice([0x02, 0x02, 0x0A, 0x22, 0x42, 0x82, 0xC2, 0x12, 0x03, 0x10, rng.getrandbits(8)])
        doff = 5 if rng.random() < 0.9 else rng.choice([0, 4, 6, 15])
        frag = 0 if rng.random() < 0.95 else rng.choice([0x2000, 0x0001])
        tcp = struct.pack("!HHIIBBHHH", rng.getrandbits(16), rng.getrandbits(16), rng.getrandbits(32),
                          rng.getrandbits(32), doff << 4, flags, 1024, 0, 0) + bytes(rng.choice([0, 0, 4, 12]))
        total = 4 * ihl + len(tcp) if rng.random() < 0.9 else rng.choice([0, 20, 39, 40, 1000])
        ip = struct.pack("!BBHHHBBHII", 0x40 | ihl, 0, total, 1, frag, 64, 6 if rng.random() < 0.95 else 17, 0,
                         src, dst) + bytes(max(0, 4 * ihl - 20))
        frame = dst_mac + bytes.fromhex("02aabbccddee") + struct.pack("!H", ethertype) + ip + tcp
        if rng.random() < 0.05:
            frame = frame[:rng.randrange(len(frame))]
        out.append(frame)
    return out


def test_fast_path_equals_scalar_path() -> None:
    rng = random.Random(1234)
    for selfs in ((), ("10.0.0.1", "10.0.0.3", "fd00::1")):
        cfg = ResponderConfig(mac=MAC, self_ips=AddressSet.of(selfs), deny_ips=AddressSet.of(["10.0.0.66"]))
        frames = random_frames(rng, 3000)
        buf = np.zeros((len(frames), 2048), dtype=np.uint8)
        lengths = np.array([len(f) for f in frames])
        for i, f in enumerate(frames):
            buf[i, :len(f)] = np.frombuffer(f, dtype=np.uint8)
        fast = Responder(cfg, clock=lambda: 0.0)
        mask, _ = fast.fast.answer(buf, lengths)
        assert mask.sum() > 300                       # the fast path really took its share
        out, out_len = fast.respond_batch(buf, lengths, now=0.0)
        got = sorted(out[i, :out_len[i]].tobytes() for i in range(len(out_len)))
        scalar = Responder(cfg, clock=lambda: 0.0)
        want = sorted(r for f in frames for r in scalar.respond(f, now=0.0))
        assert got == want
        assert fast.internal_errors == scalar.internal_errors == 0


def test_fast_path_row_layouts_agree() -> None:
    """Ring rows (width 128, uint32 lengths) and narrow copies (width 54) give the 2048-wide answers."""
    rng = random.Random(99)
    cfg = ResponderConfig(mac=MAC, self_ips=AddressSet.of(["10.0.0.1", "10.0.0.3"]))
    frames = random_frames(rng, 2000)
    lengths = np.array([len(f) for f in frames])
    wide = np.zeros((len(frames), 2048), dtype=np.uint8)
    for i, f in enumerate(frames):
        wide[i, :len(f)] = np.frombuffer(f, dtype=np.uint8)
    mask, want = Responder(cfg).fast.answer(wide, lengths)
    assert mask.sum() > 200
    for width, lens in ((128, lengths.astype(np.uint32)), (54, lengths)):
        rows = np.ascontiguousarray(wide[:, :width])
        m, got = Responder(cfg).fast.answer(rows, np.minimum(lens, width))
        keep = np.minimum(lengths, width) == lengths
        assert (m[keep] == mask[keep]).all()             # (truncated rows may differ: shorter frames)
        assert (got[keep[m]] == want[keep[mask]]).all()


def test_checksum_boundaries_equal_scalar() -> None:
    """Rows whose IP or TCP checksum comes out 0x0000 (the ones' complement edge) match the scalar path."""
    n = 1 << 19
    g = np.random.default_rng(5)
    f = np.zeros((n, 64), dtype=np.uint8)
    f[:, 0:6] = np.frombuffer(MAC, np.uint8)
    f[:, 6:12] = np.frombuffer(bytes.fromhex("02aabbccddee"), np.uint8)
    f[:, 12], f[:, 14], f[:, 17], f[:, 22], f[:, 23], f[:, 46], f[:, 47] = 0x08, 0x45, 40, 64, 6, 0x50, 0x02
    f[:, 26:34] = g.integers(0, 256, (n, 8), dtype=np.uint8)
    f[:, 30] = 10                                      # responder addresses 10/8: never multicast
    f[:, 34:46] = g.integers(0, 256, (n, 12), dtype=np.uint8)
    cfg = ResponderConfig(mac=MAC)                     # answer for every address
    mask, out = Responder(cfg).fast.answer(f, np.full(n, 54))
    assert mask.all()
    edge = np.flatnonzero((out[:, 24:26] == 0).all(1) | (out[:, 50:52] == 0).all(1))
    assert (out[edge, 24:26] == 0).all(1).any() and (out[edge, 50:52] == 0).all(1).any()
    scalar = Responder(cfg, clock=lambda: 0.0)
    for i in edge.tolist():
        assert scalar.respond(f[i, :54].tobytes(), now=0.0) == [out[i].tobytes()]
