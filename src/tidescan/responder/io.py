"""The I/O loop: frames in by the ring block, answers out by the sendmmsg batch.

Why this exists: the core is sans-IO; something must move frames between the wire and it, fast
enough to answer a SYN flood at least as fast as the kernel's own TCP stack would.  Profiling the
first version (recvmmsg + sendmmsg, 1,024 frames a call) under a full flood showed the responder's
CPU going ~40 % to `sendmmsg`, ~18 % to `recvmmsg` and ~40 % to the NumPy fast path, with the
socket queue overflowing by 10^5 frames per second.  So:

* Receive is the project's TPACKET_V3 ring (`tidescan.wire.afpacket.RxRing`): the kernel copies
  each frame into shared memory from its softirq (no skb queued, no per-frame wake-up, no receive
  system call at all while blocks are ready) and `read()` returns every ready block as one
  `(n, width)` array with `width >= 128` - fed to `Responder.respond_batch` as it is.  When the
  loop falls behind, blocks pile up and the next read takes them all, so batches grow exactly when
  per-batch overhead matters; the kernel's drops (ring full) are counted by `stats()`.  The socket
  is promiscuous (masscanned's pnet channel: frames to a spoofed `-m MAC` must arrive) and ignores
  outgoing frames, so the responder never reads its own answers.
* A classic BPF filter (`responder_filter`) keeps, in the kernel, only what layer 2 of the core
  would look at: ARP/IPv4/IPv6 frames sent to the responder's MAC or to a group address (the core
  then picks the groups it answers).  On a busy promiscuous link that spares the ring every other
  host's unicast.  It is attached by `serve()` (which knows the configured MAC) unless the packet
  log wants ignored frames (`-vv`/`-vvv`), which must still see everything.
* Send is `tidescan.wire.afpacket.PacketSender`: one `sendmmsg` per 1,024 answers, retrying a full
  device queue.  (A send ring was measured slower by the wire layer's author.)  Answers longer than
  the interface's MTU are never handed to the kernel (it would refuse the whole call); they count
  as send failures, like answers the kernel still refuses.

Swap point: `open_wire(ifname)` is the only function the loop and the CLI use to get the object
that reads (`.read(timeout) -> (frames, lengths) | None`) and sends (`.send(frames, lengths) ->
int`) frame batches; `.stats() -> (packets, drops)` is cumulative, `.close()` releases both sockets.
"""

from __future__ import annotations

import errno
import time
from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from tidescan.errors import EnvironmentProblem
from tidescan.wire import bpf as bpfmod
from tidescan.wire.afpacket import PacketSender, RxRing

from .core import LOG_DROP, Responder
from .pcap_capture import PcapWriter

IFF_UP = 0x1
SNAPLEN = 2048                 # bytes kept of each frame (the core answers frames up to 1514)
RING_BLOCK = 1 << 20           # one TPACKET_V3 block: ~7,000 SYNs
RING_BLOCKS = 64               # 64 MiB of ring: ~450,000 SYNs of backlog before the kernel drops
RETIRE_MS = 2                  # a partly filled block is handed over after this long (>= 1 jiffy)
MAX_READ = 16384               # frames per read (whole blocks are taken until this is passed)
CHUNK = 8192                   # frames per respond_batch call (bounds the core's output buffer)
_LINK_GONE = (errno.ENETDOWN, errno.ENXIO, errno.ENODEV)


def interface_flags(ifname: str) -> int:
    """IFF_* flags of `ifname` (sysfs of the current network namespace); EnvironmentProblem if absent."""
    try:
        with open(f"/sys/class/net/{ifname}/flags") as f:
            return int(f.read().strip(), 16)
    except FileNotFoundError:
        raise EnvironmentProblem(f"--iface {ifname}: no such interface") from None
    except (OSError, ValueError) as e:
        raise EnvironmentProblem(f"--iface {ifname}: cannot read its flags: {e}") from None


def interface_mac(ifname: str) -> bytes | None:
    try:
        with open(f"/sys/class/net/{ifname}/address") as f:
            mac = bytes.fromhex(f.read().strip().replace(":", ""))
    except (OSError, ValueError):
        return None
    return mac if len(mac) == 6 and any(mac) else None


def interface_mtu(ifname: str) -> int:
    """The interface's MTU (1500 if sysfs does not say)."""
    try:
        with open(f"/sys/class/net/{ifname}/mtu") as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return 1500


def check_interface(ifname: str) -> None:
    if not interface_flags(ifname) & IFF_UP:
        raise EnvironmentProblem(f"--iface {ifname}: interface is down (ip link set {ifname} up)")


def responder_filter(mac: bytes) -> list[bpfmod.Insn]:
    """BPF: accept ARP/IPv4/IPv6 frames to `mac` or to any group MAC (I/G bit set); drop the rest.

    A superset of what `l2_ethernet.handle` accepts, so it never hides a frame the core answers.
    """
    a = bpfmod.Asm()
    a.ld(bpfmod.H, 12)
    a.jeq(bpfmod.ETH_P_IP, "type_ok")
    a.jeq(bpfmod.ETH_P_IPV6, "type_ok")
    a.jeq(bpfmod.ETH_P_ARP, "type_ok", "drop")
    a.label("type_ok")
    a.ld(bpfmod.B, 0)
    a.jset(0x01, "accept")                      # broadcast / multicast: the core decides
    a.ld(bpfmod.W, 2)
    a.jeq(int.from_bytes(mac[2:6], "big"), None, "drop")
    a.ld(bpfmod.H, 0)
    a.jeq(int.from_bytes(mac[0:2], "big"), "accept", "drop")
    a.label("accept")
    a.ret(bpfmod.ACCEPT)
    a.label("drop")
    a.ret(0)
    return a.assemble()


class Wire:
    """A TPACKET_V3 receive ring and a sendmmsg sender on one interface."""

    def __init__(self, ifname: str, *, ring_blocks: int = RING_BLOCKS, block_size: int = RING_BLOCK,
                 retire_ms: int = RETIRE_MS, max_read: int = MAX_READ) -> None:
        self.ifname = ifname
        self.rx = RxRing(ifname, block_size=block_size, block_count=ring_blocks, frame_size=SNAPLEN,
                         snaplen=SNAPLEN, retire_ms=retire_ms, promisc=True,
                         max_frames_per_read=max_read)
        try:
            self.tx = PacketSender(ifname, sndbuf=16 << 20)
        except BaseException:
            self.rx.close()
            raise
        self.max_len = interface_mtu(ifname) + 14
        self.filtered = False

    def set_filter(self, prog: list[bpfmod.Insn]) -> None:
        """Replace the receive filter (frames already in the ring are still delivered)."""
        bpfmod.attach(self.rx.sock, bpfmod.with_snaplen(prog, self.rx.snaplen))
        self.filtered = True

    def read(self, timeout: float) -> tuple[NDArray[np.uint8], NDArray[np.uint32]] | None:
        """Every frame of the ready ring blocks (waiting at most `timeout` s for one); None if none.

        Returns copies: `frames (n, width >= 128)` with zeros past each length, `lengths`.
        """
        block = self.rx.read(timeout)
        if block is None or not len(block):
            return None
        return block.frames, block.lengths

    def send(self, frames: NDArray[np.uint8], lengths: NDArray) -> int:
        """Send `frames[i, :lengths[i]]`; returns how many the kernel took."""
        lengths = np.asarray(lengths)
        if not len(lengths):
            return 0
        bad = (lengths <= 0) | (lengths > min(self.max_len, frames.shape[1]))
        if bad.any():                        # the kernel would fail the whole sendmmsg call
            keep = np.flatnonzero(~bad)
            if not len(keep):
                return 0
            frames, lengths = frames[keep], lengths[keep]
        try:
            return self.tx.send(frames, lengths)
        except OSError as e:                 # the link went away: serve() notices and stops
            if e.errno in _LINK_GONE:
                return 0
            raise

    def stats(self) -> tuple[int, int]:
        """Cumulative (frames the ring saw, frames the kernel dropped because the ring was full)."""
        return self.rx.stats()

    def close(self) -> None:
        self.tx.close()
        self.rx.close()


def open_wire(ifname: str) -> Wire:
    """The swap point: the object that reads and sends frame batches on `ifname`."""
    check_interface(ifname)
    try:
        return Wire(ifname)
    except PermissionError:
        raise EnvironmentProblem("opening an AF_PACKET socket needs root (CAP_NET_RAW)") from None
    except OSError as e:
        raise EnvironmentProblem(f"--iface {ifname}: cannot open: {e.strerror or e}") from None


def serve(responder: Responder, wire: Wire, ifname: str,
          should_stop: Callable[[], bool], pcap: PcapWriter | None = None,
          on_batch: Callable[[], None] | None = None, chunk: int = CHUNK) -> None:
    """Read, answer, send, until `should_stop()`; raises EnvironmentProblem if the link goes down."""
    log = responder.log
    if not wire.filtered and (log is None or log.level < LOG_DROP) and pcap is None:
        wire.set_filter(responder_filter(responder.cfg.mac))
    last_check = time.monotonic()
    while not should_stop():
        got = wire.read(0.2)
        if got is not None:
            now = time.time()
            frames, lengths = got
            for start in range(0, len(lengths), chunk):
                f, ln = frames[start:start + chunk], lengths[start:start + chunk]
                out, out_len = responder.respond_batch(f, ln, now)
                if pcap is not None:
                    pcap.write_batch(f, ln, now)
                    pcap.write_batch(out, out_len, now)
                if len(out_len):
                    sent = wire.send(out, out_len)
                    responder.send_failures += len(out_len) - sent
            if on_batch is not None:
                on_batch()
        mono = time.monotonic()
        if mono - last_check > 1.0:
            last_check = mono
            if not interface_flags(ifname) & IFF_UP:
                raise EnvironmentProblem(f"--iface {ifname}: interface went down - stopping")
