"""The sans-IO responder: `Responder.respond(frame) -> list[bytes]`.

Why this exists: everything tidescanned decides - which frames are for it, what to answer - is a
pure function of the frame, the configuration, the clock and a little connection state, so it
lives here with no sockets, no threads and no sleeps, and is tested in memory with frames built by
scapy.  The I/O loop (`io.py`) only moves frames between an AF_PACKET socket and this object.

Layering (masscanned's, one module per layer): `l2_ethernet` -> `l2_arp` | `l3_ipv4` | `l3_ipv6`
-> `l4_icmp` | `l4_tcp` | `l4_udp` -> `dispatch` -> `proto_*`.  Each layer parses defensively,
fills the per-frame `Ctx`, and returns the list of reply payloads for the layer above to wrap.

Robustness contract: *no input may raise out of the core*.  The layers are written so that any
byte string is handled (bounds are checked before every read; lengths from the wire are clamped);
as a last line of defence `respond` catches any exception, counts it in `internal_errors` and
answers nothing, so the process keeps answering.  The fuzz test asserts the counter stays at 0,
so the safety net does not hide bugs.

`respond_batch(frames, lengths)` answers a whole receive batch: IPv4 SYNs (the flood case) are
answered by the vectorized fast path (`fastpath.py`, identical bytes to the scalar path), the rest
frame by frame.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from . import fastpath, l2_ethernet
from .config import ResponderConfig
from .context import Ctx
from .dispatch import AppDispatcher
from .tcb import TcbTable


class PacketSink(Protocol):
    """Where the core reports what it did (the packet log); `level` says what is wanted."""

    level: int

    def recv(self, ctx: Ctx, frame: bytes) -> None: ...
    def send(self, ctx: Ctx, frame: bytes) -> None: ...
    def drop(self, ctx: Ctx, frame: bytes) -> None: ...
    def error(self, message: str) -> None: ...


LOG_SEND, LOG_DROP, LOG_RECV = 1, 2, 3
OUT_STRIDE = 2048


class Responder:
    """One responder instance: configuration + connection table + protocol handlers."""

    def __init__(self, cfg: ResponderConfig, clock: Callable[[], float] = time.time,
                 log: PacketSink | None = None) -> None:
        self.cfg = cfg
        self.clock = clock
        self.log = log
        self.accepted_macs = l2_ethernet.accepted_macs(cfg.mac, cfg.self_ips.v4, cfg.self_ips.v6)
        self.tcbs = TcbTable(cfg.max_tcbs)
        self.apps = AppDispatcher(cfg)
        self.fast = fastpath.SynFastPath(cfg)
        self.internal_errors = 0
        self.last_error = ""
        self.frames_in = 0
        self.frames_out = 0
        self.send_failures = 0          # answers the I/O loop could not hand to the kernel
        self._out = np.zeros((1024, OUT_STRIDE), dtype=np.uint8)   # reused by respond_batch

    def respond(self, frame: bytes, now: float | None = None) -> list[bytes]:
        """All frames to send in answer to `frame` (often none). Never raises."""
        self.frames_in += 1
        ctx = Ctx(now=self.clock() if now is None else now)
        try:
            out = l2_ethernet.handle(self, ctx, bytes(frame))
        except Exception as e:  # noqa: BLE001 - the robustness contract, see module docstring
            self.internal_errors += 1
            self.last_error = f"{type(e).__name__}: {e}"
            if self.log is not None:
                self.log.error(f"internal error on a {len(frame)}-byte frame: {self.last_error}")
            return []
        self.frames_out += len(out)
        log = self.log
        if log is not None and log.level >= LOG_SEND:
            try:
                if log.level >= LOG_RECV:
                    log.recv(ctx, frame)
                for f in out:
                    log.send(ctx, f)
                if not out and log.level >= LOG_DROP:
                    log.drop(ctx, frame)
            except Exception as e:  # noqa: BLE001 - a log formatting bug must not stop answering
                self.internal_errors += 1
                self.last_error = f"log: {type(e).__name__}: {e}"
        return out

    def respond_batch(self, frames: NDArray[np.uint8], lengths: NDArray,
                      now: float | None = None) -> tuple[NDArray[np.uint8], NDArray[np.int64]]:
        """Answer `frames[i, :lengths[i]]` for every i; returns (out (k, OUT_STRIDE), out_lengths).

        Order of answers: fast-path SYN-ACKs first, then the others in arrival order.  The
        returned array is a reused buffer: valid until the next call.
        """
        n = len(lengths)
        lengths = np.asarray(lengths, dtype=np.int64)
        if self.log is None or self.log.level < LOG_SEND:
            fast_mask, synacks = self.fast.answer(frames[:n], lengths)
        else:
            fast_mask, synacks = np.zeros(n, dtype=bool), np.empty((0, fastpath.SYNACK_LEN), np.uint8)
        slow_idx = np.flatnonzero(~fast_mask)
        self.frames_in += n - len(slow_idx)
        self.frames_out += len(synacks)
        t = self.clock() if now is None else now
        slow: list[bytes] = []
        for i in slow_idx.tolist():
            slow.extend(self.respond(frames[i, :lengths[i]].tobytes(), t))
        k = len(synacks) + len(slow)
        if k > len(self._out):
            self._out = np.zeros((k, OUT_STRIDE), dtype=np.uint8)
        out = self._out[:k]
        out_len = np.empty(k, dtype=np.int64)
        m = len(synacks)
        out[:m, :fastpath.SYNACK_LEN] = synacks
        out_len[:m] = fastpath.SYNACK_LEN
        for j, f in enumerate(slow, m):
            out[j, :len(f)] = np.frombuffer(f, dtype=np.uint8)
            out_len[j] = len(f)
        return out, out_len
