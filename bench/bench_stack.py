"""The banner TCP stack: memory per connection at 100k concurrent connections, and throughput.

Why: masscan keeps a banner connection in a 616-byte TCB (reference masscan.md §7; its stream
state and a 200-byte banner buffer included), which is what lets it hold 100k+ connections.  This
measures the same thing for tidescan's stack *including the real banner session*
(`tidescan.banners.session.BannerSession`), and how fast the receive loop's calls are.

Memory method: `tracemalloc` (NumPy reports its array buffers to it, Python objects are traced
too), as the traced-bytes difference from before the `Stack` is built to after N connections are
open, divided by N; the SYN-ACK blocks fed in are freed before the second reading.  So the figure
includes every column, the hash index, the free list and timers at the table's actual capacity
(growth doubles it: a table sized for the concurrency is cheaper), the sessions list, and each
BannerSession with what it holds.  Two states are measured: right after the handshake (waiting
for the hello timeout: most connections of a scan are in this state) and after every server has
sent a 40-byte banner that is not yet identified (the session keeps it: `heur`).

Throughput (one core, no I/O), with the real sessions and with a session that does nothing (the
stack's own cost): `on_synacks` on blocks of 4096 SYN-ACKs (connections/s);
`on_segments` on blocks of 4096 in-order data segments of live connections (segments/s, each fed
to its session and ACKed); `on_timer` at 100k connections when nothing is due and when a scan
runs (ms per call); `close_all` (connections/s, banners flushed).

Run: `python bench/bench_stack.py [--connections 100000] [--json]`.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import time
import tracemalloc

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(os.path.dirname(HERE), "src")
if SRC not in sys.path:
    sys.path.insert(0, SRC)

from tidescan.banners.base import BannerConfig  # noqa: E402
from tidescan.banners.session import BannerSession  # noqa: E402
from tidescan.packets.triage import parse_frames  # noqa: E402
from tidescan.stack.driver import Stack  # noqa: E402
from tidescan.stack.segments import ACK, PSH, SYN, SegmentTemplate  # noqa: E402

OUR_MAC, ROUTER_MAC = "02:00:00:00:00:01", "02:00:00:00:00:fe"
ME = 0x0A000002
THEM_BASE = 0x0A400000
BLOCK = 4096


def peer_frames(idx: np.ndarray, flags: int, seq: np.ndarray, ack: int,
                payload: bytes = b"") -> object:
    """A triaged block of frames *from* the targets `idx` (their port 80) to us (port 61000+)."""
    tmpl = SegmentTemplate(ROUTER_MAC, OUR_MAC, ttl=64, window=65535)
    them = (THEM_BASE + idx).astype(np.uint64)
    my_port = 61000 + (idx % 4).astype(np.uint32)
    frames, lengths = tmpl.build(4, 0, them, my_port, 0, ME, 80, seq, ack, flags,
                                 [payload] * len(idx) if payload else None)
    return parse_frames(frames, lengths)


class NullSession:
    """A session that never acts: isolates the stack's own cost."""

    def __init__(self, port: int, now: float) -> None:
        pass

    def on_connect(self, now: float) -> list:
        return []

    on_hello_timeout = on_close = on_connect

    def feed(self, data: bytes, now: float) -> list:
        return []


def make_stack(capacity: int, null: bool = False) -> Stack:
    cfg = BannerConfig()
    factory = NullSession if null else (lambda port, now: BannerSession(port, cfg, now))
    return Stack(OUR_MAC, ROUTER_MAC, session_factory=factory, capacity=capacity, epoch_offset=0.0)


def open_connections(stack: Stack, n: int, now: float) -> float:
    """SYN-ACKs for n targets, in blocks; returns seconds spent inside on_synacks."""
    spent = 0.0
    for lo in range(0, n, BLOCK):
        idx = np.arange(lo, min(n, lo + BLOCK))
        p = peer_frames(idx, SYN | ACK, (idx * 7919).astype(np.uint32), 0x1000)
        t = time.perf_counter()
        stack.on_synacks(p, np.arange(len(idx)), now)
        spent += time.perf_counter() - t
    return spent


def feed_data(stack: Stack, n: int, now: float, payload: bytes) -> float:
    spent = 0.0
    for lo in range(0, n, BLOCK):
        idx = np.arange(lo, min(n, lo + BLOCK))
        p = peer_frames(idx, PSH | ACK, (idx * 7919 + 1).astype(np.uint32), 0x1000, payload)
        t = time.perf_counter()
        stack.on_segments(p, np.arange(len(idx)), now)
        spent += time.perf_counter() - t
    return spent


def memory(n: int, capacity: int) -> dict[str, float]:
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    stack = make_stack(capacity)
    open_connections(stack, n, 0.0)
    gc.collect()
    after_connect = tracemalloc.get_traced_memory()[0] - base
    feed_data(stack, n, 0.5, b"X" * 40)       # 40 unidentified bytes per session
    gc.collect()
    after_data = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    assert len(stack) == n
    return {"connections": n, "capacity": stack.table.capacity,
            "table_bytes_per_conn": (stack.table.nbytes + stack.timers.nbytes) / n,
            "bytes_per_conn_connected": after_connect / n,
            "bytes_per_conn_with_40B_banner": after_data / n}


def speed(n: int, null: bool = False) -> dict[str, float]:
    stack = make_stack(1 << (n - 1).bit_length(), null)
    t_open = open_connections(stack, n, 0.0)
    t_data = feed_data(stack, n, 0.5, b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n")
    # on_timer: nothing due (cheap path), then with a scan of every deadline
    t = time.perf_counter()
    for i in range(1000):
        stack.on_timer(0.6 + i * 1e-6)
    idle_ms = (time.perf_counter() - t)
    stack.timers.next_due = 0.0                # force a scan that finds nothing due
    t = time.perf_counter()
    stack.on_timer(0.7)
    scan_ms = (time.perf_counter() - t) * 1e3
    t = time.perf_counter()
    out = stack.close_all(1.0)
    t_close = time.perf_counter() - t
    return {"synacks_per_s": n / t_open, "data_segments_per_s": n / t_data,
            "on_timer_idle_us": idle_ms * 1e3, "on_timer_scan_ms_at_n": scan_ms,
            "close_all_per_s": n / t_close, "banners_flushed": len(out.records)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--connections", type=int, default=100_000)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    n = args.connections
    res = {"memory": memory(n, n), "speed_banner_sessions": speed(n),
           "speed_stack_only": speed(n, null=True)}
    if args.json:
        print(json.dumps(res, indent=2))
        return
    m = res["memory"]
    print(f"memory (tracemalloc): {m['connections']} connections, table capacity {m['capacity']}: "
          f"{m['bytes_per_conn_connected']:.0f} B/connection after the handshake, "
          f"{m['bytes_per_conn_with_40B_banner']:.0f} B with a 40-byte pending banner "
          f"(TCP columns+index+timers alone: {m['table_bytes_per_conn']:.0f} B); masscan: 616 B")
    for name in ("speed_banner_sessions", "speed_stack_only"):
        s = res[name]
        print(f"{name}: on_synacks {s['synacks_per_s']:,.0f} connections/s; on_segments "
              f"{s['data_segments_per_s']:,.0f} data segments/s (fed + ACKed); on_timer "
              f"{s['on_timer_idle_us']:.2f} us idle, {s['on_timer_scan_ms_at_n']:.2f} ms per scan "
              f"at {n}; close_all {s['close_all_per_s']:,.0f} connections/s "
              f"({s['banners_flushed']} banners)")


if __name__ == "__main__":
    main()
