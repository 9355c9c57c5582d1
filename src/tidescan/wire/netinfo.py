"""What the operating system knows about the network: interfaces, addresses, routes, neighbours.

Why this module exists: tidescan has its own TCP/IP stack, but it starts from the host's picture
of the network, as masscan does (seed 001): the interface of the default route, that interface's
MAC, MTU and addresses, and the gateway to ARP for.  Every such value can be overridden on the
command line (`--adapter`, `--adapter-mac`, `--source-ip`, `--router-ip`, `--router-mac`); this
module supplies the defaults and, when the host cannot supply one, an `EnvironmentProblem` whose
text names the option that fixes it.

It asks the kernel over rtnetlink (`wire/rtnetlink.py`, a small raw-socket client: pyroute2's
import alone cost 0.27 - 0.32 s of start-up), never by parsing `ip` output.  The netlink socket
belongs to the network namespace of the calling thread when it is opened, so
`with netns.entered(ns): default_route()` answers for namespace `ns`.  Every call opens and closes
its own socket: these run once at start-up, never on a hot path.

Addresses follow the project convention: IPv4 and IPv6 addresses are Python ints (host order
values), MACs are 6-byte `bytes`.
"""

from __future__ import annotations

import errno
import ipaddress
import socket
from dataclasses import dataclass, field

from ..errors import EnvironmentProblem
from .rtnetlink import Addr, Link, NetlinkError, RtNetlink

IFF_UP = 0x1
IFF_RUNNING = 0x40
# neighbour states that carry a usable link-layer address
NUD_USABLE = 0x02 | 0x04 | 0x08 | 0x10 | 0x40 | 0x80  # REACHABLE STALE DELAY PROBE NOARP PERMANENT
RT_TABLE_MAIN = 254
RTN_UNICAST = 1

PRIVILEGE_HINT = ("needs root or CAP_NET_RAW (try sudo, or setcap cap_net_raw,cap_net_admin+eip "
                  "$(which python3))")


@dataclass(frozen=True, slots=True)
class Route:
    """A route's outgoing interface, gateway (None = on-link) and preferred source address."""

    ifname: str
    gateway: int | None
    prefsrc: int | None


@dataclass(frozen=True, slots=True)
class IfInfo:
    """One interface: kernel index, MAC, MTU, administratively up, addresses as (int, prefixlen)."""

    index: int
    mac: bytes
    mtu: int
    is_up: bool
    ipv4: list[tuple[int, int]] = field(default_factory=list)
    ipv6: list[tuple[int, int]] = field(default_factory=list)
    name: str = ""
    operstate: str = ""


def _parse_ip(ip: int | str, version: int | None) -> tuple[int, int]:
    """(family, address as int) for an address given as int or string."""
    if isinstance(ip, str):
        addr: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.ip_address(ip)
    elif version == 6 or (version is None and ip > 0xFFFFFFFF):
        addr = ipaddress.IPv6Address(ip)
    else:
        addr = ipaddress.IPv4Address(ip)
    return (socket.AF_INET if addr.version == 4 else socket.AF_INET6), int(addr)


def _link_named(nl: RtNetlink, ifname: str) -> Link:
    link = nl.link(name=ifname)
    if link is None:
        raise EnvironmentProblem(f"--adapter {ifname}: no such interface; try --iflist")
    return link


def _ifname(nl: RtNetlink, index: int) -> str:
    link = nl.link(index)
    return link.name if link is not None else str(index)


def _info(link: Link, addrs: list[Addr]) -> IfInfo:
    v4: list[tuple[int, int]] = []
    v6: list[tuple[int, int]] = []
    for a in addrs:
        if a.index != link.index or a.address is None:
            continue
        (v4 if a.family == socket.AF_INET else v6).append((a.address, a.prefixlen))
    return IfInfo(index=link.index, mac=link.mac, mtu=link.mtu, is_up=bool(link.flags & IFF_UP),
                  ipv4=v4, ipv6=v6, name=link.name, operstate=link.operstate)


def interface_info(ifname: str) -> IfInfo:
    """Index, MAC, MTU, up flag and addresses of `ifname`; EnvironmentProblem if it does not exist."""
    with RtNetlink() as nl:
        return _info(_link_named(nl, ifname), nl.addrs())


def list_interfaces() -> list[IfInfo]:
    """Every interface of this network namespace (for --iflist), by index."""
    with RtNetlink() as nl:
        addrs = nl.addrs()
        return sorted((_info(link, addrs) for link in nl.links()), key=lambda i: i.index)


def format_iflist(infos: list[IfInfo]) -> str:
    """The --iflist table: index, name, MAC, MTU, state, addresses."""
    lines = []
    for i in infos:
        mac = ":".join(f"{b:02x}" for b in i.mac) or "-"
        addrs = [f"{ipaddress.IPv4Address(a)}/{p}" for a, p in i.ipv4]
        addrs += [f"{ipaddress.IPv6Address(a)}/{p}" for a, p in i.ipv6]
        state = "up" if i.is_up else "down"
        lines.append(f"{i.index:>3}  {i.name:<15} {mac:<17} mtu {i.mtu:<5} {state:<4}  {' '.join(addrs)}")
    return "\n".join(lines)


def require_up(info: IfInfo) -> IfInfo:
    """`info` if the interface is administratively up, else an EnvironmentProblem."""
    if not info.is_up:
        raise EnvironmentProblem(f"--adapter {info.name}: interface is down; bring it up "
                                 f"(ip link set {info.name} up) or choose another --adapter")
    return info


def require_ipv4(info: IfInfo) -> tuple[int, int]:
    """The interface's first IPv4 (address, prefixlen), else an EnvironmentProblem."""
    if not info.ipv4:
        raise EnvironmentProblem(f"--adapter {info.name}: no IPv4 address; give --source-ip")
    return info.ipv4[0]


def default_route(family: int = 4) -> Route:
    """The main table's default route with the lowest metric, for IPv4 (4) or IPv6 (6)."""
    af = socket.AF_INET if family == 4 else socket.AF_INET6
    with RtNetlink() as nl:
        routes = [r for r in nl.routes(af)
                  if r.dst is None and r.table == RT_TABLE_MAIN and r.type == RTN_UNICAST]
        if not routes:
            raise EnvironmentProblem("no default route: give --adapter and --router-mac or --router-ip"
                                     if family == 4 else
                                     "no IPv6 default route: give --adapter and --router-mac or --router-ip")
        best = min(routes, key=lambda r: r.priority or 0)
        oif, gateway = best.oif, best.gateway
        if oif is None and best.multipath:  # multipath: take the first next hop
            oif, gateway = best.multipath[0]
        if oif is None:
            raise EnvironmentProblem("no default route: give --adapter and --router-mac or --router-ip")
        ifname = _ifname(nl, oif)
        prefsrc = best.prefsrc
        if prefsrc is None:
            link = nl.link(oif)
            info = _info(link, nl.addrs(af)) if link is not None else None
            addrs = [] if info is None else \
                info.ipv4 if family == 4 else [a for a in info.ipv6 if a[0] >> 118 != 0x3FA]
            prefsrc = addrs[0][0] if addrs else None
        return Route(ifname, gateway, prefsrc)


def route_to(ip: int | str, version: int | None = None) -> tuple[str, int | None, int | None]:
    """(ifname, gateway or None if on-link, source address) the kernel would use to reach `ip`.

    An int is IPv4 unless it is above 2**32 or `version=6`.
    """
    af, addr = _parse_ip(ip, version)
    with RtNetlink() as nl:
        try:
            r = nl.route_get(af, addr)
        except NetlinkError as exc:
            if exc.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH):
                text = ipaddress.IPv4Address(addr) if af == socket.AF_INET else ipaddress.IPv6Address(addr)
                raise EnvironmentProblem(f"no route to {text}: give --adapter and --router-mac") from exc
            raise
        return _ifname(nl, r.oif or 0), r.gateway, r.prefsrc


def neighbour(ifname: str, ip: int | str, version: int | None = None) -> bytes | None:
    """The kernel's neighbour-table MAC for `ip` on `ifname` (only a hint), or None."""
    af, want = _parse_ip(ip, version)
    with RtNetlink() as nl:
        index = _link_named(nl, ifname).index
        for n in nl.neighbours(af):
            if n.ifindex == index and n.dst == want and n.state & NUD_USABLE and n.lladdr:
                return n.lladdr
    return None


CAP_NET_RAW = 13


def _effective_caps() -> int | None:
    """This process's effective capability set (CapEff in /proc/self/status), or None if unknown."""
    try:
        with open("/proc/self/status", "rb") as fh:
            for line in fh:
                if line.startswith(b"CapEff:"):
                    return int(line.split()[1], 16)
    except (OSError, ValueError, IndexError):
        pass
    return None


def check_privileges() -> None:
    """Raise EnvironmentProblem unless we may open AF_PACKET sockets (root or CAP_NET_RAW).

    CAP_NET_RAW in the effective set answers without a socket: closing a packet socket waits for
    an RCU grace period in the kernel (8 - 20 ms measured), time the start-up cannot spare.
    Without it we try a socket, which also covers what the capability set cannot tell (user
    namespaces); either way the socket calls later raise the same message if refused.
    """
    caps = _effective_caps()
    if caps is not None and caps >> CAP_NET_RAW & 1:
        return
    try:
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
    except PermissionError as exc:
        raise EnvironmentProblem(PRIVILEGE_HINT) from exc
    s.close()
