"""Raw Ethernet frames to and from the kernel in batches: sendmmsg out, a TPACKET_V3 ring in.

Why this module exists: at hundreds of thousands of frames per second, Python can afford a few
microseconds per *batch* but not per *frame*.  Both directions therefore move whole NumPy arrays of
frames across the user/kernel boundary with one system call (or none), using only the standard
library (socket, mmap, select) and ctypes: no compiler, no C extension, no libpcap.

Transmit (`PacketSender`): an AF_PACKET/SOCK_RAW socket bound to the interface with protocol 0, so
it never receives anything.  A batch is an `(n, stride)` uint8 array of complete frames plus their
lengths.  The `iovec` and `mmsghdr` arrays for 1024 messages are allocated once as ctypes arrays;
NumPy views over them let `send()` fill every `iov_base` (`base + i * stride`) and `iov_len` with two
vector operations, and each `msg_iov` pointer is fixed at construction.  One `sendmmsg(2)` call then
hands up to 1024 frames to the kernel (measured fastest here; PACKET_TX_RING was ~20 % slower).
When the device queue is full the kernel stops early or fails with ENOBUFS/EAGAIN; the unsent tail
is retried (with a short back-off once the retries pile up) and the retries are counted.

Receive (`RxRing`): a PACKET_RX_RING in TPACKET_V3 mode is `block_count` blocks of `block_size`
bytes shared with the kernel through mmap.  The kernel fills a block with variable-size frames (each
`tpacket3_hdr`, a `sockaddr_ll`, then the frame) and hands the block to us by setting its status to
TP_STATUS_USER when it is full or when `retire_ms` milliseconds have passed; we give it back by
writing TP_STATUS_KERNEL.  `read()` waits with poll(2) (no busy spin), takes every consecutive ready
block (until `max_frames_per_read` frames are gathered), and:

1. finds each block's frame headers.  They form a linked list (`tp_next_offset`), which would
   cost a Python step per frame, so `_walk` tries vectorized shortcuts that verify themselves
   exactly: all steps equal (a block of same-size replies: one guess, one check), else a scan for
   the `tp_mac`/`tp_net` word every header carries, at 8-byte-aligned positions, keeping the
   candidates that look like whole headers and checking that they chain; only if both fail (a
   frame forging a coherent header inside its payload) does it follow runs of equal steps, with
   a memoryview loop for short runs;
2. reads the header fields (captured and wire length, seconds, nanoseconds, MAC offset, packet type)
   of all frames with NumPy fancy indexing;
3. copies all frames out with **one** gather: a sliding-window view of the ring (`(ring_len, width)`
   with strides `(1, 1)`) indexed by the frames' start offsets, then zeroes the bytes past each
   captured length;
4. releases the blocks immediately (the `Block` holds copies, never views into the ring).

So `Block.frames` is an `(n, width)` array with `width = max(128, captured length of the longest
frame rounded up to 64)`: fixed-offset header reads up to byte 127 are always in bounds (and read
zeros past a short frame), and a batch of small replies does not pay for a 2 KiB stride.

The receive socket is created with protocol 0 (it receives nothing), then gets its BPF filter, its
ring and only then is bound with ETH_P_ALL, so no unfiltered frame slips in between.  Outgoing
frames (ours, or the host kernel's) are excluded with PACKET_IGNORE_OUTGOING.  The snap length is
applied by the filter's return value (every accepting `ret` is lowered to `snaplen`).

`stats()` reads PACKET_STATISTICS, which the kernel resets on every read; we accumulate.  As in
libpcap, the kernel's packet count includes the dropped ones.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import math
import mmap
import os
import select
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..errors import EnvironmentProblem
from . import bpf as bpfmod
from . import linux
from .netinfo import PRIVILEGE_HINT

MAX_BATCH = 1024  # frames per sendmmsg call
MIN_WIDTH = 128  # Block.frames is at least this wide
_RETRYABLE = (errno.ENOBUFS, errno.EAGAIN, errno.EINTR)


def open_packet_socket(protocol: int = 0) -> socket.socket:
    """An AF_PACKET/SOCK_RAW socket (protocol in host order; 0 = receive nothing until bound).

    Raises EnvironmentProblem with the privilege hint when we may not open one.
    """
    try:
        return socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(protocol))
    except PermissionError as exc:
        raise EnvironmentProblem(PRIVILEGE_HINT) from exc


def close_soon(sock: socket.socket) -> None:
    """Close a packet socket without waiting for it.

    The kernel's release of a packet socket waits for an RCU grace period (`synchronize_net`:
    8 - 20 ms measured here), which would otherwise sit on the start-up path (the ARP listener is
    closed just before the scan starts).  A daemon thread does the closing and the waiting; the
    caller must not use `sock` afterwards.
    """
    import threading

    threading.Thread(target=sock.close, name="packet-socket-close", daemon=True).start()


def bind_interface(sock: socket.socket, ifname: str, protocol: int) -> None:
    """Bind a packet socket to `ifname` for `protocol` (host order; 0 = send only)."""
    try:
        sock.bind((ifname, protocol))
    except OSError as exc:
        if exc.errno in (errno.ENODEV, errno.ENXIO) or "no such device" in str(exc).lower():
            raise EnvironmentProblem(f"--adapter {ifname}: no such interface; try --iflist") from exc
        raise


# ------------------------------------------------------------------------------------------------
# transmit

class PacketSender:
    """Batch transmitter: `send(frames, lengths)` = one `sendmmsg` per 1024 frames.

    `qdisc_bypass` sets PACKET_QDISC_BYPASS (frames go straight to the driver, skipping the
    traffic-control layer).  Off by default: on the veth lab it gained nothing consistent
    (bench/bench_wire.py, medians 0.92 vs 0.89 Mpps one process, 1.11 vs 1.14 two), and bypassed
    frames are invisible to packet taps on this host (tcpdump here would not show our probes).
    `sndbuf` raises the socket send buffer (SO_SNDBUFFORCE as root).  `stall_timeout` bounds how
    long `send()` keeps retrying a full device queue without progress before it returns short.
    Counters: `sent`, `calls` (sendmmsg calls), `retries` (calls that did not take everything).
    Not thread-safe: one sender per thread or process.
    """

    def __init__(self, ifname: str, *, qdisc_bypass: bool = False, sndbuf: int | None = None,
                 stall_timeout: float = 1.0) -> None:
        self.ifname = ifname
        self.stall_timeout = stall_timeout
        self.sent = 0
        self.calls = 0
        self.retries = 0
        self.sock = open_packet_socket(0)
        try:
            bind_interface(self.sock, ifname, 0)  # protocol 0: this socket never receives
            if qdisc_bypass:
                self.sock.setsockopt(linux.SOL_PACKET, linux.PACKET_QDISC_BYPASS, 1)
            if sndbuf:
                try:
                    self.sock.setsockopt(linux.SOL_SOCKET, linux.SO_SNDBUFFORCE, sndbuf)
                except PermissionError:
                    self.sock.setsockopt(linux.SOL_SOCKET, socket.SO_SNDBUF, sndbuf)
        except BaseException:
            self.sock.close()
            raise
        self._fd = self.sock.fileno()
        self._iov = (linux.IoVec * MAX_BATCH)()
        self._msgs = (linux.MMsgHdr * MAX_BATCH)()
        self._msgs_addr = _addressof(self._msgs)
        self._iov_np = np.frombuffer(self._iov, dtype=np.uint64).reshape(MAX_BATCH, 2)
        msgs_np = np.frombuffer(self._msgs, dtype=np.uint64).reshape(MAX_BATCH, 8)
        index = np.arange(MAX_BATCH, dtype=np.uint64)
        msgs_np[:, 2] = np.uint64(_addressof(self._iov)) + index * np.uint64(16)  # msg_iov
        msgs_np[:, 3] = 1  # msg_iovlen
        self._index = index
        self._tmp = np.empty(MAX_BATCH, dtype=np.uint64)

    def send(self, frames: np.ndarray, lengths: np.ndarray | int) -> int:
        """Transmit the first `lengths[i]` bytes of each row of `frames`; return frames sent.

        `frames` is `(n, stride)` uint8 with contiguous rows (any row stride); `lengths` an int for
        all or an array of n.  Returns n unless the device stayed full for `stall_timeout`.
        """
        if (frames.ndim != 2 or frames.dtype != np.uint8 or frames.strides[0] <= 0
                or (frames.shape[1] > 1 and frames.strides[1] != 1)):
            raise ValueError("frames must be a 2-D uint8 array with contiguous, ascending rows")
        n, width = frames.shape
        if n == 0:
            return 0
        if isinstance(lengths, (int, np.integer)):
            if not 0 < int(lengths) <= width:
                raise ValueError(f"frame length {int(lengths)} outside 1..{width}")
            lens: np.ndarray | int = int(lengths)
        else:
            lens = np.asarray(lengths)
            if lens.shape != (n,) or lens.dtype.kind not in "iu":
                raise ValueError("lengths must be integers, one per frame")
            if int(lens.min()) <= 0 or int(lens.max()) > width:
                raise ValueError(f"frame lengths must be within 1..{width}")
        base = frames.ctypes.data
        stride = np.uint64(frames.strides[0])
        sent = 0
        for start in range(0, n, MAX_BATCH):
            m = min(MAX_BATCH, n - start)
            np.multiply(self._index[:m], stride, out=self._tmp[:m])
            np.add(self._tmp[:m], np.uint64(base + start * int(stride)), out=self._iov_np[:m, 0])
            self._iov_np[:m, 1] = lens if isinstance(lens, int) else lens[start:start + m]
            done = self._sendmmsg(m)
            sent += done
            if done < m:
                break
        self.sent += sent
        return sent

    def _sendmmsg(self, m: int) -> int:
        """Send messages 0..m-1 of the prepared arrays, retrying the unsent tail."""
        done = 0
        fails = 0
        stall_since = 0.0
        while done < m:
            r = linux.sendmmsg(self._fd, self._msgs_addr + done * 64, m - done, 0)
            self.calls += 1
            if r > 0:
                done += r
                fails = 0
                if done < m:
                    self.retries += 1
                continue
            err = ctypes.get_errno() if r < 0 else errno.ENOBUFS
            if err not in _RETRYABLE:
                raise OSError(err, f"sendmmsg on {self.ifname}: {os.strerror(err)}")
            self.retries += 1
            fails += 1
            if fails == 1:
                stall_since = time.monotonic()
            elif time.monotonic() - stall_since > self.stall_timeout:
                break
            if fails < 8:
                os.sched_yield()
            else:
                time.sleep(min(1e-3, 1e-5 * (1 << min(fails - 8, 7))))
        return done

    def send_one(self, frame: bytes) -> int:
        """Transmit one frame (ARP replies, RSTs: the rare ones); return bytes sent."""
        for attempt in range(100):
            try:
                n = self.sock.send(frame)
                self.sent += 1
                return n
            except OSError as exc:
                if exc.errno not in _RETRYABLE:
                    raise
                self.retries += 1
                time.sleep(1e-4 * (attempt + 1))
        raise OSError(errno.ENOBUFS, f"send on {self.ifname}: device queue stayed full")

    def fileno(self) -> int:
        return self.sock.fileno()

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> PacketSender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _addressof(obj: object) -> int:
    return ctypes.addressof(obj)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------------
# receive

@dataclass(slots=True)
class Block:
    """Frames copied out of one or more ring blocks.

    `frames`: `(n, width)` uint8, bytes past `lengths[i]` are zero; `lengths`: captured bytes
    (uint32); `wirelens`: original frame lengths (uint32); `timestamps`: kernel receive time in
    seconds (float64); `pkttypes`: sll_pkttype (0 host, 1 broadcast, 2 multicast, 3 other host).
    """

    frames: np.ndarray
    lengths: np.ndarray
    wirelens: np.ndarray
    timestamps: np.ndarray
    pkttypes: np.ndarray

    def __len__(self) -> int:
        return len(self.lengths)


class RxRing:
    """A TPACKET_V3 receive ring on one interface; `read(timeout)` returns copied `Block`s.

    `bpf`: a classic BPF program (see wire/bpf.py) run by the kernel on every frame; None accepts
    everything.  `block_size` (a multiple of the page size) × `block_count` is the ring's memory;
    `frame_size` only sizes the kernel's bookkeeping (V3 packs frames of any size into a block).
    `snaplen` bytes are kept of each frame (default `frame_size - 128`).  `retire_ms` is how long a
    partly filled block waits before the kernel hands it over (the latency when traffic is thin).
    `ignore_outgoing` hides frames sent from this host; `promisc` puts the interface in
    promiscuous mode for the life of the socket (needed to see frames to a spoofed MAC).
    `max_frames_per_read` bounds one `Block` (whole ring blocks are taken until it is reached).

    Sizing: when traffic is thin the kernel retires a block every `retire_ms` however little is
    in it, so the ring rides out a reader pause of about `block_count * retire_ms` (0.5 s with
    the defaults) at low rates, and `block_size * block_count` bytes (256 MiB: ~1.8 M small
    frames) at high rates.  Many 1 MiB blocks serve both better than a few big ones.
    """

    def __init__(self, ifname: str, bpf: Sequence[tuple[int, int, int, int]] | None = None,
                 block_size: int = 1 << 20, block_count: int = 256, frame_size: int = 2048,
                 snaplen: int | None = None, *, retire_ms: int = 2, ignore_outgoing: bool = True,
                 promisc: bool = False, max_frames_per_read: int = 1 << 16) -> None:
        page = mmap.PAGESIZE
        if block_size % page or frame_size % 16 or not 0 < frame_size <= block_size:
            raise ValueError("block_size must be a multiple of the page size and frame_size a "
                             "multiple of 16 no larger than a block")
        self.ifname = ifname
        self.block_size = block_size
        self.block_count = block_count
        self.snaplen = snaplen if snaplen is not None else frame_size - 128
        self.max_frames_per_read = max_frames_per_read
        self._packets = 0
        self._drops = 0
        self._filter_outgoing = False
        self._mm: mmap.mmap | None = None
        self.sock = open_packet_socket(0)  # receives nothing until bound below
        try:
            self.sock.setsockopt(linux.SOL_PACKET, linux.PACKET_VERSION, linux.TPACKET_V3)
            if ignore_outgoing:
                try:
                    self.sock.setsockopt(linux.SOL_PACKET, linux.PACKET_IGNORE_OUTGOING, 1)
                except OSError:  # kernels before 4.20
                    self._filter_outgoing = True
            prog = list(bpf) if bpf is not None else bpfmod.accept_all()
            bpfmod.attach(self.sock, bpfmod.with_snaplen(prog, self.snaplen))
            frame_nr = block_count * (block_size // frame_size)
            req = linux.TPACKET_REQ3.pack(block_size, block_count, frame_size, frame_nr,
                                          retire_ms, 0, 0)
            # The kernel allocates and zeroes the ring and waits for an RCU grace period here
            # (15 - 25 ms idle, far more on a busy machine); without the GIL (see PendingRxRing).
            if linux.setsockopt(self.sock.fileno(), linux.SOL_PACKET, linux.PACKET_RX_RING, req,
                                len(req)) != 0:
                err = ctypes.get_errno()
                raise OSError(err, f"PACKET_RX_RING: {os.strerror(err)}")
            self._mm = mmap.mmap(self.sock.fileno(), block_size * block_count, mmap.MAP_SHARED,
                                 mmap.PROT_READ | mmap.PROT_WRITE)
            # Processes forked later (the scan's senders) do not map the ring: the kernel copies
            # its page tables at fork (it is a mixed map) and each sender's RSS would count it.
            # Only this process may read the ring (a child touching it would fault).
            self._mm.madvise(mmap.MADV_DONTFORK)
            bind_interface(self.sock, ifname, linux.ETH_P_ALL)
            if promisc:
                ifindex = socket.if_nametoindex(ifname)
                mreq = linux.PACKET_MREQ.pack(ifindex, linux.PACKET_MR_PROMISC, 0, b"")
                self.sock.setsockopt(linux.SOL_PACKET, linux.PACKET_ADD_MEMBERSHIP, mreq)
        except BaseException:
            if self._mm is not None:
                self._mm.close()
            self.sock.close()
            raise
        self._map(self._mm)
        self._poll = select.poll()
        self._poll.register(self.sock.fileno(), select.POLLIN | select.POLLERR)

    def _map(self, mm: mmap.mmap) -> None:
        """Views of the ring memory (also used by tests to read a ring laid out by hand)."""
        self._ring = np.frombuffer(mm, dtype=np.uint8)
        self._u32 = self._ring.view(np.uint32)
        self._u16 = self._ring.view(np.uint16)
        self._mv32 = memoryview(mm).cast("I")
        self._ring_len = self.block_size * self.block_count
        self._cur = 0
        self._run_index = np.arange(4096, dtype=np.int64)
        self.walks = {"equal": 0, "scan": 0, "runs": 0}  # blocks walked by each method (bench)

    @classmethod
    def _over_memory(cls, mm: mmap.mmap, block_size: int, block_count: int) -> RxRing:
        """A socket-less ring reading `mm` (for tests of the block walk; `read(0)` only)."""
        self = cls.__new__(cls)
        self.ifname, self.block_size, self.block_count = "-", block_size, block_count
        self.snaplen, self.max_frames_per_read = block_size, 1 << 30
        self._filter_outgoing = False
        self._mm = mm
        self._map(mm)
        return self

    # -- waiting --------------------------------------------------------------------------------
    def _ready(self) -> list[int]:
        """Consecutive blocks, from the current one, that the kernel handed us (at least one if
        any, then more while the frame count stays under `max_frames_per_read`)."""
        blocks: list[int] = []
        b = self._cur
        u32 = self._u32
        bsz = self.block_size
        frames = 0
        while len(blocks) < self.block_count and frames < self.max_frames_per_read:
            if not u32[(b * bsz + linux.BD_BLOCK_STATUS) >> 2] & linux.TP_STATUS_USER:
                break
            frames += int(u32[(b * bsz + linux.BD_NUM_PKTS) >> 2])
            blocks.append(b)
            b = (b + 1) % self.block_count
        return blocks

    def read(self, timeout: float | None = 0.0) -> Block | None:
        """The frames of the next ready block(s), or None if none is ready within `timeout` s.

        `timeout=0` never waits; `None` waits for ever.  Blocks are released before returning.
        """
        blocks = self._ready()
        if not blocks and timeout != 0:
            deadline = None if timeout is None else time.monotonic() + timeout
            while not blocks:
                if deadline is None:
                    wait_ms = -1
                else:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    wait_ms = max(1, math.ceil(left * 1000))
                events = self._poll.poll(wait_ms)
                blocks = self._ready()
                if not blocks and events and events[0][1] & select.POLLERR:
                    err = self.sock.getsockopt(linux.SOL_SOCKET, socket.SO_ERROR)
                    if err:
                        raise OSError(err, f"receive on {self.ifname}: {os.strerror(err)}")
                elif not blocks and events:
                    time.sleep(0.0002)  # readable but our block not yet ours: do not spin
        if not blocks:
            return None
        return self._harvest(blocks)

    # -- reading ---------------------------------------------------------------------------------
    def _harvest(self, blocks: list[int]) -> Block:
        u32 = self._u32
        parts = []
        for b in blocks:
            base = b * self.block_size
            n = int(u32[(base + linux.BD_NUM_PKTS) >> 2])
            if n:
                parts.append(self._walk(base, n))
        offs = np.concatenate(parts) if len(parts) != 1 else parts[0]
        block = self._gather(offs) if len(offs) else _empty_block()
        for b in blocks:  # hand the blocks back to the kernel
            u32[(b * self.block_size + linux.BD_BLOCK_STATUS) >> 2] = linux.TP_STATUS_KERNEL
        self._cur = (blocks[-1] + 1) % self.block_count
        return block

    def _walk(self, base: int, n: int) -> np.ndarray:
        """Ring offsets of the n frame headers of the block at `base`, following tp_next_offset.

        The chain is a linked list, so each step depends on the last.  Three ways to find it, the
        first that verifies wins (each check is exact, so a wrong guess only costs time):

        1. equal steps: guess `first + j * step` for all n frames, read their `tp_next_offset`s
           at once, accept if every one equals `step` (a block of same-size replies);
        2. signature scan: every header carries the same `tp_mac`/`tp_net` pair at +24; find the
           8-aligned positions holding it in one vector compare over the used part of the block,
           accept if they are exactly n and each one's `tp_next_offset` leads to the next;
        3. runs: from frame `o` with step `s`, guess a run of equal steps, verify it vectorized up
           to the first frame whose step differs (that frame is still real: its predecessor
           pointed at it), and continue from there; short runs use a plain memoryview loop.
        """
        u32 = self._u32
        limit = self._ring_len - 4
        first = base + int(u32[(base + linux.BD_OFFSET_TO_FIRST_PKT) >> 2])
        step = int(u32[first >> 2])
        idx = self._index(n)
        cand = idx * step + first
        if n == 1 or (step and np.array_equal(u32[np.minimum(cand[:-1], limit) >> 2],
                                              np.full(n - 1, step, np.uint32))):
            self.walks["equal"] += 1
            return cand
        used = min(int(u32[(base + linux.BD_BLK_LEN) >> 2]), self.block_size)
        sig = u32[(first + linux.T3_MAC) >> 2]
        lo = (first + linux.T3_MAC) >> 2
        hi = (base + used + linux.T3_MAC) >> 2
        pos = np.flatnonzero(u32[lo:min(hi, len(u32))][::2] == sig) * 8 + first
        # stale bytes of earlier fills survive in the unwritten gaps of each header, so a
        # candidate must also look like a whole header: 0 < snaplen <= len, the frame fits in the
        # used part of the block, and its next offset is its aligned size (or 0: the kernel
        # zeroes the last frame's)
        w = pos >> 2
        snap, nxt = u32[w + (linux.T3_SNAPLEN >> 2)].astype(np.int64), u32[w]
        size = (snap + (int(sig) & 0xFFFF) + 7) & ~7
        sane = ((snap > 0) & (snap <= u32[w + (linux.T3_LEN >> 2)]) & (pos + size <= base + used)
                & ((nxt == size) | (nxt == 0)))
        pos = pos[sane]
        if len(pos) == n and np.array_equal(pos[1:], pos[:-1] + u32[pos[:-1] >> 2]):
            self.walks["scan"] += 1
            return pos
        self.walks["runs"] += 1
        return self._walk_runs(first, n)

    def _index(self, n: int) -> np.ndarray:
        if len(self._run_index) < n:
            self._run_index = np.arange(max(n, 2 * len(self._run_index)), dtype=np.int64)
        return self._run_index[:n]

    def _walk_runs(self, first: int, n: int) -> np.ndarray:
        offs = np.empty(n, dtype=np.int64)
        u32 = self._u32
        mv = self._mv32
        limit = self._ring_len - 4
        idx = self._index(4096)
        guess, stretch = 32, 64
        i = 0
        o = first
        while i < n:
            step = mv[o >> 2]
            k = min(n - i, guess)
            cand = idx[:k] * step + o
            nxt = u32[np.minimum(cand, limit) >> 2]
            bad = np.flatnonzero(nxt[:-1] != step)
            run = int(bad[0]) + 1 if len(bad) else k  # frames cand[0..run-1] are real
            offs[i:i + run] = cand[:run]
            i += run
            o = int(cand[run - 1])
            o += mv[o >> 2]
            if run == k:
                guess = min(guess * 4, 4096)
                continue
            guess = 32
            if run < 8:  # mixed sizes: walk a stretch one frame at a time
                chunk = []
                for _ in range(min(n - i, stretch)):
                    chunk.append(o)
                    o += mv[o >> 2]
                offs[i:i + len(chunk)] = chunk
                i += len(chunk)
                stretch = min(stretch * 2, 4096)
        return offs

    def _gather(self, offs: np.ndarray) -> Block:
        u32, ring = self._u32, self._ring
        w = offs >> 2
        caplen = u32[w + (linux.T3_SNAPLEN >> 2)]
        wirelen = u32[w + (linux.T3_LEN >> 2)]
        ts = u32[w + (linux.T3_SEC >> 2)] + u32[w + (linux.T3_NSEC >> 2)] * 1e-9
        start = offs + self._u16[(offs + linux.T3_MAC) >> 1]
        pkttype = ring[offs + linux.SLL_PKTTYPE]
        if self._filter_outgoing:
            keep = pkttype != linux.PACKET_OUTGOING
            caplen, wirelen, ts, start, pkttype = (a[keep] for a in (caplen, wirelen, ts, start, pkttype))
        width = max(MIN_WIDTH, (int(caplen.max(initial=0)) + 63) & ~63)
        last = self._ring_len - width  # highest start a full-width window can have
        frames = sliding_window_view(ring, width)[np.minimum(start, last)]
        for r in np.flatnonzero(start > last):  # frames at the very end of the ring (rare)
            s, c = int(start[r]), int(caplen[r])
            frames[r, :c] = ring[s:s + c]
        # zero the bytes past each captured length: AND with rows of `c` 0xff then zeros, taken
        # from a sliding window over [0xff]*width + [0]*width (one gather, no (n, width) compare)
        np.bitwise_and(frames, _keep_masks(width)[width - caplen], out=frames)
        return Block(frames, caplen, wirelen, ts, pkttype)

    # -- counters, lifetime ---------------------------------------------------------------------------
    def stats(self) -> tuple[int, int]:
        """Cumulative (packets, drops) from PACKET_STATISTICS; packets includes the drops."""
        raw = self.sock.getsockopt(linux.SOL_PACKET, linux.PACKET_STATISTICS,
                                   linux.TPACKET_STATS_V3.size)
        packets, drops, _freeze = linux.TPACKET_STATS_V3.unpack(raw)
        self._packets += packets
        self._drops += drops
        return self._packets, self._drops

    def fileno(self) -> int:
        return self.sock.fileno()

    def close(self) -> None:
        if getattr(self, "_mm", None) is None:
            return
        sock = getattr(self, "sock", None)
        if sock is not None:
            with contextlib.suppress(KeyError, ValueError):
                self._poll.unregister(sock.fileno())
        self._mv32.release()
        del self._ring, self._u32, self._u16, self._mv32
        assert self._mm is not None
        with contextlib.suppress(BufferError):  # a caller kept a view: unmapped when it is freed
            self._mm.close()
        self._mm = None
        if sock is not None:
            sock.close()

    def __enter__(self) -> RxRing:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass


_MASKS: dict[int, np.ndarray] = {}


def _keep_masks(width: int) -> np.ndarray:
    """`(width + 1, width)` view whose row `width - c` is c bytes 0xff then zeros."""
    if width not in _MASKS:
        z = np.concatenate([np.full(width, 0xFF, np.uint8), np.zeros(width, np.uint8)])
        _MASKS[width] = sliding_window_view(z, width)
    return _MASKS[width]


def _empty_block() -> Block:
    return Block(np.zeros((0, MIN_WIDTH), np.uint8), np.zeros(0, np.uint32), np.zeros(0, np.uint32),
                 np.zeros(0, np.float64), np.zeros(0, np.uint8))


class PendingRxRing:
    """`RxRing(*args, **kwargs)` built in a background thread; `result()` waits and hands it over.

    Setting up the ring is mostly waiting in the kernel (an RCU grace period and the ring's
    allocation: 15 - 25 ms idle, 30 - 190 ms measured on a busy machine), and that call releases
    the GIL, so the caller goes on meanwhile (the scan imports its loops and builds its plan).
    The thread inherits the caller's network namespace.  `close()` closes a ring nobody took.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        import threading

        self._ring: RxRing | None = None
        self._error: BaseException | None = None
        self._taken = False
        self._thread = threading.Thread(target=self._build, args=(args, kwargs),
                                        name="rx-ring-setup", daemon=True)
        self._thread.start()

    def _build(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        try:
            self._ring = RxRing(*args, **kwargs)
        except BaseException as exc:  # re-raised in the caller's thread by result()
            self._error = exc

    def result(self) -> RxRing:
        """The ready ring (ownership passes to the caller), or the set-up's exception."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._ring is not None
        self._taken = True
        return self._ring

    def close(self) -> None:
        """Wait for the set-up and close the ring unless `result()` handed it over."""
        self._thread.join()
        if self._ring is not None and not self._taken:
            self._ring.close()
            self._taken = True
