"""tidescanned over a real veth pair between two network namespaces, driven by real clients.

The responder runs as a subprocess (`python -m tidescan.responder.cli`) in namespace `b`, whose
interface has *no* IPv4 address and no address in fd00:199::/64, so b's kernel never answers for
the handled addresses (the user-mode responder is the only one that does).  Clients run in
namespace `a` (10.199.0.1/24, fd00:199::1/64): ping, arping, ping -6 (neighbour discovery), curl,
ssh -v, dig, nmap -sS, and raw frames (STUN/HTTP/SSH over UDP, SYNs to random ports, garbage)
through an AF_PACKET socket opened inside namespace a.  Everything is torn down afterwards.
"""

from __future__ import annotations

import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator

import pytest
from scapy.layers.dns import DNS, DNSQR
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Ether

from tidescan import netns
from tidescan.responder.synack_cookie import cookie_v4

pytestmark = pytest.mark.lab

HANDLED = ["10.199.0.2", "10.199.0.3", "fd00:199::2"]
RESP_MAC = "52:1c:4e:c2:a4:1f"


class Responder:
    """One tidescanned subprocess in namespace `ns` (killed by PID on close)."""

    def __init__(self, pair: netns.VethPair, *args: str) -> None:
        self.log = tempfile.NamedTemporaryFile(prefix="tidescanned-", suffix=".log", delete=False)
        cmd = [sys.executable, "-m", "tidescan.responder.cli", "--iface", pair.b_if, "-vv", *args]
        self.proc = pair.b.popen(cmd, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 15
        while time.time() < deadline:
            if b"answering" in open(self.log.name, "rb").read() or self.proc.poll() is not None:
                break
            time.sleep(0.05)
        time.sleep(0.2)
        assert self.proc.poll() is None, self.output()

    def output(self) -> str:
        return open(self.log.name, "rb").read().decode(errors="replace")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        os.unlink(self.log.name)


@pytest.fixture(scope="module")
def pair() -> Iterator[netns.VethPair]:
    with netns.VethPair(tag="r", a_ip="10.199.0.1/24", b_ip=None, a_ip6="fd00:199::1/64") as p:
        # the client's own TCP stack would send segments bigger than the responder's snap length
        p.a.run(["ip", "link", "set", p.a_if, "mtu", "1500"])
        yield p


@pytest.fixture(scope="module")
def responder(pair: netns.VethPair) -> Iterator[Responder]:
    r = Responder(pair, "--self-ip-list", ",".join(HANDLED), "-m", RESP_MAC)
    try:
        yield r
    finally:
        r.close()


def run_a(pair: netns.VethPair, cmd: list[str], timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return pair.a.run(cmd, check=False, timeout=timeout)


class Wire:
    """Raw frames from namespace a: send one, collect answers matching a predicate."""

    def __init__(self, pair: netns.VethPair) -> None:
        with netns.entered(pair.a.name):
            self.s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
        self.s.bind((pair.a_if, 0))
        self.s.settimeout(0.2)
        self.mac = pair.mac("a")

    def exchange(self, frames: list[bytes], match: Callable[[Ether], bool], want: int, timeout: float = 3) -> list[Ether]:
        for f in frames:
            self.s.send(f)
        got: list[Ether] = []
        deadline = time.time() + timeout
        while len(got) < want and time.time() < deadline:
            try:
                data, addr = self.s.recvfrom(65535)
            except TimeoutError:
                continue
            if addr[2] == socket.PACKET_OUTGOING or data[:6] != self.mac:
                continue
            p = Ether(data)
            if match(p):
                got.append(p)
        return got

    def drain(self) -> None:
        self.s.setblocking(False)
        try:
            while True:
                self.s.recv(65535)
        except BlockingIOError:
            pass
        finally:
            self.s.settimeout(0.2)

    def close(self) -> None:
        self.s.close()


@pytest.fixture
def wire(pair: netns.VethPair) -> Iterator[Wire]:
    w = Wire(pair)
    try:
        yield w
    finally:
        w.close()


def l3(wire: Wire, dst: str = "10.199.0.2") -> Ether:
    return Ether(src=wire.mac, dst=RESP_MAC) / IP(src="10.199.0.1", dst=dst)


# --------------------------------------------------------------------------------------- L2/L3

def test_arping_and_ping(pair, responder) -> None:
    out = run_a(pair, ["arping", "-c", "2", "-w", "4", "-I", pair.a_if, "10.199.0.3"])
    assert out.returncode == 0 and RESP_MAC.upper() in out.stdout.upper(), out.stdout + out.stderr
    out = run_a(pair, ["ping", "-c", "3", "-i", "0.2", "-W", "2", "10.199.0.2"])
    assert out.returncode == 0 and " 0% packet loss" in out.stdout, out.stdout
    out = run_a(pair, ["ping", "-c", "1", "-W", "1", "10.199.0.9"])        # not handled
    assert out.returncode != 0


def test_ping6_with_neighbor_discovery(pair, responder) -> None:
    out = run_a(pair, ["ping", "-6", "-c", "3", "-i", "0.2", "-W", "2", "fd00:199::2"])
    assert out.returncode == 0 and " 0% packet loss" in out.stdout, out.stdout + responder.output()[-2000:]
    neigh = run_a(pair, ["ip", "-6", "neigh", "show", "fd00:199::2"]).stdout
    assert RESP_MAC in neigh.lower()


# --------------------------------------------------------------------------------------- clients

@pytest.mark.parametrize("url", ["http://10.199.0.2/", "http://10.199.0.3:8080/admin", "http://[fd00:199::2]:5000/"])
def test_curl_gets_401(pair, responder, url: str) -> None:
    out = run_a(pair, ["curl", "-s", "-m", "5", "-D", "-", url])
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("HTTP/1.1 401 Unauthorized")
    assert "Server: nginx/1.14.2" in out.stdout and "<h1>401 Authorization Required</h1>" in out.stdout


def test_ssh_sees_server_identification(pair, responder) -> None:
    out = run_a(pair, ["timeout", "6", "ssh", "-v", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
                       "-o", "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=4", "-p", "2222", "x@10.199.0.2"])
    assert "Remote protocol version 2.0, remote software version 1" in out.stderr, out.stderr[-2000:]


@pytest.mark.parametrize("addr", ["10.199.0.2", "10.199.0.3"])
def test_dig_gets_a_answer(pair, responder, addr: str) -> None:
    out = run_a(pair, ["dig", "+time=2", "+tries=2", "+short", f"@{addr}", "www.example.com", "A"])
    assert out.stdout.strip() == addr, out.stdout + out.stderr


def test_nmap_syn_scan_all_open(pair, responder) -> None:
    ports = sorted(random.Random(5).sample(range(1, 65536), 60) + [22, 80, 443])
    out = run_a(pair, ["nmap", "-n", "-Pn", "-sS", "--max-retries", "2", "-p", ",".join(map(str, ports)),
                       "-oG", "-", "10.199.0.2"], timeout=120)
    line = next(ln for ln in out.stdout.splitlines() if "Ports:" in ln)
    assert line.count("/open/tcp/") == len(ports), line


# --------------------------------------------------------------------------------------- raw frames

def test_syn_random_ports_get_cookie_synacks(pair, responder, wire) -> None:
    rng = random.Random(7)
    ports = rng.sample(range(1, 65536), 100)
    frames = [bytes(l3(wire) / TCP(sport=40000 + i, dport=p, flags="S", seq=rng.getrandbits(32)))
              for i, p in enumerate(ports)]
    sent = {(40000 + i, p): Ether(f)[TCP].seq for i, (f, p) in enumerate(zip(frames, ports))}
    got = wire.exchange(frames, lambda p: TCP in p and p[TCP].flags == "SA", want=100)
    assert len(got) == 100
    for p in got:
        t = p[TCP]
        assert t.ack == (sent[(t.dport, t.sport)] + 1) & 0xFFFFFFFF
        assert t.seq == cookie_v4(0x0AC70001, 0x0AC70002, t.dport, t.sport)


def test_udp_stun_http_ssh(pair, responder, wire) -> None:
    stun = b"\x00\x01\x00\x00\x21\x12\xa4\x42" + bytes(range(12))
    cases = [(3478, stun, lambda b: b[:2] == b"\x01\x01" and b[4:20] == stun[4:20]),
             (80, b"GET / HTTP/1.1\r\n\r\n", lambda b: b.startswith(b"HTTP/1.1 401 Unauthorized\n")),
             (22, b"SSH-2.0-scapy\r\n", lambda b: b == b"SSH-2.0-1\r\n")]
    for dport, payload, check in cases:
        frame = bytes(l3(wire) / UDP(sport=33333, dport=dport) / payload)
        got = wire.exchange([frame], lambda p: UDP in p and p[UDP].sport == dport and p[UDP].dport == 33333, want=1)
        assert got and check(bytes(got[0][UDP].payload)), dport
    change = b"\x00\x01\x00\x08" + bytes(range(16)) + b"\x00\x03\x00\x04\x00\x00\x00\x02"
    frame = bytes(l3(wire) / UDP(sport=33334, dport=3478) / change)
    got = wire.exchange([frame], lambda p: UDP in p and p[UDP].dport == 33334, want=1)
    assert got and got[0][UDP].sport == 3479


def test_tcp_http_stun_ssh_after_handshake(pair, responder, wire) -> None:
    for i, (dport, payload, prefix) in enumerate([(80, b"GET / HTTP/1.0\r\n\r\n", b"HTTP/1.1 401"),
                                                  (3478, b"\x00\x01\x00\x00\x21\x12\xa4\x42" + bytes(12), b"\x01\x01"),
                                                  (22, b"SSH-2.0-x\r\n", b"SSH-2.0-1\r\n")]):
        sport = 45000 + i
        syn = bytes(l3(wire) / TCP(sport=sport, dport=dport, flags="S", seq=100))
        (sa,) = wire.exchange([syn], lambda p: TCP in p and p[TCP].dport == sport, want=1)
        pa = bytes(l3(wire) / TCP(sport=sport, dport=dport, flags="PA", seq=101, ack=sa[TCP].seq + 1) / payload)
        got = wire.exchange([pa], lambda p: TCP in p and p[TCP].dport == sport and p[TCP].flags == "PA", want=1)
        assert got and bytes(got[0][TCP].payload).startswith(prefix)


def test_udp_dns(pair, responder, wire) -> None:
    q = bytes(DNS(id=99, qd=DNSQR(qname="x.org")))
    frame = bytes(l3(wire, "10.199.0.3") / UDP(sport=5353, dport=53) / q)
    (rep,) = wire.exchange([frame], lambda p: UDP in p and p[UDP].dport == 5353, want=1)
    assert DNS(bytes(rep[UDP].payload)).an[0].rdata == "10.199.0.3"


def test_garbage_frames_keep_it_answering(pair, responder, wire) -> None:
    rng = random.Random(99)
    base = bytes(l3(wire) / TCP(sport=1, dport=80, flags="S"))
    frames = []
    for _ in range(3000):
        kind = rng.random()
        if kind < 0.4:
            f = bytes(rng.getrandbits(8) for _ in range(rng.randrange(14, 200)))
        else:
            f = bytearray(base + bytes(rng.getrandbits(8) for _ in range(rng.randrange(0, 40))))
            for _ in range(rng.randrange(1, 6)):
                f[rng.randrange(14, len(f))] = rng.getrandbits(8)
            f = bytes(f[:rng.randrange(14, len(f) + 1)])
        frames.append(bytes.fromhex(RESP_MAC.replace(":", "")) + f[6:])
    for f in frames:
        wire.s.send(f)
    time.sleep(1.0)
    assert responder.alive()
    wire.drain()
    syn = bytes(l3(wire) / TCP(sport=54321, dport=8080, flags="S"))
    assert wire.exchange([syn], lambda p: TCP in p and p[TCP].dport == 54321, want=1, timeout=5)
    assert "internal error" not in responder.output()


# --------------------------------------------------------------------------------------- options

def test_self_ip_file_semantics(pair, tmp_path) -> None:
    """Empty file = every address; a file with one address = only that one (-f style)."""
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    some = tmp_path / "some.txt"
    some.write_text("# handled\n10.199.0.5\tcomment\n")
    pcap = tmp_path / "cap.pcap"
    r = Responder(pair, "--self-ip-file", str(empty), "--pcap", str(pcap))
    try:
        assert run_a(pair, ["ping", "-c", "1", "-W", "2", "10.199.0.77"]).returncode == 0
    finally:
        r.close()
    from scapy.utils import rdpcap
    cap = rdpcap(str(pcap))
    assert any(IP in p and p[IP].src == "10.199.0.77" for p in cap)      # our answer
    assert any(IP in p and p[IP].dst == "10.199.0.77" for p in cap)      # the request
    run_a(pair, ["ip", "neigh", "flush", "dev", pair.a_if])
    r = Responder(pair, "--self-ip-file", str(some), "--remote-ip-deny-list", "10.199.0.200")
    try:
        assert run_a(pair, ["ping", "-c", "1", "-W", "2", "10.199.0.5"]).returncode == 0
        assert run_a(pair, ["ping", "-c", "1", "-W", "1", "10.199.0.6"]).returncode != 0   # not in the file
    finally:
        r.close()


def test_clear_errors_for_missing_and_down_interface(pair) -> None:
    cli = [sys.executable, "-m", "tidescan.responder.cli"]
    out = pair.b.run([*cli, "--iface", "nosuch0"], check=False)
    assert out.returncode == 1 and "nosuch0: no such interface" in out.stderr and "Traceback" not in out.stderr
    pair.b.run(["ip", "link", "add", "tsdown0", "type", "veth", "peer", "name", "tsdown1"])  # left down
    out = pair.b.run([*cli, "--iface", "tsdown0"], check=False)
    assert out.returncode == 1 and "interface is down" in out.stderr
    out = pair.b.run([*cli, "--iface", pair.b_if, "-m", "12:34"], check=False)
    assert out.returncode == 1 and "bad MAC address" in out.stderr
