"""Interface, route and neighbour discovery, asked inside our own namespaces; the clear errors.

Every route added here lives only inside a namespace this test created (and points only at the
veth peer); nothing is sent except where noted.
"""

from __future__ import annotations

import ipaddress
import subprocess
import sys

import pytest

from tidescan import netns
from tidescan.errors import EnvironmentProblem
from tidescan.wire import netinfo


def ip4(text: str) -> int:
    return int(ipaddress.IPv4Address(text))


def ip6(text: str) -> int:
    return int(ipaddress.IPv6Address(text))


@pytest.mark.lab
def test_interface_info_and_list(veth_pair: netns.VethPair) -> None:
    index = int(veth_pair.a.run(["cat", f"/sys/class/net/{veth_pair.a_if}/ifindex"]).stdout)
    with netns.entered(veth_pair.a.name):
        info = netinfo.interface_info(veth_pair.a_if)
        listed = netinfo.list_interfaces()
    assert info.index == index and info.name == veth_pair.a_if
    assert info.mac == veth_pair.mac("a") and info.mtu == 1500 and info.is_up
    assert info.ipv4 == [(ip4("10.199.0.1"), 24)]
    assert (ip6("fd00:199::1"), 64) in info.ipv6
    assert netinfo.require_ipv4(info) == (ip4("10.199.0.1"), 24)
    assert netinfo.require_up(info) is info
    assert [i.name for i in listed] == ["lo", veth_pair.a_if]
    table = netinfo.format_iflist(listed)
    assert veth_pair.a_if in table and "10.199.0.1/24" in table and "fd00:199::1/64" in table


@pytest.mark.lab
def test_missing_down_and_addressless_interfaces(veth_pair: netns.VethPair) -> None:
    veth_pair.a.run(["ip", "addr", "flush", "dev", veth_pair.a_if])
    veth_pair.a.run(["ip", "link", "set", veth_pair.a_if, "down"])
    with netns.entered(veth_pair.a.name):
        with pytest.raises(EnvironmentProblem, match=r"^--adapter eth9: no such interface; try --iflist$"):
            netinfo.interface_info("eth9")
        info = netinfo.interface_info(veth_pair.a_if)
    assert not info.is_up and info.ipv4 == []
    with pytest.raises(EnvironmentProblem, match="interface is down"):
        netinfo.require_up(info)
    with pytest.raises(EnvironmentProblem, match="no IPv4 address; give --source-ip"):
        netinfo.require_ipv4(info)


@pytest.mark.lab
def test_default_route_and_route_to(veth_pair: netns.VethPair) -> None:
    with netns.entered(veth_pair.a.name):
        with pytest.raises(EnvironmentProblem,
                           match=r"^no default route: give --adapter and --router-mac or --router-ip$"):
            netinfo.default_route()
        with pytest.raises(EnvironmentProblem, match="no route to 192.0.2.1"):
            netinfo.route_to("192.0.2.1")
        assert netinfo.route_to(ip4("10.199.0.2")) == (veth_pair.a_if, None, ip4("10.199.0.1"))
    # a default route inside namespace a only, via its own veth peer
    veth_pair.a.run(["ip", "route", "add", "default", "via", "10.199.0.2"])
    veth_pair.a.run(["ip", "-6", "route", "add", "default", "via", "fd00:199::2"])
    with netns.entered(veth_pair.a.name):
        r4 = netinfo.default_route()
        r6 = netinfo.default_route(6)
        far = netinfo.route_to("192.0.2.1")
        far6 = netinfo.route_to(ip6("2001:db8::1"), version=6)
    assert r4 == netinfo.Route(veth_pair.a_if, ip4("10.199.0.2"), ip4("10.199.0.1"))
    assert r6 == netinfo.Route(veth_pair.a_if, ip6("fd00:199::2"), ip6("fd00:199::1"))
    assert far == (veth_pair.a_if, ip4("10.199.0.2"), ip4("10.199.0.1"))
    assert far6[0] == veth_pair.a_if and far6[1] == ip6("fd00:199::2")


@pytest.mark.lab
def test_neighbour_table_hint(veth_pair: netns.VethPair) -> None:
    veth_pair.a.run(["ip", "neigh", "add", "10.199.0.77", "lladdr", "02:00:00:00:00:77", "dev",
                     veth_pair.a_if, "nud", "permanent"])
    with netns.entered(veth_pair.a.name):
        assert netinfo.neighbour(veth_pair.a_if, ip4("10.199.0.77")) == bytes.fromhex("020000000077")
        assert netinfo.neighbour(veth_pair.a_if, "10.199.0.78") is None
        with pytest.raises(EnvironmentProblem, match="no such interface"):
            netinfo.neighbour("eth9", "10.199.0.77")


@pytest.mark.lab
def test_privileges_checked_with_a_clear_message() -> None:
    netinfo.check_privileges()  # root here
    code = ("from tidescan.wire import netinfo\n"
            "try:\n netinfo.check_privileges()\n"
            "except Exception as e:\n print(type(e).__name__, e)\n")
    out = subprocess.run(["capsh", "--drop=cap_net_raw", "--", "-c", f"{sys.executable} -c '{code}'"],
                         capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == ("EnvironmentProblem needs root or CAP_NET_RAW (try sudo, or setcap "
                                  "cap_net_raw,cap_net_admin+eip $(which python3))"), out.stderr
