"""HTTP: the probe bytes for every --http-* option, and the parser against real server replies."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from banner_samples import TITLE_PAGE, converse, http_server, load_capture  # noqa: E402

from tidescan.banners import Banner, BannerConfig, Close  # noqa: E402
from tidescan.banners.http import DEFAULT_USER_AGENT, HttpParser, build_http_probe  # noqa: E402


def banners(data: bytes | list[bytes], cfg: BannerConfig | None = None) -> dict[str, bytes]:
    p = HttpParser(cfg or BannerConfig())
    out = []
    for chunk in [data] if isinstance(data, bytes) else data:
        out += p.feed(chunk, 0.0)
    out += p.on_close(1.0)
    return {a.app: a.text for a in out if isinstance(a, Banner)}


# ----------------------------------------------------------------------------------- the probe

def test_default_probe_is_masscan_132() -> None:
    assert build_http_probe(BannerConfig()) == (
        b"GET / HTTP/1.0\r\n"
        b"User-Agent: masscan/1.3 (https://github.com/robertdavidgraham/masscan)\r\n"
        b"Accept: */*\r\n\r\n")
    assert DEFAULT_USER_AGENT.startswith("masscan/1.3 ")


def test_probe_matches_reference_example() -> None:
    """masscan.md §1e: the POST /x HTTP/1.1 example, cookies in reverse order."""
    cfg = BannerConfig(http_method="POST", http_url="/x", http_version="HTTP/1.1",
                       http_host="example.com", http_user_agent="foo/1.0",
                       http_headers=(("X-Test", "1"),), http_cookies=("a=b", "c=d"))
    assert build_http_probe(cfg) == (
        b"POST /x HTTP/1.1\r\n"
        b"User-Agent: foo/1.0\r\n"
        b"Accept: */*\r\n"
        b"Host: example.com\r\n"
        b"X-Test: 1\r\n"
        b"Cookie: c=d\r\n"
        b"Cookie: a=b\r\n"
        b"\r\n")


def test_probe_payload_adds_content_length_and_body() -> None:
    cfg = BannerConfig(http_method="POST", http_url="/x", http_version="HTTP/1.1",
                       http_host="example.com", http_user_agent="foo/1.0",
                       http_headers=(("X-Test", "1"),), http_cookies=("a=b", "c=d"),
                       http_payload="hello=1")
    # masscan applies the payload first, so Content-Length lands right after Accept
    assert build_http_probe(cfg) == (
        b"POST /x HTTP/1.1\r\n"
        b"User-Agent: foo/1.0\r\n"
        b"Accept: */*\r\n"
        b"Content-Length: 7\r\n"
        b"Host: example.com\r\n"
        b"X-Test: 1\r\n"
        b"Cookie: c=d\r\n"
        b"Cookie: a=b\r\n"
        b"\r\n"
        b"hello=1")


def test_probe_header_replaces_same_name_and_remove_deletes() -> None:
    cfg = BannerConfig(http_headers=(("user-agent", "x/1"), ("Accept", "text/html"),
                                     ("X-A", "1"), ("x-a", "2")),
                       http_remove=("Accept",))
    assert build_http_probe(cfg) == b"GET / HTTP/1.0\r\nuser-agent: x/1\r\nx-a: 2\r\n\r\n"


def test_probe_from_scan_config() -> None:
    from tidescan.config_model import ScanConfig

    sc = ScanConfig()
    sc.http_user_agent = "ua/2"
    sc.http_cookies = ["k=v"]
    sc.hello_strings = {8080: b"PING\r\n"}
    cfg = BannerConfig.from_scan_config(sc)
    assert cfg.http_probe == (b"GET / HTTP/1.0\r\nUser-Agent: ua/2\r\nAccept: */*\r\n"
                              b"Cookie: k=v\r\n\r\n")
    assert cfg.hello_strings == {8080: b"PING\r\n"}
    assert cfg.capture == frozenset({"cert"})


# -------------------------------------------------------------------------------- the parser

# The reply Python's http.server gave Debian's masscan 1.3.2 on the lab, and what masscan printed
# for it (JSON output, unescaped): http = up to but not including the final \n; title; server.
MASSCAN_REPLY = (b"HTTP/1.0 200 OK\r\nServer: SimpleHTTP/0.6 Python/3.11.7\r\n"
                 b"Date: Sat, 21 Nov 2026 20:18:37 GMT\r\nContent-type: text/html\r\n"
                 b"Content-Length: 66\r\nLast-Modified: Sat, 21 Nov 2026 20:18:21 GMT\r\n\r\n"
                 b"<html><head><title>Test Page</title></head><body>hi</body></html>\n")
MASSCAN_SAW = {
    "http": (b"HTTP/1.0 200 OK\r\nServer: SimpleHTTP/0.6 Python/3.11.7\r\n"
             b"Date: Sat, 21 Nov 2026 20:18:37 GMT\r\nContent-type: text/html\r\n"
             b"Content-Length: 66\r\nLast-Modified: Sat, 21 Nov 2026 20:18:21 GMT\r\n\r"),
    "http.server": b"SimpleHTTP/0.6 Python/3.11.7",
    "title": b"Test Page",
}


def test_same_banners_as_masscan_132() -> None:
    assert banners(MASSCAN_REPLY) == MASSCAN_SAW


def test_real_python_http_server_live() -> None:
    with http_server() as addr:
        conv = converse(addr, 80)
    reply = b"".join(conv.received)
    head_end = reply.index(b"\r\n\r\n")
    assert conv.sent == [build_http_probe(BannerConfig())]
    assert conv.banners == {
        "http": reply[:head_end + 3],
        "http.server": b"SimpleHTTP/0.6 Python/3.11.7",
        "title": b"Tidescan  Test &amp; Page",
    }
    assert reply[head_end + 4:] == TITLE_PAGE
    assert isinstance(conv.actions[-1], Close)          # Content-Length reached: we close


def test_committed_capture_of_http_server() -> None:
    _, chunks = load_capture("http_python")
    got = banners(chunks)
    assert got["title"] == b"Tidescan  Test &amp; Page"
    assert got["http.server"].startswith(b"SimpleHTTP/0.6 Python/")
    assert got["http"].startswith(b"HTTP/1.0 200 OK\r\n") and got["http"].endswith(b"\r\n\r")


def test_title_rules() -> None:
    head = b"HTTP/1.1 200 OK\r\n\r\n"
    assert banners(head + b"<TiTlE lang=en>  Spaced  </title>")["title"] == b"  Spaced  "
    # every <title> contributes; the tag's own '<' ends the text
    assert banners(head + b"<title>a</title><svg><title>b</title>")["title"] == b"ab"
    assert "title" not in banners(head + b"<html>no title</html>")
    # the <title tag split across segments
    assert banners([head + b"<ti", b"tle>X", b"Y</t"])["title"] == b"XY"


def test_server_field_rules() -> None:
    got = banners(b"HTTP/1.1 200 OK\r\nserver:\t nginx/1.2 \r\nX-Server: no\r\n\r\n")
    assert got["http.server"] == b"nginx/1.2 "
    assert banners(b"HTTP/1.1 200 OK\nServer: a\nServer: b\n\n")["http.server"] == b"ab"


def test_header_end_with_bare_newlines_and_no_headers() -> None:
    assert banners(b"HTTP/1.1 204 No Content\n\nbody")["http"] == b"HTTP/1.1 204 No Content\n"
    assert banners(b"HTTP/1.1 200 OK\r\n\r\n")["http"] == b"HTTP/1.1 200 OK\r\n\r"


def test_not_http_closes_without_banner() -> None:
    p = HttpParser(BannerConfig())
    assert p.feed(b"SSH-2.0-x\r\n", 0.0) == [Close()]
    p = HttpParser(BannerConfig())
    assert p.feed(b"HTT", 0.0) == []
    assert p.feed(b"P/1.1 200 OK\r\n\r\n", 0.0) == []


def test_content_length_closes_and_html_capture() -> None:
    reply = b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n<title>t</title>trailing"
    p = HttpParser(BannerConfig(capture=frozenset({"html"})))
    acts = p.feed(reply, 0.0)
    assert acts[-1] == Close()
    got = {a.app: a.text for a in acts if isinstance(a, Banner)}
    assert got["html"] == b"<title>t</ti"
    assert got["title"] == b"t"
    # without --capture html there is no html banner
    assert "html" not in banners(reply)
