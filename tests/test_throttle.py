"""Throttle accuracy with an injected clock: exact at 10 pps and at 10 M pps, no bursts after stalls."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from tidescan.throttle import Throttle


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t

    def sleep(self, dt: float) -> None:
        assert dt > 0
        self.t += dt


def run_for(rate: float, seconds: float, max_batch: int = 1024, per_batch_cost: float = 0.0) -> int:
    clk = FakeClock()
    th = Throttle(rate, max_batch=max_batch, clock=clk, sleep=clk.sleep)
    end = clk.t + seconds
    sent = 0
    while clk.t < end:
        n = th.next_batch()
        assert 1 <= n <= max_batch
        th.consume(n)
        sent += n
        clk.t += per_batch_cost
    return sent


@pytest.mark.parametrize("rate", [10, 100, 1000, 123_456, 1_000_000, 10_000_000])
def test_rate_within_one_percent(rate: float) -> None:
    seconds = 20.0 if rate < 1000 else 2.0
    sent = run_for(rate, seconds)
    assert abs(sent - rate * seconds) <= max(2, 0.01 * rate * seconds)


def test_low_rate_releases_one_at_a_time() -> None:
    clk = FakeClock()
    th = Throttle(10, clock=clk, sleep=clk.sleep)
    sizes = []
    for _ in range(20):
        n = th.next_batch()
        sizes.append(n)
        th.consume(n)
    assert max(sizes) == 1
    assert clk.t - 1000.0 == pytest.approx(1.9, abs=0.11)


def test_no_flood_after_stall() -> None:
    clk = FakeClock()
    th = Throttle(1000, clock=clk, sleep=clk.sleep, burst=0.02)
    th.consume(th.next_batch())
    clk.t += 60.0  # the sender was stalled for a minute
    n = th.next_batch()
    assert n <= 20


@settings(max_examples=50, deadline=None)
@given(rate=st.floats(min_value=1, max_value=5e6), cost=st.floats(min_value=0, max_value=0.002))
def test_never_ahead_of_schedule(rate: float, cost: float) -> None:
    clk = FakeClock()
    th = Throttle(rate, clock=clk, sleep=clk.sleep)
    start = clk.t
    for _ in range(200):
        n = th.next_batch()
        th.consume(n)
        # Sent never exceeds what the elapsed time allows plus the burst allowance.
        assert th.sent <= (clk.t - start) * rate + th.burst + 1
        clk.t += cost


def test_first_batch_is_small_then_full() -> None:
    """The first probes leave after ~0.2 ms of tokens, not after a whole 16 k batch (start-up)."""
    clk = FakeClock()
    th = Throttle(5_000_000, max_batch=16384, clock=clk, sleep=clk.sleep)
    first = th.next_batch()
    waited = clk.t - 1000.0
    th.consume(first)
    clk.t += 0.005
    second = th.next_batch()
    assert first == 1024 and waited < 0.0003
    assert second == 16384
