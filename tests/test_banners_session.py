"""BannerSession: listen first, hello on timeout, identification by content, upgrades, flush."""

from __future__ import annotations

import pytest

from tidescan.banners import (Banner, BannerConfig, BannerSession, Close, Send, Upgrade,
                              hello_for)
from tidescan.banners import registry, session as session_mod
from tidescan.banners.identify import NO_MATCH, PENDING, Match, find_unanchored, identify
from tidescan.banners.static_probes import PORTS, PROBES

CFG = BannerConfig(random=lambda n: b"\x5a" * n)


# ----------------------------------------------------------------------------- identification

@pytest.mark.parametrize(("data", "port", "sent", "expect"), [
    (b"SSH-2.0-x", 8080, "http", Match("ssh")),
    (b"ssh-1.99-x", 22, None, Match("ssh")),
    (b"HTTP/1.1 200", 22, None, Match("http")),
    (b"220 ftp", 21, None, Match("ftp")),
    (b"220-ftp", 25, None, Match("ftp")),
    (b"220 mail", 25, None, Match("smtp")),
    (b"220 mail", 587, None, Match("smtp")),
    (b"521 no mail", 21, None, Match("smtp")),
    (b"+OK pop", 110, None, Match("pop3")),
    (b"* OK imap", 143, None, Match("imap")),
    (b"\x16\x03\x03\x00\x10", 443, "ssl", Match("ssl")),
    (b"\x15\x03\x01\x00\x02", 443, "ssl", Match("ssl")),
    (b"\x16\x03\x03\x00\x10", 443, "http", NO_MATCH),       # only after a ClientHello
    (b"RFB 003.008\n", 5900, None, Match("vnc", 8)),
    (b"RFB 003.007\n", 5900, None, Match("vnc", 7)),
    (b"RFB 003.003\n", 5900, None, Match("vnc", 3)),
    (b"RFB 004.001\n", 5900, None, Match("vnc", 8)),
    (b"STAT pid 1", 11211, "memcached", Match("memcached")),
    (b"\xff\xfd\x18", 23, None, Match("telnet")),
    (b"Login: ", 23, None, Match("telnet")),
    (b"\x82\x00\x00\x00", 139, "smb", Match("smb")),
    (b"\x83\x00\x00\x01\x82", 139, "smb", Match("smb")),
    (b"\x00\x00\x00\x55\xffSMB", 445, "smb", Match("smb")),
    (b"\x00\x00\x00\x55\xfeSMB", 445, "smb", Match("smb")),
    (b"\x03\x00\x00\x13\x0e\xd0", 3389, "rdp", Match("rdp")),
    (b"$3724\r\n", 6379, "redis", Match("redis")),
    (b"$3724\r\n", 6379, None, NO_MATCH),
    (b"SS", 22, None, PENDING),
    (b"", 22, None, PENDING),
    (b"RFB 003.0", 5900, None, PENDING),
    (b"hello", 80, "http", NO_MATCH),
])
def test_identify_table(data: bytes, port: int, sent: str | None, expect: object) -> None:
    assert identify(data, port, sent) == expect


def test_unanchored_telnet() -> None:
    assert find_unanchored(b"Welcome\r\n\xff\xfb\x01\xff\xfb\x03") == Match("telnet")
    assert find_unanchored(b"junk\xff\xfb\x01\r\nmore") == Match("telnet")
    assert find_unanchored(b"no negotiation here") is None


# ----------------------------------------------------------------------------------- hellos

def test_hello_table() -> None:
    assert hello_for(80, CFG) == ("http", CFG.http_probe)
    assert hello_for(8080, CFG)[0] == "http"
    for port in (443, 465, 993, 995, 8443, 636, 3269, 5061, 2376):
        kind, data = hello_for(port, CFG)
        assert kind == "ssl" and data is not None and data[:3] == b"\x16\x03\x01"
    assert hello_for(445, CFG)[0] == "smb"
    assert hello_for(139, CFG)[1][:1] == b"\x81"                  # type: ignore[index]
    assert hello_for(11211, CFG) == ("memcached", b"stats\r\n")
    assert hello_for(23, CFG) == ("telnet", b"\xff\xf6")
    assert hello_for(3389, CFG)[0] == "rdp"
    assert hello_for(6379, CFG) == ("redis", b"*1\r\n$4\r\ninfo\r\n")
    assert hello_for(2375, CFG) == ("static:docker", b"GET /version HTTP/1.1\r\n\r\n")
    assert hello_for(53, CFG) == ("static:DNS", PROBES["DNS"])
    assert hello_for(22, CFG) == (None, None)
    assert hello_for(21, CFG) == (None, None)


def test_static_probe_ports_follow_the_reference() -> None:
    expect = {1098: "JavaRMI", 1099: "JavaRMI", 6000: "X11", 6019: "X11", 88: "Kerberos",
              27017: "mongodb", 104: "DICOM", 11112: "DICOM", 389: "LDAP", 3268: "LDAP",
              5060: "SIP", 554: "RTSP", 8554: "RTSP", 111: "RPC", 2049: "RPC", 135: "DNS",
              50002: "DNS", 2380: "docker", 1352: "NotesRPC", 1433: "ms-sql-s", 548: "afp"}
    for port, name in expect.items():
        assert PORTS[port] == name
    assert 6020 not in PORTS and 6379 not in PORTS
    # the DICOM A-ASSOCIATE-RQ is well formed: PDU length covers the rest
    dicom = PROBES["DICOM"]
    assert dicom[0] == 1 and int.from_bytes(dicom[2:6], "big") == len(dicom) - 6


def test_hello_overrides() -> None:
    cfg = BannerConfig(hello_strings={80: b"PING\r\n", 12345: b"x"}, random=CFG.random)
    assert hello_for(80, cfg) == ("custom", b"PING\r\n")
    assert hello_for(12345, cfg) == ("custom", b"x")
    ssl_everywhere = BannerConfig(hello="ssl", hello_strings={22: b"y"})
    assert hello_for(80, ssl_everywhere)[0] == "ssl"
    assert hello_for(22, ssl_everywhere) == ("custom", b"y")       # per-port beats --hello
    http_everywhere = BannerConfig(hello="http")
    assert hello_for(443, http_everywhere)[0] == "http"
    assert hello_for(9999, http_everywhere)[0] == "http"
    v1 = BannerConfig(hello="smbv1")
    assert b"SMB 2" not in hello_for(445, v1)[1] and b"SMB 2" in hello_for(445, CFG)[1]  # type: ignore[operator]
    sni = hello_for(443, CFG, server_name="example.org")[1]
    assert b"\x00\x00\x0bexample.org" in sni  # type: ignore[operator]


# ---------------------------------------------------------------------------------- flows

def test_listen_first_then_hello() -> None:
    s = BannerSession(80, CFG, 100.0)
    assert s.hello_deadline == 102.0
    assert s.on_connect(100.0) == []
    assert s.on_hello_timeout(102.0) == [Send(CFG.http_probe)]
    assert s.on_hello_timeout(103.0) == []                  # only once
    assert s.sent == "http"


def test_server_first_means_no_hello() -> None:
    s = BannerSession(80, CFG, 0.0)
    acts = s.feed(b"SSH-2.0-OpenSSH_9.2\r\n", 1.0)
    assert acts == [Banner("ssh", b"SSH-2.0-OpenSSH_9.2"), Close()]
    assert s.app == "ssh" and s.closed
    assert s.on_hello_timeout(2.0) == [] and s.feed(b"more", 2.0) == [] and s.on_close(3.0) == []


def test_zero_hello_timeout_sends_at_connect() -> None:
    cfg = BannerConfig(hello_timeout=0, random=CFG.random)
    s = BannerSession(11211, cfg, 0.0)
    assert s.on_connect(0.0) == [Send(b"stats\r\n")]


def test_heur_bytes_are_refed_after_identification() -> None:
    s = BannerSession(2222, CFG, 0.0)
    assert s.feed(b"SS", 1.0) == [] and s.feed(b"H-2.0-", 1.0) == []
    assert s.feed(b"dropbear\r\n", 1.0) == [Banner("ssh", b"SSH-2.0-dropbear"), Close()]


def test_unknown_is_reported_at_close() -> None:
    s = BannerSession(9999, CFG, 0.0)
    assert s.feed(b"\x00\x01 hello", 1.0) == []
    assert s.on_close(2.0) == [Banner("unknown", b"\x00\x01 hello")]
    s = BannerSession(9999, CFG, 0.0)
    assert s.on_close(2.0) == []


def test_smtp_starttls_upgrade_sends_client_hello_and_parses_tls() -> None:
    s = BannerSession(25, CFG, 0.0)
    acts = s.feed(b"220 mx ESMTP\r\n", 1.0) + s.feed(b"250 mx\r\n", 1.0)
    assert [a.data for a in acts if isinstance(a, Send)] == [b"EHLO tidescan\r\n", b"STARTTLS\r\n"]
    acts = s.feed(b"220 2.0.0 Ready to start TLS\r\n", 2.0)
    assert acts[:2] == [Banner("smtp", b"220 mx ESMTP\n250 mx\n220 2.0.0 Ready to start TLS"),
                        Upgrade("ssl")]
    assert isinstance(acts[2], Send) and acts[2].data[:3] == b"\x16\x03\x01"
    assert s.app == "ssl" and s.sent == "ssl"
    alert = s.feed(b"\x15\x03\x03\x00\x02\x02\x28", 3.0)
    assert alert == [Banner("ssl", b" ALERT(0x0228) "), Close()]


def test_a_parser_bug_does_not_escape(monkeypatch: pytest.MonkeyPatch) -> None:
    from tidescan.banners.ssh import SshParser

    def boom(self, data, now):  # type: ignore[no-untyped-def]
        self._add("ssh", b"partial")
        raise RuntimeError("bug")

    monkeypatch.setattr(SshParser, "_feed", boom)
    s = BannerSession(22, CFG, 0.0)
    assert s.feed(b"SSH-2.0-x\r\n", 1.0) == [Banner("ssh", b"partial"), Close()]
    assert s.errors == 1 and s.closed


def test_registry_parsers_cover_every_identified_protocol() -> None:
    from tidescan.banners.identify import _PATTERNS

    protos = {proto for proto, _, _ in _PATTERNS}
    assert protos <= set(registry.PARSERS)
    for proto in registry.PARSERS:
        parser = registry.make_parser(proto, CFG, 445)
        assert parser.name == proto
        assert parser.feed(b"", 0.0) == []
    assert session_mod.BannerSession.__slots__
