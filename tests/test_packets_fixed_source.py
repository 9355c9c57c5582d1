"""The constant-source SYN writer (`packets/fixed_source.py`, used by `SynTemplate.build_v4` when
`ip_me` and `port_me` are scalars) writes exactly the bytes of the generic per-column path."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tidescan.packets import fixed_source
from tidescan.packets.template import SynTemplate

SRC_MAC, DST_MAC = "02:00:00:00:00:01", "66:55:44:33:22:11"
OPTIONS = [{}, {"vlan": 5}, {"mss": None}, {"wscale": 7, "sackok": True, "tsecho": 123},
           {"vlan": 4095, "mss": 536, "sackok": True, "ttl": 1, "window": 65535}]


def both(t: SynTemplate, them: np.ndarray, pt: np.ndarray, seq: np.ndarray, me: int,
         pm: int) -> tuple[np.ndarray, np.ndarray]:
    n = len(them)
    stride = -(-t.frame_len_v4 // 64) * 64
    fast, ref = np.zeros((n, stride), np.uint8), np.zeros((n, stride), np.uint8)
    assert t.build_v4(fast, them, pt, me, pm, seq) == n
    # arrays for the source select the generic per-column path: the reference
    t.build_v4(ref, them, pt, np.full(n, me, np.uint64), np.full(n, pm, np.uint64), seq)
    return fast, ref


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(OPTIONS), st.integers(1, 300), st.integers(0, 2**32 - 1),
       st.integers(0, 65535), st.integers(0, 2**32))
def test_fixed_source_equals_generic_path(opts: dict, n: int, me: int, pm: int,
                                          seed: int) -> None:
    rng = np.random.default_rng(seed)
    t = SynTemplate(SRC_MAC, DST_MAC, **opts)
    them = rng.integers(0, 2**32, n, dtype=np.uint64)
    pt = rng.integers(0, 197_120, n, dtype=np.uint64)  # internal ports: low 16 bits are sent
    seq = rng.integers(0, 2**32, n, dtype=np.uint64).astype(np.uint32)
    them[:2] = [0, 2**32 - 1][:n]  # extreme checksums
    seq[:2] = [0, 2**32 - 1][:n]
    fast, ref = both(t, them, pt, seq, me, pm)
    assert np.array_equal(fast, ref)
    assert fast[0, :t.frame_len_v4].tobytes() == t.frame_v4(0, int(pt[0]), me, pm, 0)


@pytest.mark.parametrize("dtype", [np.uint32, np.uint64, np.int64])
def test_dtypes_and_chunks(dtype: type) -> None:
    rng = np.random.default_rng(1)
    n = fixed_source.CHUNK + 17
    t = SynTemplate(SRC_MAC, DST_MAC)
    them = rng.integers(0, 2**31, n).astype(dtype)
    pt = rng.integers(0, 65536, n).astype(dtype)
    seq = rng.integers(0, 2**31, n).astype(dtype)
    fast, ref = both(t, them, pt, seq, 0x0AFFFF01, 61234)
    assert np.array_equal(fast, ref)


def test_every_checksum_residue() -> None:
    """Sweep the TCP checksum's sum through every value mod 65535 (the finish formula's edge
    cases: sums of 0xFFFF, 0x10000, 0x1FFFE ...)."""
    t = SynTemplate(SRC_MAC, DST_MAC)
    seq = np.arange(0, 3 * 65536, dtype=np.uint64).astype(np.uint32)
    them = np.full(len(seq), 0x0A000001, np.uint64)
    fast, ref = both(t, them, np.full(len(seq), 80, np.uint64), seq, 0x0AFFFF01, 61234)
    assert np.array_equal(fast, ref)


def test_scalar_targets_broadcast() -> None:
    t = SynTemplate(SRC_MAC, DST_MAC)
    buf = np.zeros((3, 64), np.uint8)
    assert t.build_v4(buf, 0x0A000001, 80, 0x0AFFFF01, 61234, 5) == 1
    assert buf[0, :58].tobytes() == t.frame_v4(0x0A000001, 80, 0x0AFFFF01, 61234, 5)
