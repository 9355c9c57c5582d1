"""Which hello goes to which port, and which parser class handles which protocol.

Two tables (masscan.md §3, ``banner1_create``):

* ``hello_for(port, cfg)``: what we send when the server stays silent for the hello timeout, as
  ``(kind, bytes)``; ``kind`` tells the identifier what we sent (``"ssl"`` enables the TLS
  patterns, ``"redis"`` the RESP ones).  Precedence: ``--hello-string[port]`` (kind
  ``"custom"``), then ``--hello ssl|http`` for every port, then the built-in port table:
  HTTP on 80/8080/8530, a ClientHello on the SSL ports, SMB on 139/445 (``--hello smbv1``
  downgrades it), memcached ``stats`` on 11211, telnet ``IAC AYT`` on 23, an X.224 request on
  3389, redis ``INFO`` on 6379, and the static nmap-style probes.  Other ports get no hello: only
  a server that talks first is heard there.
* ``make_parser(proto, cfg, port, ...)``: the parser for an identified protocol.
"""

from __future__ import annotations

from collections.abc import Callable

from . import memcached, rdp, redis, telnet
from .base import BannerConfig, Parser
from .ftp import FtpParser
from .http import HttpParser
from .imap import ImapParser
from .memcached import MemcachedParser
from .pop3 import Pop3Parser
from .rdp import RdpParser
from .redis import RedisParser
from .smb import SmbParser, hello_139, hello_445
from .smtp import SmtpParser
from .ssh import SshParser
from .static_probes import probe_for_port
from .telnet import TelnetParser
from .tls import TlsParser, build_client_hello
from .vnc import VncParser

__all__ = ["HTTP_PORTS", "SSL_PORTS", "hello_for", "make_parser", "PARSERS"]

HTTP_PORTS = frozenset({80, 8080, 8530})
SSL_PORTS = frozenset({443, 465, 990, 991, 992, 993, 994, 995, 2083, 2087, 2096, 8443, 9050,
                       8140, 8531, 49955, 636, 637, 3269, 11712, 5061, 322, 2376})
_FIXED: dict[int, tuple[str, bytes]] = {
    11211: ("memcached", memcached.HELLO),
    23: ("telnet", telnet.HELLO),
    3389: ("rdp", rdp.HELLO),
    6379: ("redis", redis.HELLO),
}


def hello_for(port: int, cfg: BannerConfig,
              server_name: str | None = None) -> tuple[str | None, bytes | None]:
    """(kind, bytes) of the hello for ``port``, or (None, None) when we only listen."""
    custom = cfg.hello_strings.get(port)
    if custom is not None:
        return "custom", custom
    if cfg.hello == "ssl" or (cfg.hello != "http" and port in SSL_PORTS):
        return "ssl", build_client_hello(server_name or cfg.server_name, cfg.tls13, cfg.random)
    if cfg.hello == "http" or port in HTTP_PORTS:
        return "http", cfg.http_probe
    if port in (139, 445):
        v1 = cfg.hello == "smbv1"
        return "smb", hello_139(v1) if port == 139 else hello_445(v1)
    fixed = _FIXED.get(port)
    if fixed is not None:
        return fixed
    static = probe_for_port(port)
    if static is not None:
        return "static:" + static[0], static[1]
    return None, None


PARSERS: dict[str, Callable[..., Parser]] = {
    "http": HttpParser,
    "ssl": TlsParser,
    "ssh": SshParser,
    "ftp": FtpParser,
    "smtp": SmtpParser,
    "pop3": Pop3Parser,
    "imap": ImapParser,
    "vnc": VncParser,
    "telnet": TelnetParser,
    "rdp": RdpParser,
    "smb": SmbParser,
    "memcached": MemcachedParser,
    "redis": RedisParser,
}


def make_parser(proto: str, cfg: BannerConfig, port: int = 0,
                server_name: str | None = None) -> Parser:
    """A fresh parser for ``proto`` (a key of ``PARSERS``)."""
    if proto == "ssl":
        return TlsParser(cfg, server_name)
    if proto == "smb":
        return SmbParser(cfg, port)
    return PARSERS[proto](cfg)
