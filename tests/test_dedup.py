"""Reply dedup: exact within capacity, batch-internal duplicates, FIFO eviction, fixed memory."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tidescan.dedup import Dedup


def test_exact_within_capacity() -> None:
    d = Dedup(slots=1 << 16, key=1)
    # 4096 distinct tuples (slots / 16), random ports.
    ip = np.arange(1 << 12, dtype=np.uint64) + np.uint64(0x0A000000)
    port = np.random.default_rng(0).integers(0, 65536, ip.size, dtype=np.uint64)
    assert d.filter4(ip, port, 0x0AFFFF01, 40000).all()
    # Replayed in a different order and in several batches: all duplicates.
    perm = np.random.default_rng(3).permutation(ip.size)
    for chunk in np.array_split(perm, 7):
        assert not d.filter4(ip[chunk], port[chunk], 0x0AFFFF01, 40000).any()
    # Any field different -> a new tuple.
    assert d.filter4(ip, port, 0x0AFFFF02, 40000).all()
    assert d.filter4(ip, port, 0x0AFFFF01, 40001).all()
    assert d.filter4(ip, port + np.uint64(65536), 0x0AFFFF01, 40000).all()  # UDP, same number


def test_duplicates_inside_one_batch() -> None:
    d = Dedup(slots=1 << 10, key=7)
    ip = np.array([5, 6, 5, 5, 7, 6, 8], dtype=np.uint64)
    m = d.filter4(ip, 80, 1, 2)
    assert m.tolist() == [True, True, False, False, True, False, True]
    assert not d.filter4(ip, 80, 1, 2).any()
    # Shape follows the broadcast shape.
    assert d.filter4(np.arange(6).reshape(2, 3), 81, 1, 2).shape == (2, 3)
    assert d.filter4(np.array([], dtype=np.uint64), 80, 1, 2).shape == (0,)


def test_ipv6_and_ipv4_independent() -> None:
    d = Dedup(slots=1 << 10, key=9)
    hi = np.array([0x20010DB800000000] * 3, dtype=np.uint64)
    lo = np.array([1, 2, 1], dtype=np.uint64)
    assert d.filter6(hi, lo, hi, 99, 443, 40000).tolist() == [True, True, False]
    assert d.filter6(hi, lo, hi, 99, 443, 40000).tolist() == [False, False, False]
    assert d.filter6(hi, lo, hi, 99, 80, 40000).tolist() == [True, True, False]
    assert d.filter4([1, 2], 443, 99, 40000).tolist() == [True, True]


def test_oldest_entry_evicted_first() -> None:
    d = Dedup(slots=4, ways=4, key=1)  # a single bucket of 4 entries
    for i in range(4):
        assert d.filter4([i], 80, 1, 2).tolist() == [True]
    assert not d.filter4([0, 1, 2, 3], 80, 1, 2).any()
    assert d.filter4([4], 80, 1, 2).tolist() == [True]        # evicts 0, the oldest
    assert d.filter4([1, 2, 3, 4], 80, 1, 2).tolist() == [False] * 4
    assert d.filter4([0], 80, 1, 2).tolist() == [True]        # forgotten, reported again
    # More new entries than ways in one batch: only `ways` of them are kept.
    assert d.filter4(np.arange(100, 110), 80, 1, 2).all()
    assert d.filter4(np.arange(100, 110), 80, 1, 2).sum() == 10 - 4


def test_memory_is_fixed() -> None:
    d = Dedup(slots=1 << 12)
    before = d.nbytes
    table = d._table
    assert before == (1 << 12) * 8 + (1 << 12) // 8
    rng = np.random.default_rng(1)
    for _ in range(20):  # 20x the capacity in distinct tuples
        d.filter4(rng.integers(0, 1 << 32, 4096, dtype=np.uint64), 80, 1, 2)
    assert d.nbytes == before and d._table is table
    assert (d._table != 0).sum() == 1 << 12  # full, and nothing more


def test_bad_sizes() -> None:
    for bad in (dict(slots=1000), dict(slots=4, ways=8), dict(ways=3), dict(ways=256)):
        with pytest.raises(ValueError):
            Dedup(**bad)


tuple_st = st.tuples(st.integers(0, 7), st.sampled_from([80, 443, 65536 + 53]),
                     st.integers(0, 1), st.sampled_from([40000, 40016]))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.lists(tuple_st, max_size=30), max_size=8), st.integers(0, 2**64 - 1))
def test_matches_python_set_below_capacity(batches: list, key: int) -> None:
    # At most 8*3*2*2 = 96 distinct tuples in 4096 slots (512 8-way buckets).
    d = Dedup(slots=4096, key=key)
    seen: set[tuple[int, int, int, int]] = set()
    for batch in batches:
        want = []
        for t in batch:
            want.append(t not in seen)
            seen.add(t)
        cols = [np.array([t[i] for t in batch], dtype=np.uint64) for i in range(4)]
        assert d.filter4(*cols).tolist() == want


def _reference(table: list[list[int]], cursor: list[int], shift: int, ways: int,
               fps: list[int]) -> list[bool]:
    """The filter's contract in plain Python: first occurrences; new fingerprints go into their
    bucket's ring in ascending order, oldest entry overwritten first."""
    fps = [f or 1 for f in fps]
    out, new_sorted = [], []
    seen_in_batch: set[int] = set()
    for f in fps:
        b = f >> shift if shift < 64 else 0
        is_new = f not in seen_in_batch and f not in table[b]
        out.append(is_new)
        if is_new:
            new_sorted.append(f)
        seen_in_batch.add(f)
    for f in sorted(new_sorted):
        b = f >> shift if shift < 64 else 0
        table[b][cursor[b]] = f
        cursor[b] = (cursor[b] + 1) % ways
    return out


@settings(max_examples=200, deadline=None)
@given(st.sampled_from([(8, 8), (32, 8), (64, 4), (16, 1)]),
       st.lists(st.lists(st.integers(0, 2**64 - 1) | st.sampled_from([0, 1, 2**63, 2**64 - 1]),
                         max_size=40), max_size=6))
def test_filter_matches_reference_ring(sizes: tuple[int, int], batches: list[list[int]]) -> None:
    """Bucket rings, eviction order and both insert paths, on raw fingerprints in tiny tables."""
    slots, ways = sizes
    d = Dedup(slots=slots, ways=ways, key=0)
    shift = int(d._bucket_shift) if d.n_buckets > 1 else 64
    table = [[0] * ways for _ in range(d.n_buckets)]
    cursor = [0] * d.n_buckets
    for batch in batches:
        want = _reference(table, cursor, shift, ways, batch)
        assert d._filter(np.array(batch, dtype=np.uint64)).tolist() == want
        assert d._table.tolist() == table and d._cursor.tolist() == cursor


def test_scalar_arguments() -> None:
    d = Dedup(slots=1 << 10, key=3)
    assert bool(d.filter4(1, 80, 2, 40000)) is True
    assert bool(d.filter4(1, 80, 2, 40000)) is False
    assert d.filter6(1, 2, 3, 4, 80, 40000).shape == ()
