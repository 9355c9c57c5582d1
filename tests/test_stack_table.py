"""The connection table's NumPy hash index and the timer table, against plain-Python models."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tidescan.stack.tcb_table import TcbTable, map_v4
from tidescan.stack.timers import NEVER, TimerTable

Key = tuple[int, int, int, int, int, int]


def _insert(t: TcbTable, k: Key) -> int:
    h = int(t.hash(*[np.array([v], np.uint64) for v in k[:4]], np.array([k[4]]), np.array([k[5]]))[0])
    return t.insert(*k, h)


def _lookup(t: TcbTable, keys: list[Key]) -> list[int]:
    if not keys:
        return []
    cols = list(zip(*keys))
    return t.lookup(*[np.array(c, np.uint64) for c in cols[:4]], np.array(cols[4]),
                    np.array(cols[5])).tolist()


KEYS = st.tuples(st.sampled_from([0, 1, 2**63]), st.integers(0, 40), st.just(0),
                 st.sampled_from([1, 2]), st.integers(0, 3), st.integers(0, 3))


@settings(max_examples=150, deadline=None)
@given(ops=st.lists(st.tuples(st.booleans(), KEYS), max_size=120), key=st.integers(0, 2**64 - 1))
def test_index_matches_dict_model(ops: list[tuple[bool, Key]], key: int) -> None:
    t = TcbTable(16, key=key)
    model: dict[Key, int] = {}
    for add, k in ops:
        if add and k not in model:
            model[k] = _insert(t, k)
        elif not add and k in model:
            t.remove(model.pop(k))
        if len(model) % 7 == 0:
            t.recycle()
    probe = list(model) + [k for _, k in ops if k not in model]
    assert _lookup(t, probe) == [model.get(k, -1) for k in probe]
    assert t.live == len(model) and len(set(model.values())) == len(model)


def test_growth_keeps_every_connection_and_low_slots_first() -> None:
    t = TcbTable(16, key=5)
    keys = [(0, int(map_v4(0x0A000000 + i)), 0, int(map_v4(0x0A640001)), 80, 61000)
            for i in range(5000)]
    slots = [_insert(t, k) for k in keys]
    assert sorted(slots) == list(range(5000)) and t.capacity == 8192
    assert _lookup(t, keys) == slots
    for k, s in list(zip(keys, slots))[::2]:
        t.remove(s)
    t.recycle()
    assert _lookup(t, keys) == [-1 if i % 2 == 0 else s for i, s in enumerate(slots)]
    again = _insert(t, keys[0])
    assert again in slots[::2]                 # recycled slots are reused before new ones
    assert t.used == 5000


def test_removed_slot_not_reused_before_recycle() -> None:
    t = TcbTable(16, key=1)
    a = _insert(t, (0, 1, 0, 2, 3, 4))
    t.remove(a)
    b = _insert(t, (0, 5, 0, 2, 3, 4))
    assert b != a
    t.recycle()
    assert _insert(t, (0, 6, 0, 2, 3, 4)) == a


def test_timers_due_in_order_with_resolution() -> None:
    tm = TimerTable(8, resolution=0.01)
    tm.arm(3, 10.0)
    tm.arm(1, 5.0)
    tm.arm(2, 7.0)
    assert tm.due(4.9, 8).tolist() == []
    assert tm.due(7.0, 8).tolist() == [1, 2]
    assert tm.next_due == 10.0
    tm.arm(4, 9.0)
    assert tm.due(7.005, 8).tolist() == []     # within one tick of the last scan
    tm.cancel(4)
    assert tm.due(9.5, 8).tolist() == []
    assert tm.due(10.0, 8).tolist() == [3] and tm.next_due == NEVER
    scans = tm.scans
    assert tm.due(100.0, 8).tolist() == [] and tm.scans == scans   # nothing armed: no scan
    tm.grow(32)
    tm.arm(20, 1.0)
    assert tm.due(101.0, 32).tolist() == [20]
