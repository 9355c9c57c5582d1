"""The I/O loop: frames in by the batch from an AF_PACKET socket, answers out by the batch.

Why this exists: the core is sans-IO; something must move frames between the wire and it, fast
enough to answer a SYN flood.  One syscall per frame (socket.recv / send) caps Python at a few
hundred thousand frames per second and costs most of the CPU; `recvmmsg(2)` and `sendmmsg(2)`
(called through ctypes) move up to `batch` frames per syscall between the kernel and a
preallocated `(batch, snap)` NumPy buffer, whose lengths are read back through a NumPy view of the
`mmsghdr` array - no Python loop per frame on the way in or out.

Socket set-up: `AF_PACKET/SOCK_RAW` bound to the interface for every EtherType, promiscuous
membership (as masscanned's pnet channel), `PACKET_IGNORE_OUTGOING` so the responder never reads
its own answers back, and large socket buffers for floods.

Swap point: `open_wire(ifname)` is the only function the loop uses to get a receiver
(`.read(timeout) -> (frames, lengths) | None`) and a sender (`.send(frames, lengths) -> int`).
It is the stand-in until the project's `tidescan.wire.afpacket` (RX ring + sendmmsg) is wired in.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import select
import socket
import struct
import time
from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from tidescan.errors import EnvironmentProblem

from .core import Responder
from .pcap_capture import PcapWriter

ETH_P_ALL = 0x0003
SOL_PACKET = 263
PACKET_ADD_MEMBERSHIP = 1
PACKET_MR_PROMISC = 1
PACKET_IGNORE_OUTGOING = 23
PACKET_STATISTICS = 6
SO_RCVBUFFORCE = 33
SO_SNDBUFFORCE = 32
MSG_DONTWAIT = 0x40
IFF_UP = 0x1

_libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)


class _Iovec(ctypes.Structure):
    _fields_ = [("iov_base", ctypes.c_void_p), ("iov_len", ctypes.c_size_t)]


class _Msghdr(ctypes.Structure):
    _fields_ = [("msg_name", ctypes.c_void_p), ("msg_namelen", ctypes.c_uint32),
                ("msg_iov", ctypes.POINTER(_Iovec)), ("msg_iovlen", ctypes.c_size_t),
                ("msg_control", ctypes.c_void_p), ("msg_controllen", ctypes.c_size_t),
                ("msg_flags", ctypes.c_int)]


class _Mmsghdr(ctypes.Structure):
    _fields_ = [("msg_hdr", _Msghdr), ("msg_len", ctypes.c_uint)]


_libc.recvmmsg.argtypes = [ctypes.c_int, ctypes.POINTER(_Mmsghdr), ctypes.c_uint, ctypes.c_int,
                           ctypes.c_void_p]
_libc.sendmmsg.argtypes = [ctypes.c_int, ctypes.POINTER(_Mmsghdr), ctypes.c_uint, ctypes.c_int]


def _iovec_view(iov: ctypes.Array, n: int) -> NDArray[np.uint64]:
    """(n, 2) uint64 NumPy view of an iovec array: column 0 base, column 1 length."""
    buf = (ctypes.c_char * (n * ctypes.sizeof(_Iovec))).from_address(ctypes.addressof(iov))
    return np.frombuffer(buf, dtype=np.uint64).reshape(n, 2)


class _MsgVector:
    """n mmsghdrs, each with one iovec; NumPy views of the iovecs and of msg_len."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.iov = (_Iovec * n)()
        self.msgs = (_Mmsghdr * n)()
        iov_size = ctypes.sizeof(_Iovec)
        for i in range(n):  # set-up only, once: message i uses iovec i
            self.msgs[i].msg_hdr.msg_iov = ctypes.cast(ctypes.addressof(self.iov) + i * iov_size,
                                                       ctypes.POINTER(_Iovec))
            self.msgs[i].msg_hdr.msg_iovlen = 1
        self.iov_np = _iovec_view(self.iov, n)
        stride = ctypes.sizeof(_Mmsghdr)
        raw = (ctypes.c_char * (n * stride)).from_address(ctypes.addressof(self.msgs))
        self.msg_len = np.frombuffer(raw, dtype=np.uint32).reshape(n, stride // 4)[:, _Mmsghdr.msg_len.offset // 4]

    def point_at(self, frames: NDArray[np.uint8], lengths: NDArray) -> None:
        k = len(lengths)
        self.iov_np[:k, 0] = frames.ctypes.data + np.arange(k, dtype=np.uint64) * np.uint64(frames.strides[0])
        self.iov_np[:k, 1] = np.asarray(lengths, dtype=np.uint64)


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


def check_interface(ifname: str) -> None:
    if not interface_flags(ifname) & IFF_UP:
        raise EnvironmentProblem(f"--iface {ifname}: interface is down (ip link set {ifname} up)")


class FrameSocket:
    """Batched AF_PACKET receiver and sender on one interface."""

    def __init__(self, ifname: str, batch: int = 1024, snap: int = 2048) -> None:
        try:
            self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        except PermissionError:
            raise EnvironmentProblem("opening an AF_PACKET socket needs root (CAP_NET_RAW)") from None
        try:
            self.sock.setsockopt(SOL_PACKET, PACKET_IGNORE_OUTGOING, 1)
            for opt, fallback in ((SO_RCVBUFFORCE, socket.SO_RCVBUF), (SO_SNDBUFFORCE, socket.SO_SNDBUF)):
                try:
                    self.sock.setsockopt(socket.SOL_SOCKET, opt, 64 << 20)
                except OSError:
                    self.sock.setsockopt(socket.SOL_SOCKET, fallback, 64 << 20)
            self.sock.bind((ifname, ETH_P_ALL))
            ifindex = socket.if_nametoindex(ifname)
            mreq = ifindex.to_bytes(4, "little") + PACKET_MR_PROMISC.to_bytes(2, "little") + bytes(10)
            self.sock.setsockopt(SOL_PACKET, PACKET_ADD_MEMBERSHIP, mreq)
        except OSError as e:
            self.sock.close()
            raise EnvironmentProblem(f"--iface {ifname}: cannot open: {e.strerror or e}") from None
        self.fd = self.sock.fileno()
        self.batch = batch
        self.rx = np.zeros((batch, snap), dtype=np.uint8)
        self._rx_msgs = _MsgVector(batch)
        self._rx_msgs.point_at(self.rx, np.full(batch, snap))
        self._tx_msgs = _MsgVector(batch)
        self._poll = select.poll()
        self._poll.register(self.fd, select.POLLIN)

    def read(self, timeout: float) -> tuple[NDArray[np.uint8], NDArray[np.int64]] | None:
        """Up to `batch` frames (waiting at most `timeout` s for the first); None if none came."""
        n = _libc.recvmmsg(self.fd, self._rx_msgs.msgs, self.batch, MSG_DONTWAIT, None)
        if n <= 0:
            if not self._poll.poll(int(timeout * 1000)):
                return None
            n = _libc.recvmmsg(self.fd, self._rx_msgs.msgs, self.batch, MSG_DONTWAIT, None)
            if n <= 0:
                return None
        return self.rx, self._rx_msgs.msg_len[:n].astype(np.int64)

    def send(self, frames: NDArray[np.uint8], lengths: NDArray) -> int:
        """Send `frames[i, :lengths[i]]`; returns how many were sent (ENOBUFS retried briefly)."""
        total = len(lengths)
        sent = 0
        retries = 0
        while sent < total:
            k = min(self.batch, total - sent)
            self._tx_msgs.point_at(frames[sent:sent + k], lengths[sent:sent + k])
            r = _libc.sendmmsg(self.fd, self._tx_msgs.msgs, k, 0)
            if r > 0:
                sent += r
                retries = 0
                continue
            err = ctypes.get_errno()
            if err in (errno.ENOBUFS, errno.EAGAIN, errno.EINTR) and retries < 100:
                retries += 1
                time.sleep(0.0005)
                continue
            if err in (errno.EMSGSIZE, errno.EINVAL):
                sent += 1   # skip the frame the kernel refuses
                continue
            break
        return sent

    def stats(self) -> tuple[int, int]:
        """(frames received, frames the kernel dropped for lack of room) since the last call."""
        raw = self.sock.getsockopt(SOL_PACKET, PACKET_STATISTICS, 8)
        packets, drops = struct.unpack("II", raw)
        return packets, drops

    def close(self) -> None:
        self.sock.close()


def open_wire(ifname: str) -> FrameSocket:
    """The swap point: the object that reads and sends frame batches on `ifname`."""
    check_interface(ifname)
    return FrameSocket(ifname)


def serve(responder: Responder, wire: FrameSocket, ifname: str,
          should_stop: Callable[[], bool], pcap: PcapWriter | None = None,
          on_batch: Callable[[], None] | None = None) -> None:
    """Read, answer, send, until `should_stop()`; raises EnvironmentProblem if the link goes down."""
    last_check = time.monotonic()
    while not should_stop():
        got = wire.read(0.2)
        now = time.time()
        if got is not None:
            frames, lengths = got
            out, out_len = responder.respond_batch(frames, lengths, now)
            if pcap is not None:
                pcap.write_batch(frames, lengths, now)
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

