"""Real servers on 127.0.0.1 and a tiny socket driver for BannerSession (banner tests only).

Why this exists: the banner parsers must be checked against bytes real servers send.  This
module starts servers on loopback (Python's ``http.server``, a Python ``ssl`` server with a
certificate generated here, and -- when installed -- OpenSSH's sshd, redis-server, memcached) plus
small stand-ins for protocols whose servers are not installed (FTP, SMTP, POP3, IMAP, VNC, telnet,
RDP, and SMB through tidescanned's own responder); each stand-in is named as such.

``converse(addr, port, cfg)`` plays the TCP stack with an ordinary kernel socket: it waits
``hello_wait`` for a server-first banner, otherwise sends the session's hello, feeds every
``recv()`` to the session, transmits its ``Send`` actions, and stops at ``Close`` or when the
server closes.  It returns the actions and the server's bytes *as they arrived*, so tests can
replay the same bytes split differently.  Loopback only; every process started here is stopped
by PID.
"""

from __future__ import annotations

import contextlib
import datetime
import http.server
import json
import os
import shutil
import socket
import socketserver
import ssl
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tidescan.banners import Banner, BannerConfig, BannerSession, Close, Send

DATA_DIR = Path(__file__).parent / "data" / "banners"
TITLE_PAGE = (b"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">\n"
              b"<TITLE>Tidescan  Test &amp; Page</title></head>\n<body><p>hello</p></body></html>\n")


# --------------------------------------------------------------------------------- the driver

@dataclass
class Conversation:
    actions: list = field(default_factory=list)
    received: list[bytes] = field(default_factory=list)
    sent: list[bytes] = field(default_factory=list)

    @property
    def banners(self) -> dict[str, bytes]:
        return {a.app: a.text for a in self.actions if isinstance(a, Banner)}


def converse(addr: tuple[str, int], port: int, cfg: BannerConfig | None = None,
             server_name: str | None = None, hello_wait: float = 0.4,
             timeout: float = 4.0) -> Conversation:
    """Run one BannerSession against a real server (see the module docstring)."""
    cfg = cfg or BannerConfig()
    conv = Conversation()
    session = BannerSession(port, cfg, time.monotonic(), server_name=server_name)
    sock = socket.create_connection(addr, timeout=timeout)
    deadline = time.monotonic() + timeout
    try:
        def act(actions: list) -> bool:
            """Carry out actions; True when the conversation is over."""
            conv.actions.extend(actions)
            for a in actions:
                if isinstance(a, Send):
                    conv.sent.append(a.data)
                    try:
                        sock.sendall(a.data)
                    except OSError:          # the server hung up: read what it said, then stop
                        pass
            return any(isinstance(a, Close) for a in actions)

        if act(session.on_connect(time.monotonic())):
            return conv
        sock.settimeout(hello_wait)
        try:
            first = sock.recv(65536)
        except socket.timeout:
            first = None
        if first is None:
            if act(session.on_hello_timeout(time.monotonic())):
                return conv
        elif first:
            conv.received.append(first)
            if act(session.feed(first, time.monotonic())):
                return conv
        else:
            return conv
        while time.monotonic() < deadline:
            sock.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                data = sock.recv(65536)
            except (socket.timeout, ConnectionResetError):
                break
            if not data:
                break
            conv.received.append(data)
            if act(session.feed(data, time.monotonic())):
                break
    finally:
        conv.actions.extend(session.on_close(time.monotonic()))
        sock.close()
    return conv


# ------------------------------------------------------------------------------ certificates

@dataclass(frozen=True)
class TestCert:
    cert_pem: bytes
    key_pem: bytes
    der: bytes
    cn: str
    sans: tuple[str, ...]


def make_cert(cn: str = "tide.test", sans: tuple[str, ...] = ("tide.test", "www.tide.test"),
              rsa_key: bool = False) -> TestCert:
    """A fresh self-signed certificate (key generated here; nothing secret is stored)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(65537, 2048) if rsa_key else ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "tidescan tests")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(s) for s in sans]), False)
            .sign(key, hashes.SHA256()))
    return TestCert(cert.public_bytes(serialization.Encoding.PEM),
                    key.private_bytes(serialization.Encoding.PEM,
                                      serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()),
                    cert.public_bytes(serialization.Encoding.DER), cn, sans)


def server_context(cert: TestCert, max_version: ssl.TLSVersion) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with tempfile.TemporaryDirectory() as tmp:
        cpath, kpath = Path(tmp, "c.pem"), Path(tmp, "k.pem")
        cpath.write_bytes(cert.cert_pem)
        kpath.write_bytes(cert.key_pem)
        ctx.load_cert_chain(str(cpath), str(kpath))
    ctx.maximum_version = max_version
    return ctx


# ---------------------------------------------------------------------------------- servers

class _Threaded(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


@contextlib.contextmanager
def tcp_server(handler: Callable[[socket.socket], None]) -> Iterator[tuple[str, int]]:
    """A threaded TCP server on 127.0.0.1 calling ``handler(sock)`` per connection."""
    class H(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            self.request.settimeout(5)
            try:
                handler(self.request)
            except OSError:
                pass

    srv = _Threaded(("127.0.0.1", 0), H)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        yield srv.server_address
    finally:
        srv.shutdown()
        srv.server_close()


@contextlib.contextmanager
def http_server() -> Iterator[tuple[str, int]]:
    """Python's http.server serving TITLE_PAGE as /."""
    with tempfile.TemporaryDirectory() as root:
        Path(root, "index.html").write_bytes(TITLE_PAGE)

        class Quiet(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *a, **kw):  # type: ignore[no-untyped-def]
                super().__init__(*a, directory=root, **kw)

            def log_message(self, *a) -> None:  # type: ignore[no-untyped-def]
                pass

        srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
        t = threading.Thread(target=srv.serve_forever, daemon=True)
        t.start()
        try:
            yield srv.server_address  # type: ignore[misc]
        finally:
            srv.shutdown()
            srv.server_close()


@contextlib.contextmanager
def tls_server(ctx: ssl.SSLContext, seen_sni: list | None = None) -> Iterator[tuple[str, int]]:
    """Python ssl on loopback: completes the handshake, then waits for the client to go."""
    if seen_sni is not None:
        ctx.sni_callback = lambda obj, name, c: seen_sni.append(name) and None  # type: ignore[assignment]

    def handle(sock: socket.socket) -> None:
        try:
            with ctx.wrap_socket(sock, server_side=True) as tls:
                tls.recv(1)
        except (ssl.SSLError, OSError):
            pass

    with tcp_server(handle) as addr:
        yield addr


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_port(port: int, proc: subprocess.Popen, timeout: float = 10.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"server did not listen on {port}")


@contextlib.contextmanager
def process_server(argv_for_port: Callable[[int], list[str]]) -> Iterator[tuple[str, int]]:
    """A real server binary on a free loopback port; stopped by PID afterwards."""
    port = free_port()
    proc = subprocess.Popen(argv_for_port(port), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        _wait_port(port, proc)
        yield ("127.0.0.1", port)
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def redis_argv(port: int) -> list[str]:
    return ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "",
            "--appendonly", "no", "--protected-mode", "no", "--daemonize", "no"]


def memcached_argv(port: int) -> list[str]:
    argv = ["memcached", "-l", "127.0.0.1", "-p", str(port), "-U", "0"]
    if os.geteuid() == 0:
        argv += ["-u", "nobody"]
    return argv


def sshd_argv(port: int) -> list[str]:
    return ["/usr/sbin/sshd", "-D", "-f", "/dev/null", "-o", f"ListenAddress=127.0.0.1:{port}",
            "-o", "PidFile=none", "-h", "/etc/ssh/ssh_host_ed25519_key"]


def have(binary: str) -> bool:
    return shutil.which(binary) is not None or Path(binary).exists()


# ------------------------------------------------------------------------------- stand-ins

def _lines(sock: socket.socket) -> Iterator[bytes]:
    buf = b""
    while True:
        while b"\n" not in buf:
            chunk = sock.recv(4096)
            if not chunk:
                return
            buf += chunk
        line, _, buf = buf.partition(b"\n")
        yield line + b"\n"


def standin_ftp(sock: socket.socket) -> None:
    """Stand-in FTP server (vsftpd's words): refuses AUTH TLS."""
    sock.sendall(b"220 (vsFTPd 3.0.3)\r\n")
    for line in _lines(sock):
        if line.upper().startswith(b"AUTH"):
            sock.sendall(b"530 Please login with USER and PASS.\r\n")
        else:
            sock.sendall(b"500 Unknown command.\r\n")


def standin_smtp(sock: socket.socket) -> None:
    """Stand-in SMTP server (Postfix's words): STARTTLS refused."""
    sock.sendall(b"220 mail.example.com ESMTP Postfix (Debian/GNU)\r\n")
    for line in _lines(sock):
        if line.upper().startswith(b"EHLO"):
            sock.sendall(b"250-mail.example.com\r\n250-PIPELINING\r\n250-STARTTLS\r\n250 8BITMIME\r\n")
        elif line.upper().startswith(b"STARTTLS"):
            sock.sendall(b"454 4.7.0 TLS not available due to local problem\r\n")
        else:
            sock.sendall(b"502 5.5.2 Error: command not recognized\r\n")


def standin_pop3(sock: socket.socket) -> None:
    """Stand-in POP3 server (Dovecot's words): STLS refused."""
    sock.sendall(b"+OK Dovecot (Debian) ready.\r\n")
    for line in _lines(sock):
        if line.upper().startswith(b"CAPA"):
            sock.sendall(b"+OK\r\nCAPA\r\nTOP\r\nUIDL\r\nSTLS\r\n.\r\n")
        else:
            sock.sendall(b"-ERR Unknown command.\r\n")


def standin_imap(sock: socket.socket) -> None:
    """Stand-in IMAP server (Dovecot's words): STARTTLS refused."""
    sock.sendall(b"* OK [CAPABILITY IMAP4rev1 STARTTLS] Dovecot (Debian) ready.\r\n")
    for line in _lines(sock):
        tag = line.split(b" ")[0]
        if b"CAPABILITY" in line.upper():
            sock.sendall(b"* CAPABILITY IMAP4rev1 STARTTLS\r\n" + tag
                         + b" OK Pre-login capabilities listed.\r\n")
        else:
            sock.sendall(tag + b" NO STARTTLS unavailable.\r\n")


def standin_vnc(sock: socket.socket) -> None:
    """Stand-in VNC server (RFB 3.8, security types None and VNC auth, a named desktop)."""
    sock.sendall(b"RFB 003.008\n")
    sock.recv(12)
    sock.sendall(b"\x02\x01\x02")
    sock.recv(1)
    sock.sendall(b"\x00\x00\x00\x00")
    sock.recv(1)
    name = b"tidescan test desktop"
    sock.sendall(b"\x04\x00\x03\x00" + bytes(16) + len(name).to_bytes(4, "big") + name)
    sock.recv(1)


def standin_telnet(sock: socket.socket) -> None:
    """Stand-in telnetd: negotiation, then a Debian login prompt, then it hangs up."""
    sock.sendall(b"\xff\xfd\x18\xff\xfd\x20\xff\xfd\x23\xff\xfd\x27")
    sock.recv(64)
    sock.sendall(b"\r\nDebian GNU/Linux 12\r\nhost login: ")


def standin_rdp(sock: socket.socket) -> None:
    """Stand-in RDP server: Connection Confirm selecting CredSSP (masscan's self-test bytes)."""
    sock.recv(1024)
    sock.sendall(b"\x03\x00\x00\x13\x0e\xd0\x00\x00\x12\x34\x00\x02\x0f\x08\x00\x02\x00\x00\x00")
    sock.recv(1)


def responder_smb(sock: socket.socket) -> None:
    """SMB answered by tidescanned's responder (tidescan.responder.proto_smb), per message."""
    from tidescan.responder.context import Ctx
    from tidescan.responder.proto_smb import Smb

    handler = Smb()
    buf = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return
        buf += chunk
        while len(buf) >= 4:
            size = int.from_bytes(buf[1:4], "big") & 0x1FFFF
            if len(buf) < 4 + size:
                break
            msg, buf = buf[:4 + size], buf[4 + size:]
            if msg[0] == 0x81:
                sock.sendall(b"\x82\x00\x00\x00")
                continue
            reply = handler.feed(msg, Ctx(now=1700000000.0))
            if reply:
                sock.sendall(reply)


STANDINS: dict[str, tuple[int, Callable[[socket.socket], None]]] = {
    "ftp": (21, standin_ftp), "smtp": (25, standin_smtp), "pop3": (110, standin_pop3),
    "imap": (143, standin_imap), "vnc": (5900, standin_vnc), "telnet": (23, standin_telnet),
    "rdp": (3389, standin_rdp), "smb": (445, responder_smb),
}


# ---------------------------------------------------------------------- committed captures

def save_capture(name: str, port: int, conv: Conversation) -> None:
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    Path(DATA_DIR, f"{name}.json").write_text(json.dumps(
        {"port": port, "sent": [s.hex() for s in conv.sent],
         "received": [r.hex() for r in conv.received]}, indent=1) + "\n")


def load_capture(name: str) -> tuple[int, list[bytes]]:
    doc = json.loads(Path(DATA_DIR, f"{name}.json").read_text())
    return doc["port"], [bytes.fromhex(r) for r in doc["received"]]


def captures() -> list[str]:
    return sorted(p.stem for p in DATA_DIR.glob("*.json"))


def capture_all() -> None:
    """Regenerate tests/data/banners/*.json from real servers (``python tests/banner_samples.py``)."""
    cfg = BannerConfig()
    with http_server() as addr:
        save_capture("http_python", 80, converse(addr, 80, cfg))
    cert = make_cert()
    for name, version, tls13 in (("tls12_python", ssl.TLSVersion.TLSv1_2, False),
                                 ("tls13_python", ssl.TLSVersion.TLSv1_3, True)):
        with tls_server(server_context(cert, version)) as addr:
            save_capture(name, 443, converse(addr, 443, BannerConfig(tls13=tls13), "tide.test"))
    for name, port, argv, binary in (("ssh_openssh", 22, sshd_argv, "/usr/sbin/sshd"),
                                     ("redis_info", 6379, redis_argv, "redis-server"),
                                     ("memcached_stats", 11211, memcached_argv, "memcached")):
        if have(binary):
            with process_server(argv) as addr:
                save_capture(name, port, converse(addr, port, cfg))


if __name__ == "__main__":
    capture_all()
    for n in captures():
        print(n, load_capture(n)[0], [len(r) for r in load_capture(n)[1]])


# ---------------------------------------------------------------------- in-memory streams

def smb_responder_stream(port: int = 445, smb2: bool = False, v1_only: bool = False) -> list[bytes]:
    """Server bytes of a whole SMB grab against tidescanned's responder, message by message.

    ``smb2``: the stand-in answers our SMB1 NEGOTIATE the way Windows does when it prefers SMB2
    (an SMB2 NEGOTIATE answer with the 0x02FF wildcard dialect), by asking the responder for one.
    """
    import struct

    from tidescan.banners.smb import SmbParser
    from tidescan.responder.context import Ctx
    from tidescan.responder.proto_smb import Smb

    handler = Smb()
    parser = SmbParser(BannerConfig(hello="smbv1" if v1_only else None), port)
    pending = [parser.hello()]
    out: list[bytes] = []
    for _ in range(8):
        if not pending:
            break
        reply = b""
        for msg in pending:
            if msg[:1] == b"\x81":
                n = int.from_bytes(msg[2:4], "big") + 4
                reply += b"\x82\x00\x00\x00"
                msg = msg[n:]
            if not msg:
                continue
            if smb2 and msg[4:5] == b"\xff" and msg[8:9] == b"\x72":
                hdr = (b"\xfeSMB" + struct.pack("<HHIHHII", 64, 0, 0, 0, 0, 0, 0)
                       + struct.pack("<QQQ", 0, 0, 0) + bytes(16))
                body = struct.pack("<HHHHI", 36, 1, 1, 0, 0) + bytes(24) + struct.pack("<H", 0x02FF) + b"\0\0"
                msg = struct.pack(">I", len(hdr + body)) + hdr + body
            answer = handler.feed(msg, Ctx(now=1700000000.0))
            if answer:
                reply += answer
        if not reply:
            break
        out.append(reply)
        pending = [a.data for a in parser.feed(reply, 0.0) if isinstance(a, Send)]
    return out
