"""What the operating system knows about the network: interfaces, addresses, routes, neighbours.

Why this module exists: tidescan has its own TCP/IP stack, but it starts from the host's picture
of the network, as masscan does (seed 001): the interface of the default route, that interface's
MAC, MTU and addresses, and the gateway to ARP for.  Every such value can be overridden on the
command line (`--adapter`, `--adapter-mac`, `--source-ip`, `--router-ip`, `--router-mac`); this
module supplies the defaults and, when the host cannot supply one, an `EnvironmentProblem` whose
text names the option that fixes it.

It asks the kernel over netlink (pyroute2's IPRoute), never by parsing `ip` output.  The netlink
socket belongs to the network namespace of the calling thread when it is opened, so
`with netns.entered(ns): default_route()` answers for namespace `ns`.  pyroute2 is imported on
first use (it costs ~0.15 s), and every call opens and closes its own socket: these run once at
start-up, never on a hot path.

Addresses follow the project convention: IPv4 and IPv6 addresses are Python ints (host order
values), MACs are 6-byte `bytes`.
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ..errors import EnvironmentProblem

IFF_UP = 0x1
IFF_RUNNING = 0x40
# neighbour states that carry a usable link-layer address
NUD_USABLE = 0x02 | 0x04 | 0x08 | 0x10 | 0x40 | 0x80  # REACHABLE STALE DELAY PROBE NOARP PERMANENT

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


@contextlib.contextmanager
def _ipr() -> Iterator[Any]:
    from pyroute2 import IPRoute

    ipr = IPRoute()
    try:
        yield ipr
    finally:
        ipr.close()


def _mac(text: str | None) -> bytes:
    return bytes.fromhex(text.replace(":", "")) if text else b""


def _ip(text: str | None) -> int | None:
    return int(ipaddress.ip_address(text)) if text else None


def _parse_ip(ip: int | str, version: int | None) -> tuple[int, str]:
    """(family, text) for an address given as int or string."""
    if isinstance(ip, str):
        addr = ipaddress.ip_address(ip)
    elif version == 6 or (version is None and ip > 0xFFFFFFFF):
        addr = ipaddress.IPv6Address(ip)
    else:
        addr = ipaddress.IPv4Address(ip)
    return (socket.AF_INET if addr.version == 4 else socket.AF_INET6), str(addr)


def _index(ipr: Any, ifname: str) -> int:
    found = ipr.link_lookup(ifname=ifname)
    if not found:
        raise EnvironmentProblem(f"--adapter {ifname}: no such interface; try --iflist")
    return int(found[0])


def _ifname(ipr: Any, index: int) -> str:
    links = ipr.get_links(index)
    return str(links[0].get("IFLA_IFNAME")) if links else str(index)


def _info(ipr: Any, link: Any) -> IfInfo:
    index = int(link["index"])
    v4: list[tuple[int, int]] = []
    v6: list[tuple[int, int]] = []
    for a in ipr.get_addr(index=index):
        text = a.get("IFA_LOCAL") or a.get("IFA_ADDRESS")
        if text is None:
            continue
        (v4 if a["family"] == socket.AF_INET else v6).append((int(ipaddress.ip_address(text)),
                                                              int(a["prefixlen"])))
    return IfInfo(index=index, mac=_mac(link.get("IFLA_ADDRESS")), mtu=int(link.get("IFLA_MTU") or 0),
                  is_up=bool(link["flags"] & IFF_UP), ipv4=v4, ipv6=v6,
                  name=str(link.get("IFLA_IFNAME")), operstate=str(link.get("IFLA_OPERSTATE") or ""))


def interface_info(ifname: str) -> IfInfo:
    """Index, MAC, MTU, up flag and addresses of `ifname`; EnvironmentProblem if it does not exist."""
    with _ipr() as ipr:
        index = _index(ipr, ifname)
        return _info(ipr, ipr.get_links(index)[0])


def list_interfaces() -> list[IfInfo]:
    """Every interface of this network namespace (for --iflist), by index."""
    with _ipr() as ipr:
        return sorted((_info(ipr, link) for link in ipr.get_links()), key=lambda i: i.index)


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
    with _ipr() as ipr:
        routes = [r for r in ipr.get_default_routes(family=af)
                  if r.get("RTA_TABLE", r.get("table")) == 254 and r.get("type", 1) == 1]
        if not routes:
            raise EnvironmentProblem("no default route: give --adapter and --router-mac or --router-ip"
                                     if family == 4 else
                                     "no IPv6 default route: give --adapter and --router-mac or --router-ip")
        best = min(routes, key=lambda r: r.get("RTA_PRIORITY") or 0)
        oif, gateway = best.get("RTA_OIF"), best.get("RTA_GATEWAY")
        if oif is None:  # multipath: take the first next hop
            hops = best.get("RTA_MULTIPATH") or []
            if hops:
                oif = hops[0]["oif"]
                gateway = dict(hops[0]["attrs"]).get("RTA_GATEWAY") if hops[0].get("attrs") else None
        if oif is None:
            raise EnvironmentProblem("no default route: give --adapter and --router-mac or --router-ip")
        ifname = _ifname(ipr, int(oif))
        prefsrc = _ip(best.get("RTA_PREFSRC"))
        if prefsrc is None:
            info = _info(ipr, ipr.get_links(int(oif))[0])
            addrs = info.ipv4 if family == 4 else [a for a in info.ipv6 if a[0] >> 118 != 0x3FA]
            prefsrc = addrs[0][0] if addrs else None
        return Route(ifname, _ip(gateway), prefsrc)


def route_to(ip: int | str, version: int | None = None) -> tuple[str, int | None, int | None]:
    """(ifname, gateway or None if on-link, source address) the kernel would use to reach `ip`.

    An int is IPv4 unless it is above 2**32 or `version=6`.
    """
    af, text = _parse_ip(ip, version)
    with _ipr() as ipr:
        try:
            answer = ipr.route("get", dst=text, family=af)
        except Exception as exc:  # pyroute2 raises NetlinkError(errno)
            code = getattr(exc, "code", None)
            if code in (errno.ENETUNREACH, errno.EHOSTUNREACH):
                raise EnvironmentProblem(f"no route to {text}: give --adapter and --router-mac") from exc
            raise
        r = answer[0]
        return _ifname(ipr, int(r.get("RTA_OIF"))), _ip(r.get("RTA_GATEWAY")), _ip(r.get("RTA_PREFSRC"))


def neighbour(ifname: str, ip: int | str, version: int | None = None) -> bytes | None:
    """The kernel's neighbour-table MAC for `ip` on `ifname` (only a hint), or None."""
    af, text = _parse_ip(ip, version)
    with _ipr() as ipr:
        index = _index(ipr, ifname)
        for n in ipr.get_neighbours(family=af, ifindex=index):
            if n.get("NDA_DST") == text and n["state"] & NUD_USABLE and n.get("NDA_LLADDR"):
                return _mac(n.get("NDA_LLADDR"))
    return None


def check_privileges() -> None:
    """Raise EnvironmentProblem unless we may open AF_PACKET sockets (root or CAP_NET_RAW)."""
    try:
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
    except PermissionError as exc:
        raise EnvironmentProblem(PRIVILEGE_HINT) from exc
    s.close()
