"""BlackRock: masscan's own shuffle vectors (masscan.md §5), inverse, permutation, scalar == vector."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tidescan import blackrock
from tidescan.blackrock import SBOX, BlackRock

# (range, seed, rounds, a, b, first shuffle(i) values), from masscan.md §5 [obs].
VECTORS = [
    (16, 1, 14, 2, 9, [0, 8, 5, 9, 6, 13, 15, 11, 1, 4, 7, 14, 10, 12, 2, 3]),
    (8, 1, 14, 3, 3, [1, 2, 3, 6, 0, 7, 4, 5]),
    (5, 1, 14, None, None, [0, 1, 4, 3, 2]),
    (9, 1, 14, 1, 10, list(range(9))),
    (10, 0, 14, 1, 11, [9, 8, 0, 1, 2, 3, 4, 5, 6, 7]),
    (100, 0, 14, 8, 13, [47, 80, 0, 36, 48, 79, 53, 78, 45, 19]),
    (1000, 42, 14, 29, 35, [129, 947, 275, 939, 457, 664, 781, 38, 591, 778]),
    (65536, 1, 14, 254, 259, [18716, 60032, 12160, 45683, 55046, 41818, 49111, 5335, 40752,
                              14812]),
    (2**32, 123, 14, 65534, 65539, [2735063051, 1546889129, 3561932083, 1521117540, 3496701276,
                                    2301044432]),
    (2**48, 123, 14, None, None, [229321736141157, 167169629456780, 29771000845423,
                                  227098769864065]),
    (1000, 0, 4, 29, 35, [788, 445, 646, 524, 517, 407, 822, 867, 223, 100]),
]


@pytest.mark.parametrize("range_,seed,rounds,a,b,want", VECTORS)
def test_masscan_vectors(range_: int, seed: int, rounds: int, a: int | None, b: int | None,
                         want: list[int]) -> None:
    br = BlackRock(range_, seed, rounds)
    if a is not None:
        assert (br.a, br.b) == (a, b)
    assert [br.shuffle(i) for i in range(len(want))] == want
    got = br.shuffle_array(np.arange(len(want), dtype=np.uint64))
    assert got.dtype == np.uint64
    assert got.tolist() == want
    assert [br.unshuffle(x) for x in want] == list(range(len(want)))


@pytest.mark.parametrize("range_,seed,rounds,a,b,want", VECTORS)
def test_vectors_in_byte_table_mode(monkeypatch: pytest.MonkeyPatch, range_: int, seed: int,
                                    rounds: int, a: int | None, b: int | None,
                                    want: list[int]) -> None:
    """The general path (per-byte tables + 64-bit modulo) agrees with the tabulated path."""
    monkeypatch.setattr(blackrock, "_TABLE_BYTES", 0)
    br = BlackRock(range_, seed, rounds)
    assert br._tables is None
    assert br.shuffle_array(np.arange(len(want))).tolist() == want


def test_fixed_small_splits() -> None:
    # masscan's fixed (a, b) for ranges <= 8, then b is bumped while a*b <= range.
    want = {1: (1, 2), 2: (1, 3), 3: (2, 2), 4: (2, 3), 5: (2, 3), 6: (2, 4), 7: (3, 3),
            8: (3, 3)}
    for r, ab in want.items():
        br = BlackRock(r, 5)
        assert (br.a, br.b) == ab
        assert sorted(br.shuffle_array(np.arange(r)).tolist()) == list(range(r))


def test_masscan_scan_order_with_rate_offset() -> None:
    # masscan.md §5: a scan of 10.0.0.0/29 -p80,443 --rate 4 --seed 1 sends shuffle(i+4) first
    # (masscan's retry offset), decoded as ip = x % 8, port = [80, 443][x // 8].
    br = BlackRock(16, 1)
    xs = br.shuffle_array(np.arange(4, 12)).tolist()
    got = [(x % 8, (80, 443)[x // 8]) for x in xs]
    assert got == [(6, 80), (5, 443), (7, 443), (3, 443), (1, 80), (4, 80), (7, 80), (6, 443)]


def test_sbox_matches_reference_file() -> None:
    from pathlib import Path
    ref = Path(__file__).resolve().parents[2] / "shared" / "reference" / "blackrock-sbox.txt"
    if not ref.exists():  # the shared tree sits beside the repository in this workplace and in CI
        pytest.skip(f"{ref} is not beside the repository")
    text = "".join(line for line in ref.read_text().splitlines() if not line.startswith("#"))
    assert bytes.fromhex(text) == SBOX


def test_unshuffle_inverts_range_1000() -> None:
    br = BlackRock(1000, 12345)
    perm = br.shuffle_array(np.arange(1000))
    assert sorted(perm.tolist()) == list(range(1000))
    assert all(br.unshuffle(int(x)) == i for i, x in enumerate(perm))


def test_errors_and_empty() -> None:
    br = BlackRock(10, 1)
    with pytest.raises(ValueError):
        br.shuffle(10)
    with pytest.raises(ValueError):
        br.shuffle_array(np.array([3, 10]))
    with pytest.raises(ValueError):
        br.shuffle_array(np.array([-1]))
    with pytest.raises(ValueError):
        BlackRock(10, 1, rounds=64)
    with pytest.raises(ValueError):
        BlackRock(2**64 - 1, 1)
    empty = BlackRock(0, 1)
    assert empty.shuffle_array(np.array([], dtype=np.uint64)).shape == (0,)
    assert BlackRock(1, 99).shuffle(0) == 0


def test_wrap_fixup_path_is_exact() -> None:
    """Force the exact per-element path for R values whose F could wrap: results unchanged."""
    br = BlackRock(5000, 7)
    want = br.shuffle_array(np.arange(5000)).tolist()
    br._wraps = [np.arange(0, max(br.a, br.b), 3, dtype=np.uint64) for _ in br._wraps]
    assert br.shuffle_array(np.arange(5000)).tolist() == want
    assert want == [br.shuffle(i) for i in range(5000)]


@pytest.mark.parametrize("range_", [2**34 + 17, 2**40, 2**48, 2**63, 3 * 10**15])
def test_large_ranges_scalar_equals_vector(range_: int) -> None:
    br = BlackRock(range_, 0xDEADBEEFCAFEF00D)
    rng = np.random.default_rng(range_ % 1000)
    idx = rng.integers(0, min(range_, 2**63), 200, dtype=np.uint64)
    idx[:2] = [0, range_ - 1]
    got = br.shuffle_array(idx).tolist()
    assert got == [br.shuffle(int(i)) for i in idx]
    assert all(0 <= g < range_ for g in got)
    assert [br.unshuffle(g) for g in got[:50]] == idx[:50].tolist()


@settings(max_examples=80, deadline=None)
@given(st.integers(0, 3000), st.integers(0, 2**64 - 1), st.integers(0, 20))
def test_permutation_property(range_: int, seed: int, rounds: int) -> None:
    br = BlackRock(range_, seed, rounds)
    perm = br.shuffle_array(np.arange(range_, dtype=np.uint64))
    assert np.array_equal(np.sort(perm), np.arange(range_, dtype=np.uint64))
    for i in range(0, range_, max(1, range_ // 15)):
        x = br.shuffle(i)
        assert x == int(perm[i])
        assert br.unshuffle(x) == i


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 2**50), st.integers(0, 2**64 - 1), st.data())
def test_scalar_equals_vector_any_range(range_: int, seed: int, data: st.DataObject) -> None:
    br = BlackRock(range_, seed)
    idx = data.draw(st.lists(st.integers(0, range_ - 1), min_size=1, max_size=10))
    got = br.shuffle_array(np.array(idx, dtype=np.uint64)).tolist()
    assert got == [br.shuffle(i) for i in idx]
    assert [br.unshuffle(x) for x in got] == idx


@settings(max_examples=40, deadline=None)
@given(st.sampled_from([9, 1000, 2**24 * 10, 2**30 - 7, 2**30 + 5, 2**33 + 1, 2**34]),
       st.integers(0, 2**64 - 1), st.sampled_from([14, 3, 4]), st.data())
def test_narrow_tables_equal_byte_table_reference(range_: int, seed: int, rounds: int,
                                                  data: st.DataObject) -> None:
    """The tabulated rounds run on uint16/uint32 halves; the byte-table path runs on uint64:
    same permutation on random indexes (and the scalar reference on a few)."""
    fast = BlackRock(range_, seed, rounds)
    assert fast._tables is not None
    assert fast._dtype == (np.uint16 if max(fast.a, fast.b) < 1 << 15 else np.uint32)
    old = blackrock._TABLE_BYTES
    try:
        blackrock._TABLE_BYTES = 0
        ref = BlackRock(range_, seed, rounds)
    finally:
        blackrock._TABLE_BYTES = old
    assert ref._tables is None
    n = data.draw(st.integers(1, 3000))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32)))
    idx = rng.integers(0, range_, n, dtype=np.uint64)
    got = fast.shuffle_array(idx)
    assert got.dtype == np.uint64
    assert np.array_equal(got, ref.shuffle_array(idx))
    assert [int(g) for g in got[:5]] == [fast.shuffle(int(i)) for i in idx[:5]]
