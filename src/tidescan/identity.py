"""Who the scanner is on the wire: interface, MACs, source addresses and ports, router MAC.

Why this is its own step (seed 001): tidescan does not use the kernel's TCP/IP stack, so it must
decide for itself what the kernel would otherwise decide: which interface to send on (the one of
the default route), which source address to claim, and which MAC the frames go to (the router's,
found by *our own* ARP request, not the kernel's neighbour table).  The source address need not be
one the OS owns: with `--source-ip` set to a spare address, or a power-of-two range, the receive
loop answers ARP for it, which is the clean way to grab banners without the kernel's RSTs.

Everything here runs once, before the first probe; nothing on the hot path.  Each failure is an
`EnvironmentProblem` whose text names the option that fixes it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from tidescan.config_model import ScanConfig
from tidescan.errors import EnvironmentProblem

# masscan's --offline placeholders: nothing is sent, but frames are still built exactly.
OFFLINE_ROUTER_MAC = bytes.fromhex("665544332211")
OFFLINE_SRC_MAC = bytes.fromhex("020000000001")
OFFLINE_SRC_IP = 0x0AFFFF01  # 10.255.255.1

# The default source port: one port above the kernel's default ephemeral range (32768-60999), so
# the host never has a connection of its own there; varied by the clock like masscan's
# 40000 + time % 20000, so two scans started at different seconds do not collide.
DEFAULT_PORT_BASE = 61000
DEFAULT_PORT_SPAN = 4000


@dataclass(frozen=True)
class Identity:
    """The scanner's addresses for this run (source IP/port ranges are power-of-two sized)."""

    ifname: str | None           # None with --offline
    src_mac: bytes
    router_mac: bytes
    src_ip_first: int
    src_ip_count: int
    src_port_first: int
    src_port_count: int
    src_ip6: int | None = None
    router_mac6: bytes | None = None
    router_ip: int | None = None
    owned_by_os: bool = True     # the OS has src_ip: its kernel will RST banner connections

    @property
    def src_ip_last(self) -> int:
        return self.src_ip_first + self.src_ip_count - 1

    @property
    def src_port_last(self) -> int:
        return self.src_port_first + self.src_port_count - 1


def default_source_port(now: float | None = None) -> int:
    t = int(time.time() if now is None else now)
    return DEFAULT_PORT_BASE + t % DEFAULT_PORT_SPAN


def _ports(cfg: ScanConfig) -> tuple[int, int]:
    if cfg.adapter_port is not None:
        lo, hi = cfg.adapter_port
        return lo, hi - lo + 1
    return default_source_port(), 1


def resolve_identity(cfg: ScanConfig, *, need_ipv6: bool = False) -> Identity:
    """Work out the scanner's identity from the options and the OS (netlink + our own ARP)."""
    port_first, port_count = _ports(cfg)
    if cfg.offline:
        ip_first, ip_count = (cfg.adapter_ip[0], cfg.adapter_ip[1] - cfg.adapter_ip[0] + 1) \
            if cfg.adapter_ip else (OFFLINE_SRC_IP, 1)
        return Identity(None, cfg.adapter_mac or OFFLINE_SRC_MAC, cfg.router_mac or OFFLINE_ROUTER_MAC,
                        ip_first, ip_count, port_first, port_count,
                        src_ip6=cfg.adapter_ipv6 or (0xFD00 << 112 | 1),
                        router_mac6=cfg.router_mac_ipv6 or cfg.router_mac or OFFLINE_ROUTER_MAC)

    from tidescan.wire import netinfo, resolve

    netinfo.check_privileges()
    route = None
    ifname = cfg.adapter
    if ifname is None:
        route = netinfo.default_route(4)
        ifname = route.ifname
    try:
        info = netinfo.interface_info(ifname)
    except EnvironmentProblem:
        raise
    netinfo.require_up(info)
    src_mac = cfg.adapter_mac or info.mac

    owned = {a for a, _ in info.ipv4}
    if cfg.adapter_ip is not None:
        ip_first = cfg.adapter_ip[0]
        ip_count = cfg.adapter_ip[1] - cfg.adapter_ip[0] + 1
    else:
        ip_first = route.prefsrc if route and route.prefsrc else netinfo.require_ipv4(info)[0]
        ip_count = 1
    owned_by_os = any(ip_first <= a < ip_first + ip_count for a in owned)

    router_ip = cfg.router_ip
    if router_ip is None and cfg.router_mac is None:
        if route is None or route.ifname != ifname:
            try:
                route = netinfo.default_route(4)
            except EnvironmentProblem:
                route = None
        if route is None or route.ifname != ifname or route.gateway is None:
            raise EnvironmentProblem(
                f"--adapter {ifname}: no default gateway on this interface; "
                "give --router-ip (we ARP for it) or --router-mac")
        router_ip = route.gateway
    router_mac = cfg.router_mac
    if router_mac is None:
        assert router_ip is not None
        router_mac = resolve.arp_resolve(ifname, src_mac, ip_first, router_ip, timeout=1.0, retries=3)

    src_ip6 = cfg.adapter_ipv6
    router_mac6 = cfg.router_mac_ipv6
    if need_ipv6:
        if src_ip6 is None:
            globals6 = [a for a, _ in info.ipv6 if a >> 118 != 0x3FA]  # not fe80::/10
            if not globals6:
                raise EnvironmentProblem(f"--adapter {ifname}: no IPv6 address for IPv6 targets; "
                                         "give --source-ip with an IPv6 address")
            src_ip6 = globals6[0]
        if router_mac6 is None:
            router_mac6 = cfg.router_mac
        if router_mac6 is None:
            try:
                r6 = netinfo.default_route(6)
                gw6 = r6.gateway
            except EnvironmentProblem:
                gw6 = None
            if gw6 is None:
                raise EnvironmentProblem("no IPv6 default gateway: give --router-mac-ipv6")
            router_mac6 = resolve.nd_resolve(ifname, src_mac, src_ip6, gw6, timeout=1.0, retries=3)

    return Identity(ifname, src_mac, router_mac, ip_first, ip_count, port_first, port_count,
                    src_ip6=src_ip6, router_mac6=router_mac6, router_ip=router_ip,
                    owned_by_os=owned_by_os)
