"""In-memory round trip: our SYN -> the project's responder (tidescanned's sans-IO core) -> its
SYN-ACK -> the stack + the real banner sessions -> ... -> banner records.

Nothing touches a socket: frames go back and forth as bytes, time is a number.  The responder
answers like the real servers it imitates (vsFTPd greeting, nginx 401, an SSH identification, a
TLS certificate, Postfix, telnet negotiation), so this checks the stack and the parsers together
on complete conversations, over IPv4 and IPv6.
"""

from __future__ import annotations

import base64
import ipaddress

import numpy as np
import pytest
from cryptography import x509

from stack_helpers import OUR_MAC, parse
from tidescan.banners.base import BannerConfig
from tidescan.output.record import Record
from tidescan.packets.template import SynTemplate
from tidescan.responder.config import AddressSet, ResponderConfig
from tidescan.responder.core import Responder
from tidescan.siphash import cookie4, cookie6
from tidescan.stack.driver import Stack, tcp_rows_for_stack

RSP_MAC = "52:1c:4e:c2:a4:1f"
ME4, THEM4 = "10.0.0.2", "10.113.0.5"
ME6, THEM6 = "fd00::2", "fd00::113:5"
MY_PORT = 61000


class Wire:
    """The responder on the other end of an in-memory wire."""

    def __init__(self, hello_strings: dict[int, bytes] | None = None) -> None:
        self.rsp = Responder(ResponderConfig(mac=bytes.fromhex(RSP_MAC.replace(":", "")),
                                             self_ips=AddressSet.of([THEM4, THEM6])),
                             clock=lambda: 0.0)
        cfg = BannerConfig(hello_strings=hello_strings or {})
        self.stack = Stack(OUR_MAC, RSP_MAC, banner_config=cfg, epoch_offset=0.0,
                           timer_resolution=0.0)
        self.records: list[Record] = []
        self.frames_to_responder = 0

    def pump(self, frames: list[bytes], now: float) -> None:
        """Deliver frames to the responder, its answers to the stack, and so on until quiet."""
        for _ in range(100):
            self.frames_to_responder += len(frames)
            replies = [r for f in frames for r in self.rsp.respond(f, now)]
            if not replies:
                return
            p = parse(replies)
            sa = np.flatnonzero(p.is_tcp & ((p.tcp_flags & 0x16) == 0x12))   # what scan.py verifies
            o1 = self.stack.on_synacks(p, sa, now)
            o2 = self.stack.on_segments(p, tcp_rows_for_stack(p, sa), now)
            self.records += o1.records + o2.records
            frames = o1.frame_list() + o2.frame_list()
        raise AssertionError("conversation did not settle")

    def connect(self, port: int, v6: bool = False) -> None:
        tmpl = SynTemplate(OUR_MAC, RSP_MAC, mss=None)
        if v6:
            me, them = int(ipaddress.ip_address(ME6)), int(ipaddress.ip_address(THEM6))
            seq = cookie6(them, port, me, MY_PORT, 7) & 0xFFFFFFFF
            self.pump([tmpl.frame_v6(them, port, me, MY_PORT, seq)], 0.0)
        else:
            me, them = int(ipaddress.ip_address(ME4)), int(ipaddress.ip_address(THEM4))
            seq = cookie4(them, port, me, MY_PORT, 7) & 0xFFFFFFFF
            self.pump([tmpl.frame_v4(them, port, me, MY_PORT, seq)], 0.0)

    def run(self, until: float = 40.0) -> dict[tuple[int, str], bytes]:
        t = 0.0
        while len(self.stack) and t < until:
            t += 0.25
            out = self.stack.on_timer(t)
            self.records += out.records
            self.pump(out.frame_list(), t)
        self.records += self.stack.close_all(t).records
        return {(r.port, r.app): r.banner for r in self.records}


@pytest.mark.parametrize("v6", [False, True])
def test_banners_from_responder(v6: bool) -> None:
    w = Wire(hello_strings={22: b"SSH-2.0-tidescan_0.1\r\n"})
    for port in (21, 22, 80, 443):
        w.connect(port, v6)
    assert w.stack.stats.opened == 4        # (FTP may be over already: it talks first)
    got = w.run()
    assert all(r.ip_version == (6 if v6 else 4) and r.proto == "tcp" for r in w.records)
    # FTP: server first (greeting on our handshake ACK), no hello needed
    assert got[(21, "ftp")].startswith(b"220 (vsFTPd 3.0.3)")
    # SSH: our --hello-string[22] identification, the responder's own in answer
    assert got[(22, "ssh")].startswith(b"SSH-2.0-")
    # HTTP: our GET after the hello timeout, the responder's 401
    assert got[(80, "http")].startswith(b"HTTP/1.1 401 Unauthorized")
    assert got[(80, "title")] == b"401 Authorization Required"
    # TLS: ClientHello, the certificate comes back, intact
    assert got[(443, "ssl")].startswith(b"TLS/1.2")
    cert = x509.load_der_x509_certificate(base64.b64decode(got[(443, "X509")]))
    assert cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value == "localhost"
    assert w.stack.stats.out_of_order == 0 and w.stack.stats.retransmits == 0
    assert len(w.stack) == 0


def test_lost_frames_recovered_by_retransmission() -> None:
    """Drop the first hello on the way: the RTO resends it and the banner still arrives."""
    w = Wire()
    w.connect(80)
    dropped = []
    real_pump = w.pump

    def lossy(frames: list[bytes], now: float) -> None:
        if frames and not dropped and any(len(f) > 100 for f in frames):
            dropped.append(frames)
            frames = [f for f in frames if len(f) <= 100]
        real_pump(frames, now)

    w.pump = lossy  # type: ignore[method-assign]
    got = w.run()
    assert dropped and w.stack.stats.retransmits >= 1
    assert got[(80, "http")].startswith(b"HTTP/1.1 401")
