"""Port -> service name, and IP protocol number -> name, for grepable and unicornscan output.

masscan asks the C library (`getservbyport_r`, `getprotobynumber`), i.e. the machine's
/etc/services and /etc/protocols, and prints `unknown` when there is no entry.  We ask the same
databases (`socket.getservbyport` goes through the same NSS lookup; /etc/protocols is read
directly because Python has no `getprotobynumber`), so our grepable output matches masscan's on
the same machine.  A small built-in table stands in when those files are missing (minimal
containers).  Lookups are cached: a scan asks about the same few ports over and over.
"""

from __future__ import annotations

import socket
from functools import lru_cache

__all__ = ["tcp_service_name", "udp_service_name", "ip_proto_name"]

# Used only when the system databases are absent.
_FALLBACK_TCP = {
    21: "ftp", 22: "ssh", 23: "telnet", 25: "smtp", 53: "domain", 80: "http", 110: "pop3",
    111: "sunrpc", 135: "epmap", 139: "netbios-ssn", 143: "imap2", 443: "https", 445: "microsoft-ds",
    993: "imaps", 995: "pop3s", 3306: "mysql", 3389: "ms-wbt-server", 5432: "postgresql",
    6379: "redis", 8080: "http-alt",
}
_FALLBACK_UDP = {
    53: "domain", 67: "bootps", 68: "bootpc", 69: "tftp", 123: "ntp", 137: "netbios-ns",
    161: "snmp", 500: "isakmp", 1900: "ssdp", 5353: "mdns", 11211: "memcache",
}
_FALLBACK_PROTO = {0: "ip", 1: "icmp", 2: "igmp", 6: "tcp", 17: "udp", 41: "ipv6", 47: "gre",
                   50: "esp", 51: "ah", 58: "ipv6-icmp", 132: "sctp"}


def _services_db_present() -> bool:
    try:
        socket.getservbyname("http", "tcp")
        return True
    except OSError:
        return False


_HAVE_DB = _services_db_present()


@lru_cache(maxsize=None)
def _service(port: int, proto: str) -> str:
    if _HAVE_DB:
        try:
            return socket.getservbyport(port, proto)
        except (OSError, OverflowError):
            return "unknown"
    table = _FALLBACK_TCP if proto == "tcp" else _FALLBACK_UDP
    return table.get(port, "unknown")


def tcp_service_name(port: int) -> str:
    """`80` -> `http`; `unknown` when the services database has no entry."""
    return _service(port, "tcp")


def udp_service_name(port: int) -> str:
    """`53` -> `domain`; `unknown` when the services database has no entry."""
    return _service(port, "udp")


@lru_cache(maxsize=1)
def _protocols() -> dict[int, str]:
    table: dict[int, str] = {}
    try:
        with open("/etc/protocols", encoding="ascii", errors="replace") as f:
            for line in f:
                fields = line.split("#", 1)[0].split()
                if len(fields) >= 2 and fields[1].isdigit():
                    table.setdefault(int(fields[1]), fields[0])
    except OSError:
        return dict(_FALLBACK_PROTO)
    return table


def ip_proto_name(number: int) -> str:
    """IP protocol number -> name from /etc/protocols (`1` -> `icmp`), else `unknown`."""
    return _protocols().get(number, "unknown")
