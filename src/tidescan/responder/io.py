"""The I/O loop: frames in by the ring block, answers out by the sendmmsg batch.

Why this exists: the core is sans-IO; something must move frames between the wire and it, fast
enough to answer a SYN flood at least as fast as the kernel's own TCP stack would.  Profiling the
first version (recvmmsg + sendmmsg, 1,024 frames a call) under a full flood put ~40 % of the
responder's time in `sendmmsg`, ~18 % in `recvmmsg`, ~40 % in the NumPy fast path (a quarter of it
byte-swapping copies), with the socket queue overflowing by 10^5 frames a second.  So:

* Receive is the project's TPACKET_V3 ring (`tidescan.wire.afpacket.RxRing`): the kernel copies
  each frame into shared memory from its softirq (no skb queued, no per-frame wake-up, no receive
  system call at all while blocks are ready) and `read()` returns every ready block as one
  `(n, width)` array with `width >= 128`, fed to `Responder.respond_batch` as it is (in chunks of
  `CHUNK` rows).  When the loop falls behind, blocks pile up and the next read takes them all, so
  batches grow exactly when per-batch overhead matters; the kernel's drops (ring full) are counted
  by `stats()`.  The socket is promiscuous (masscanned's pnet channel: frames to a spoofed
  `-m MAC` must arrive) and ignores outgoing frames, so the responder never reads its own answers.
* A classic BPF filter (`responder_filter`) keeps, in the kernel, only what layer 2 of the core
  would look at: ARP/IPv4/IPv6 frames sent to the responder's MAC or to a group address (the core
  then picks the groups it answers).  On a busy promiscuous link that spares the ring every other
  host's unicast.  `serve()` attaches it (it knows the configured MAC) unless the packet log wants
  ignored frames (`-vv`/`-vvv`) or `--pcap` records the link: those must still see everything.
* Send is `tidescan.wire.afpacket.PacketSender`: one `sendmmsg` per 1,024 answers, retrying a full
  device queue.  The kernel's per-frame work (skb, veth, the receiving side's softirq) is now most
  of the responder's time; what this module adds is to pack short answers into contiguous rows
  first (`Wire._compact`: the core's 2 KiB output rows fall into a handful of cache sets, and the
  kernel's copy then misses on every frame; paired runs measured ~110 ns a SYN saved).  Answers
  longer than the interface's MTU are never handed to the kernel (it would refuse the whole call);
  they count as send failures.  (PACKET_QDISC_BYPASS measured no gain on veth, and hides the
  answers from tcpdump, so it is off.)

Swap point: `open_wire(ifname)` is the only function the loop and the CLI use to get the object
that reads (`.read(timeout) -> (frames, lengths) | None`) and sends (`.send(frames, lengths) ->
int`) frame batches; `.stats() -> (packets, drops)` is cumulative, `.close()` releases both sockets.
"""

from __future__ import annotations

import errno
import fcntl
import socket
import struct
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
SIOCGIFMTU = 0x8921
SNAPLEN = 2048                 # bytes kept of each frame (the core answers frames up to 1514)
# Ring geometry: 64 MiB holds ~490,000 SYNs (136 bytes each in the ring) when blocks fill up, but
# at moderate rates the kernel retires a block every RETIRE_MS however empty, so what bounds a
# pause of the reader is RING_BLOCKS x RETIRE_MS: many small blocks (1 s here) rather than 64 big
# ones (0.13 s: measured 5 % drops at 200,000 SYN/s on the shared machine, 0 with these).
RING_BLOCK = 1 << 17           # one TPACKET_V3 block: ~960 SYNs
RING_BLOCKS = 512
RETIRE_MS = 2                  # a partly filled block is handed over after this long (>= 1 jiffy)
MAX_READ = 16384               # frames per read (whole blocks are taken until this is passed)
CHUNK = 4096                   # frames per respond_batch call (bounds the core's 2 KiB-row output buffer)
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


def interface_mtu(sock: socket.socket, ifname: str) -> int:
    """The MTU of `ifname` in the namespace of `sock` (SIOCGIFMTU; 1500 if the kernel will not say)."""
    try:
        ifr = fcntl.ioctl(sock.fileno(), SIOCGIFMTU, struct.pack("16si20x", ifname.encode(), 0))
    except OSError:
        return 1500
    return int(struct.unpack("16si20x", ifr)[1])


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
        self.max_len = interface_mtu(self.tx.sock, ifname) + 14
        self._tx_bufs: dict[int, NDArray[np.uint8]] = {}
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
        width = min((int(lengths.max()) + 63) & ~63, frames.shape[1])
        if frames.strides[0] >= 2 * width:   # e.g. 54-byte SYN-ACKs in the core's 2 KiB rows
            frames = self._compact(frames, width)
        try:
            return self.tx.send(frames, lengths)
        except OSError as e:                 # the link went away: serve() notices and stops
            if e.errno in _LINK_GONE:
                return 0
            raise

    def _compact(self, frames: NDArray[np.uint8], width: int) -> NDArray[np.uint8]:
        """The rows' first `width` bytes, packed (a reused buffer).

        Rows 2 KiB apart map onto a few cache sets, so the kernel's copy of each short frame
        misses; one NumPy copy into packed rows first measured ~110 ns a frame cheaper.
        """
        n = len(frames)
        buf = self._tx_bufs.get(width)
        if buf is None or len(buf) < n:
            buf = self._tx_bufs[width] = np.empty((max(n, 1024), width), dtype=np.uint8)
            if len(self._tx_bufs) > 4:
                self._tx_bufs = {width: buf}
        out = buf[:n]
        np.copyto(out, frames[:, :width])
        return out

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
