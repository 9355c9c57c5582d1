"""Fuzz: 10^6 random and mutated frames through the core; nothing raises, answers keep coming.

A seeded mutator (NumPy, a batch at a time) takes a corpus of valid frames of every kind the
responder handles - ARP, ICMP, ICMPv6 echo/NS, TCP SYN/FIN/RST and PSH-ACK with a *valid cookie*
carrying each application protocol (so the protocol parsers are reached), UDP with each protocol,
IPv4 and IPv6 - and overwrites random bytes, truncates, extends with garbage, or replaces whole
frames by random bytes.  Batches go through `respond_batch` (fast path + scalar path).  The test
asserts that no exception escaped the layers (`internal_errors == 0`: the core's safety net was
never needed) and that the responder still answers normally afterwards.  The rate is printed
(run with `-s`); the frame count can be lowered with TIDESCAN_FUZZ_FRAMES for quick local runs.
"""

from __future__ import annotations

import ipaddress
import os
import struct
import time

import numpy as np
from scapy.layers.dns import DNS, DNSQR, DNSRROPT
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.inet6 import ICMPv6EchoRequest, ICMPv6ND_NS, IPv6
from scapy.layers.l2 import ARP, Ether

from tidescan.responder.config import AddressSet, ResponderConfig
from tidescan.responder.core import Responder
from tidescan.responder.synack_cookie import cookie_v4, cookie_v6

MAC = "02:11:22:33:44:55"
FRAMES = int(os.environ.get("TIDESCAN_FUZZ_FRAMES", "1000000"))
BATCH = 1024
SNAP = 256

PAYLOADS = [
    b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", b"POST /a HTTP/1.0\r\nContent-Length: 3\r\n\r\nabc",
    b"SSH-2.0-OpenSSH_9.2p1 Debian\r\n", b"\x00\x01\x00\x00\x21\x12\xa4\x42" + bytes(12),
    b"\x00\x01\x00\x08" + bytes(16) + b"\x00\x03\x00\x04\x00\x00\x00\x02",
    bytes(DNS(id=1, qd=DNSQR(qname="example.com"), ar=DNSRROPT())),
    bytes.fromhex("80000028" "72fe1d13" "00000000" "00000002" "000186a0" "00000002" "00000004") + bytes(16),
    bytes.fromhex("72fe1d13" "00000000" "00000002" "000186a0" "00000003" "00000003") + bytes(16),
    b"Gh0st" + struct.pack("<II", 30, 1) + b"x\x9c" + bytes(10),
    b"\x00\x00\x00\x54\xffSMBr" + bytes(4) + b"\x18\x43\xc8" + bytes(20) + b"\x00\x0c\x00\x02NT LM 0.12\x00",
    b"\x00\x00\x00\x70\xfeSMB" + struct.pack("<HHIHH", 64, 0, 0, 0, 1) + bytes(48)
    + struct.pack("<HHHHI", 36, 2, 1, 0, 0) + bytes(24) + b"\x02\x02\x10\x02",
    b"\x16\x03\x01\x00\x31\x01\x00\x00\x2d\x03\x03" + bytes(32) + b"\x00\x00\x04\x00\x9c\x00\xff\x01\x00",
    b"USER anonymous\r\n", b"EHLO x\r\n", b"a1 LOGIN u p\r\n",
]


def corpus() -> list[bytes]:
    me4, cl4, me6, cl6 = "10.0.0.1", "10.0.0.2", "fd00::1", "fd00::2"
    e = Ether(dst=MAC, src="02:00:00:00:00:09")
    frames = [bytes(Ether(dst="ff:ff:ff:ff:ff:ff") / ARP(pdst=me4, psrc=cl4)),
              bytes(e / IP(src=cl4, dst=me4) / ICMP() / b"ping"),
              bytes(e / IPv6(src=cl6, dst=me6) / ICMPv6EchoRequest(data=b"x")),
              bytes(Ether(dst="33:33:ff:00:00:01") / IPv6(src=cl6, dst="ff02::1:ff00:1") / ICMPv6ND_NS(tgt=me6))]
    for v6 in (False, True):
        l3 = e / (IPv6(src=cl6, dst=me6) if v6 else IP(src=cl4, dst=me4))
        for flags in ("S", "SE", "FA", "R", "A"):
            frames.append(bytes(l3 / TCP(sport=1000, dport=80, flags=flags)))
        for i, p in enumerate(PAYLOADS):
            sport, dport = 2000 + i, (21, 25, 143, 445, 111, 443, 80)[i % 7]
            if v6:
                c = cookie_v6(int(ipaddress.ip_address(cl6)), int(ipaddress.ip_address(me6)), sport, dport)
            else:
                c = cookie_v4(0x0A000002, 0x0A000001, sport, dport)
            frames.append(bytes(l3 / TCP(sport=sport, dport=dport, flags="PA", seq=7, ack=c + 1) / p))
            frames.append(bytes(l3 / TCP(sport=sport, dport=dport, flags="A", seq=7, ack=c + 1)))
            frames.append(bytes(l3 / UDP(sport=sport, dport=dport) / p))
    return frames


def mutate_batch(rng: np.random.Generator, base: np.ndarray, base_len: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n = BATCH
    pick = rng.integers(0, len(base_len), n)
    buf = base[pick].copy()
    lengths = base_len[pick].copy()
    # 1-8 random byte overwrites per frame, biased to the headers (first 80 bytes)
    for _ in range(rng.integers(1, 9)):
        rows = rng.random(n) < 0.7
        limit = np.where(rng.random(n) < 0.7, np.minimum(lengths, 80), lengths).clip(1)
        pos = (rng.random(n) * limit).astype(np.int64)
        buf[rows, pos[rows]] = rng.integers(0, 256, rows.sum(), dtype=np.uint8)
    # truncations, extensions with garbage, whole random frames
    trunc = rng.random(n) < 0.15
    lengths[trunc] = (rng.random(trunc.sum()) * lengths[trunc]).astype(np.int64)
    ext = rng.random(n) < 0.1
    lengths[ext] = np.minimum(lengths[ext] + rng.integers(1, 64, ext.sum()), SNAP)
    garbage = rng.random(n) < 0.05
    buf[garbage] = rng.integers(0, 256, (garbage.sum(), SNAP), dtype=np.uint8)
    lengths[garbage] = rng.integers(0, SNAP, garbage.sum())
    return buf, lengths


def test_fuzz_a_million_frames() -> None:
    frames = corpus()
    base = np.zeros((len(frames), SNAP), dtype=np.uint8)
    base_len = np.array([len(f) for f in frames], dtype=np.int64)
    for i, f in enumerate(frames):
        base[i, :len(f)] = np.frombuffer(f, dtype=np.uint8)
    rng = np.random.default_rng(20240605)
    responders = [
        Responder(ResponderConfig(mac=bytes.fromhex(MAC.replace(":", "")), max_tcbs=4096), clock=lambda: 1e9),
        Responder(ResponderConfig(mac=bytes.fromhex(MAC.replace(":", "")), max_tcbs=4096,
                                  self_ips=AddressSet.of(["10.0.0.1", "fd00::1"]),
                                  deny_ips=AddressSet.of(["10.0.0.66"])), clock=lambda: 1e9),
    ]
    answered = 0
    done = 0
    t0 = time.perf_counter()
    while done < FRAMES:
        buf, lengths = mutate_batch(rng, base, base_len)
        r = responders[(done // BATCH) % 2]
        out, out_len = r.respond_batch(buf, lengths, now=1e9)
        answered += len(out_len)
        done += BATCH
    elapsed = time.perf_counter() - t0
    print(f"\nfuzz: {done} frames in {elapsed:.1f} s = {done / elapsed:,.0f} frames/s, {answered} answers")
    for r in responders:
        assert r.internal_errors == 0, r.last_error
    assert answered > done // 20          # the mutants still reach the answering paths
    # still answering normally
    syn = Ether(dst=MAC) / IP(src="10.0.0.2", dst="10.0.0.1") / TCP(sport=1, dport=80, flags="S")
    for r in responders:
        (rep,) = r.respond(bytes(syn))
        assert Ether(rep)[TCP].flags == "SA"
