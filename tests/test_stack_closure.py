"""h2-style closure property: any sequence of segments and timer events, in any state, never raises,
keeps the table consistent, and ends with every connection closed (every session flushed exactly
once) after `close_all`."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from stack_helpers import COOKIE, Peer, Sessions, make_stack, parse
from tidescan.banners.base import BannerConfig
from tidescan.banners.session import BannerSession

M32 = 0xFFFFFFFF

EVENT = st.one_of(
    st.tuples(st.just("synack"), st.integers(0, 2)),
    st.tuples(st.just("data"), st.integers(0, 2), st.integers(-8, 8), st.binary(max_size=30)),
    st.tuples(st.just("fin"), st.integers(0, 2), st.integers(-2, 2)),
    st.tuples(st.just("rst"), st.integers(0, 2), st.integers(-3, 3000)),
    st.tuples(st.just("ack"), st.integers(0, 2), st.integers(-3, 40)),
    st.tuples(st.just("weird"), st.integers(0, 2), st.integers(0, 255)),
    st.tuples(st.just("time"), st.floats(0, 12)),
)


class Flushed:
    """Counts on_close calls per session (wrapping either kind of session)."""

    def __init__(self, inner: object) -> None:
        self.inner = inner
        self.closes = 0

    def on_connect(self, now: float) -> list:
        return self.inner.on_connect(now)  # type: ignore[attr-defined]

    def on_hello_timeout(self, now: float) -> list:
        return self.inner.on_hello_timeout(now)  # type: ignore[attr-defined]

    def feed(self, data: bytes, now: float) -> list:
        return self.inner.feed(data, now)  # type: ignore[attr-defined]

    def on_close(self, now: float) -> list:
        self.closes += 1
        return self.inner.on_close(now)  # type: ignore[attr-defined]


@settings(max_examples=120, deadline=None)
@given(events=st.lists(EVENT, max_size=40), real=st.booleans(),
       kw=st.fixed_dictionaries({"close_after_hello": st.booleans(),
                                 "close_on": st.sampled_from([None, b"\n", b"x"]),
                                 "hello": st.sampled_from([None, b"HI\r\n", b"Z" * 3000])}),
       ports=st.sampled_from([(80, 22, 21), (443, 25, 8080), (1, 2, 3)]))
def test_any_sequence_closes_cleanly(events: list, real: bool, kw: dict, ports: tuple) -> None:  # type: ignore[type-arg]
    made: list[Flushed] = []
    fake = Sessions(**kw)
    cfg = BannerConfig()

    def factory(port: int, now: float) -> Flushed:
        s = Flushed(BannerSession(port, cfg, now) if real else fake(port, now))
        made.append(s)
        return s

    stack, _ = make_stack(fake, max_retries=2)
    stack.factory = factory
    peers = [Peer(stack, port=p, v6=(i == 1)) for i, p in enumerate(ports)]
    now = 100.0
    records = 0
    for ev in events:
        kind = ev[0]
        if kind == "time":
            now += ev[1]
            out = stack.on_timer(now)
        else:
            p = peers[ev[1]]
            if kind == "synack":
                out = stack.on_synacks(parse([p.synack_frame()]), [0], now)
            elif kind == "data":
                f = p.frame("PA", seq=p.seq + ev[2], payload=ev[3])
                p.seq = max(p.seq, (p.seq + ev[2] + len(ev[3])) & M32) if ev[2] <= 0 else p.seq
                out = stack.on_segments(parse([f]), [0], now)
            elif kind == "fin":
                out = stack.on_segments(parse([p.frame("FA", seq=p.seq + ev[2])]), [0], now)
            elif kind == "rst":
                out = stack.on_segments(parse([p.frame("R", seq=p.seq + ev[2])]), [0], now)
            elif kind == "ack":
                out = stack.on_segments(parse([p.frame("A", ack=COOKIE + 1 + ev[2])]), [0], now)
            else:
                fl = ["F", "S", "R", "P", "A", "U", "E", "C"]
                flags = "".join(f for i, f in enumerate(fl) if ev[2] >> i & 1)
                out = stack.on_segments(parse([p.frame(flags, payload=b"??")]), [0], now)
            p.take(out)
        records += len(out.records)
        assert all(r.kind == "banner" and r.app for r in out.records)
        assert len(stack) <= 3 and stack.table.live == len(stack)
        for q in peers:                        # table and index agree
            info = q.info()
            assert info is None or stack.table.state[info.slot] != 0
    out = stack.close_all(now + 1)
    assert len(stack) == 0 and all(q.info() is None for q in peers)
    assert all(s.closes == 1 for s in made), [s.closes for s in made]
    assert not stack.outq and stack.table.live == 0 and stack.stats.session_errors == 0
    assert len(stack.on_timer(now + 1000)) == 0
