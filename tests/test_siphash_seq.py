"""The fast IPv4 sequence cookie (`tidescan.siphash_seq`) against the reference implementations:
masscan's captured values, the scalar `cookie4`, and `cookie4_array` on random batches (constant
and per-probe sources, several chunk sizes, dtypes, `out=` buffers)."""

from __future__ import annotations

import ipaddress

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tidescan.siphash import cookie4, cookie4_array
from tidescan.siphash_seq import Seq4, seq4_array

M32 = 0xFFFFFFFF
u32 = st.integers(0, M32)
u64 = st.integers(0, (1 << 64) - 1)
port = st.integers(0, 197_119)


def ip(text: str) -> int:
    return int(ipaddress.ip_address(text))


def test_masscan_captured_syn_seq() -> None:
    # masscan.md §6: SYN to 10.0.0.6:80 from 10.255.255.1:40000, seed 1, seq 0x41ea3e9a.
    out = seq4_array(np.array([ip("10.0.0.6")], np.uint64), 80, ip("10.255.255.1"), 40000, 1)
    assert out.dtype == np.uint32 and out.tolist() == [0x41EA3E9A]
    assert int(seq4_array(ip("10.0.0.6"), 80, ip("10.255.255.1"), 40000, 1)) == 0x41EA3E9A


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(u32, port, u32, st.integers(0, 65535)), min_size=1, max_size=30), u64)
def test_equals_scalar_reference(rows: list[tuple[int, int, int, int]], e: int) -> None:
    cols = [np.array(c, dtype=np.uint64) for c in zip(*rows)]
    assert seq4_array(*cols, e).tolist() == [cookie4(*r, e) & M32 for r in rows]
    # constant source (the transmit loop's case): m1 is folded into a scalar
    me, pm = rows[0][2], rows[0][3]
    assert seq4_array(cols[0], cols[1], me, pm, e).tolist() == [
        cookie4(r[0], r[1], me, pm, e) & M32 for r in rows]


@pytest.mark.parametrize("chunk", [1, 7, 4096, 16384])
@pytest.mark.parametrize("n", [0, 1, 4095, 16384, 40_001])
def test_equals_vector_reference_across_chunks(chunk: int, n: int) -> None:
    if chunk < 100 and n > 5000:
        n = 300
    rng = np.random.default_rng(n * 31 + chunk)
    them = rng.integers(0, 1 << 32, n, dtype=np.uint64)
    pt = rng.integers(0, 197_120, n, dtype=np.uint64)
    me = rng.integers(0, 1 << 32, n, dtype=np.uint64)
    pm = rng.integers(0, 1 << 16, n, dtype=np.uint64)
    e = int(rng.integers(0, 1 << 63)) * 2 + 1
    work = Seq4(chunk)
    for args in ((them, pt, 0x0AFFFF01, 61234), (them, pt, me, pm), (them, pt, me, 61000),
                 (them.astype(np.uint32), pt.astype(np.uint32), 0x0A000002, pm)):
        want = cookie4_array(*args, e).astype(np.uint32)
        assert np.array_equal(work(*args, e), want)
        out = np.full(n + 5, 7, dtype=np.uint32)
        got = work(*args, e, out=out)
        assert np.array_equal(got, want) and np.array_equal(out[:n], want)
        assert (out[n:] == 7).all()


def test_key_change_and_wide_values() -> None:
    work = Seq4(64)
    them = np.arange(100, dtype=np.uint64) + np.uint64(1 << 40)  # high bits ignored, as cookie4
    for e in (1, 2, 1):
        want = [cookie4(int(t), 80, 5, 6, e) & M32 for t in them]
        assert work(them, 80, 5, 6, e).tolist() == want


def test_errors() -> None:
    with pytest.raises(ValueError):
        seq4_array(np.array([-1]), 1, 2, 3, 4)
    with pytest.raises(TypeError):
        seq4_array(np.array([1.5]), 1, 2, 3, 4)
    with pytest.raises(ValueError):
        seq4_array(np.zeros((2, 2), np.uint64), 1, 2, 3, 4)
