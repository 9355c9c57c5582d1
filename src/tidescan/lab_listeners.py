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
"""

from __future__ import annotations

import argparse
import ctypes
import os
import selectors
import signal
import socket
import sys
import time

KINDS = ("ssh", "ftp", "smtp", "http", "silent")
IDLE_TIMEOUT = 10.0
MAX_CONNECTIONS = 20000
PR_SET_PDEATHSIG = 1


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


class _Conn:
    __slots__ = ("sock", "kind", "out", "inbuf", "answered", "deadline")

    def __init__(self, sock: socket.socket, kind: str, now: float) -> None:
        self.sock = sock
        self.kind = kind
        self.out = b""
        self.inbuf = b""
        self.answered = False
        self.deadline = now + IDLE_TIMEOUT


def serve(listeners: dict[socket.socket, str], parent: int) -> None:
    """Accept and answer on `listeners` (socket -> kind) until the parent process is gone."""
    sel = selectors.DefaultSelector()
    for ls, kind in listeners.items():
        ls.setblocking(False)
        sel.register(ls, selectors.EVENT_READ, ("listen", kind))
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
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the lab decides when we stop
    serve(listeners, args.parent)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
