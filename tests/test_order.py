"""The transmit schedule: exact coverage, spacing, shards/senders partition, resume, -sL order."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tidescan.blackrock import BlackRock
from tidescan.order import Schedule, list_scan_indexes, resume_index_from, shard_size


def naive_stream(s: Schedule) -> list[tuple[int, int]]:
    """(step, position) of every probe, straight from the definition in the docstring."""
    out = []
    for t in range(s.n_steps):
        if t < s.n_local:
            out.append((t, t))
        for r in range(1, s.retries + 1):
            p = t - r * s.gap
            if 0 <= p < s.n_local:
                out.append((t, p))
    return out


def drain(s: Schedule, batch: int, start: int = 0) -> tuple[list[int], list[int]]:
    """All indexes of the stream via probes(), plus the batch boundaries (steps)."""
    got: list[int] = []
    bounds = [start]
    step = start
    while step < s.n_steps:
        idx, nxt = s.probes(step, batch)
        assert nxt > step
        assert len(idx) <= batch
        assert len(idx) == s.progress(nxt) - s.progress(step)
        got.extend(idx.tolist())
        step = nxt
        bounds.append(step)
    assert step == s.n_steps
    return got, bounds


def all_stream(s: Schedule) -> list[int]:
    return drain(s, max(s.retries + 1, 4096))[0]


params = st.fixed_dictionaries({
    "range_": st.integers(0, 300),
    "retries": st.integers(0, 3),
    "gap": st.integers(1, 40),
    "shard": st.integers(1, 4).flatmap(lambda k: st.tuples(st.integers(1, k), st.just(k))),
    "senders": st.integers(1, 3),
})


@settings(max_examples=120, deadline=None)
@given(params, st.data())
def test_matches_definition_and_batches(p: dict, data: st.DataObject) -> None:
    sender = data.draw(st.integers(0, p["senders"] - 1))
    s = Schedule(sender=sender, **p)
    want = naive_stream(s)
    assert len(want) == s.total_probes == s.n_local * (s.retries + 1)
    k, big_k = s.shard
    to_global = [(k - 1) + (s.start + sender + pos * s.senders) * big_k for _, pos in want]
    batch = data.draw(st.integers(s.retries + 1, 50))
    got, bounds = drain(s, batch)
    assert got == to_global
    # progress() at every step equals the definition's prefix counts.
    steps = [t for t, _ in want]
    for t in range(s.n_steps + 1):
        assert s.progress(t) == sum(1 for x in steps if x < t)


@settings(max_examples=80, deadline=None)
@given(params)
def test_each_target_r_plus_1_times_gap_apart(p: dict) -> None:
    s = Schedule(**p)
    pos, _ = s.positions(0, s.total_probes + s.retries + 1)
    # Step of the j-th probe, from progress(): the stream really spaces copies by gap steps.
    prog = np.array([s.progress(t) for t in range(s.n_steps + 1)])
    step_of = np.searchsorted(prog, np.arange(len(pos)), side="right") - 1
    copies: dict[int, list[int]] = {}
    for q, t in zip(pos.tolist(), step_of.tolist()):
        copies.setdefault(q, []).append(t)
    assert sorted(copies) == list(range(s.n_local))
    for q, ts in copies.items():
        assert ts == [q + r * s.gap for r in range(s.retries + 1)]


@settings(max_examples=80, deadline=None)
@given(st.integers(0, 400), st.integers(1, 5), st.integers(1, 4), st.integers(0, 2),
       st.integers(1, 30))
def test_shards_and_senders_partition_the_space(range_: int, big_k: int, senders: int,
                                                retries: int, gap: int) -> None:
    seen: Counter[int] = Counter()
    for k in range(1, big_k + 1):
        for snd in range(senders):
            s = Schedule(range_, retries, gap, (k, big_k), senders, snd)
            seen.update(all_stream(s))
        assert sum(Schedule(range_, 0, 1, (k, big_k), senders, snd).n_local
                   for snd in range(senders)) == shard_size(range_, (k, big_k))
    assert set(seen) == set(range(range_))
    assert all(c == retries + 1 for c in seen.values())


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 300), st.integers(0, 3), st.integers(1, 30), st.integers(1, 30))
def test_independent_of_gap(range_: int, retries: int, gap1: int, gap2: int) -> None:
    a = Counter(all_stream(Schedule(range_, retries, gap1, senders=2, sender=1)))
    b = Counter(all_stream(Schedule(range_, retries, gap2, senders=2, sender=1)))
    assert a == b
    # The first probes come in the same order whatever the gap (the gap only delays retries).
    firsts1 = list(dict.fromkeys(all_stream(Schedule(range_, retries, gap1))))
    firsts2 = list(dict.fromkeys(all_stream(Schedule(range_, retries, gap2))))
    assert firsts1 == firsts2


@settings(max_examples=100, deadline=None)
@given(params, st.integers(1, 4), st.data())
def test_resume_never_misses(p: dict, senders2: int, data: st.DataObject) -> None:
    """Stop every sender at an arbitrary step, save the resume index, resume (even with another
    number of senders): every target of the shard gets all its probes in one of the two runs."""
    range_, retries, gap, shard, senders = (p["range_"], p["retries"], p["gap"], p["shard"],
                                            p["senders"])
    first_index = data.draw(st.integers(0, shard_size(range_, shard) + 2))
    complete: Counter[int] = Counter()
    done_steps = []
    for snd in range(senders):
        s = Schedule(range_, retries, gap, shard, senders, snd, resume_index=first_index)
        stop = data.draw(st.integers(0, s.n_steps))
        done_steps.append(stop)
        idx, _ = s.positions(0, s.total_probes + retries + 1)
        sent = idx[: s.progress(stop)]
        k, big_k = shard
        complete.update(((k - 1) + (s.start + snd + int(q) * senders) * big_k) for q in sent)
    n_idx = resume_index_from(done_steps, range_, retries, gap, shard, resume_index=first_index)
    k, big_k = shard
    fully = {i for i, c in complete.items() if c == retries + 1}
    # Every local index in [first_index, n_idx) has had all its probes.
    size = shard_size(range_, shard)
    assert n_idx >= min(first_index, size)
    for local in range(min(first_index, size), n_idx):
        assert (k - 1) + local * big_k in fully
    second: set[int] = set()
    for snd in range(senders2):
        second.update(all_stream(Schedule(range_, retries, gap, shard, senders2, snd,
                                          resume_index=n_idx)))
    wanted = {(k - 1) + local * big_k for local in range(min(first_index, size), size)}
    assert wanted <= fully | second


@settings(max_examples=60, deadline=None)
@given(params, st.integers(0, 100), st.integers(0, 100))
def test_resume_count_stops_exactly(p: dict, start: int, count: int) -> None:
    k, big_k = p["shard"]
    seen: Counter[int] = Counter()
    for snd in range(p["senders"]):
        seen.update(all_stream(Schedule(sender=snd, resume_index=start, resume_count=count, **p)))
    size = shard_size(p["range_"], p["shard"])
    lo = min(start, size)
    hi = min(size, lo + count)
    assert set(seen) == {(k - 1) + local * big_k for local in range(lo, hi)}
    assert all(c == p["retries"] + 1 for c in seen.values())
    assert list_scan_indexes(p["range_"], p["shard"], start, count).tolist() == \
        [(k - 1) + local * big_k for local in range(lo, hi)]


def test_resume_index_simple_cases() -> None:
    # One sender, 10 targets, 1 retry, gap 3: after 5 steps positions 0, 1 are complete.
    assert resume_index_from([5], 10, retries=1, gap=3) == 2
    assert resume_index_from([0], 10, retries=1, gap=3) == 0
    assert resume_index_from([13], 10, retries=1, gap=3) == 10  # finished
    # Two senders (positions interleave): the slower one holds the index back.
    assert resume_index_from([4, 2], 10) == 5   # sender 1 done l=1,3 -> first missing l=5
    assert resume_index_from([2, 4], 10) == 4   # sender 0 done l=0,2 -> first missing l=4
    # Shard-local and relative to the window it resumed from.
    assert resume_index_from([3], 100, shard=(2, 4), resume_index=7) == 10


def test_list_scan_masscan_vectors() -> None:
    # masscan -sL 10.0.0.0/29 --seed 42 --shard 2/3 -> 10.0.0.3 10.0.0.7 10.0.0.6
    br = BlackRock(8, 42)
    xs = br.shuffle_array(list_scan_indexes(8, (2, 3))).tolist()
    assert xs == [3, 7, 6]
    # masscan -sL 10.0.0.0/28 -p80 --seed 1 -> .0 .8 .5 .9 .6 .13 .15 .11 .1 .4 .7 .14 .10 .12 .2 .3
    br = BlackRock(16, 1)
    assert br.shuffle_array(list_scan_indexes(16)).tolist() == \
        [0, 8, 5, 9, 6, 13, 15, 11, 1, 4, 7, 14, 10, 12, 2, 3]


def test_counts_and_errors() -> None:
    s = Schedule(10, retries=2, gap=4)
    assert (s.n_local, s.total_probes, s.n_steps) == (10, 30, 18)
    assert Schedule(10, shard=(3, 4)).n_local == 2   # i = 2, 6
    assert Schedule(2, shard=(3, 4)).n_local == 0
    empty = Schedule(0, retries=3)
    assert (empty.n_steps, empty.total_probes) == (0, 0)
    idx, nxt = empty.probes(0, 10)
    assert idx.size == 0 and nxt == 0
    with pytest.raises(ValueError):
        s.probes(0, 2)  # cannot hold one whole step of 3 probes
    for bad in (dict(gap=0), dict(retries=-1), dict(shard=(0, 1)), dict(shard=(3, 2)),
                dict(senders=2, sender=2), dict(resume_index=-1), dict(resume_count=-1)):
        with pytest.raises(ValueError):
            Schedule(10, **bad)


def test_big_range_batch_is_vectorized_and_exact() -> None:
    # A /0 x 1000 ports scan, sharded: indexes stay exact in uint64 and batches are whole steps.
    range_ = (1 << 32) * 1000
    s = Schedule(range_, retries=2, gap=100_000, shard=(3, 7), senders=2, sender=1,
                 resume_index=10**9)
    idx, nxt = s.probes(500_000, 65_536)
    assert idx.dtype == np.uint64 and len(idx) <= 65_536
    assert len(idx) == s.progress(nxt) - s.progress(500_000)
    assert len(idx) > 65_536 - 3
    first = (3 - 1) + (10**9 + 1 + 500_000 * 2) * 7
    assert int(idx[0]) == first
    assert int(idx.max()) < range_
