"""One scan result, the unit every output writer consumes.

masscan reports two kinds of results and never groups them per host: a *status* record for each
port found open or closed (or a host that answered ARP: status `up`), and a *banner* record for
each piece of application data captured.  `Record` carries the union of their fields, so that
the receive loop, the binary reader (`--readscan`) and every writer speak one type.

Field conventions (masscan's):
- `ip` is an integer: IPv4 as a 32-bit value (`10.0.0.1 == 0x0A000001`), IPv6 as a 128-bit value;
  `ip_version` says which.
- `port` is the bare port number 0..65535 (not the internal UDP/SCTP-offset encoding);
  ICMP and ARP results use port 0.
- `proto` is `tcp`, `udp`, `icmp`, `sctp`, `arp`, or `ipN` for any other IP protocol number N
  (masscan prints those as `err`).
- `reason` is the TCP flags byte of the reply (0 for UDP/ICMP); `reason_text()` renders it.
- `app` is the banner type key from `tidescan.output.apps` (`http`, `title`, `ssh`, `X509`...).
- `mac` is the responder's MAC for ARP results, else None.

Records are frozen: a writer may keep one without copying.
"""

from __future__ import annotations

from dataclasses import dataclass

from tidescan.ipfmt import format_ipv4, format_ipv6

__all__ = [
    "Record", "status_record", "banner_record", "reason_text", "proto_number", "proto_from_number",
    "proto_display", "PROTO_NUMBERS",
]


@dataclass(frozen=True, slots=True)
class Record:
    kind: str                 # "status" or "banner"
    timestamp: int            # Unix seconds
    ip: int
    ip_version: int           # 4 or 6
    port: int                 # 0..65535
    proto: str                # tcp udp icmp sctp arp ipN
    status: str = "open"      # open closed up (banners: "open")
    reason: int = 0           # TCP flags byte of the reply
    ttl: int = 0
    app: str = ""             # banner type key (apps.py)
    banner: bytes = b""
    mac: bytes | None = None

    @property
    def ip_text(self) -> str:
        """The address in its usual text form (dotted quad, or RFC 5952 IPv6)."""
        return format_ipv6(self.ip) if self.ip_version == 6 else format_ipv4(self.ip)


def status_record(timestamp: int, ip: int, port: int, proto: str = "tcp", status: str = "open",
                  reason: int = 0, ttl: int = 0, *, ip_version: int = 4,
                  mac: bytes | None = None) -> Record:
    """Convenience constructor for a status record."""
    return Record("status", timestamp, ip, ip_version, port, proto, status, reason, ttl, "", b"", mac)


def banner_record(timestamp: int, ip: int, port: int, app: str, banner: bytes, proto: str = "tcp",
                  ttl: int = 0, *, ip_version: int = 4) -> Record:
    """Convenience constructor for a banner record."""
    return Record("banner", timestamp, ip, ip_version, port, proto, "open", 0, ttl, app, banner, None)


_FLAG_NAMES = ("fin", "syn", "rst", "psh", "ack", "urg", "ece", "cwr")
_REASONS = []
for _flags in range(256):
    _parts = [name for bit, name in enumerate(_FLAG_NAMES) if _flags >> bit & 1]
    _REASONS.append("-".join(_parts) if _parts else "none")
_REASONS_T = tuple(_REASONS)
del _REASONS, _flags, _parts


def reason_text(flags: int) -> str:
    """TCP flags -> nmap-style reason as masscan prints it: `syn-ack`, `rst-ack`, `none` (no flags)."""
    return _REASONS_T[flags & 0xFF]


PROTO_NUMBERS: dict[str, int] = {"arp": 0, "icmp": 1, "tcp": 6, "udp": 17, "sctp": 132}
_PROTO_NAMES: dict[int, str] = {v: k for k, v in PROTO_NUMBERS.items()}


def proto_number(proto: str) -> int:
    """`tcp` -> 6, `udp` -> 17, `sctp` -> 132, `icmp` -> 1, `arp` -> 0, `ip47` -> 47."""
    n = PROTO_NUMBERS.get(proto)
    if n is not None:
        return n
    if proto.startswith("ip") and proto[2:].isdigit() and int(proto[2:]) < 256:
        return int(proto[2:])
    raise ValueError(f"unknown protocol {proto!r}")


def proto_from_number(number: int) -> str:
    """Inverse of `proto_number`."""
    return _PROTO_NAMES.get(number) or f"ip{number}"


def proto_display(proto: str) -> str:
    """The protocol word masscan prints (`name_from_ip_proto`): any other protocol is `err`."""
    return proto if proto in PROTO_NUMBERS else "err"
