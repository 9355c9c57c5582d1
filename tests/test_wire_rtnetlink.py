"""The raw rtnetlink client gives netinfo the same answers pyroute2 gives, inside our own namespaces.

`wire/rtnetlink.py` replaced pyroute2 on the scan path (its import cost 0.3 s of start-up).  Here a
test namespace gets several addresses, competing default routes (metrics, another table, a
blackhole), a gatewayed route, neighbours, and every netinfo answer is checked against pyroute2's reading of the
same kernel state.  Routes and neighbours live only inside namespaces this test created.
"""

from __future__ import annotations

import ipaddress
import socket
import subprocess
import sys

import pytest

from tidescan import netns
from tidescan.wire import netinfo, rtnetlink


def _pyroute2_view(ifname: str) -> dict[str, object]:
    """What pyroute2 reads from the kernel, reduced to netinfo's answers (the old implementation)."""
    from pyroute2 import IPRoute

    def ip(text: str | None) -> int | None:
        return int(ipaddress.ip_address(text)) if text else None

    with IPRoute() as ipr:
        links = {}
        for link in ipr.get_links():
            index = int(link["index"])
            v4, v6 = [], []
            for a in ipr.get_addr(index=index):
                text = a.get("IFA_LOCAL") or a.get("IFA_ADDRESS")
                if text is not None:
                    (v4 if a["family"] == socket.AF_INET else v6).append(
                        (int(ipaddress.ip_address(text)), int(a["prefixlen"])))
            mac = link.get("IFLA_ADDRESS")
            links[index] = netinfo.IfInfo(
                index=index, mac=bytes.fromhex(mac.replace(":", "")) if mac else b"",
                mtu=int(link.get("IFLA_MTU") or 0), is_up=bool(link["flags"] & netinfo.IFF_UP),
                ipv4=v4, ipv6=v6, name=str(link.get("IFLA_IFNAME")),
                operstate=str(link.get("IFLA_OPERSTATE") or ""))
        defaults = {}
        for fam in (socket.AF_INET, socket.AF_INET6):
            routes = [r for r in ipr.get_default_routes(family=fam)
                      if r.get("RTA_TABLE", r.get("table")) == 254 and r.get("type", 1) == 1]
            best = min(routes, key=lambda r: r.get("RTA_PRIORITY") or 0)
            link = links[best.get("RTA_OIF")]
            own = link.ipv4 if fam == socket.AF_INET else [x for x in link.ipv6 if x[0] >> 118 != 0x3FA]
            prefsrc = ip(best.get("RTA_PREFSRC")) or (own[0][0] if own else None)  # netinfo's fallback
            defaults[fam] = (link.name, ip(best.get("RTA_GATEWAY")), prefsrc)
        gets = {}
        for fam, dst in ((socket.AF_INET, "10.199.0.2"), (socket.AF_INET, "192.0.2.7"),
                         (socket.AF_INET, "10.199.0.1"), (socket.AF_INET6, "2001:db8::1"),
                         (socket.AF_INET6, "fd00:199::2")):
            r = ipr.route("get", dst=dst, family=fam)[0]
            gets[dst] = (links[r.get("RTA_OIF")].name, ip(r.get("RTA_GATEWAY")), ip(r.get("RTA_PREFSRC")))
        index = ipr.link_lookup(ifname=ifname)[0]
        neigh = {}
        for fam in (socket.AF_INET, socket.AF_INET6):
            for n in ipr.get_neighbours(family=fam, ifindex=index):
                if n["state"] & netinfo.NUD_USABLE and n.get("NDA_LLADDR"):
                    neigh[n.get("NDA_DST")] = bytes.fromhex(n.get("NDA_LLADDR").replace(":", ""))
    return {"links": sorted(links.values(), key=lambda i: i.index), "defaults": defaults,
            "gets": gets, "neigh": neigh}


@pytest.mark.lab
def test_same_answers_as_pyroute2(veth_pair: netns.VethPair) -> None:
    a, ifname = veth_pair.a, veth_pair.a_if
    for cmd in (["ip", "addr", "add", "10.199.0.9/24", "dev", ifname],        # secondary
                ["ip", "addr", "add", "10.198.5.1/16", "dev", ifname],
                ["ip", "addr", "add", "fd00:198::5/80", "dev", ifname, "nodad"],
                ["ip", "link", "add", "ts-x0", "mtu", "9000", "type", "veth", "peer", "name", "ts-x1"],  # down
                ["ip", "route", "add", "default", "via", "10.199.0.2", "metric", "100"],
                ["ip", "route", "add", "default", "via", "10.199.0.3", "metric", "50"],
                ["ip", "route", "add", "default", "via", "10.199.0.4", "table", "100"],
                ["ip", "route", "add", "blackhole", "default", "metric", "10"],  # wins lookups
                ["ip", "route", "add", "192.0.2.0/24", "via", "10.199.0.4"],
                ["ip", "-6", "route", "add", "default", "via", "fd00:199::2", "metric", "300"],
                ["ip", "-6", "route", "add", "default", "via", "fd00:199::3", "metric", "200"],
                ["ip", "neigh", "add", "10.199.0.77", "lladdr", "02:00:00:00:00:77", "dev", ifname,
                 "nud", "permanent"],
                ["ip", "neigh", "add", "fd00:199::77", "lladdr", "02:00:00:00:06:77", "dev", ifname,
                 "nud", "permanent"]):
        a.run(cmd)
    with netns.entered(a.name):
        ref = _pyroute2_view(ifname)
        listed = netinfo.list_interfaces()
        infos = [netinfo.interface_info(i.name) for i in listed]
        r4, r6 = netinfo.default_route(4), netinfo.default_route(6)
        gets = {dst: netinfo.route_to(dst) for dst in ref["gets"]}  # type: ignore[attr-defined]
        neigh = {text: netinfo.neighbour(ifname, text) for text in ref["neigh"]}  # type: ignore[attr-defined]

    assert listed == ref["links"] and infos == ref["links"]
    assert [i.name for i in listed] == ["lo", ifname, "ts-x1", "ts-x0"]
    mine = {i.name: i for i in listed}
    assert mine["ts-x0"].mtu == 9000 and not mine["ts-x0"].is_up and mine["lo"].operstate == "UNKNOWN"
    assert mine[ifname].ipv4 == [(int(ipaddress.IPv4Address("10.199.0.1")), 24),  # primaries first
                                 (int(ipaddress.IPv4Address("10.198.5.1")), 16),
                                 (int(ipaddress.IPv4Address("10.199.0.9")), 24)]
    assert (r4.ifname, r4.gateway, r4.prefsrc) == ref["defaults"][socket.AF_INET]  # type: ignore[index]
    assert (r6.ifname, r6.gateway, r6.prefsrc) == ref["defaults"][socket.AF_INET6]  # type: ignore[index]
    assert r4.gateway == int(ipaddress.IPv4Address("10.199.0.3"))  # lowest metric, main table, unicast
    assert gets == ref["gets"]
    assert neigh == ref["neigh"]  # also the kernel's own NOARP multicast entries (ff02::16)
    assert neigh["10.199.0.77"] == bytes.fromhex("020000000077")
    assert neigh["fd00:199::77"] == bytes.fromhex("020000000677")


@pytest.mark.lab
def test_multipath_default_and_errors(veth_pair: netns.VethPair) -> None:
    a, ifname = veth_pair.a, veth_pair.a_if
    a.run(["ip", "route", "add", "default", "nexthop", "via", "10.199.0.5", "dev", ifname,
           "nexthop", "via", "10.199.0.6", "dev", ifname])
    with netns.entered(a.name):
        r4 = netinfo.default_route(4)
        with rtnetlink.RtNetlink() as nl:
            assert nl.link(name="nope0") is None and nl.link(987654) is None
            with pytest.raises(rtnetlink.NetlinkError) as info:
                nl.route_get(socket.AF_INET6, int(ipaddress.IPv6Address("2001:db8::1")))
    assert r4 == netinfo.Route(ifname, int(ipaddress.IPv4Address("10.199.0.5")),
                               int(ipaddress.IPv4Address("10.199.0.1")))
    assert info.value.errno == 101  # ENETUNREACH


def test_attribute_codec_round_trip() -> None:
    raw = rtnetlink.attr(3, b"eth0\0") + rtnetlink.attr(4, (1500).to_bytes(4, "little"))
    assert len(raw) % 4 == 0
    assert rtnetlink.parse_attrs(raw, 0, len(raw)) == {3: b"eth0\0", 4: (1500).to_bytes(4, "little")}


@pytest.mark.lab
def test_scan_path_does_not_import_pyroute2(veth_pair: netns.VethPair) -> None:
    """Start-up budget (issue 4): `tidescan TARGET -p..` must not pay for pyroute2's import."""
    a = veth_pair.a
    a.run(["ip", "route", "add", "default", "via", "10.199.0.2"])
    code = ("import sys\n"
            "from tidescan.cli import main\n"
            "rc = main(['10.199.0.2', '-p80', '--rate', '100', '--wait', '0', '--nostatus', '-oL', '/dev/null'])\n"
            "print(rc, sorted(m for m in sys.modules if m.split('.')[0] in ('pyroute2', 'rich', 'cryptography')))\n")
    out = subprocess.run(["ip", "netns", "exec", a.name, sys.executable, "-c", code],
                         capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "0 []", out.stdout + out.stderr
