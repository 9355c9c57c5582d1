"""The user-mode TCP stack for banners: what the receive loop calls after a SYN-ACK.

Theory of operation (masscan's stack, reference masscan.md §3 and §7, seed 000).  A scan that
grabs banners does not let the kernel own its connections: the SYN left from a raw socket, so
the SYN-ACK is answered by *us*.  This module completes the handshake, waits `hello_timeout`
(2 s) for a server that talks first, otherwise sends the banner session's hello, ACKs whatever
the server says and feeds it to the session (a sans-IO parser, `tidescan.banners`), and closes.
It is sans-IO too: frames come in as rows of a triaged block (`tidescan.packets.triage.Parsed`),
time comes in as `now` (monotonic seconds), and every call returns a `StackOutput`: the frames to
send (one `(n, stride)` array + lengths, ready for `PacketSender.send`) and the banner `Record`s to
write.  Nothing here sleeps, reads a clock or touches a socket.

The three entry points, called from the receive loop (see docs/banners.md for the exact calls):

* `on_synacks(parsed, rows, now)`: verified SYN-ACKs.  A new 4-tuple gets a connection
  (`tcb_table.TcbTable` slot) and an ACK (seq = their ack = cookie+1, ack = their seq+1); a
  known one (a retransmitted SYN-ACK: our ACK was lost) is ACKed again.  Vectorized except for
  the slot insertion and the session creation, which are per connection.
* `on_segments(parsed, rows, now)`: every other TCP frame to our addresses/ports.  The 4-tuples
  are looked up for the whole block at once; rows of live connections are then handled one by
  one (data, ACKs, FIN, RST); rows of unknown tuples carrying data or FIN get a RST (the peer
  retransmits them for minutes otherwise), within a budget of `rst_rate` per second.
* `on_timer(now)`: expired deadlines (hello, retransmit, linger, connection timeout).
* `close_all(now)`: shutdown: RST every connection, flush every banner.

Choices (and where they differ from a full TCP):

* One outgoing byte stream per connection: `Send` data is queued, cut into `mss` (1400) byte
  segments and kept until acknowledged; on `rto` (1 s, then `rto_max` 2 s) everything
  unacknowledged is resent (go-back-N), at most `max_retries` times, then the connection is
  reset.  The peer's receive window is not consulted (hellos are a few hundred bytes; masscan
  does the same).
* Incoming data is never reassembled: an in-order segment is fed to the session and ACKed (one
  ACK per connection per call, riding on our data when there is some); an overlapping
  retransmission is trimmed to its new bytes; a segment beyond `rcv_nxt` is dropped and
  answered with a duplicate ACK, so the peer resends it in order.  Data is accepted in every
  state, while we send too (masscan is half-duplex and drops it; being strict buys nothing
  here).  Sequence numbers advance by the segment's length on the wire (`ip_end`), even if the
  capture was truncated.
* Hello: if no data arrived within `hello_timeout`, `session.on_hello_timeout(now)` is called
  (once); if data arrived first it is never called (the server talked first).
* Close: a `Close` action sends our FIN after the queued data; we keep receiving (a TLS server
  answers a ClientHello that came with a FIN) until the peer's FIN, or `linger` seconds without
  data (then RST).  A FIN from the peer is answered with FIN-ACK and the connection is destroyed
  at once (no TIME_WAIT: a retransmitted FIN then meets "unknown tuple" and gets a RST, which the
  peer accepts as the end).  An in-window RST destroys the connection.  `connection_timeout`
  (30 s) after the SYN-ACK, a connection is closed with FIN and RST (the FIN lets a server log
  a clean close, the RST frees its state at once).
* Banners: `Banner` actions become banner `Record`s as soon as the session returns them;
  `session.on_close(now)` is called when the connection is destroyed (FIN, RST, timeout,
  retries, shutdown), so whatever the session still holds is flushed then.

Memory: the TCP state is ~108 bytes per connection in NumPy columns (`tcb_table.py`); the Python
objects per connection are the banner session and, while data is unacknowledged, one `bytes`.
bench/bench_stack.py measures the total per connection at 100k concurrent connections.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from numpy.typing import ArrayLike, NDArray

from tidescan.banners.base import Banner, Close, Send
from tidescan.output.record import Record
from tidescan.stack import tcb_table as T
from tidescan.stack.segments import (ACK, FIN, PSH, RST, SYN, SegmentBatch, SegmentTemplate,
                                     join_frames)
from tidescan.stack.tcb_table import TcbTable, map_v4
from tidescan.stack.timers import NEVER, TimerTable

__all__ = ["Stack", "StackOutput", "StackStats", "ConnInfo", "Session", "SessionFactory",
           "tcp_rows_for_stack", "ESTABLISHED", "FIN_WAIT"]

M32 = 0xFFFFFFFF
_CLOSE = Close()
ESTABLISHED, FIN_WAIT = 1, 2          # values of the `state` column (0 = free)
CLOSE_CHUNK = 8192                    # connections closed per rendering step in close_all


class Session(Protocol):
    """What the stack needs from a banner session (`tidescan.banners.session.BannerSession`)."""

    def on_connect(self, now: float) -> list[Any]: ...
    def on_hello_timeout(self, now: float) -> list[Any]: ...
    def feed(self, data: bytes, now: float) -> list[Any]: ...
    def on_close(self, now: float) -> list[Any]: ...


SessionFactory = Callable[[int, float], Session]   # (their port, now) -> a new session


@dataclass(slots=True, eq=False)
class StackOutput:
    """What one stack call produced: frames to send and banner records to write."""

    frames: NDArray[np.uint8]           # (n, stride) uint8, one frame per row
    lengths: NDArray[np.int32]          # (n,) frame lengths
    records: list[Record]

    def __len__(self) -> int:
        return len(self.lengths)

    def frame_list(self) -> list[bytes]:
        """The frames as `bytes` (tests, single-frame senders)."""
        return [self.frames[i, :int(n)].tobytes() for i, n in enumerate(self.lengths)]


@dataclass(slots=True)
class StackStats:
    opened: int = 0
    refused: int = 0               # SYN-ACKs beyond max_connections (answered with RST)
    duplicate_synacks: int = 0
    segments: int = 0              # rows of live connections handled
    bytes_in: int = 0              # payload bytes accepted in order
    out_of_order: int = 0          # future segments dropped
    old_duplicates: int = 0        # segments entirely before rcv_nxt
    trimmed: int = 0               # overlapping segments trimmed
    bad_rst: int = 0               # RSTs outside the window (ignored)
    unknown: int = 0               # rows of tuples without a connection
    unknown_rst_sent: int = 0
    hellos: int = 0                # on_hello_timeout calls
    retransmits: int = 0           # retransmission rounds
    send_after_fin: int = 0        # Send actions after our FIN (dropped)
    session_errors: int = 0        # exceptions raised by a session (its connection is closed)
    frames_out: int = 0
    records: int = 0
    closed: dict[str, int] = field(default_factory=dict)   # reason -> count


@dataclass(frozen=True, slots=True)
class ConnInfo:
    """A snapshot of one connection (tests, debugging)."""

    slot: int
    state: str             # WAIT_HELLO, ESTABLISHED, FIN_WAIT
    snd_una: int
    snd_nxt: int
    rcv_nxt: int
    flags: int
    unacked: bytes
    deadline: float
    ttl: int


def tcp_rows_for_stack(parsed: Any, exclude: ArrayLike = ()) -> NDArray[np.intp]:
    """Rows of `parsed` for `Stack.on_segments`: TCP frames that are not SYN-ACKs, minus the rows
    in `exclude`.  (The receive side's BPF filter already keeps only frames to our addresses and
    ports.)"""
    synack = (parsed.tcp_flags & (SYN | ACK)) == (SYN | ACK)
    m = parsed.is_tcp & ~synack
    ex = np.asarray(exclude, np.intp)
    if ex.size:
        m[ex] = False
    return np.flatnonzero(m)


def _keys(parsed: Any, rows: NDArray[np.intp]) -> tuple[NDArray[np.uint64], ...]:
    """(them_hi, them_lo, me_hi, me_lo, port_them, port_me) of the rows; IPv4 mapped."""
    v6 = parsed.is_ip6[rows]
    zero = np.uint64(0)
    if v6.any():
        th = np.where(v6, parsed.src6_hi[rows], zero)
        tl = np.where(v6, parsed.src6_lo[rows], map_v4(parsed.src4[rows]))
        mh = np.where(v6, parsed.dst6_hi[rows], zero)
        ml = np.where(v6, parsed.dst6_lo[rows], map_v4(parsed.dst4[rows]))
    else:
        th = mh = np.zeros(len(rows), np.uint64)
        tl, ml = map_v4(parsed.src4[rows]), map_v4(parsed.dst4[rows])
    return th, tl, mh, ml, parsed.sport[rows], parsed.dport[rows]


def _default_factory(config: Any) -> SessionFactory:
    from tidescan.banners.session import BannerSession  # the banner engineer's module

    def make(port: int, now: float) -> Session:
        return BannerSession(port, config, now)
    return make


class Stack:
    """The banner TCP stack.  See the module docstring; `docs/banners.md` for the caller's side.

    `src_mac`/`router_mac`: our MAC and the next hop's (`router_mac6` for IPv6, default the
    same).  `session_factory(port, now)` makes a banner session per connection (default:
    `tidescan.banners.session.BannerSession(port, banner_config, now)`).  `epoch_offset` is added
    to `now` for the records' Unix timestamps (default: wall clock minus monotonic clock, read
    once here).  `hash_key` fixes the connection-table hash (tests); `capacity` is the initial
    table size (it doubles when full, up to `max_connections` live connections; beyond that a
    SYN-ACK is answered with RST).
    """

    def __init__(self, src_mac: bytes | str, router_mac: bytes | str, *,
                 session_factory: SessionFactory | None = None, banner_config: Any = None,
                 router_mac6: bytes | str | None = None, ttl: int = 255, vlan: int | None = None,
                 window: int = 1200, mss: int = 1400, hello_timeout: float = 2.0,
                 connection_timeout: float = 30.0, linger: float = 5.0, rto: float = 1.0,
                 rto_max: float = 2.0, max_retries: int = 6, capacity: int = 4096,
                 max_connections: int = 1 << 22, rst_rate: float = 1000.0,
                 epoch_offset: float | None = None, hash_key: int | None = None,
                 timer_resolution: float = 0.01) -> None:
        self.tmpl4 = SegmentTemplate(src_mac, router_mac, ttl=ttl, window=window, vlan=vlan)
        self.tmpl6 = (self.tmpl4 if router_mac6 is None else
                      SegmentTemplate(src_mac, router_mac6, ttl=ttl, window=window, vlan=vlan))
        if session_factory is None:
            session_factory = _default_factory(banner_config)
        self.factory = session_factory
        self.window = window
        self.mss = int(mss)
        self.hello_timeout = float(hello_timeout)
        self.connection_timeout = float(connection_timeout)
        self.linger = float(linger)
        self.rto, self.rto_max, self.max_retries = float(rto), float(rto_max), int(max_retries)
        self.max_connections = int(max_connections)
        self.rst_rate = float(rst_rate)
        self._rst_tokens, self._rst_at = self.rst_rate, -math.inf
        self.epoch_offset = (time.time() - time.monotonic()) if epoch_offset is None else epoch_offset
        self.table = TcbTable(capacity, key=hash_key)
        self.timers = TimerTable(self.table.capacity, timer_resolution)
        self.sessions: list[Session | None] = [None] * self.table.capacity
        self.outq: dict[int, bytes] = {}       # slot -> unacknowledged bytes from snd_una
        self.stats = StackStats()
        # per-call scratch
        self._batch = SegmentBatch()
        self._records: list[Record] = []
        self._need_ack: dict[int, None] = {}
        self._dirty: dict[int, None] = {}      # slots whose deadline is recomputed in _finish

    @classmethod
    def for_scan(cls, cfg: Any, identity: Any, banner_config: Any = None,
                 session_factory: SessionFactory | None = None, **kw: Any) -> Stack:
        """A stack configured from a `ScanConfig` and an `Identity` (what scan.py has)."""
        if banner_config is None and session_factory is None:
            from tidescan.banners.base import BannerConfig
            banner_config = BannerConfig.from_scan_config(cfg)
        return cls(identity.src_mac, identity.router_mac, router_mac6=identity.router_mac6,
                   session_factory=session_factory, banner_config=banner_config, ttl=cfg.ttl,
                   vlan=cfg.vlan, hello_timeout=cfg.hello_timeout,
                   connection_timeout=cfg.connection_timeout,
                   capacity=max(1024, min(1 << 20, int(cfg.rate) // 5)), **kw)

    def __len__(self) -> int:
        return self.table.live

    # ================================================================================ entry points

    def on_synacks(self, parsed: Any, rows: ArrayLike, now: float) -> StackOutput:
        """Verified SYN-ACKs (rows of `parsed`): create connections and ACK them; ACK known
        ones again.  Rows that are not TCP SYN-ACKs are ignored."""
        rows = np.asarray(rows, np.intp)
        if rows.size:
            rows = rows[parsed.is_tcp[rows] & ((parsed.tcp_flags[rows] & (SYN | ACK | RST)) == (SYN | ACK))]
        if rows.size == 0:
            return self._finish()
        tbl = self.table
        th, tl, mh, ml, pt, pm = _keys(parsed, rows)
        h = tbl.hash(th, tl, mh, ml, pt, pm)
        slots = tbl.lookup(th, tl, mh, ml, pt, pm, h)
        their_seq = parsed.seq[rows].astype(np.int64)
        their_ack = parsed.ack[rows].astype(np.int64)
        batch = self._batch

        # Known tuples (a retransmitted SYN-ACK): ACK again with the connection's numbers.
        for s in slots[slots >= 0].tolist():
            self.stats.duplicate_synacks += 1
            batch.add(s, int(tbl.snd_nxt[s]), int(tbl.rcv_nxt[s]), ACK)

        # New tuples: first occurrence of each within the block.
        new = np.flatnonzero(slots < 0)
        if new.size:
            packed = np.stack([th[new], tl[new], mh[new], ml[new],
                               (pt[new].astype(np.uint64) << np.uint64(16)) | pm[new]], axis=1)
            _, first = np.unique(packed, axis=0, return_index=True)
            self.stats.duplicate_synacks += new.size - first.size
            new = new[np.sort(first)]
            room = max(0, self.max_connections - tbl.live)
            if new.size > room:
                self._refuse(parsed, rows[new[room:]])
                new = new[:room]
        if new.size:
            made = np.empty(new.size, np.int32)
            cols = (th[new].tolist(), tl[new].tolist(), mh[new].tolist(), ml[new].tolist(),
                    pt[new].tolist(), pm[new].tolist(), h[new].tolist())
            for i, key in enumerate(zip(*cols)):
                made[i] = tbl.insert(*key)
            self._fit_capacity()
            s = made
            a = (their_ack[new] & M32).astype(np.uint32)
            tbl.snd_una[s] = a
            tbl.snd_nxt[s] = a
            tbl.rcv_nxt[s] = ((their_seq[new] + 1) & M32).astype(np.uint32)
            tbl.ttl[s] = parsed.ttl[rows[new]]
            tbl.created[s] = now
            tbl.rto_at[s] = NEVER
            tbl.idle_at[s] = NEVER
            tbl.flags[s] = np.where(parsed.is_ip6[rows[new]], T.FLAG_V6, 0).astype(np.uint8)
            tbl.state[s] = ESTABLISHED
            self.stats.opened += int(s.size)
            # The handshake-completing ACKs (queued before anything the sessions say).
            batch.slot.extend(s.tolist())
            batch.seq.extend(tbl.snd_nxt[s].tolist())
            batch.ack.extend(tbl.rcv_nxt[s].tolist())
            batch.flags.extend([ACK] * int(s.size))
            batch.payload.extend([b""] * int(s.size))
            sessions, factory, dirty, state = self.sessions, self.factory, self._dirty, tbl.v_state
            hello_now = self.hello_timeout <= 0
            for slot, port in zip(s.tolist(), pt[new].tolist()):
                sess = sessions[slot] = factory(port, now)
                acts = self._call(slot, sess.on_connect, now)
                if acts:
                    self._apply(slot, acts, now)
                if hello_now and state[slot]:
                    self._hello(slot, now)
                dirty[slot] = None
        return self._finish()

    def on_segments(self, parsed: Any, rows: ArrayLike, now: float) -> StackOutput:
        """TCP frames to us that are not SYN-ACKs (data, ACKs, FIN, RST), in arrival order."""
        rows = np.asarray(rows, np.intp)
        if rows.size:
            rows = rows[parsed.is_tcp[rows]]
        if rows.size == 0:
            return self._finish()
        tbl = self.table
        slots = tbl.lookup(*_keys(parsed, rows))
        unknown = slots < 0
        if unknown.any():
            self.stats.unknown += int(unknown.sum())
            self._reset_unknown(parsed, rows[unknown], now)
        hit = np.flatnonzero(~unknown)
        if hit.size == 0:
            return self._finish()
        r = rows[hit]
        off = parsed.payload_off[r]
        wire_len = np.maximum(parsed.ip_end[r] - off, 0)
        cols = zip(r.tolist(), slots[hit].tolist(), parsed.tcp_flags[r].tolist(),
                   parsed.seq[r].tolist(), parsed.ack[r].tolist(), wire_len.tolist(),
                   off.tolist(), parsed.payload_len[r].tolist())
        state = tbl.v_state
        segment = self._segment
        n = 0
        for row, slot, flags, seq, ack, length, poff, plen in cols:
            if not state[slot]:
                continue                          # destroyed by an earlier row of this block
            n += 1
            segment(slot, row, parsed, flags, seq, ack, length, now, poff, plen)
        self.stats.segments += n
        return self._finish()

    def on_timer(self, now: float) -> StackOutput:
        """Handle every deadline that has passed (call it every loop iteration; cheap when
        nothing is due)."""
        tbl = self.table
        state, created, rto_at, idle_at, flags = (tbl.v_state, tbl.v_created, tbl.v_rto_at,
                                                   tbl.v_idle_at, tbl.v_flags)
        ctimeout, htimeout, dirty = self.connection_timeout, self.hello_timeout, self._dirty
        for slot in self.timers.due(now, tbl.used).tolist():
            if not state[slot]:
                continue
            if now >= created[slot] + ctimeout:
                self._destroy(slot, now, "timeout", fin=True, rst=True)
                continue
            if rto_at[slot] <= now:
                self._retransmit(slot, now)
                if not state[slot]:
                    continue
            if idle_at[slot] <= now:
                self._destroy(slot, now, "linger", rst=True)
                continue
            if not flags[slot] & T.FLAG_HELLO_DONE and now >= created[slot] + htimeout:
                self._hello(slot, now)
                if not state[slot]:
                    continue
            dirty[slot] = None
        return self._finish()

    def close_all(self, now: float) -> StackOutput:
        """Shutdown: RST every connection and flush every session's banners.

        Done `CLOSE_CHUNK` connections at a time (each chunk rendered before the next), so the
        pending-segment lists never hold the whole table: with 100k connections open, a single
        pass would be the scan's memory peak."""
        slots = self.table.live_slots().tolist()
        if len(slots) <= CLOSE_CHUNK:
            for slot in slots:
                self._destroy(slot, now, "shutdown", rst=True)
            return self._finish()
        parts, records = [], []
        for i in range(0, len(slots), CLOSE_CHUNK):
            for slot in slots[i:i + CLOSE_CHUNK]:
                self._destroy(slot, now, "shutdown", rst=True)
            out = self._finish()
            parts.append((out.frames, out.lengths))
            records += out.records
        frames, lengths = join_frames(parts)
        return StackOutput(frames, lengths, records)

    def next_deadline(self) -> float:
        """A lower bound of the earliest pending deadline (inf if none)."""
        return self.timers.next_due

    def connection(self, them: int, port_them: int, me: int, port_me: int,
                   version: int = 4) -> ConnInfo | None:
        """The state of one connection (addresses as integers), or None if there is none."""
        th, tl = (them >> 64, them & (2**64 - 1)) if version == 6 else (0, int(map_v4(them)))
        mh, ml = (me >> 64, me & (2**64 - 1)) if version == 6 else (0, int(map_v4(me)))
        slot = self.table.find(th, tl, mh, ml, port_them, port_me)
        if slot < 0:
            return None
        t = self.table
        f = int(t.flags[slot])
        name = ("FIN_WAIT" if t.state[slot] == FIN_WAIT else
                "WAIT_HELLO" if not f & (T.FLAG_HELLO_DONE | T.FLAG_GOT_DATA) else "ESTABLISHED")
        return ConnInfo(slot, name, int(t.snd_una[slot]), int(t.snd_nxt[slot]),
                        int(t.rcv_nxt[slot]), f, self.outq.get(slot, b""),
                        self.timers.when(slot), int(t.ttl[slot]))

    # ================================================================================ per segment

    def _segment(self, slot: int, row: int, parsed: Any, flags: int, seq: int, ack: int,
                 length: int, now: float, poff: int | None = None, plen: int | None = None) -> None:
        """One segment of a live connection (`poff`/`plen`: the row's payload offset and
        captured payload length, if the caller already has them)."""
        tbl = self.table
        if flags & RST:
            if (seq - tbl.v_rcv_nxt[slot]) & M32 <= self.window:
                self._destroy(slot, now, "rst")
            else:
                self.stats.bad_rst += 1
            return
        if flags & SYN:
            if flags & ACK:                     # a SYN-ACK again (arrived here anyway): re-ACK
                self.stats.duplicate_synacks += 1
                self._need_ack[slot] = None
            return
        if not flags & ACK:
            return                              # RFC 793: no ACK bit, drop
        if ack != tbl.v_snd_una[slot]:
            self._on_ack(slot, ack, now)
        fin = flags & FIN
        if not length and not fin:
            return                              # a bare ACK
        rcv = tbl.v_rcv_nxt[slot]
        d = (seq - rcv) & M32
        if d and d < 0x80000000:                # starts beyond rcv_nxt: drop, peer resends
            self.stats.out_of_order += 1
            self._need_ack[slot] = None
            return
        trim = (0x100000000 - d) if d else 0    # bytes we already have
        if trim and trim >= length + (1 if fin else 0):
            self.stats.old_duplicates += 1      # nothing new (our ACK was lost): ACK again
            self._need_ack[slot] = None
            return
        if trim:
            self.stats.trimmed += 1
        new_len = length - trim
        if new_len > 0:
            tbl.v_rcv_nxt[slot] = (rcv + new_len) & M32
            tbl.v_flags[slot] |= T.FLAG_GOT_DATA | T.FLAG_HELLO_DONE
            if tbl.v_idle_at[slot] != NEVER:
                tbl.v_idle_at[slot] = now + self.linger
            self._need_ack[slot] = None
            self.stats.bytes_in += new_len
            if poff is None or plen is None:
                poff, plen = int(parsed.payload_off[row]), int(parsed.payload_len[row])
            off = poff + trim
            end = off + min(new_len, plen - trim)
            sess = self.sessions[slot]
            if end > off and sess is not None:
                acts = self._call(slot, sess.feed, parsed.frames[row, off:end].tobytes(), now)
                if acts:
                    self._apply(slot, acts, now)
                    if not tbl.v_state[slot]:
                        return
        if fin:
            tbl.v_rcv_nxt[slot] = (tbl.v_rcv_nxt[slot] + 1) & M32
            tbl.v_flags[slot] |= T.FLAG_THEIR_FIN
            self._destroy(slot, now, "fin", fin=True)
            return
        self._dirty[slot] = None

    def _on_ack(self, slot: int, ack: int, now: float) -> None:
        tbl = self.table
        una = tbl.v_snd_una[slot]
        nxt = tbl.v_snd_nxt[slot]
        n = (ack - una) & M32
        if n == 0 or n > (nxt - una) & M32:
            return                              # nothing new, or acks what we never sent
        q = self.outq.get(slot)
        qlen = len(q) if q else 0
        if n >= qlen:
            self.outq.pop(slot, None)
            if n > qlen:
                tbl.v_flags[slot] |= T.FLAG_FIN_ACKED
        else:
            self.outq[slot] = q[n:]             # type: ignore[index]
        tbl.v_snd_una[slot] = ack
        tbl.v_retries[slot] = 0
        tbl.v_rto_at[slot] = NEVER if ack == nxt else now + self.rto
        self._dirty[slot] = None

    # ================================================================================ actions

    def _apply(self, slot: int, actions: Iterable[Any], now: float) -> None:
        """Carry out a session's actions: records for banners, segments for data, FIN on close."""
        closing = False
        for a in actions:
            cls = type(a)                       # exact types first: isinstance is the fallback
            if cls is Banner:
                self._record(slot, a.app, a.text, now)
            elif cls is Close:
                closing = True
            elif cls is Send or isinstance(a, Send):
                if a.data:
                    self._send(slot, bytes(a.data), now)
            elif isinstance(a, Banner):
                self._record(slot, a.app, a.text, now)
            elif isinstance(a, Close):
                closing = True
            # Upgrade: the session handles it (it sends the new protocol's hello itself)
        if closing:
            flags = self.table.v_flags
            if not flags[slot] & T.FLAG_FIN_QUEUED:
                flags[slot] |= T.FLAG_FIN_QUEUED | T.FLAG_HELLO_DONE
                self._send_fin(slot, now)

    def _send(self, slot: int, data: bytes, now: float) -> None:
        tbl = self.table
        flags = tbl.v_flags
        if flags[slot] & T.FLAG_FIN_SENT:
            self.stats.send_after_fin += 1
            return
        flags[slot] |= T.FLAG_HELLO_DONE
        nxt, rcv = tbl.v_snd_nxt[slot], tbl.v_rcv_nxt[slot]
        self.outq[slot] = self.outq.get(slot, b"") + data
        mss, add = self.mss, self._batch.add
        for i in range(0, len(data), mss):
            add(slot, nxt + i, rcv, PSH | ACK, data[i:i + mss])
        tbl.v_snd_nxt[slot] = (nxt + len(data)) & M32
        self._need_ack.pop(slot, None)
        if tbl.v_rto_at[slot] == NEVER:
            tbl.v_rto_at[slot] = now + self.rto
        self._dirty[slot] = None

    def _send_fin(self, slot: int, now: float) -> None:
        tbl = self.table
        flags = tbl.v_flags
        if flags[slot] & T.FLAG_FIN_SENT:
            return
        nxt = tbl.v_snd_nxt[slot]
        self._batch.add(slot, nxt, tbl.v_rcv_nxt[slot], FIN | ACK)
        self._need_ack.pop(slot, None)
        tbl.v_snd_nxt[slot] = (nxt + 1) & M32
        flags[slot] |= T.FLAG_FIN_SENT
        tbl.v_state[slot] = FIN_WAIT
        if tbl.v_rto_at[slot] == NEVER:
            tbl.v_rto_at[slot] = now + self.rto
        tbl.v_idle_at[slot] = now + self.linger
        self._dirty[slot] = None

    def _hello(self, slot: int, now: float) -> None:
        flags = self.table.v_flags
        f = flags[slot]
        flags[slot] = f | T.FLAG_HELLO_DONE
        if f & (T.FLAG_GOT_DATA | T.FLAG_HELLO_DONE):
            return
        sess = self.sessions[slot]
        if sess is not None:
            self.stats.hellos += 1
            self._apply(slot, self._call(slot, sess.on_hello_timeout, now), now)

    def _retransmit(self, slot: int, now: float) -> None:
        tbl = self.table
        una, nxt = int(tbl.snd_una[slot]), int(tbl.snd_nxt[slot])
        if una == nxt:
            tbl.rto_at[slot] = NEVER
            return
        tries = int(tbl.retries[slot]) + 1
        if tries > self.max_retries:
            self._destroy(slot, now, "retries", rst=True)
            return
        tbl.retries[slot] = tries
        self.stats.retransmits += 1
        rcv, q, mss, add = int(tbl.rcv_nxt[slot]), self.outq.get(slot, b""), self.mss, self._batch.add
        for i in range(0, len(q), mss):
            add(slot, una + i, rcv, PSH | ACK, q[i:i + mss])
        f = int(tbl.flags[slot])
        if f & T.FLAG_FIN_SENT and not f & T.FLAG_FIN_ACKED:
            add(slot, una + len(q), rcv, FIN | ACK)
        self._need_ack.pop(slot, None)
        tbl.rto_at[slot] = now + min(self.rto * (1 << tries), self.rto_max)

    def _destroy(self, slot: int, now: float, reason: str, fin: bool = False,
                 rst: bool = False) -> None:
        """End a connection: optional FIN(-ACK) and/or RST, flush the session, free the slot."""
        tbl = self.table
        f = tbl.v_flags[slot]
        rcv = tbl.v_rcv_nxt[slot]
        nxt = tbl.v_snd_nxt[slot]
        if fin and not f & T.FLAG_FIN_SENT:
            self._batch.add(slot, nxt, rcv, FIN | ACK)
            nxt = (nxt + 1) & M32
        elif fin:                               # our FIN is out: just ACK theirs
            self._batch.add(slot, nxt, rcv, ACK)
        if rst:
            self._batch.add(slot, nxt, rcv, RST | ACK)
        self._need_ack.pop(slot, None)
        self._dirty.pop(slot, None)
        sess = self.sessions[slot]
        self.sessions[slot] = None
        if self.outq:
            self.outq.pop(slot, None)
        self.timers.cancel(slot)
        tbl.remove(slot)
        closed = self.stats.closed
        closed[reason] = closed.get(reason, 0) + 1
        if sess is not None:
            for a in self._call(slot, sess.on_close, now):
                if isinstance(a, Banner):
                    self._record(slot, a.app, a.text, now)

    # ================================================================================ helpers

    def _call(self, slot: int, method: Callable[..., list[Any]], *args: Any) -> list[Any]:
        """A session call that cannot take the receive loop down: an exception (a bug) is
        counted in `stats.session_errors` and ends the conversation (the session is dropped, the
        connection closes as if the session had said `Close`)."""
        try:
            return method(*args)
        except Exception:  # noqa: BLE001
            self.stats.session_errors += 1
            self.sessions[slot] = None
            return [_CLOSE]

    def _rearm(self, slot: int) -> None:
        """Recompute the slot's deadline at the end of this call (see `_rearm_dirty`)."""
        self._dirty[slot] = None

    def _rearm_dirty(self) -> None:
        """Deadlines of every connection touched in this call, vectorized: the earliest of the
        connection timeout, the retransmit and linger deadlines, and the hello timeout while
        no hello/data has happened."""
        dirty = self._dirty
        if not dirty:
            return
        tbl = self.table
        s = np.fromiter(dirty, np.intp, len(dirty))
        dirty.clear()
        s = s[tbl.state[s] != 0]
        if not s.size:
            return
        created = tbl.created[s]
        d = np.minimum(np.minimum(created + self.connection_timeout, tbl.rto_at[s]), tbl.idle_at[s])
        waiting = (tbl.flags[s] & T.FLAG_HELLO_DONE) == 0
        if waiting.any():
            d = np.where(waiting, np.minimum(d, created + self.hello_timeout), d)
        self.timers.arm_many(s, d)

    def _record(self, slot: int, app: str, text: bytes, now: float) -> None:
        tbl = self.table
        lo = tbl.v_them_lo[slot]
        if tbl.v_flags[slot] & T.FLAG_V6:
            ip, version = (tbl.v_them_hi[slot] << 64) | lo, 6
        else:
            ip, version = lo & M32, 4
        self._records.append(Record("banner", int(now + self.epoch_offset), ip, version,
                                    tbl.v_port_them[slot], "tcp", "open", 0,
                                    tbl.v_ttl[slot], app, bytes(text), None))

    def _fit_capacity(self) -> None:
        cap = self.table.capacity
        if len(self.sessions) < cap:
            self.sessions.extend([None] * (cap - len(self.sessions)))
            self.timers.grow(cap)

    def _refuse(self, parsed: Any, rows: NDArray[np.intp]) -> None:
        """Table full: RST the SYN-ACK (seq = its ack) so the server lets go."""
        self.stats.refused += len(rows)
        self._raw_rst(parsed, rows)

    def _reset_unknown(self, parsed: Any, rows: NDArray[np.intp], now: float) -> None:
        """RST segments with data or FIN for tuples we have no connection for (a peer that
        missed our FIN-ACK, or a connection we already gave up), within the rst_rate budget."""
        fl = parsed.tcp_flags[rows]
        want = ((fl & (RST | SYN)) == 0) & (fl & ACK != 0) & (
            ((fl & FIN) != 0) | (parsed.payload_len[rows] > 0))
        rows = rows[want]
        if not rows.size:
            return
        self._rst_tokens = min(self.rst_rate, self._rst_tokens + (now - self._rst_at) * self.rst_rate)
        self._rst_at = now
        k = int(min(rows.size, self._rst_tokens))
        if k <= 0:
            return
        self._rst_tokens -= k
        self.stats.unknown_rst_sent += k
        self._raw_rst(parsed, rows[:k])

    def _raw_rst(self, parsed: Any, rows: NDArray[np.intp]) -> None:
        th, tl, mh, ml, pt, pm = _keys(parsed, rows)
        v6 = parsed.is_ip6[rows].tolist()
        seq = parsed.ack[rows].tolist()
        for i in range(len(rows)):
            self._batch.add_raw(v6[i], int(th[i]), int(tl[i]), int(pt[i]), int(mh[i]), int(ml[i]),
                                int(pm[i]), seq[i], 0, RST)

    def _finish(self) -> StackOutput:
        """End of a call: pending ACKs, render the frames, recycle freed slots."""
        tbl, batch = self.table, self._batch
        if self._need_ack:
            state, snd_nxt, rcv_nxt, add = tbl.v_state, tbl.v_snd_nxt, tbl.v_rcv_nxt, batch.add
            for slot in self._need_ack:
                if state[slot]:
                    add(slot, snd_nxt[slot], rcv_nxt[slot], ACK)
            self._need_ack.clear()
        self._rearm_dirty()
        if len(batch):
            frames, lengths = batch.build(self.tmpl4, tbl, self.tmpl6)
            self._batch = SegmentBatch()
        else:
            frames, lengths = np.zeros((0, 64), np.uint8), np.zeros(0, np.int32)
        tbl.recycle()
        records, self._records = self._records, []
        self.stats.frames_out += len(lengths)
        self.stats.records += len(records)
        return StackOutput(frames, lengths, records)
