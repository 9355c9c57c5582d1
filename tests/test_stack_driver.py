"""Sans-IO tests of the banner TCP stack: every transition, with injected time.

A scripted peer (stack_helpers.Peer, frames built and read back with scapy) plays the server.
Sequence numbers start just below 2**32 on the peer's side, so wrap-around is exercised too.
"""

from __future__ import annotations

import pytest
from scapy.layers.inet import TCP

from stack_helpers import (COOKIE, ISN, ME4, MY_PORT, THEM4, Peer, Sessions, dissect, flags_of,
                           ip_int, make_stack, parse)
from tidescan.banners.base import Banner, Close, Send

T0 = 1000.0
M32 = 0xFFFFFFFF


def tcp(p):  # noqa: ANN001, ANN202
    return p[TCP]


# ------------------------------------------------------------------------------ handshake

def test_synack_creates_connection_and_acks() -> None:
    st, ss = make_stack()
    p = Peer(st)
    out = p.synack(T0)
    (ack,) = dissect(out)
    assert flags_of(ack) == "A"
    assert tcp(ack).seq == COOKIE + 1 and tcp(ack).ack == (ISN + 1) & M32
    assert tcp(ack).sport == MY_PORT and tcp(ack).dport == 80 and tcp(ack).window == 1200
    assert ack["IP"].src == ME4 and ack["IP"].dst == THEM4
    info = p.info()
    assert info.state == "WAIT_HELLO" and info.ttl == 57
    assert info.deadline == T0 + 2.0                      # the hello timeout
    assert len(st) == 1 and ss.made[0].calls == ["connect"] and ss.made[0].port == 80
    assert out.records == []


def test_duplicate_synack_reacks_without_new_connection() -> None:
    st, ss = make_stack()
    p = Peer(st)
    p.synack(T0)
    out = p.synack(T0 + 0.5)                               # our ACK was lost: SYN-ACK again
    (ack,) = dissect(out)
    assert flags_of(ack) == "A" and tcp(ack).seq == COOKIE + 1 and tcp(ack).ack == (ISN + 1) & M32
    assert len(st) == 1 and len(ss.made) == 1 and st.stats.duplicate_synacks == 1
    # the same SYN-ACK twice in one block: one connection
    st2, ss2 = make_stack()
    q = Peer(st2)
    out = st2.on_synacks(parse([q.synack_frame(), q.synack_frame()]), [0, 1], T0)
    assert len(st2) == 1 and len(ss2.made) == 1 and len(out) == 1
    # and a SYN-ACK given to on_segments is re-ACKed, not a new connection
    out = q.take(st2.on_segments(parse([q.synack_frame()]), [0], T0 + 1))
    assert [flags_of(x) for x in dissect(out)] == ["A"] and len(st2) == 1


def test_many_synacks_one_block_v4_and_v6() -> None:
    st, ss = make_stack(capacity=16)
    peers = [Peer(st, port=1000 + i, v6=bool(i % 3 == 0)) for i in range(300)]
    frames = [p.synack_frame() for p in peers]
    out = st.on_synacks(parse(frames), list(range(len(frames))), T0)
    assert len(st) == 300 and len(out) == 300 and st.table.capacity >= 300
    acks = dissect(out)
    by_port = {tcp(a).dport: a for a in acks}
    assert set(by_port) == {p.port for p in peers}
    for p in peers:
        a = by_port[p.port]
        assert ("IPv6" in a) == p.v6 and tcp(a).ack == (ISN + 1) & M32
        assert p.info() is not None
    assert sorted(s.port for s in ss.made) == sorted(p.port for p in peers)


# ------------------------------------------------------------------------------ server first

def test_server_first_banner_no_hello() -> None:
    st, ss = make_stack()
    p = Peer(st, port=22)
    p.synack(T0)
    out = p.send(T0 + 0.3, b"SSH-2.0-OpenSSH_9.2\r\n")
    (ack,) = dissect(out)
    assert flags_of(ack) == "A" and tcp(ack).ack == p.seq and tcp(ack).seq == COOKIE + 1
    assert p.info().state == "ESTABLISHED"
    assert ss.made[0].got == b"SSH-2.0-OpenSSH_9.2\r\n"
    assert len(p.timer(T0 + 2.5)) == 0                     # server talked: no hello, ever
    assert "hello" not in ss.made[0].calls and st.stats.hellos == 0
    out = p.send(T0 + 3, flags="FA")                       # server closes
    (fin,) = dissect(out)
    assert flags_of(fin) == "FA" and tcp(fin).ack == p.seq and tcp(fin).seq == COOKIE + 1
    assert [(r.app, r.banner, r.port, r.ip, r.ttl, r.kind) for r in out.records] == [
        ("unknown", b"SSH-2.0-OpenSSH_9.2\r\n", 22, ip_int(THEM4), 57, "banner")]
    assert out.records[0].timestamp == int(T0 + 3)
    assert len(st) == 0 and st.stats.closed == {"fin": 1} and ss.made[0].closed == 1


def test_data_across_sequence_wrap() -> None:
    st, ss = make_stack()
    p = Peer(st, isn=M32 - 10)                             # 4 bytes then the wrap
    p.synack(T0)
    for i, chunk in enumerate([b"0123456789", b"abcdefghij", b"KLMNOP"]):
        out = p.send(T0 + 0.1 * (i + 1), chunk)
        assert tcp(dissect(out)[0]).ack == p.seq
    assert ss.made[0].got == b"0123456789abcdefghijKLMNOP"
    assert p.info().rcv_nxt == p.seq < 100


# ------------------------------------------------------------------------------ client first

def test_hello_after_timeout_then_reply_acked() -> None:
    st, ss = make_stack()
    p = Peer(st)
    p.synack(T0)
    assert len(p.timer(T0 + 1.99)) == 0
    out = p.timer(T0 + 2.0)
    (hello,) = dissect(out)
    assert flags_of(hello) == "PA" and bytes(tcp(hello).payload) == b"HELLO\r\n"
    assert tcp(hello).seq == COOKIE + 1 and tcp(hello).ack == (ISN + 1) & M32
    assert p.info().unacked == b"HELLO\r\n" and p.info().deadline == T0 + 3.0   # RTO 1 s
    out = p.send(T0 + 2.1, b"HTTP/1.0 200 OK\r\n\r\n")     # acks the hello, answers
    (ack,) = dissect(out)
    assert flags_of(ack) == "A" and tcp(ack).ack == p.seq and tcp(ack).seq == COOKIE + 8
    info = p.info()
    assert info.unacked == b"" and info.snd_una == info.snd_nxt == COOKIE + 8
    assert info.deadline == T0 + 30.0                      # only the connection timeout is left
    assert ss.made[0].calls[:3] == ["connect", "hello", "feed:19"]


def test_hello_timeout_zero_sends_at_once() -> None:
    st, ss = make_stack(hello_timeout=0)
    p = Peer(st)
    out = p.synack(T0)
    assert [flags_of(x) for x in dissect(out)] == ["A", "PA"]   # ACK first, then the hello
    assert p.got == b"HELLO\r\n" and ss.made[0].calls == ["connect", "hello"]


def test_hello_retransmitted_then_reset_after_retries() -> None:
    st, ss = make_stack(max_retries=3)
    p = Peer(st)
    p.synack(T0)
    p.timer(T0 + 2)
    times = []
    t = T0 + 2
    for _ in range(3):
        t = p.info().deadline
        out = p.timer(t)
        (seg,) = dissect(out)
        assert flags_of(seg) == "PA" and bytes(tcp(seg).payload) == b"HELLO\r\n"
        assert tcp(seg).seq == COOKIE + 1
        times.append(t)
    assert [round(b - a, 6) for a, b in zip([T0 + 2] + times, times)] == [1.0, 2.0, 2.0]
    out = p.timer(p.info().deadline)                       # retries exhausted: RST
    assert [flags_of(x) for x in dissect(out)] == ["RA"]
    assert tcp(dissect(out)[0]).seq == COOKIE + 8
    assert len(st) == 0 and st.stats.closed == {"retries": 1} and st.stats.retransmits == 3


def test_large_hello_mss_segments_partial_ack_retransmits_rest() -> None:
    hello = bytes(range(256)) * 12                         # 3072 bytes: 1400 + 1400 + 272
    st, ss = make_stack(Sessions(hello=hello))
    p = Peer(st)
    p.synack(T0)
    out = p.timer(T0 + 2)
    segs = dissect(out)
    assert [len(tcp(s).payload) for s in segs] == [1400, 1400, 272]
    assert [tcp(s).seq - COOKIE - 1 for s in segs] == [0, 1400, 2800]
    assert p.got == hello
    st.on_segments(parse([p.frame("A", ack=COOKIE + 1 + 1400)]), [0], T0 + 2.2)
    assert p.info().unacked == hello[1400:]
    out = p.timer(p.info().deadline)                       # resend from snd_una only
    segs = dissect(out)
    assert [tcp(s).seq - COOKIE - 1 for s in segs] == [1400, 2800]
    assert b"".join(bytes(tcp(s).payload) for s in segs) == hello[1400:]


def test_ack_of_unsent_data_ignored() -> None:
    st, _ = make_stack()
    p = Peer(st)
    p.synack(T0)
    p.timer(T0 + 2)
    st.on_segments(parse([p.frame("A", ack=COOKIE + 1000)]), [0], T0 + 2.1)
    assert p.info().unacked == b"HELLO\r\n"


# ------------------------------------------------------------------------------ closing

def test_fin_from_peer_then_retransmitted_fin_gets_rst() -> None:
    st, ss = make_stack()
    p = Peer(st)
    p.synack(T0)
    p.send(T0 + 0.5, b"220 ftp ready\r\n")
    fin_seq = p.seq
    out = p.send(T0 + 1, b"bye\r\n", flags="FPA")          # data + FIN in one segment
    (fa,) = dissect(out)
    assert flags_of(fa) == "FA" and tcp(fa).ack == (fin_seq + 5 + 1) & M32
    assert ss.made[0].got == b"220 ftp ready\r\nbye\r\n"
    assert [r.banner for r in out.records] == [b"220 ftp ready\r\nbye\r\n"]
    assert len(st) == 0
    # our FIN-ACK was lost: the peer resends its FIN; no connection any more -> RST
    out = st.on_segments(parse([p.frame("FA", seq=fin_seq + 5, ack=COOKIE + 1)]), [0], T0 + 1.5)
    (rst,) = dissect(out)
    assert flags_of(rst) == "R" and tcp(rst).seq == COOKIE + 1
    assert st.stats.unknown_rst_sent == 1 and out.records == []
    # a bare ACK for an unknown tuple gets nothing
    assert len(st.on_segments(parse([p.frame("A")]), [0], T0 + 1.6)) == 0


def test_rst_from_peer_destroys_and_flushes() -> None:
    st, ss = make_stack()
    p = Peer(st)
    p.synack(T0)
    p.send(T0 + 0.5, b"partial banner")
    out = st.on_segments(parse([p.frame("R", seq=p.seq + 5000)]), [0], T0 + 0.6)   # out of window
    assert len(st) == 1 and st.stats.bad_rst == 1 and len(out) == 0
    out = st.on_segments(parse([p.frame("R")]), [0], T0 + 0.7)
    assert len(out) == 0                                   # nothing is sent in answer to a RST
    assert [r.banner for r in out.records] == [b"partial banner"]
    assert len(st) == 0 and st.stats.closed == {"rst": 1} and ss.made[0].closed == 1


def test_connection_timeout_fin_and_rst() -> None:
    st, ss = make_stack(Sessions(hello=None))              # no hello for this port: just wait
    p = Peer(st)
    p.synack(T0)
    assert len(p.timer(T0 + 2)) == 0 and ss.made[0].calls == ["connect", "hello"]
    p.send(T0 + 5, b"slow server")
    assert len(p.timer(T0 + 29.9)) == 0
    out = p.timer(T0 + 30)
    assert [flags_of(x) for x in dissect(out)] == ["FA", "RA"]
    fin, rst = dissect(out)
    assert tcp(fin).seq == COOKIE + 1 and tcp(rst).seq == COOKIE + 2
    assert tcp(fin).ack == p.seq
    assert [r.banner for r in out.records] == [b"slow server"]
    assert len(st) == 0 and st.stats.closed == {"timeout": 1}


def test_close_action_fin_after_data_keep_receiving_then_peer_fin() -> None:
    st, ss = make_stack(Sessions(close_after_hello=True))  # like SSL: hello + FIN
    p = Peer(st, port=443)
    p.synack(T0)
    out = p.timer(T0 + 2)
    assert [flags_of(x) for x in dissect(out)] == ["PA", "FA"]
    hello, fin = dissect(out)
    assert tcp(fin).seq == tcp(hello).seq + 7
    assert p.info().state == "FIN_WAIT"
    out = p.send(T0 + 2.1, b"server hello ...")            # acks hello + FIN, sends data
    (ack,) = dissect(out)
    assert flags_of(ack) == "A" and tcp(ack).seq == COOKIE + 9 and tcp(ack).ack == p.seq
    assert ss.made[0].got == b"server hello ..."
    assert p.info().flags & 0x20                           # FLAG_FIN_ACKED
    out = p.send(T0 + 2.2, flags="FA")
    (last,) = dissect(out)
    assert flags_of(last) == "A" and tcp(last).ack == p.seq   # our FIN is out: just ACK theirs
    assert len(st) == 0 and [r.banner for r in out.records] == [b"server hello ..."]


def test_linger_after_our_fin_resets() -> None:
    st, ss = make_stack(Sessions(close_after_hello=True), linger=5.0)
    p = Peer(st)
    p.synack(T0)
    p.timer(T0 + 2)
    p.send(T0 + 2.5, b"x")                                 # acks everything, data re-arms linger
    assert p.info().deadline == T0 + 7.5
    out = p.timer(T0 + 7.5)
    assert [flags_of(x) for x in dissect(out)] == ["RA"]
    assert len(st) == 0 and st.stats.closed == {"linger": 1}


def test_unacked_fin_is_retransmitted() -> None:
    st, _ = make_stack(Sessions(hello=None))
    p = Peer(st)
    p.synack(T0)
    sess = st.sessions[p.info().slot]
    sess.close_on = b"!"
    out = p.send(T0 + 1, b"done!")
    assert [flags_of(x) for x in dissect(out)] == ["FA"]   # the ACK rides on our FIN
    assert [r.banner for r in out.records] == [b"done!"]   # banner emitted with the Close
    out = p.timer(T0 + 2)
    (fin,) = dissect(out)
    assert flags_of(fin) == "FA" and tcp(fin).seq == COOKIE + 1


def test_close_all_resets_and_flushes() -> None:
    st, ss = make_stack()
    peers = [Peer(st, port=p) for p in (80, 81, 82)]
    for p in peers:
        p.synack(T0)
    peers[1].send(T0 + 1, b"banner81")
    out = st.close_all(T0 + 2)
    assert [flags_of(x) for x in dissect(out)] == ["RA"] * 3
    assert [(r.port, r.banner) for r in out.records] == [(81, b"banner81")]
    assert len(st) == 0 and all(s.closed == 1 for s in ss.made)
    assert len(st.on_timer(T0 + 100)) == 0


# ------------------------------------------------------------------------------ ordering

def test_future_segment_dropped_with_dup_ack() -> None:
    st, ss = make_stack()
    p = Peer(st)
    p.synack(T0)
    base = p.seq
    out = st.on_segments(parse([p.frame("PA", seq=base + 5, payload=b"56789")]), [0], T0 + 0.1)
    (dup,) = dissect(out)
    assert flags_of(dup) == "A" and tcp(dup).ack == base   # "I still want byte 0"
    assert ss.made[0].got == b"" and st.stats.out_of_order == 1
    st.on_segments(parse([p.frame("PA", seq=base, payload=b"01234")]), [0], T0 + 0.2)
    st.on_segments(parse([p.frame("PA", seq=base + 5, payload=b"56789")]), [0], T0 + 0.3)
    assert ss.made[0].got == b"0123456789"


def test_overlap_trimmed_and_old_duplicate_reacked() -> None:
    st, ss = make_stack()
    p = Peer(st)
    p.synack(T0)
    base = p.seq
    st.on_segments(parse([p.frame("PA", seq=base, payload=b"abcdef")]), [0], T0 + 0.1)
    out = st.on_segments(parse([p.frame("PA", seq=base + 3, payload=b"defGHI")]), [0], T0 + 0.2)
    assert ss.made[0].got == b"abcdefGHI" and st.stats.trimmed == 1
    assert ss.made[0].calls[-1] == "feed:3"                # only the new bytes were fed
    assert tcp(dissect(out)[0]).ack == (base + 9) & M32
    out = st.on_segments(parse([p.frame("PA", seq=base, payload=b"abc")]), [0], T0 + 0.3)
    (ack,) = dissect(out)
    assert tcp(ack).ack == (base + 9) & M32 and st.stats.old_duplicates == 1
    assert ss.made[0].got == b"abcdefGHI"


def test_one_ack_per_connection_per_block() -> None:
    st, ss = make_stack()
    p = Peer(st)
    p.synack(T0)
    base = p.seq
    frames = [p.frame("PA", seq=base + 3 * i, payload=b"xyz") for i in range(4)]
    out = st.on_segments(parse(frames), list(range(4)), T0 + 0.1)
    (ack,) = dissect(out)
    assert tcp(ack).ack == (base + 12) & M32 and ss.made[0].got == b"xyz" * 4


def test_segments_after_rst_in_same_block_ignored() -> None:
    st, ss = make_stack()
    p = Peer(st)
    p.synack(T0)
    frames = [p.frame("R"), p.frame("PA", payload=b"late")]
    out = st.on_segments(parse(frames), [0, 1], T0 + 0.1)
    assert len(out) == 0 and ss.made[0].got == b"" and len(st) == 0


def test_session_actions_banner_and_send_in_feed() -> None:
    class Chatty:
        def __init__(self, port: int, now: float) -> None:
            self.n = 0

        def on_connect(self, now: float) -> list:
            return []

        def on_hello_timeout(self, now: float) -> list:
            return []

        def feed(self, data: bytes, now: float) -> list:
            self.n += 1
            return [Banner("ftp", data), Send(b"AUTH TLS\r\n")] if self.n == 1 else [Close()]

        def on_close(self, now: float) -> list:
            return []

    from tidescan.stack.driver import Stack
    st = Stack("02:00:00:00:00:01", "02:00:00:00:00:fe", session_factory=Chatty,
               epoch_offset=0.0, timer_resolution=0.0)
    p = Peer(st, port=21)
    p.synack(T0)
    out = p.send(T0 + 0.1, b"220 hi\r\n")
    assert [flags_of(x) for x in dissect(out)] == ["PA"]   # data carries the ACK
    assert tcp(dissect(out)[0]).ack == p.seq and p.got == b"AUTH TLS\r\n"
    assert [(r.app, r.banner) for r in out.records] == [("ftp", b"220 hi\r\n")]
    out = p.send(T0 + 0.2, b"530 no\r\n")
    assert [flags_of(x) for x in dissect(out)] == ["FA"]


def test_table_full_refuses_with_rst() -> None:
    st, ss = make_stack(max_connections=2)
    peers = [Peer(st, port=p) for p in (1, 2, 3)]
    out = st.on_synacks(parse([p.synack_frame() for p in peers]), [0, 1, 2], T0)
    assert sorted(flags_of(x) for x in dissect(out)) == ["A", "A", "R"]
    rst = [x for x in dissect(out) if flags_of(x) == "R"][0]
    assert tcp(rst).seq == COOKIE + 1 and tcp(rst).dport == 3
    assert len(st) == 2 and st.stats.refused == 1


def test_unknown_rst_rate_limited() -> None:
    st, _ = make_stack(rst_rate=10)
    p = Peer(st)
    frames = [p.frame("PA", payload=b"x")] * 50
    out = st.on_segments(parse(frames), list(range(50)), T0)
    assert len(out) == 10
    assert len(st.on_segments(parse(frames), list(range(50)), T0 + 0.5)) == 5


@pytest.mark.parametrize("v6", [False, True])
def test_full_exchange_ipv6_and_ipv4(v6: bool) -> None:
    st, ss = make_stack(Sessions(close_on=b"\r\n\r\n"))
    p = Peer(st, v6=v6)
    p.synack(T0)
    p.timer(T0 + 2)
    assert p.got == b"HELLO\r\n"
    out = p.send(T0 + 2.1, b"HTTP/1.1 401\r\n\r\n")
    assert [flags_of(x) for x in dissect(out)] == ["FA"]
    assert [(r.ip_version, r.banner) for r in out.records] == [(6 if v6 else 4, b"HTTP/1.1 401\r\n\r\n")]
    out = p.send(T0 + 2.2, flags="FA")
    assert [flags_of(x) for x in dissect(out)] == ["A"] and len(st) == 0


def test_session_exception_closes_connection_not_the_loop() -> None:
    class Buggy(Sessions):
        def __call__(self, port: int, now: float):  # noqa: ANN204
            s = super().__call__(port, now)
            s.feed = lambda data, now: 1 / 0  # type: ignore[method-assign]
            return s

    st, ss = make_stack(Buggy())
    p = Peer(st)
    p.synack(T0)
    out = p.send(T0 + 0.1, b"boom")
    assert [flags_of(x) for x in dissect(out)] == ["FA"]    # closed as if the session said Close
    assert st.stats.session_errors == 1 and st.sessions[p.info().slot] is None
    out = p.send(T0 + 0.2, flags="FA")
    assert len(st) == 0 and out.records == []


def test_for_scan_takes_the_scan_options() -> None:
    from tidescan.config import parse_args
    from tidescan.identity import Identity
    from tidescan.stack.driver import Stack

    cfg = parse_args(["10.0.0.0/24", "-p80", "--banners", "--hello-timeout", "3",
                      "--connection-timeout", "10", "--ttl", "64"])
    ident = Identity("eth0", bytes.fromhex("020000000001"), bytes.fromhex("0200000000fe"),
                     0x0A000002, 1, 61000, 1)
    st = Stack.for_scan(cfg, ident, epoch_offset=0.0, timer_resolution=0.0)
    assert (st.hello_timeout, st.connection_timeout) == (3.0, 10.0)
    p = Peer(st)
    (ack,) = dissect(p.synack(T0))
    assert ack["IP"].ttl == 64
    assert len(p.timer(T0 + 2.9)) == 0
    (hello,) = dissect(p.timer(T0 + 3))                    # the real session: HTTP GET on 80
    assert bytes(tcp(hello).payload).startswith(b"GET / HTTP/1.0\r\n")
