"""A minimal rtnetlink client: links, addresses, routes and neighbours, over one raw socket.

Why this module exists: `tidescan` asks the kernel a handful of questions once at start-up (the
default route, the interface's MAC/MTU/addresses, a neighbour hint).  pyroute2 answers them, but
importing it costs 0.27 - 0.32 s, half of the scanner's whole start-up budget (issue 4; masscan is
on the wire after 0.03 s).  The questions need only four request types and a few attributes, so
this module speaks rtnetlink directly: `socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE)` and `struct`,
standard library only (imports in ~1 ms).  `wire/netinfo.py` builds its public answers on it;
the tests compare both against pyroute2 inside a test namespace.

How: each request is one `nlmsghdr` + the family header (`ifinfomsg`, `ifaddrmsg`, `rtmsg`,
`ndmsg`) + attributes.  Dumps (`NLM_F_DUMP`) come back as batches of multipart messages ending
with `NLMSG_DONE`; a failed request comes back as `NLMSG_ERROR` with a negative errno, raised
here as `NetlinkError` (an `OSError`, so `.errno` works).  Replies are parsed into small frozen
records (NamedTuples: a slotted dataclass costs ~0.7 ms to define at import, a NamedTuple 0.1)
with integer addresses (big-endian bytes -> int, the project's convention) and raw MACs.
The socket belongs to the network namespace of the thread that opened it, as with pyroute2.
"""

from __future__ import annotations

import errno as errno_mod
import os
import socket
import struct
from collections.abc import Iterator
from typing import NamedTuple

NETLINK_ROUTE = 0

NLMSG_ERROR, NLMSG_DONE = 2, 3
NLM_F_REQUEST, NLM_F_MULTI, NLM_F_DUMP = 0x1, 0x2, 0x300

RTM_GETLINK, RTM_NEWLINK = 18, 16
RTM_GETADDR, RTM_NEWADDR = 22, 20
RTM_GETROUTE, RTM_NEWROUTE = 26, 24
RTM_GETNEIGH, RTM_NEWNEIGH = 30, 28

IFLA_ADDRESS, IFLA_IFNAME, IFLA_MTU, IFLA_OPERSTATE = 1, 3, 4, 16
IFA_ADDRESS, IFA_LOCAL = 1, 2
RTA_DST, RTA_OIF, RTA_GATEWAY, RTA_PRIORITY, RTA_PREFSRC, RTA_MULTIPATH, RTA_TABLE = 1, 4, 5, 6, 7, 9, 15
NDA_DST, NDA_LLADDR = 1, 2

# IF_OPER_* (RFC 2863), named as `ip link` and pyroute2 name them
OPERSTATES = ("UNKNOWN", "NOTPRESENT", "DOWN", "LOWERLAYERDOWN", "TESTING", "DORMANT", "UP")

NLMSGHDR = struct.Struct("=IHHII")      # len, type, flags, seq, pid
NLATTR = struct.Struct("=HH")           # len, type
IFINFOMSG = struct.Struct("=BxHiII")    # family, type, index, flags, change
IFADDRMSG = struct.Struct("=BBBBI")     # family, prefixlen, flags, scope, index
RTMSG = struct.Struct("=BBBBBBBBI")     # family, dst_len, src_len, tos, table, protocol, scope, type, flags
NDMSG = struct.Struct("=BxxxiHBB")      # family, ifindex, state, flags, type
RTNEXTHOP = struct.Struct("=HBBi")      # len, flags, hops, ifindex
_U32 = struct.Struct("=I")


class NetlinkError(OSError):
    """The kernel refused a request (`.errno` is the reason, e.g. ENETUNREACH, ENODEV)."""


class Link(NamedTuple):
    index: int
    flags: int
    name: str
    mac: bytes            # b"" when the link has no hardware address
    mtu: int
    operstate: str        # "UP", "DOWN", "UNKNOWN", ... ("" when the kernel gave none)


class Addr(NamedTuple):
    family: int
    prefixlen: int
    index: int
    address: int | None   # IFA_LOCAL, else IFA_ADDRESS


class RouteMsg(NamedTuple):
    family: int
    dst_len: int
    table: int            # RTA_TABLE if present, else the header's 8-bit table
    type: int             # RTN_UNICAST = 1
    dst: int | None
    oif: int | None
    gateway: int | None
    prefsrc: int | None
    priority: int | None
    multipath: tuple[tuple[int, int | None], ...] = ()   # (oif, gateway) per next hop


class Neigh(NamedTuple):
    family: int
    ifindex: int
    state: int
    dst: int | None
    lladdr: bytes | None


def _align(n: int) -> int:
    return (n + 3) & ~3


def parse_attrs(data: bytes, offset: int, end: int) -> dict[int, bytes]:
    """Attributes of one message, by type (the first of each type wins; nested bit cleared)."""
    out: dict[int, bytes] = {}
    while offset + 4 <= end:
        length, kind = NLATTR.unpack_from(data, offset)
        if length < 4:
            break
        out.setdefault(kind & 0x3FFF, data[offset + 4:offset + length])
        offset += _align(length)
    return out


def attr(kind: int, value: bytes) -> bytes:
    """One encoded attribute, padded to 4 bytes."""
    raw = NLATTR.pack(4 + len(value), kind) + value
    return raw + b"\0" * (_align(len(raw)) - len(raw))


def _int(raw: bytes | None) -> int | None:
    return int.from_bytes(raw, "big") if raw else None


def _u32(raw: bytes | None) -> int | None:
    return _U32.unpack(raw[:4])[0] if raw and len(raw) >= 4 else None


class RtNetlink:
    """One NETLINK_ROUTE socket; use as a context manager (`with RtNetlink() as nl: ...`)."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC,
                                  NETLINK_ROUTE)
        self.sock.bind((0, 0))
        self._seq = 0

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> RtNetlink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- transport ----------------------------------------------------------------------------
    def request(self, msg_type: int, flags: int, body: bytes) -> Iterator[tuple[int, bytes, int, int]]:
        """Send one request; yield (type, buffer, payload start, end) of every reply message."""
        self._seq += 1
        seq = self._seq
        flags |= NLM_F_REQUEST
        self.sock.send(NLMSGHDR.pack(NLMSGHDR.size + len(body), msg_type, flags, seq, 0) + body)
        while True:
            data = self.sock.recv(1 << 17)
            offset, more = 0, False
            while offset + NLMSGHDR.size <= len(data):
                length, kind, mflags, mseq, _pid = NLMSGHDR.unpack_from(data, offset)
                if length < NLMSGHDR.size:
                    break
                payload = offset + NLMSGHDR.size
                if mseq == seq:
                    if kind == NLMSG_DONE:
                        return
                    if kind == NLMSG_ERROR:
                        code = -struct.unpack_from("=i", data, payload)[0]
                        if code:
                            raise NetlinkError(code, os.strerror(code))
                        return
                    more = more or bool(mflags & NLM_F_MULTI)
                    yield kind, data, payload, offset + length
                offset += _align(length)
            if not (flags & NLM_F_DUMP) and not more:
                return

    # -- links --------------------------------------------------------------------------------
    @staticmethod
    def _link(data: bytes, off: int, end: int) -> Link:
        _fam, _type, index, flags, _chg = IFINFOMSG.unpack_from(data, off)
        a = parse_attrs(data, off + IFINFOMSG.size, end)
        name = a.get(IFLA_IFNAME, b"").split(b"\0", 1)[0].decode(errors="replace")
        op = a.get(IFLA_OPERSTATE)
        operstate = (OPERSTATES[op[0]] if op[0] < len(OPERSTATES) else str(op[0])) if op else ""
        return Link(index, flags, name, a.get(IFLA_ADDRESS, b""), _u32(a.get(IFLA_MTU)) or 0,
                    operstate)

    def link(self, index: int = 0, name: str | None = None) -> Link | None:
        """One link by index or by name; None if there is no such link."""
        body = IFINFOMSG.pack(socket.AF_UNSPEC, 0, index, 0, 0)
        if name is not None:
            body += attr(IFLA_IFNAME, name.encode() + b"\0")
        try:
            for kind, data, off, end in self.request(RTM_GETLINK, 0, body):
                if kind == RTM_NEWLINK:
                    return self._link(data, off, end)
        except NetlinkError as exc:
            if exc.errno in (errno_mod.ENODEV, errno_mod.EINVAL, errno_mod.ERANGE):
                return None
            raise
        return None

    def links(self) -> list[Link]:
        body = IFINFOMSG.pack(socket.AF_UNSPEC, 0, 0, 0, 0)
        return [self._link(d, o, e) for k, d, o, e in self.request(RTM_GETLINK, NLM_F_DUMP, body)
                if k == RTM_NEWLINK]

    # -- addresses ----------------------------------------------------------------------------
    def addrs(self, family: int = socket.AF_UNSPEC) -> list[Addr]:
        """Every address of every link (IPv4 before IPv6 for AF_UNSPEC, as the kernel dumps)."""
        out = []
        body = IFADDRMSG.pack(family, 0, 0, 0, 0)
        for kind, data, off, end in self.request(RTM_GETADDR, NLM_F_DUMP, body):
            if kind != RTM_NEWADDR:
                continue
            fam, plen, _flags, _scope, index = IFADDRMSG.unpack_from(data, off)
            a = parse_attrs(data, off + IFADDRMSG.size, end)
            out.append(Addr(fam, plen, index, _int(a.get(IFA_LOCAL) or a.get(IFA_ADDRESS))))
        return out

    # -- routes -------------------------------------------------------------------------------
    @staticmethod
    def _route(data: bytes, off: int, end: int) -> RouteMsg:
        fam, dst_len, _sl, _tos, table, _proto, _scope, rtype, _fl = RTMSG.unpack_from(data, off)
        a = parse_attrs(data, off + RTMSG.size, end)
        hops = []
        raw = a.get(RTA_MULTIPATH, b"")
        pos = 0
        while pos + RTNEXTHOP.size <= len(raw):
            hlen, _hf, _hops, ifindex = RTNEXTHOP.unpack_from(raw, pos)
            if hlen < RTNEXTHOP.size:
                break
            ha = parse_attrs(raw, pos + RTNEXTHOP.size, pos + hlen)
            hops.append((ifindex, _int(ha.get(RTA_GATEWAY))))
            pos += _align(hlen)
        return RouteMsg(fam, dst_len, _u32(a.get(RTA_TABLE)) or table, rtype, _int(a.get(RTA_DST)),
                        _u32(a.get(RTA_OIF)), _int(a.get(RTA_GATEWAY)), _int(a.get(RTA_PREFSRC)),
                        _u32(a.get(RTA_PRIORITY)), tuple(hops))

    def routes(self, family: int) -> list[RouteMsg]:
        """Every route of every table for `family` (AF_INET / AF_INET6), in the kernel's order."""
        body = RTMSG.pack(family, 0, 0, 0, 0, 0, 0, 0, 0)
        return [self._route(d, o, e) for k, d, o, e in self.request(RTM_GETROUTE, NLM_F_DUMP, body)
                if k == RTM_NEWROUTE]

    def route_get(self, family: int, dst: int) -> RouteMsg:
        """The route the kernel would use for `dst` (`ip route get`); NetlinkError if none."""
        size = 4 if family == socket.AF_INET else 16
        body = RTMSG.pack(family, size * 8, 0, 0, 0, 0, 0, 0, 0) + attr(RTA_DST, dst.to_bytes(size, "big"))
        for kind, data, off, end in self.request(RTM_GETROUTE, 0, body):
            if kind == RTM_NEWROUTE:
                return self._route(data, off, end)
        raise NetlinkError(errno_mod.ENETUNREACH, os.strerror(errno_mod.ENETUNREACH))

    # -- neighbours ---------------------------------------------------------------------------
    def neighbours(self, family: int) -> list[Neigh]:
        out = []
        body = NDMSG.pack(family, 0, 0, 0, 0)
        for kind, data, off, end in self.request(RTM_GETNEIGH, NLM_F_DUMP, body):
            if kind != RTM_NEWNEIGH:
                continue
            fam, ifindex, state, _flags, _type = NDMSG.unpack_from(data, off)
            a = parse_attrs(data, off + NDMSG.size, end)
            out.append(Neigh(fam, ifindex, state, _int(a.get(NDA_DST)), a.get(NDA_LLADDR) or None))
        return out
