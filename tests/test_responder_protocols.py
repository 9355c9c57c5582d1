"""In-memory tests of tidescanned's application protocols (reference masscanned.md §10-§17 + TLS)."""

from __future__ import annotations

import struct
import zlib

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from scapy.layers.dns import DNS, DNSQR, DNSRROPT
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Ether

from tidescan.responder import proto_http
from tidescan.responder.config import AddressSet, ResponderConfig
from tidescan.responder.core import Responder
from tidescan.responder.tls_cert import default_identity

MAC, CLIENT_MAC = "52:1c:4e:c2:a4:1f", "02:00:00:00:00:01"
ME4, ME6, CL4, CL6 = "192.0.0.1", "2001:41d0::ab32:bdb8", "192.0.0.0", "2001:41d0::1234:5678"
NOW = 1_057_056_757.0  # Tue, 1 Jul 2003 10:52:37 UTC


def make(**kw) -> Responder:
    cfg = ResponderConfig(mac=bytes.fromhex(MAC.replace(":", "")), self_ips=AddressSet.of([ME4, ME6]), **kw)
    return Responder(cfg, clock=lambda: NOW)


def l3(v6: bool):
    e = Ether(dst=MAC, src=CLIENT_MAC)
    return e / (IPv6(src=CL6, dst=ME6) if v6 else IP(src=CL4, dst=ME4))


def load(rep: Ether) -> bytes:
    """The L4 payload of an answer, whatever scapy decided to dissect it as."""
    return bytes((rep[TCP] if TCP in rep else rep[UDP]).payload)


def udp(r: Responder, payload: bytes, sport: int = 5353, dport: int = 53, v6: bool = False) -> list[Ether]:
    return [Ether(f) for f in r.respond(bytes(l3(v6) / UDP(sport=sport, dport=dport) / payload))]


class Conn:
    """A client TCP connection driven through the responder (handshake by cookie)."""

    def __init__(self, r: Responder, dport: int = 80, sport: int = 40000, v6: bool = False) -> None:
        self.r, self.dport, self.sport, self.v6 = r, dport, sport, v6
        (sa,) = self._send("S", seq=999)
        self.seq, self.ack = 1000, sa[TCP].seq + 1

    def _send(self, flags: str, payload: bytes = b"", seq: int = 0, ack: int = 0) -> list[Ether]:
        pkt = l3(self.v6) / TCP(sport=self.sport, dport=self.dport, flags=flags, seq=seq, ack=ack)
        if payload:
            pkt = pkt / payload
        return [Ether(f) for f in self.r.respond(bytes(pkt))]

    def send(self, payload: bytes) -> list[Ether]:
        reps = self._send("PA", payload, self.seq, self.ack)
        self.seq += len(payload)
        for rep in reps:
            assert rep[TCP].ack == self.seq
            self.ack += len(bytes(rep[TCP].payload))
        return reps

    def data(self, payload: bytes) -> bytes:
        return b"".join(bytes(rep[TCP].payload) for rep in self.send(payload))


# ------------------------------------------------------------------------------------------ HTTP

REQ = b"GET / HTTP/1.1\r\n\r\n"


@pytest.mark.parametrize("v6", [False, True])
@pytest.mark.parametrize("port", [80, 443, 5000, 53228])
def test_http_tcp_401(port: int, v6: bool) -> None:
    c = Conn(make(), dport=port, v6=v6)
    (rep,) = c.send(REQ)
    assert rep[TCP].flags == "PA"
    assert load(rep) == proto_http.response(NOW)
    assert load(rep).startswith(b"HTTP/1.1 401 Unauthorized\n")


def test_http_reply_bytes_match_masscanned() -> None:
    body = proto_http.response(NOW)
    head, rest = body.split(b"\n\n", 1)
    assert b"\nDate: Tue, 1 Jul 2003 10:52:37 +0000\n" in head
    assert b"Content-Length: 188" in head and len(rest) == 189 and rest.endswith(b"</html>\n\n")
    assert b"\r" not in body


@pytest.mark.parametrize("verb", [b"GET", b"PUT", b"POST", b"HEAD", b"DELETE", b"CONNECT", b"OPTIONS", b"TRACE", b"PATCH"])
def test_http_every_verb(verb: bytes) -> None:
    assert Conn(make()).data(verb + b" /index.php HTTP/1.0\r\nHost: a\r\nX: y\r\n\r\n").startswith(b"HTTP/1.1 401")


def test_http_segmented_incomplete_and_repeated() -> None:
    c = Conn(make())
    (rep,) = c.send(b"GET / HTTP/1.1\r\n")
    assert rep[TCP].flags == "A" and load(rep) == b""     # incomplete: bare ACK
    assert c.data(b"\r\n").startswith(b"HTTP/1.1 401")
    assert c.data(b"anything").startswith(b"HTTP/1.1 401")  # every later segment gets a 401


def test_http_split_inside_the_verb() -> None:
    c = Conn(make())
    assert c.data(b"GE") == b""
    assert c.data(b"T / HTTP/1.1\r\nHost: x\r\n\r\n").startswith(b"HTTP/1.1 401")


@pytest.mark.parametrize("bad", [b"OPTIONS", b"get / HTTP/1.1\r\n\r\n", b"GET http://x/ HTTP/1.1\r\n\r\n",
                                 b"GET / HTTX/1.1\r\n\r\n", b"GET / HTTP/1.1\r\nBad\rName: x\r\n\r\n"])
def test_http_malformed_gets_bare_ack(bad: bytes) -> None:
    (rep,) = Conn(make()).send(bad)
    assert rep[TCP].flags == "A" and load(rep) == b""


@pytest.mark.parametrize("v6", [False, True])
def test_http_udp(v6: bool) -> None:
    r = make()
    (rep,) = udp(r, REQ, sport=12345, dport=80, v6=v6)
    assert rep[UDP].sport == 80 and rep[UDP].dport == 12345
    assert load(rep).startswith(b"HTTP/1.1 401 Unauthorized\n")
    assert udp(r, b"OPTIONS", dport=80, v6=v6) == []


def test_http_non_utf8_uri_logged_without_crash() -> None:
    import io as _io

    from tidescan.responder.packet_log import PacketLog
    buf = _io.StringIO()
    r = Responder(make().cfg, clock=lambda: NOW, log=PacketLog(3, "console", buf))
    assert Conn(r).data(b"GET /\xff\xfe\x80 HTTP/1.1\r\n\r\n").startswith(b"HTTP/1.1 401")
    assert r.internal_errors == 0 and "\\xff" in buf.getvalue()


# ------------------------------------------------------------------------------------------ SSH

BANNERS = [b"SSH-2.0-AsyncSSH_2.1.0\r\n", b"SSH-2.0-PuTTY\r\n", b"SSH-2.0-libssh2_1.4.3\r\n",
           b"SSH-2.0-Go\r\n", b"SSH-1.99-OpenSSH_4.3\r\n"]


@pytest.mark.parametrize("v6", [False, True])
@pytest.mark.parametrize("port", [22, 80, 2222, 50000])
def test_ssh_tcp_and_udp(port: int, v6: bool) -> None:
    r = make()
    for b in BANNERS:
        assert Conn(r, dport=port, v6=v6, sport=30000 + len(b)).data(b) == b"SSH-2.0-1\r\n"
        (rep,) = udp(r, b, dport=port, v6=v6)
        assert load(rep) == b"SSH-2.0-1\r\n"


def test_ssh_lf_only_never_answered_and_self_reflection_refused() -> None:
    r = make()
    assert udp(r, b"SSH-2.0-x\n", dport=22) == []
    assert udp(r, b"SSH-2.0-1\r\n", dport=22) == []   # our own banner: would ping-pong between responders
    assert Conn(r, dport=22).data(b"SSH-2.0-1\r\n") == b"SSH-2.0-1\r\n"  # over TCP it is fine


# ------------------------------------------------------------------------------------------ STUN

@pytest.mark.parametrize("v6", [False, True])
def test_stun_binding(v6: bool) -> None:
    r = make()
    req = bytes.fromhex("00010000") + b"\x21\x12\xa4\x42" + bytes(12)
    for sport in (12345, 55555, 80, 3478):
        for dport in (3478, 53, 1, 65535):
            (rep,) = udp(r, req, sport=sport, dport=dport, v6=v6)
            assert (rep[UDP].sport, rep[UDP].dport) == (dport, sport)
            p = load(rep)
            mtype, length = struct.unpack_from("!HH", p)
            assert mtype == 0x0101 and length == (24 if v6 else 12)
            assert p[4:20] == req[4:20]
            fam, port = (2, sport) if v6 else (1, sport)
            addr = (IPv6(src=CL6).src if v6 else CL4)
            import ipaddress
            assert p[20:28] == struct.pack("!HHBBH", 1, 20 if v6 else 8, 0, fam, port)
            assert p[28:] == ipaddress.ip_address(addr).packed


@pytest.mark.parametrize("dport,expected", [(3478, 3479), (65535, 0)])
def test_stun_change_port(dport: int, expected: int) -> None:
    req = bytes.fromhex("00010008") + bytes(range(16)) + bytes.fromhex("0003000400000002")
    (rep,) = udp(make(), req, sport=1111, dport=dport)
    assert rep[UDP].sport == expected and load(rep)[4:20] == bytes(range(16))


def test_stun_malformed_attributes_do_not_crash() -> None:
    r = make()
    magic = b"\x21\x12\xa4\x42" + bytes(12)
    for attrs in (b"\x00\x03\x00\x04\x00", b"\x00\x03\x00\xff\x00\x00\x00\x02", b"\x00\x01\x00\x08\x00\x09\x00\x00",
                  b"\x00\x03\x00\x02\x00\x02", b"\xff"):
        req = struct.pack("!HH", 1, len(attrs)) + magic + attrs
        udp(r, req, dport=3478)
        Conn(r, dport=3478, sport=len(attrs) + 1).send(req)
    assert r.internal_errors == 0


# ------------------------------------------------------------------------------------------ DNS

@pytest.mark.parametrize("sport", [53, 13274, 0])
@pytest.mark.parametrize("dport", [53, 5353, 80, 161, 24732])
def test_dns_a(sport: int, dport: int) -> None:
    r = make()
    for name in ("www.example.com", "xyz", "a.b.c.d.e"):
        (rep,) = udp(r, bytes(DNS(id=1234, rd=0, qd=DNSQR(qname=name))), sport=sport, dport=dport)
        d = DNS(load(rep))
        assert (d.id, d.qr, d.aa, d.tc, d.rd, d.ra, d.z, d.rcode) == (1234, 1, 1, 0, 0, 0, 0, 0)
        assert (d.qdcount, d.ancount, d.nscount, d.arcount) == (1, 1, 0, 0)
        assert d.qd[0].qname.decode().rstrip(".") == name
        an = d.an[0]
        assert (an.rrname.decode().rstrip("."), an.type, an.rclass, an.ttl, an.rdata) == (name, 1, 1, 43200, ME4)


def _dns(rep: Ether) -> DNS:
    return DNS(load(rep))


def test_dns_multiple_questions_and_edns() -> None:
    r = make()
    q = DNS(id=7, rd=1, qd=[DNSQR(qname="a.com"), DNSQR(qname="b.com"), DNSQR(qname="c.com")])
    d = _dns(udp(r, bytes(q))[0])
    assert d.rd == 1 and d.ancount == 3 and [a.rdata for a in d.an] == [ME4] * 3
    edns = DNS(id=8, rd=1, qd=DNSQR(qname="example.com"), ar=DNSRROPT(rclass=1232))   # what dig sends
    d = _dns(udp(r, bytes(edns))[0])
    assert d.ancount == 1 and d.an[0].rdata == ME4 and d.arcount == 0


def test_dns_refusals() -> None:
    r = make()
    assert udp(r, bytes(DNS(qd=DNSQR(qname="x.com", qtype="AAAA")))) == []
    assert udp(r, bytes(DNS(qr=1, qd=DNSQR(qname="x.com")))) == []        # a response: never answered
    d = _dns(udp(r, bytes(DNS(qd=DNSQR(qname="x.com"))), v6=True)[0])     # over IPv6: no A to give
    assert d.qr == 1 and d.ancount == 0 and d.qdcount == 1
    (rep,) = udp(r, bytes(12))                                             # masscanned quirk: header only
    assert len(load(rep)) == 12


# ------------------------------------------------------------------------------------------ RPC

NMAP_RPC_PROBE = bytes.fromhex("80000028" "72fe1d13" "00000000" "00000002" "000186a0" "0001977c" "00000000"
                               "00000000" "00000000" "00000000" "00000000")


def rpc_call(prog: int, vers: int, proc: int, xid: int = 0x1234, args: bytes = b"") -> bytes:
    return struct.pack("!10I", xid, 0, 2, prog, vers, proc, 0, 0, 0, 0) + args


def test_rpc_nmap_probe_version_mismatch_tcp() -> None:
    c = Conn(make(), dport=111)
    out = c.data(NMAP_RPC_PROBE)
    mark, xid, mtype, stat, vf, vl, accept, low, high = struct.unpack("!9I", out)
    assert mark == 0x80000000 | 32 and xid == 0x72FE1D13 and (mtype, stat, vf, vl) == (1, 0, 0, 0)
    assert (accept, low, high) == (2, 2, 4)


def test_rpc_split_over_segments_and_two_calls() -> None:
    c = Conn(make(), dport=111)
    assert c.data(NMAP_RPC_PROBE[:28]) == b""
    assert c.data(NMAP_RPC_PROBE[28:]) != b""
    rec = rpc_call(100000, 2, 0, xid=99)
    out = c.data(struct.pack("!I", 0x80000000 | len(rec)) + rec)
    assert struct.unpack_from("!II", out) == (0x80000000 | 24, 99)


def test_rpc_portmap_udp() -> None:
    r = make()
    reply = lambda call: load(udp(r, call, dport=111)[0])  # noqa: E731
    assert struct.unpack("!6I", reply(rpc_call(100000, 2, 0))) == (0x1234, 1, 0, 0, 0, 0)          # NULL
    assert struct.unpack("!7I", reply(rpc_call(100000, 2, 3)))[5:] == (0, 111)                   # GETPORT
    out = reply(rpc_call(100000, 3, 3))                                                           # GETADDR
    n = struct.unpack_from("!I", out, 24)[0]
    assert out[28:28 + n] == b"192.0.0.1.0.111"
    out = reply(rpc_call(100000, 2, 4))                                                           # DUMP v2
    words = struct.unpack(f"!{len(out) // 4}I", out)[6:]
    assert words == (1, 100000, 2, 6, 111, 1, 100000, 3, 6, 111, 1, 100000, 4, 6, 111, 0)
    out = reply(rpc_call(100000, 4, 4))                                                           # DUMP v4
    assert out.count(b"superuser") == 3 and out.count(b"tcp\x00") == 3
    assert struct.unpack("!6I", reply(rpc_call(100000, 2, 9)))[5] == 5                           # PROC_UNAVAIL
    assert struct.unpack("!6I", reply(rpc_call(100003, 3, 1)))[5] == 1                           # PROG_UNAVAIL
    assert udp(r, rpc_call(100000, 2, 0)[:30], dport=111) == []                                  # truncated


# ------------------------------------------------------------------------------------------ Gh0st

def test_ghost() -> None:
    login = b"Gh0st" + struct.pack("<II", 0xE0, 0x1C4) + zlib.compress(b"\x66" + bytes(100))
    for reply in (Conn(make(), dport=8000).data(login), load(udp(make(), login, dport=8000)[0])):
        assert reply.startswith(b"Gh0st")
        total, plain = struct.unpack_from("<II", reply, 5)
        assert total == len(reply) and zlib.decompress(reply[13:]) == b"\x00" and plain == 1


# ------------------------------------------------------------------------------------------ SMB

def nbt(p: bytes) -> bytes:
    return struct.pack("!I", len(p)) + p


def smb1_negotiate(dialects: list[bytes]) -> bytes:
    data = b"".join(b"\x02" + d + b"\x00" for d in dialects)
    hdr = b"\xffSMB" + bytes([0x72]) + bytes(4) + bytes([0x18]) + struct.pack("<H", 0xC843) + bytes(12) \
        + struct.pack("<HHHH", 0, 0xFEFF, 0, 0)
    return nbt(hdr + b"\x00" + struct.pack("<H", len(data)) + data)


def smb2_request(cmd: int, body: bytes, mid: int = 0) -> bytes:
    hdr = b"\xfeSMB" + struct.pack("<HHIHHIIQQQ", 64, 0, 0, cmd, 31, 0, 0, mid, 0, 0) + bytes(16)
    return nbt(hdr + body)


NTLM_NEGOTIATE = b"NTLMSSP\x00\x01\x00\x00\x00" + struct.pack("<I", 0x62088215) + bytes(16)


def check_challenge(blob: bytes) -> None:
    i = blob.index(b"NTLMSSP\x00\x02\x00\x00\x00")
    ntlm = blob[i:]
    ln, _mx, off = struct.unpack_from("<HHI", ntlm, 12)
    assert ntlm[off:off + ln].decode("utf-16-le") == "WIN1"
    assert ntlm[24:32] == bytes.fromhex("2491a8f6f3892d34")


def test_smb1_negotiate_and_session_setup() -> None:
    c = Conn(make(), dport=445)
    out = c.data(smb1_negotiate([b"NT LANMAN 1.0", b"NT LM 0.12", b"SMB 2.002", b"SMB 2.???"]))
    assert struct.unpack("!I", out[:4])[0] == len(out) - 4
    smb = out[4:]
    assert smb[:5] == b"\xffSMBr" and smb[9] == 0x98 and smb[32] == 17
    assert struct.unpack_from("<H", smb, 33)[0] == 1          # "NT LM 0.12" is index 1
    assert b"\x2b\x06\x01\x04\x01\x82\x37\x02\x02\x0a" in smb   # NTLMSSP mechanism offered
    words = bytes([12, 0xFF, 0, 0, 0, 0xFF, 0xFF, 2, 0, 1, 0, 0, 0, 0, 0]) + struct.pack("<H", len(NTLM_NEGOTIATE)) \
        + bytes(4) + struct.pack("<I", 0x8000C054)
    hdr = b"\xffSMB" + bytes([0x73]) + bytes(4) + bytes([0x18]) + struct.pack("<H", 0xC843) + bytes(12) + bytes(8)
    req = nbt(hdr + words + struct.pack("<H", len(NTLM_NEGOTIATE)) + NTLM_NEGOTIATE)
    out = c.data(req)
    assert out[4:9] == b"\xffSMBs" and struct.unpack_from("<I", out, 9)[0] == 0xC0000016
    check_challenge(out)
    assert "Windows 4.0".encode("utf-16-le") in out


def test_smb2_negotiate_and_session_setup() -> None:
    c = Conn(make(), dport=445)
    guid = bytes(range(16))
    dialects = [0x0311, 0x0302, 0x0210, 0x0202]
    body = struct.pack("<HHHHI", 36, len(dialects), 1, 0, 0x7F) + guid + bytes(8) + struct.pack(f"<{len(dialects)}H", *dialects)
    out = c.data(smb2_request(0, body, mid=0))
    smb = out[4:]
    assert smb[:4] == b"\xfeSMB" and struct.unpack_from("<I", smb, 16)[0] & 1
    size, mode, dialect = struct.unpack_from("<HHH", smb, 64)
    assert (size, mode, dialect) == (0x41, 1, 0x0202) and smb[72:88] == guid
    off, ln = struct.unpack_from("<HH", smb, 64 + 56)
    assert off == 0x80 and smb[off:off + ln].startswith(b"\x60")
    setup = struct.pack("<HBBIIHHQ", 25, 0, 1, 1, 0, 88, len(NTLM_NEGOTIATE), 0) + NTLM_NEGOTIATE
    out = c.data(smb2_request(1, setup, mid=1))
    smb = out[4:]
    assert struct.unpack_from("<I", smb, 8)[0] == 0xC0000016 and struct.unpack_from("<Q", smb, 24)[0] == 1
    assert struct.unpack_from("<Q", smb, 40)[0] != 0
    check_challenge(smb)


def test_smb_no_dialect_truncated_and_responses_ignored() -> None:
    r = make()
    body = struct.pack("<HHHHI", 36, 1, 1, 0, 0) + bytes(24) + struct.pack("<H", 0x9999)
    assert Conn(r, dport=445, sport=1).data(smb2_request(0, body)) == b""
    req = smb1_negotiate([b"NT LM 0.12"])
    for cut in range(8, len(req)):
        Conn(r, dport=445, sport=cut + 10).send(req[:cut])
    resp_flag = bytearray(req)
    resp_flag[13] |= 0x80
    assert Conn(r, dport=445, sport=2).data(bytes(resp_flag)) == b""
    assert r.internal_errors == 0


# ------------------------------------------------------------------------------------------ TLS

def client_hello(suites: list[int], session_id: bytes = bytes(32), version: int = 0x0303) -> bytes:
    body = struct.pack("!H", version) + bytes(range(32)) + bytes([len(session_id)]) + session_id \
        + struct.pack("!H", 2 * len(suites)) + struct.pack(f"!{len(suites)}H", *suites) + b"\x01\x00" \
        + struct.pack("!H", 5) + b"\xff\x01\x00\x01\x00"
    hs = b"\x01" + len(body).to_bytes(3, "big") + body
    return struct.pack("!BHH", 0x16, 0x0301, len(hs)) + hs


def parse_flight(data: bytes) -> dict[int, bytes]:
    assert data[0] == 0x16
    hs = data[5:5 + struct.unpack_from("!H", data, 3)[0]]
    msgs = {}
    while hs:
        t, n = hs[0], int.from_bytes(hs[1:4], "big")
        msgs[t] = hs[4:4 + n]
        hs = hs[4 + n:]
    return msgs


@pytest.mark.parametrize("port", [443, 8443, 22])
def test_tls_server_hello_and_certificate(port: int) -> None:
    ch = client_hello([0x1301, 0xC02F, 0x009C, 0x00FF])
    c = Conn(make(), dport=port)
    assert c.data(ch[:40]) == b""                                   # split ClientHello is buffered
    msgs = parse_flight(c.data(ch[40:]))
    assert set(msgs) == {2, 11, 14} and msgs[14] == b""
    hello = msgs[2]
    assert hello[:2] == b"\x03\x03" and hello[35:67] != bytes(32)  # a fresh session id, not the client's
    assert struct.unpack_from("!H", hello, 67)[0] == 0x009C
    certs = msgs[11]
    n = int.from_bytes(certs[3:6], "big")
    cert = x509.load_der_x509_certificate(certs[6:6 + n])
    assert cert.public_bytes(Encoding.DER) == default_identity().cert_der
    assert "localhost" in cert.subject.rfc4514_string()


def test_tls_disabled_and_with_scapy_parser() -> None:
    from scapy.layers.tls.record import TLS
    ch = client_hello([0xC02F])
    assert Conn(make(tls=False), dport=443).data(ch) == b""
    flight = Conn(make(), dport=443).data(ch)
    rec = TLS(flight)
    names = [m.name for m in rec.msg]
    assert any("Server Hello" in n and "Done" not in n for n in names) and any("Certificate" in n for n in names)
