"""Test helpers for the banner TCP stack: a scripted peer, a fake banner session, frame parsing.

The peer builds its frames with scapy (independent of the stack's own builder) and reads the
stack's answers back with scapy, so every test also checks that what the stack sends dissects.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

import numpy as np
from scapy.layers.inet import IP, TCP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Ether

from tidescan.banners.base import Banner, Close, Send
from tidescan.packets.triage import Parsed, parse_frames
from tidescan.stack.driver import Stack, StackOutput

OUR_MAC, ROUTER_MAC = "02:00:00:00:00:01", "02:00:00:00:00:fe"
ME4, THEM4 = "10.0.0.2", "10.0.9.9"
ME6, THEM6 = "fd00::2", "fd00::9:9"
MY_PORT = 61000
COOKIE = 0x12345678
ISN = 0xFFFFFF00          # the peer's ISN: its sequence numbers wrap soon after


def ip_int(text: str) -> int:
    return int(ipaddress.ip_address(text))


def parse(frames: list[bytes]) -> Parsed:
    buf = np.zeros((max(1, len(frames)), 2048), np.uint8)
    for i, f in enumerate(frames):
        buf[i, :len(f)] = np.frombuffer(f, np.uint8)
    return parse_frames(buf[:len(frames)], np.array([len(f) for f in frames]))


@dataclass
class FakeSession:
    """A banner session following the contract: hello after the timeout, a banner per app on
    close; `close_after_hello` imitates SSL (FIN right after the ClientHello), `close_on` closes
    when that byte string has been seen."""

    port: int
    now: float
    hello: bytes | None = b"HELLO\r\n"
    close_after_hello: bool = False
    close_on: bytes | None = None
    got: bytearray = field(default_factory=bytearray)
    calls: list[str] = field(default_factory=list)
    closed: int = 0
    done: bool = False

    def on_connect(self, now: float) -> list:
        self.calls.append("connect")
        return []

    def on_hello_timeout(self, now: float) -> list:
        self.calls.append("hello")
        if self.hello is None:
            return []
        return [Send(self.hello)] + ([Close()] if self.close_after_hello else [])

    def feed(self, data: bytes, now: float) -> list:
        self.calls.append(f"feed:{len(data)}")
        if self.done:
            return []
        self.got += data
        if self.close_on is not None and self.close_on in self.got:
            self.done = True
            return [Banner("unknown", bytes(self.got)), Close()]
        return []

    def on_close(self, now: float) -> list:
        self.calls.append("close")
        self.closed += 1
        if self.done or not self.got:
            return []
        self.done = True
        return [Banner("unknown", bytes(self.got))]


class Sessions:
    """A session factory that remembers every session it made."""

    def __init__(self, **kw: object) -> None:
        self.kw = kw
        self.made: list[FakeSession] = []

    def __call__(self, port: int, now: float) -> FakeSession:
        s = FakeSession(port, now, **self.kw)  # type: ignore[arg-type]
        self.made.append(s)
        return s


def make_stack(sessions: Sessions | None = None, **kw: object) -> tuple[Stack, Sessions]:
    sessions = sessions or Sessions()
    kw.setdefault("epoch_offset", 0.0)
    kw.setdefault("hash_key", 1)
    kw.setdefault("timer_resolution", 0.0)
    return Stack(OUR_MAC, ROUTER_MAC, session_factory=sessions, **kw), sessions  # type: ignore[arg-type]


def dissect(out: StackOutput) -> list[Ether]:
    return [Ether(f) for f in out.frame_list()]


def flags_of(p: Ether) -> str:
    return str(p[TCP].flags)


class Peer:
    """The server side of one connection, scripted by the test.

    `seq` is the peer's next sequence number; `got` collects the payload the stack sent, in
    sequence order (duplicates skipped), `rcv` is the next byte the peer expects from the stack.
    """

    def __init__(self, stack: Stack, port: int = 80, v6: bool = False, my_port: int = MY_PORT,
                 isn: int = ISN, cookie: int = COOKIE, them: str | None = None) -> None:
        self.stack, self.port, self.v6, self.my_port = stack, port, v6, my_port
        self.them = them or (THEM6 if v6 else THEM4)
        self.me = ME6 if v6 else ME4
        self.isn, self.cookie = isn, cookie
        self.seq = (isn + 1) & 0xFFFFFFFF
        self.rcv = (cookie + 1) & 0xFFFFFFFF
        self.got = bytearray()
        self.seen: list[Ether] = []

    # -- frames from the peer
    def frame(self, flags: str, seq: int | None = None, ack: int | None = None,
              payload: bytes = b"", ttl: int = 57) -> bytes:
        ip = (IPv6(src=self.them, dst=self.me, hlim=ttl) if self.v6
              else IP(src=self.them, dst=self.me, ttl=ttl))
        pkt = (Ether(src=ROUTER_MAC, dst=OUR_MAC) / ip
               / TCP(sport=self.port, dport=self.my_port, flags=flags,
                     seq=self.seq if seq is None else seq & 0xFFFFFFFF,
                     ack=self.rcv if ack is None else ack & 0xFFFFFFFF, window=65535))
        if payload:
            pkt = pkt / payload
        return bytes(pkt)

    def synack_frame(self) -> bytes:
        return self.frame("SA", seq=self.isn, ack=self.cookie + 1)

    def synack(self, now: float) -> StackOutput:
        return self.take(self.stack.on_synacks(parse([self.synack_frame()]), [0], now))

    def send(self, now: float, payload: bytes = b"", flags: str = "PA", seq: int | None = None,
             advance: bool = True) -> StackOutput:
        f = self.frame(flags, seq=seq, payload=payload)
        if advance and seq is None:
            self.seq = (self.seq + len(payload) + (1 if "F" in flags else 0)) & 0xFFFFFFFF
        return self.take(self.stack.on_segments(parse([f]), [0], now))

    def timer(self, now: float) -> StackOutput:
        return self.take(self.stack.on_timer(now))

    # -- frames from the stack
    def take(self, out: StackOutput) -> StackOutput:
        for p in dissect(out):
            assert p[Ether].src == OUR_MAC and p[Ether].dst == ROUTER_MAC
            self.seen.append(p)
            t = p[TCP]
            data = bytes(t.payload)
            if data and t.seq == self.rcv:
                self.got += data
                self.rcv = (self.rcv + len(data)) & 0xFFFFFFFF
            if "F" in str(t.flags) and (t.seq + len(data)) & 0xFFFFFFFF == self.rcv:
                self.rcv = (self.rcv + 1) & 0xFFFFFFFF
        return out

    def info(self):  # noqa: ANN201
        return self.stack.connection(ip_int(self.them), self.port, ip_int(self.me), self.my_port,
                                     6 if self.v6 else 4)
