"""The lab's real servers: accept connections on the lab's open ports and say something true.

Why this module exists: an "open" port in the lab must be open the way a real one is: the target
namespace's kernel completes the handshake and a real process accepts the connection, so scanners,
nmap and plain `connect()` all see the same thing, and banner grabbing has something to grab.

How it runs: `tidescan.lab` creates the listening sockets itself (inside the target namespace,
`0.0.0.0:PORT`, backlog raised), then starts this file as a child process that inherits them
(`--fd FD:KIND`).  Because the sockets exist before the child starts, the lab is ready the moment
it is built; the child only serves.  It is one `selectors` loop, stdlib only (started by path, so
start-up costs no package import), and it exits when its parent dies (PR_SET_PDEATHSIG plus a
parent check each second), so a crashed lab never leaves a server behind.

Kinds (what the server says; the text names the address and port the client reached, so banner
tests can check that each reply came from the right place):

* `ssh`, `ftp`, `smtp`: speak first, a one-line greeting;
* `http`: waits for a request (a blank line ends it), answers one HTTP/1.0 page with a `<title>`;
* `silent`: accepts and says nothing (like a TLS port waiting for a ClientHello).

Each connection is half-closed (FIN) after the reply and closed when the peer closes or after
`IDLE_TIMEOUT` seconds.  `banner_for()` is pure, so the lab's truth can predict every banner.

UDP (`--udp FD:KIND`): small *stand-ins*, not real servers, that answer masscan's built-in UDP
payloads the way the real service does in the fields that matter to a scanner, above all by
echoing the request's id (where masscan hides its cookie):

* `dns`: a DNS server for one question: the answer keeps the transaction id and the question and
  carries one TXT record `tidescan lab DNS <ip>` (for `version.bind` CH TXT that is the version
  string masscan's `dns-ver` parser reports);
* `snmp`: an SNMPv1/v2c agent: a GetResponse with the request's version, community and request-id
  (re-encoded in BER, so its length fields may grow to long form as in a real agent), binding every
  requested OID to the OCTET STRING `tidescan lab SNMP <ip>`; to an SNMPv3 request (nmap's probe)
  it sends the Report a real agent sends an unknown manager (usmStatsUnknownEngineIDs);
* `memcached`: memcached's UDP framing: the 8-byte frame header keeps the request id, then a
  `STAT pid ...` / `END` text answer to `stats`.

A datagram the stand-in cannot parse gets no answer (real servers mostly drop garbage too).  The
lab binds these sockets to `0.0.0.0`/`::` while the target kernel owns a whole range of addresses,
so each answer must leave *from the address the request was sent to*: the sockets ask for the
request's destination (IP_PKTINFO / IPV6_RECVPKTINFO) and send the answer with it as source.
`udp_answer()` is pure, so tests can check the stand-ins without a network.
"""

from __future__ import annotations

import argparse
import ctypes
import ipaddress
import os
import selectors
import signal
import socket
import struct
import sys
import time

KINDS = ("ssh", "ftp", "smtp", "http", "silent")
UDP_KINDS = ("dns", "snmp", "memcached")
IDLE_TIMEOUT = 10.0
MAX_CONNECTIONS = 20000
PR_SET_PDEATHSIG = 1
IP_PKTINFO = getattr(socket, "IP_PKTINFO", 8)          # Linux value; Python 3.11 lacks the name
IP_FREEBIND = getattr(socket, "IP_FREEBIND", 15)
UDP_READS_PER_WAKEUP = 256


def banner_for(kind: str, ip: str, port: int) -> bytes:
    """The bytes the `kind` server sends to a client that reached `ip:port` (after its request)."""
    if kind == "ssh":
        return f"SSH-2.0-tidescan_lab_{ip}_{port}\r\n".encode()
    if kind == "ftp":
        return f"220 tidescan lab FTP {ip}:{port} ready\r\n".encode()
    if kind == "smtp":
        return f"220 tidescan-lab ESMTP {ip}:{port}\r\n".encode()
    if kind == "http":
        body = (f"<html><head><title>tidescan lab {ip}:{port}</title></head>"
                f"<body>tidescan lab</body></html>\n").encode()
        head = (f"HTTP/1.0 200 OK\r\nServer: tidescan-lab\r\nContent-Type: text/html\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
        return head + body
    if kind == "silent":
        return b""
    raise ValueError(f"unknown listener kind {kind!r} (one of {', '.join(KINDS)})")


# -- UDP stand-ins (pure) ---------------------------------------------------------------------


def udp_answer(kind: str, request: bytes, ip: str, port: int) -> bytes | None:
    """What the `kind` UDP stand-in answers to `request` sent to `ip:port` (None: no answer)."""
    if kind == "dns":
        return _dns_answer(request, f"tidescan lab DNS {ip}".encode())
    if kind == "snmp":
        return _snmp_answer(request, f"tidescan lab SNMP {ip}".encode())
    if kind == "memcached":
        return _memcached_answer(request)
    raise ValueError(f"unknown UDP stand-in kind {kind!r} (one of {', '.join(UDP_KINDS)})")


def _dns_answer(req: bytes, text: bytes) -> bytes | None:
    """One-question query -> response (id and question kept) with one TXT answer `text`; any
    other request (another opcode, not one question) -> NOTIMP, header only, like BIND."""
    if len(req) < 12 or req[2] & 0x80:
        return None  # too short, or a response
    opcode = (req[2] >> 3) & 0x0F
    if opcode != 0 or struct.unpack_from("!H", req, 4)[0] != 1:
        return req[:2] + struct.pack("!HHHHH", 0x8004 | (opcode << 11), 0, 0, 0, 0)
    i = 12
    while True:  # the question name: plain labels only (no compression in a query)
        if i >= len(req):
            return None
        n = req[i]
        if n == 0:
            i += 1
            break
        if n & 0xC0:
            return None
        i += 1 + n
    if i + 4 > len(req):
        return None
    question = req[12:i + 4]
    qtype, qclass = struct.unpack_from("!HH", req, i)
    flags = 0x8400 | ((req[2] & 0x01) << 8)  # QR, AA, RD copied; opcode 0, rcode 0
    head = req[:2] + struct.pack("!HHHHH", flags, 1, 1, 0, 0)
    rdata = bytes([len(text)]) + text
    answer = b"\xc0\x0c" + struct.pack("!HHIH", 16, qclass, 0, len(rdata)) + rdata  # TXT
    if qtype not in (16, 255):  # only TXT (or ANY) has an answer here: NOERROR, no records
        return head[:6] + b"\x00\x00" + head[8:] + question
    return head + question + answer


def _ber_read(data: bytes, i: int) -> tuple[int, int, int]:
    """(tag, start of value, end of value) of the BER TLV at `i`; ValueError if malformed."""
    if i + 2 > len(data):
        raise ValueError("short TLV")
    tag, n = data[i], data[i + 1]
    i += 2
    if n & 0x80:
        k = n & 0x7F
        if not 1 <= k <= 3 or i + k > len(data):
            raise ValueError("bad length")
        n = int.from_bytes(data[i:i + k], "big")
        i += k
    if i + n > len(data):
        raise ValueError("value past the end")
    return tag, i, i + n


def _ber(tag: int, value: bytes) -> bytes:
    n = len(value)
    if n < 0x80:
        return bytes([tag, n]) + value
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(size)]) + size + value


def _snmp_answer(req: bytes, text: bytes) -> bytes | None:
    """SNMPv1/v2c GetRequest -> GetResponse: same version, community, request-id; every OID bound
    to the OCTET STRING `text`.  SNMPv3 (nmap's probe) -> the Report an agent sends to an unknown
    engine, the start of v3 discovery."""
    try:
        tag, s, e = _ber_read(req, 0)
        if tag != 0x30:
            return None
        t_ver, vs, ve = _ber_read(req, s)
        if t_ver != 0x02:
            return None
        if req[vs:ve] == b"\x03":
            return _snmpv3_report(req, ve)
        t_com, cs, ce = _ber_read(req, ve)
        t_pdu, ps, pe = _ber_read(req, ce)
        if (t_com, t_pdu) != (0x04, 0xA0):
            return None
        t_id, is_, ie = _ber_read(req, ps)
        _, _, ee = _ber_read(req, ie)       # error-status
        _, _, xe = _ber_read(req, ee)       # error-index
        t_vbl, bs, be = _ber_read(req, xe)
        if t_id != 0x02 or t_vbl != 0x30:
            return None
        binds = b""
        j = bs
        while j < be:
            t_vb, vbs, vbe = _ber_read(req, j)
            t_oid, os_, oe = _ber_read(req, vbs)
            if t_vb != 0x30 or t_oid != 0x06:
                return None
            binds += _ber(0x30, req[vbs:oe] + _ber(0x04, text))
            j = vbe
    except ValueError:
        return None
    pdu = _ber(0xA2, _ber(0x02, req[is_:ie]) + b"\x02\x01\x00\x02\x01\x00" + _ber(0x30, binds))
    return _ber(0x30, _ber(0x02, req[vs:ve]) + _ber(0x04, req[cs:ce]) + pdu)


SNMP_ENGINE_ID = b"\x80\x00\x1f\x88\x04tidescan-lab"   # enterprise format, text
USM_UNKNOWN_ENGINE_IDS = bytes.fromhex("2b060106030f01010400")  # 1.3.6.1.6.3.15.1.1.4.0


def _snmpv3_report(req: bytes, i: int) -> bytes | None:
    """SNMPv3 message (after the version at `i`) -> Report PDU usmStatsUnknownEngineIDs.0 = 1,
    with the request's msgID and request-id (0 if the scoped PDU is encrypted)."""
    t_glob, gs, ge = _ber_read(req, i)
    t_id, ms, me = _ber_read(req, gs)
    t_max, xs, xe = _ber_read(req, me)
    if (t_glob, t_id, t_max) != (0x30, 0x02, 0x02):
        return None
    _, _, se = _ber_read(req, ge)                     # msgSecurityParameters
    request_id = b"\x00"
    t_scoped, ss, _ = _ber_read(req, se)
    if t_scoped == 0x30:                               # plaintext scoped PDU
        _, _, ce = _ber_read(req, ss)                  # contextEngineID
        _, _, ne = _ber_read(req, ce)                  # contextName
        _, ps, _ = _ber_read(req, ne)                  # the PDU
        t_rid, rs, re_ = _ber_read(req, ps)
        if t_rid == 0x02:
            request_id = req[rs:re_]
    glob = _ber(0x30, _ber(0x02, req[ms:me]) + _ber(0x02, req[xs:xe]) + _ber(0x04, b"\x00")
                + _ber(0x02, b"\x03"))
    usm = _ber(0x30, _ber(0x04, SNMP_ENGINE_ID) + _ber(0x02, b"\x01") + _ber(0x02, b"\x01")
               + _ber(0x04, b"") * 3)
    binds = _ber(0x30, _ber(0x30, _ber(0x06, USM_UNKNOWN_ENGINE_IDS) + _ber(0x41, b"\x01")))
    pdu = _ber(0xA8, _ber(0x02, request_id) + b"\x02\x01\x00\x02\x01\x00" + binds)
    scoped = _ber(0x30, _ber(0x04, SNMP_ENGINE_ID) + _ber(0x04, b"") + pdu)
    return _ber(0x30, _ber(0x02, b"\x03") + glob + _ber(0x04, usm) + scoped)


def _memcached_answer(req: bytes) -> bytes | None:
    """memcached's UDP frame (request id, seq 0, 1 datagram, reserved) around a text answer."""
    if len(req) < 8:
        return None
    rid, _seq, count, _res = struct.unpack_from("!HHHH", req, 0)
    if count != 1:
        return None
    command = req[8:].split(b"\r\n", 1)[0].strip()
    if command == b"stats":
        body = b"STAT pid 1\r\nSTAT version tidescan-lab-1.0\r\nSTAT uptime 1\r\nEND\r\n"
    elif command == b"version":
        body = b"VERSION tidescan-lab-1.0\r\n"
    else:
        body = b"ERROR\r\n"
    return struct.pack("!HHHH", rid, 0, 1, 0) + body


def _serve_udp(sock: socket.socket, kind: str) -> None:
    """Answer every datagram waiting on `sock`, each from the address it was sent to."""
    v6 = sock.family == socket.AF_INET6
    for _ in range(UDP_READS_PER_WAKEUP):
        try:
            data, anc, _flags, peer = sock.recvmsg(65535, socket.CMSG_SPACE(20))
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            continue
        dst = None
        for level, typ, cdata in anc:
            if v6 and level == socket.IPPROTO_IPV6 and typ == socket.IPV6_PKTINFO:
                dst = cdata[:16]
            elif not v6 and level == socket.IPPROTO_IP and typ == IP_PKTINFO:
                dst = cdata[8:12]  # in_pktinfo.ipi_addr: the header's destination
        if dst is None:
            continue
        ip = str(ipaddress.ip_address(dst))
        port = sock.getsockname()[1]
        reply = udp_answer(kind, data, ip, port)
        if reply is None:
            continue
        if v6:
            cmsg = (socket.IPPROTO_IPV6, socket.IPV6_PKTINFO, dst + struct.pack("=I", 0))
        else:
            cmsg = (socket.IPPROTO_IP, IP_PKTINFO, struct.pack("=I", 0) + dst + bytes(4))
        try:
            sock.sendmsg([reply], [cmsg], 0, peer)
        except OSError:
            pass


def prepare_udp_socket(sock: socket.socket) -> None:
    """Ask the kernel for each datagram's destination address (set before binding).

    IPv6 also needs IP_FREEBIND: the kernel accepts an IPV6_PKTINFO source only if it is an
    address of an interface, or the socket may use non-local addresses; the lab's range is local
    through a route (AnyIP), not through interface addresses.  (IPv4 checks the route and needs
    nothing more.)"""
    if sock.family == socket.AF_INET6:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVPKTINFO, 1)
        sock.setsockopt(socket.SOL_IP, IP_FREEBIND, 1)
    else:
        sock.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)


class _Conn:
    __slots__ = ("sock", "kind", "out", "inbuf", "answered", "deadline")

    def __init__(self, sock: socket.socket, kind: str, now: float) -> None:
        self.sock = sock
        self.kind = kind
        self.out = b""
        self.inbuf = b""
        self.answered = False
        self.deadline = now + IDLE_TIMEOUT


def serve(listeners: dict[socket.socket, str], parent: int,
          udp: dict[socket.socket, str] | None = None) -> None:
    """Accept and answer on `listeners` (TCP socket -> kind) and answer datagrams on `udp` (UDP
    socket -> stand-in kind) until the parent process is gone."""
    sel = selectors.DefaultSelector()
    for ls, kind in listeners.items():
        ls.setblocking(False)
        sel.register(ls, selectors.EVENT_READ, ("listen", kind))
    for us, kind in (udp or {}).items():
        us.setblocking(False)
        sel.register(us, selectors.EVENT_READ, ("udp", kind))
    conns: dict[int, _Conn] = {}
    last_check = time.monotonic()

    def close(c: _Conn) -> None:
        conns.pop(c.sock.fileno(), None)
        try:
            sel.unregister(c.sock)
        except (KeyError, ValueError):
            pass
        c.sock.close()

    def answer(c: _Conn) -> None:
        addr, port = c.sock.getsockname()[:2]
        c.out += banner_for(c.kind, addr, port)
        c.answered = True
        flush(c)

    def flush(c: _Conn) -> None:
        try:
            while c.out:
                n = c.sock.send(c.out)
                c.out = c.out[n:]
        except BlockingIOError:
            sel.modify(c.sock, selectors.EVENT_READ | selectors.EVENT_WRITE, ("conn", c))
            return
        except OSError:
            close(c)
            return
        if c.answered and c.kind != "silent":
            try:
                c.sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass
        sel.modify(c.sock, selectors.EVENT_READ, ("conn", c))

    while True:
        now = time.monotonic()
        for key, mask in sel.select(timeout=0.5):
            role, data = key.data
            if role == "udp":
                _serve_udp(key.fileobj, data)  # type: ignore[arg-type]
                continue
            if role == "listen":
                for _ in range(256):
                    try:
                        s, _peer = key.fileobj.accept()  # type: ignore[union-attr]
                    except (BlockingIOError, InterruptedError):
                        break
                    except OSError:
                        break
                    if len(conns) >= MAX_CONNECTIONS:
                        oldest = min(conns.values(), key=lambda c: c.deadline)
                        close(oldest)
                    s.setblocking(False)
                    c = _Conn(s, data, now)
                    conns[s.fileno()] = c
                    sel.register(s, selectors.EVENT_READ, ("conn", c))
                    if data in ("ssh", "ftp", "smtp"):
                        answer(c)
                continue
            c = data
            if mask & selectors.EVENT_WRITE:
                flush(c)
                if c.sock.fileno() < 0:
                    continue
            if mask & selectors.EVENT_READ:
                try:
                    chunk = c.sock.recv(65536)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    close(c)
                    continue
                if not chunk:
                    close(c)
                    continue
                if c.kind == "http" and not c.answered:
                    c.inbuf = (c.inbuf + chunk)[-65536:]
                    if b"\r\n\r\n" in c.inbuf or b"\n\n" in c.inbuf or len(c.inbuf) >= 65536:
                        answer(c)
        if now - last_check >= 1.0:
            last_check = now
            if os.getppid() != parent:
                return
            for c in [c for c in conns.values() if c.deadline < now]:
                close(c)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="tidescan lab listeners (started by tidescan.lab)")
    ap.add_argument("--fd", action="append", default=[], help="FD:KIND of an inherited listening socket")
    ap.add_argument("--udp", action="append", default=[], help="FD:KIND of an inherited UDP socket")
    ap.add_argument("--parent", type=int, required=True, help="exit when this process is gone")
    args = ap.parse_args(argv)
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != args.parent:  # parent died before prctl took effect
        return 0
    listeners: dict[socket.socket, str] = {}
    for spec in args.fd:
        fd, _, kind = spec.partition(":")
        if kind not in KINDS:
            print(f"lab_listeners: unknown kind {kind!r} in --fd {spec}", file=sys.stderr)
            return 1
        listeners[socket.socket(fileno=int(fd))] = kind
    udp: dict[socket.socket, str] = {}
    for spec in args.udp:
        fd, _, kind = spec.partition(":")
        if kind not in UDP_KINDS:
            print(f"lab_listeners: unknown UDP kind {kind!r} in --udp {spec}", file=sys.stderr)
            return 1
        udp[socket.socket(fileno=int(fd))] = kind
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the lab decides when we stop
    serve(listeners, args.parent, udp)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
