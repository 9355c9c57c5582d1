"""Our own ARP / neighbour solicitation for the router, answered by the kernel of namespace b."""

from __future__ import annotations

import ipaddress
import time

import pytest

from tidescan import netns
from tidescan.errors import EnvironmentProblem
from tidescan.wire.resolve import arp_resolve, nd_resolve


def ip4(text: str) -> int:
    return int(ipaddress.IPv4Address(text))


def ip6(text: str) -> int:
    return int(ipaddress.IPv6Address(text))


@pytest.mark.lab
def test_arp_resolves_the_peer(veth_pair: netns.VethPair) -> None:
    with netns.entered(veth_pair.a.name):
        mac = arp_resolve(veth_pair.a_if, veth_pair.mac("a"), ip4("10.199.0.1"), ip4("10.199.0.2"))
    assert mac == veth_pair.mac("b")


@pytest.mark.lab
def test_arp_from_a_spoofed_source_teaches_the_router(veth_pair: netns.VethPair) -> None:
    """seed 001: ask from an address and MAC the OS does not own; the router learns them."""
    fake_mac = bytes.fromhex("020000000077")
    with netns.entered(veth_pair.a.name):
        mac = arp_resolve(veth_pair.a_if, fake_mac, ip4("10.199.0.77"), ip4("10.199.0.2"),
                          promisc=True)
    assert mac == veth_pair.mac("b")
    neigh = veth_pair.b.run(["ip", "neigh", "show", "10.199.0.77"]).stdout
    assert "02:00:00:00:00:77" in neigh


@pytest.mark.lab
def test_arp_times_out_with_the_fix_in_the_message(veth_pair: netns.VethPair) -> None:
    t0 = time.monotonic()
    with netns.entered(veth_pair.a.name), pytest.raises(EnvironmentProblem) as err:
        arp_resolve(veth_pair.a_if, veth_pair.mac("a"), ip4("10.199.0.1"), ip4("10.199.0.99"),
                    timeout=0.15, retries=2)
    elapsed = time.monotonic() - t0
    assert str(err.value) == (f"ARP timed out for router 10.199.0.99 on {veth_pair.a_if} after 2 tries; "
                              "give --router-mac")
    assert 0.29 <= elapsed < 2.0


@pytest.mark.lab
def test_nd_resolves_the_peer_and_times_out(veth_pair: netns.VethPair) -> None:
    with netns.entered(veth_pair.a.name):
        mac = nd_resolve(veth_pair.a_if, veth_pair.mac("a"), ip6("fd00:199::1"), ip6("fd00:199::2"))
        assert mac == veth_pair.mac("b")
        with pytest.raises(EnvironmentProblem, match=r"fd00:199::99 on .* after 1 tries; give --router-mac"):
            nd_resolve(veth_pair.a_if, veth_pair.mac("a"), ip6("fd00:199::1"), ip6("fd00:199::99"),
                       timeout=0.15, retries=1)


@pytest.mark.lab
def test_missing_interface(veth_pair: netns.VethPair) -> None:
    with netns.entered(veth_pair.a.name), pytest.raises(EnvironmentProblem, match="eth9: no such interface"):
        arp_resolve("eth9", veth_pair.mac("a"), ip4("10.199.0.1"), ip4("10.199.0.2"), timeout=0.1)
