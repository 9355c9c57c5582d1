"""The issue's property for every banner parser and for the session (hypothesis).

1. Split invariance: the actions are identical whether the server's bytes arrive whole, one byte
   at a time, or split at random points (seed 000: state machines, no reassembly).
2. Garbage never raises: random bytes, valid replies with a random tail, and valid replies with
   random bytes overwritten, split anywhere.
3. Banners stay capped.

The corpus is real server bytes (tests/data/banners, captured from Python's http.server and ssl,
OpenSSH, redis and memcached), tidescanned's SMB responder, masscan's self-test vectors, and the
stand-in dialogues of tests/banner_samples.py.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).parent))

from banner_samples import load_capture, smb_responder_stream  # noqa: E402

from tidescan.banners import Banner, BannerConfig, BannerSession, make_parser  # noqa: E402
from tidescan.banners.base import Collector, LineSplitter  # noqa: E402

CFG = BannerConfig(random=lambda n: b"\x42" * n, capture=frozenset({"cert", "html"}))


def _cap(name: str) -> bytes:
    return b"".join(load_capture(name)[1])


def _vnc(version: bytes, rest: bytes) -> bytes:
    return version + rest


VNC_INIT = b"\x04\x00\x03\x00" + bytes(16) + b"\x00\x00\x00\x15tidescan test desktop"

# (parser name, port, server bytes)
CORPUS: list[tuple[str, int, bytes]] = [
    ("http", 80, _cap("http_python")),
    ("http", 80, b"HTTP/1.1 301 Moved\r\nServer: nginx\r\nServer: extra\r\nLocation: /x\r\n\n"
                 b"<html><TITLE id=a>Moved</title><title>two</title><p>x</p>"),
    ("http", 80, b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello<title>late</title>"),
    ("ssl", 443, _cap("tls12_python")),
    ("ssl", 443, _cap("tls13_python")),
    ("ssl", 443, b"\x15\x03\x03\x00\x02\x02\x46"),
    ("ssh", 22, _cap("ssh_openssh") + b"\x00\x00\x04\x4c\x04\x14" + bytes(40)),
    ("ftp", 21, b"220-Welcome\r\n  to the server\r\n220 (vsFTPd 3.0.3)\r\n"
                b"530 Please login with USER and PASS.\r\n"),
    ("ftp", 21, b"220 ready\r\n234 AUTH TLS OK.\r\n\x16\x03\x03"),
    ("smtp", 25, b"220 mail.example.com ESMTP Postfix (Debian/GNU)\r\n250-mail.example.com\r\n"
                 b"250-PIPELINING\r\n250-STARTTLS\r\n250 8BITMIME\r\n220 2.0.0 Ready to start TLS\r\n"),
    ("pop3", 110, b"+OK Dovecot (Debian) ready.\r\n+OK\r\nCAPA\r\nTOP\r\nUIDL\r\nSTLS\r\n.\r\n"
                  b"-ERR Unknown command.\r\n"),
    ("imap", 143, b"* OK [CAPABILITY IMAP4rev1 STARTTLS] ready.\r\n* CAPABILITY IMAP4rev1 STARTTLS\r\n"
                  b"a001 OK Pre-login capabilities listed.\r\na002 OK Begin TLS negotiation now.\r\n"),
    ("vnc", 5900, _vnc(b"RFB 003.008\n", b"\x02\x01\x02\x00\x00\x00\x00" + VNC_INIT)),
    ("vnc", 5900, _vnc(b"RFB 003.003\n", b"\x00\x00\x00\x01" + VNC_INIT)),
    ("vnc", 5900, _vnc(b"RFB 003.007\n", b"\x01\x01" + VNC_INIT)),
    ("vnc", 5900, _vnc(b"RFB 003.008\n", b"\x00\x00\x00\x00\x0eToo many users")),
    ("telnet", 23, b"\xff\xfb\x01\xff\xfb\x03\xff\xfd\x63\xff\xfe\x05\xff\xfc\x22\xff\xfa\x18\x01"
                   b"\xff\xff\xff\xf0\xff\xf1a\rb\nc\r\nd\te\x01f\x7fg\xe9h\\i\"j login: "),
    ("rdp", 3389, b"\x03\x00\x00\x13\x0e\xd0\x00\x00\x12\x34\x00\x02\x0f\x08\x00\x02\x00\x00\x00"),
    ("rdp", 3389, b"\x03\x00\x00\x13\x0e\xd0\x00\x00\x12\x34\x00\x03\x00\x08\x00\x05\x00\x00\x00"),
    ("smb", 445, b"".join(smb_responder_stream())),
    ("smb", 445, b"".join(smb_responder_stream(smb2=True))),
    ("smb", 139, b"".join(smb_responder_stream(port=139))),
    ("smb", 139, b"\x83\x00\x00\x01\x82"),
    ("memcached", 11211, _cap("memcached_stats")),
    ("redis", 6379, _cap("redis_info")),
    ("redis", 6379, b"-NOAUTH Authentication required.\r\n"),
]
IDS = [f"{name}-{k}" for k, (name, _, _) in enumerate(CORPUS)]


def run_parser(name: str, port: int, chunks: list[bytes], cfg: BannerConfig = CFG) -> list:
    p = make_parser(name, cfg, port)
    out: list = []
    for c in chunks:
        out.extend(p.feed(c, 1.0))
    out.extend(p.on_close(2.0))
    return out


def run_session(port: int, chunks: list[bytes], cfg: BannerConfig = CFG) -> list:
    s = BannerSession(port, cfg, 0.0)
    out = s.on_connect(0.0) + s.on_hello_timeout(2.0)
    for c in chunks:
        out.extend(s.feed(c, 3.0))
    out.extend(s.on_close(4.0))
    return out


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    out, prev = [], 0
    for p in points + [len(data)]:
        if p > prev:
            out.append(data[prev:p])
            prev = p
    return out


def bytewise(data: bytes) -> list[bytes]:
    return [data[k:k + 1] for k in range(len(data))]


# --------------------------------------------------------------------------- split invariance

@pytest.mark.parametrize(("name", "port", "data"), CORPUS, ids=IDS)
def test_parser_whole_equals_bytewise(name: str, port: int, data: bytes) -> None:
    whole = run_parser(name, port, [data])
    assert any(isinstance(a, Banner) for a in whole), "every corpus entry yields a banner"
    assert run_parser(name, port, bytewise(data)) == whole


@pytest.mark.parametrize(("name", "port", "data"), CORPUS, ids=IDS)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cuts=st.lists(st.integers(min_value=0, max_value=1 << 20), max_size=24))
def test_parser_random_splits(name: str, port: int, data: bytes, cuts: list[int]) -> None:
    assert run_parser(name, port, split(data, cuts)) == run_parser(name, port, [data])


@pytest.mark.parametrize(("name", "port", "data"), CORPUS, ids=IDS)
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cuts=st.lists(st.integers(min_value=0, max_value=1 << 20), max_size=24))
def test_session_random_splits(name: str, port: int, data: bytes, cuts: list[int]) -> None:
    whole = run_session(port, [data])
    assert run_session(port, split(data, cuts)) == whole
    assert run_session(port, bytewise(data)) == whole


# ----------------------------------------------------------------------------------- garbage

PARSER_NAMES = sorted({name for name, _, _ in CORPUS})


def _check_actions(actions: list, cfg: BannerConfig = CFG) -> None:
    for a in actions:
        if isinstance(a, Banner):
            assert a.app and isinstance(a.text, bytes) and a.text
            if not a.app.startswith("X509"):
                assert len(a.text) <= cfg.max_banner


@pytest.mark.parametrize("name", PARSER_NAMES)
@settings(max_examples=60, deadline=None)
@given(data=st.binary(max_size=2000), cuts=st.lists(st.integers(0, 4000), max_size=8))
def test_parser_garbage_never_raises(name: str, data: bytes, cuts: list[int]) -> None:
    _check_actions(run_parser(name, 445, split(data, cuts)))


@pytest.mark.parametrize(("name", "port", "data"), CORPUS, ids=IDS)
@settings(max_examples=20, deadline=None)
@given(keep=st.integers(0, 1 << 16), tail=st.binary(max_size=600),
       flips=st.lists(st.tuples(st.integers(0, 1 << 16), st.integers(0, 255)), max_size=6),
       cuts=st.lists(st.integers(0, 1 << 16), max_size=8))
def test_parser_mangled_replies_never_raise(name: str, port: int, data: bytes, keep: int,
                                            tail: bytes, flips: list, cuts: list[int]) -> None:
    buf = bytearray(data[:keep % (len(data) + 1)] + tail)
    for pos, value in flips:
        if buf:
            buf[pos % len(buf)] = value
    mangled = bytes(buf)
    _check_actions(run_parser(name, port, split(mangled, cuts)))
    _check_actions(run_session(port, split(mangled, cuts)))
    # splitting still does not matter, even for nonsense
    assert run_parser(name, port, split(mangled, cuts)) == run_parser(name, port, [mangled])


@settings(max_examples=150, deadline=None)
@given(port=st.sampled_from([21, 22, 23, 25, 80, 110, 139, 143, 443, 445, 3389, 5900, 6379,
                             11211, 8080, 1234]),
       data=st.binary(max_size=3000), cuts=st.lists(st.integers(0, 4000), max_size=10))
def test_session_garbage_never_raises_and_is_split_invariant(port: int, data: bytes,
                                                             cuts: list[int]) -> None:
    session = BannerSession(port, CFG, 0.0)
    session.on_hello_timeout(2.0)
    for c in split(data, cuts):
        _check_actions(session.feed(c, 3.0))
    _check_actions(session.on_close(4.0))
    assert session.errors == 0
    assert run_session(port, split(data, cuts)) == run_session(port, [data])


def test_banner_cap_applies() -> None:
    cfg = BannerConfig(max_banner=64)
    body = b"HTTP/1.0 200 OK\r\nServer: " + b"x" * 500 + b"\r\n\r\n<title>" + b"t" * 500
    for chunks in ([body], bytewise(body)):
        banners = {a.app: a.text for a in run_parser("http", 80, chunks, cfg)
                   if isinstance(a, Banner)}
        assert banners["http"] == body[:64]
        assert banners["http.server"] == b"x" * 64
        assert banners["title"] == b"t" * 64
    unknown = run_session(1234, [b"\x01" * 1000], cfg)
    assert unknown == [Banner("unknown", b"\x01" * 64)]


# ------------------------------------------------------------------------------ the helpers

@settings(max_examples=100, deadline=None)
@given(data=st.binary(max_size=300), cuts=st.lists(st.integers(0, 400), max_size=10),
       max_line=st.integers(1, 40))
def test_line_splitter_is_split_invariant(data: bytes, cuts: list[int], max_line: int) -> None:
    def lines(chunks: list[bytes]) -> list[bytes]:
        ls = LineSplitter(max_line)
        out = [line for c in chunks for line in ls.feed(c)]
        return out + [ls.partial]

    expect = [p[:max_line] for p in data.split(b"\n")]
    assert lines(split(data, cuts)) == expect
    assert lines([data]) == expect


@settings(max_examples=100, deadline=None)
@given(sizes=st.lists(st.tuples(st.integers(0, 50), st.integers(0, 60)), min_size=1, max_size=6),
       cuts=st.lists(st.integers(0, 400), max_size=10), seed=st.binary(min_size=400, max_size=400))
def test_collector_fields(sizes: list[tuple[int, int]], cuts: list[int], seed: bytes) -> None:
    total = sum(n for n, _ in sizes)
    stream = seed[:total]
    expect, pos = [], 0
    for n, keep in sizes:
        expect.append(stream[pos:pos + min(n, keep)])
        pos += n
    got: list[bytes] = []
    col, k = Collector(), 0
    col.expect(sizes[0][0], sizes[0][1])
    for chunk in split(stream, cuts) or [b""]:
        i = 0
        while k < len(sizes):
            field, i = col.take(chunk, i)
            if field is None:
                break
            got.append(field)
            k += 1
            if k < len(sizes):
                col.expect(sizes[k][0], sizes[k][1])
    assert got == expect
