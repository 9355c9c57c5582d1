"""Banner parser throughput: MB/s when replies are fed in 1460-byte segments, and whole grabs/s.

Run: python bench/bench_banners.py   (best of several runs; the machine is shared, so the best
run is the fairest estimate of what the code can do).

Two kinds of numbers:

* streaming MB/s -- a long reply (a 1 MiB HTML page, a telnet session, an SMTP session, 8 KiB of
  unidentified bytes, a TLS flight with a 4-certificate chain) cut into 1460-byte segments and fed
  to a fresh parser, the way the stack will feed it;
* grabs/s -- a whole typical conversation through ``BannerSession`` (identification, hello,
  parser, banners), i.e. the per-connection cost the receive loop pays.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from timing import best_seconds  # noqa: E402  (this directory)
from tidescan.banners import BannerConfig, BannerSession, make_parser  # noqa: E402

SEG = 1460
CFG = BannerConfig(random=lambda n: b"\x11" * n)


def segments(data: bytes, size: int = SEG) -> list[bytes]:
    return [data[k:k + size] for k in range(0, len(data), size)]


def best(fn: Callable[[], object], repeat: int = 7) -> float:
    return best_seconds(fn, repeat)


def stream_rate(proto: str, port: int, data: bytes) -> float:
    segs = segments(data)

    def run() -> None:
        p = make_parser(proto, CFG, port)
        for s in segs:
            p.feed(s, 0.0)
        p.on_close(0.0)
    return len(data) / best(run) / 1e6


def session_rate(port: int, replies: list[bytes], hello: bool, n: int = 2000) -> float:
    def run() -> None:
        for _ in range(n):
            s = BannerSession(port, CFG, 0.0)
            if hello:
                s.on_hello_timeout(2.0)
            for r in replies:
                s.feed(r, 3.0)
            s.on_close(4.0)
    return n / best(run, repeat=3)


def tls_chain_flight() -> bytes:
    import ssl
    import tempfile

    from banner_samples import make_cert
    from tidescan.banners.tls import build_client_hello

    certs = [make_cert(cn=f"c{k}.tide.test", rsa_key=True) for k in range(4)]
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "c.pem").write_bytes(b"".join(c.cert_pem for c in certs))
        Path(tmp, "k.pem").write_bytes(certs[0].key_pem)
        ctx.load_cert_chain(str(Path(tmp, "c.pem")), str(Path(tmp, "k.pem")))
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_side=True)
    inc.write(build_client_hello())
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return out.read()


def corpus_rows() -> list[tuple[str, int, float, float]]:
    """Every parser on the real replies of the test corpus: (name, bytes, MB/s, grabs/s)."""
    from test_banners_properties import CORPUS

    rows = []
    seen: set[str] = set()
    for name, port, data in CORPUS:
        if name in seen:
            continue
        seen.add(name)
        segs = segments(data)
        n = max(50, 200_000 // max(1, len(data)))

        def run(segs: list[bytes] = segs, name: str = name, port: int = port, n: int = n) -> None:
            for _ in range(n):
                p = make_parser(name, CFG, port)
                for s in segs:
                    p.feed(s, 0.0)
                p.on_close(0.0)
        t = best(run, repeat=3) / n
        rows.append((name, len(data), len(data) / t / 1e6, 1 / t))
    return rows


def main() -> None:
    page = (b"HTTP/1.1 200 OK\r\nServer: nginx/1.24\r\nContent-Type: text/html\r\n\r\n"
            b"<html><head><title>Benchmark page</title></head><body>"
            + b"<p>lorem ipsum dolor sit amet, consectetur adipiscing elit</p>\n" * 16000
            + b"</body></html>")
    telnet = (b"\xff\xfd\x18\xff\xfd\x20"
              + b"Last login: Mon Jan  1 00:00:00 2024\r\n$ ls\r\n" * 20000)
    smtp = b"220 mx ESMTP\r\n" + b"250-PIPELINING and a longer capability line\r\n" * 8000
    flight = tls_chain_flight()
    rows = [
        ("http: 1 MiB page (title + server)", stream_rate("http", 80, page)),
        ("telnet: 0.9 MB of text", stream_rate("telnet", 23, telnet)),
        ("smtp: 0.35 MB multi-line EHLO answer", stream_rate("smtp", 25, smtp)),
        (f"tls: 4-cert RSA chain flight ({len(flight)} B, X509)", stream_rate("ssl", 443, flight)),
    ]
    print(f"long replies, {SEG}-byte segments:")
    for name, rate in rows:
        print(f"  {name:50s} {rate:8.1f} MB/s")
    print(f"each parser on the test corpus's real replies, {SEG}-byte segments:")
    for name, size, rate, grabs in corpus_rows():
        print(f"  {name:10s} {size:7d} B  {rate:8.1f} MB/s  {grabs:9.0f} replies/s")
    garbage = bytes(range(256)) * 32
    grabs = [
        ("ssh banner (server first)",
         session_rate(22, [b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n"], False)),
        ("http 200 + title (hello, 1 segment)", session_rate(80, [page[:1400]], True)),
        ("tls 1.2 flight, 4 certs", session_rate(443, segments(flight), True, n=300)),
        ("ftp greeting + AUTH TLS refusal",
         session_rate(21, [b"220 ready\r\n", b"530 no\r\n"], False)),
        ("unknown 8 KiB (identification gives up)",
         session_rate(9999, segments(garbage), False)),
    ]
    print("whole grabs through BannerSession (identification + hello + parser):")
    for name, rate in grabs:
        print(f"  {name:50s} {rate:8.0f} /s")


if __name__ == "__main__":
    main()
