"""Frame crafting and lab plumbing shared by the tests of tidescan.wire.

Frames are built with struct by hand (independently of tidescan.packets) so that the wire tests do
not depend on the code they might be used to check.  Every crafted frame ends with an 8-byte tag
(`MAGIC` + index), so a test can tell its own frames from the chatter of the namespaces' kernels.
"""

from __future__ import annotations

import struct
import time
from dataclasses import dataclass

import numpy as np

from tidescan import netns
from tidescan.wire.afpacket import Block, PacketSender, RxRing

MAGIC = b"TSW1"
ETH_OTHER = 0x88B5  # IEEE local experimental ethertype: no kernel handles it


@dataclass(frozen=True)
class Spec:
    """What a crafted frame is (the inputs of the reference predicate)."""

    ethertype: int
    dst4: int = 0
    dst6: int = 0
    proto: int = 6
    dport: int = 0
    frag: int = 0
    ihl: int = 5
    arp_tpa: int = 0
    truncate: int | None = None


def craft(spec: Spec, index: int, dst_mac: bytes, src_mac: bytes) -> bytes:
    """An Ethernet frame matching `spec`, tagged with `index`."""
    eth = dst_mac + src_mac + struct.pack("!H", spec.ethertype)
    tag = MAGIC + struct.pack("!I", index)
    if spec.ethertype == 0x0800:
        opts = bytes(4 * (spec.ihl - 5))
        l4 = struct.pack("!HH", 40001, spec.dport) + bytes(16)
        total = 4 * spec.ihl + len(l4) + len(tag)
        ip = struct.pack("!BBHHHBBH4s4s", 0x40 | spec.ihl, 0, total, 1, spec.frag, 64, spec.proto, 0,
                         bytes([10, 199, 0, 1]), spec.dst4.to_bytes(4, "big")) + opts
        frame = eth + ip + l4 + tag
    elif spec.ethertype == 0x86DD:
        l4 = struct.pack("!HH", 40001, spec.dport) + bytes(16)
        ip = struct.pack("!IHBB16s16s", 0x60000000, len(l4) + len(tag), spec.proto, 64,
                         (0xFD00_0199 << 96 | 1).to_bytes(16, "big"), spec.dst6.to_bytes(16, "big"))
        frame = eth + ip + l4 + tag
    elif spec.ethertype == 0x0806:
        arp = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, src_mac, bytes([10, 199, 0, 1]),
                          bytes(6), spec.arp_tpa.to_bytes(4, "big"))
        frame = eth + arp + tag
    else:
        frame = eth + bytes(46) + tag
    if spec.truncate is not None:
        frame = frame[:spec.truncate]
    return frame


def tag_of(frame: bytes) -> int | None:
    """The index tagged onto a crafted frame (None for foreign or truncated frames)."""
    pos = frame.rfind(MAGIC)
    if pos < 0 or pos + 8 > len(frame):
        return None
    return struct.unpack("!I", frame[pos + 4:pos + 8])[0]


def as_batch(frames: list[bytes], stride: int = 1536) -> tuple[np.ndarray, np.ndarray]:
    """`(n, stride)` uint8 array + lengths from a list of frames."""
    buf = np.zeros((len(frames), stride), np.uint8)
    lens = np.array([len(f) for f in frames], np.int64)
    for i, f in enumerate(frames):
        buf[i, :len(f)] = np.frombuffer(f, np.uint8)
    return buf, lens


def sender_in(ns: netns.Namespace, ifname: str, **kw: object) -> PacketSender:
    with netns.entered(ns.name):
        return PacketSender(ifname, **kw)  # type: ignore[arg-type]


def ring_in(ns: netns.Namespace, ifname: str, **kw: object) -> RxRing:
    with netns.entered(ns.name):
        return RxRing(ifname, **kw)  # type: ignore[arg-type]


def drain(ring: RxRing, quiet: float = 0.3, limit: float = 10.0) -> list[Block]:
    """Read blocks until none arrives for `quiet` seconds (or `limit` seconds pass)."""
    out = []
    end = time.monotonic() + limit
    while time.monotonic() < end:
        b = ring.read(quiet)
        if b is None:
            break
        out.append(b)
    return out


def frames_of(blocks: list[Block]) -> list[bytes]:
    return [bytes(b.frames[i, :b.lengths[i]]) for b in blocks for i in range(len(b))]
