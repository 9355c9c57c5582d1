"""Scalar ARP and neighbour-discovery frames against scapy, and the answers we give for our IPs."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.all import ARP, Dot1Q, Ether, ICMPv6ND_NA, ICMPv6ND_NS, ICMPv6NDOptDstLLAddr, \
    ICMPv6NDOptSrcLLAddr, IPv6

from tidescan.errors import ParseError
from tidescan.packets import layout as L
from tidescan.packets.arp import build_arp_reply, build_arp_request, parse_arp, reply_to
from tidescan.packets.nd import (ALL_NODES, NA_OVERRIDE, NA_SOLICITED, advertise_to,
                                 build_neighbor_advertisement, build_neighbor_solicitation,
                                 multicast_mac, parse_nd, solicited_node)

OUR_MAC, THEIR_MAC = "02:00:00:00:00:01", "66:55:44:33:22:11"


def ip4(a: str) -> int:
    return int(ipaddress.IPv4Address(a))


def ip6(a: str) -> int:
    return int(ipaddress.IPv6Address(a))


def test_mac_helpers() -> None:
    assert L.mac_bytes("02-00-00-00-00-0A") == b"\x02\0\0\0\0\x0a"
    assert L.mac_text(L.mac_int("66:55:44:33:22:11")) == "66:55:44:33:22:11"
    with pytest.raises(ParseError) as e:
        L.mac_bytes("02:00:00:zz:00:01")
    assert e.value.column == 10
    with pytest.raises(ParseError):
        L.mac_bytes("02:00:00:00:00")


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1), st.none() | st.integers(0, 4095))
def test_arp_request_and_reply_match_scapy(src: int, dst: int, vlan: int | None) -> None:
    s, d = str(ipaddress.IPv4Address(src)), str(ipaddress.IPv4Address(dst))
    eth = Ether(src=OUR_MAC, dst="ff:ff:ff:ff:ff:ff")
    tag = [Dot1Q(vlan=vlan, prio=0)] if vlan is not None else []
    ref = eth
    for t in tag:
        ref = ref / t
    ref = ref / ARP(op=1, hwsrc=OUR_MAC, psrc=s, hwdst="00:00:00:00:00:00", pdst=d)
    req = build_arp_request(OUR_MAC, src, dst, vlan)
    assert req == bytes(ref)
    p = parse_arp(req)
    assert p is not None and (p.op, p.sender_ip, p.target_ip, p.vlan) == (1, src, dst, vlan)
    rep = reply_to(p, THEIR_MAC)  # answering "who has dst" as the owner of dst
    ref2 = Ether(src=THEIR_MAC, dst=OUR_MAC)
    for t in tag:
        ref2 = ref2 / t
    ref2 = ref2 / ARP(op=2, hwsrc=THEIR_MAC, psrc=d, hwdst=OUR_MAC, pdst=s)
    assert rep == bytes(ref2)
    assert build_arp_reply(THEIR_MAC, dst, OUR_MAC, src, vlan) == rep


def test_parse_arp_rejects() -> None:
    good = build_arp_request(OUR_MAC, 1, 2)
    assert parse_arp(good[:41]) is None
    assert parse_arp(good[:12]) is None
    assert parse_arp(good[:14] + b"\x00\x06" + good[16:]) is None  # hardware type 6
    assert parse_arp(bytes(Ether() / IPv6())) is None
    assert parse_arp(good + b"\0" * 18) is not None                 # Ethernet padding is fine


def test_solicited_node_and_multicast_mac() -> None:
    a = ip6("fd00::1:2345:6789")
    assert solicited_node(a) == ip6("ff02::1:ff45:6789")
    assert multicast_mac(solicited_node(a)) == bytes.fromhex("3333ff456789")


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 2**128 - 1), st.integers(1, 2**128 - 1), st.none() | st.integers(0, 4095))
def test_ns_and_na_match_scapy(me: int, target: int, vlan: int | None) -> None:
    sme, stgt = str(ipaddress.IPv6Address(me)), str(ipaddress.IPv6Address(target))
    group = solicited_node(target)
    ns = build_neighbor_solicitation(OUR_MAC, me, target, vlan)
    ref = Ether(src=OUR_MAC, dst=L.mac_text(multicast_mac(group)))
    if vlan is not None:
        ref = ref / Dot1Q(vlan=vlan, prio=0)
    ref = (ref / IPv6(src=sme, dst=str(ipaddress.IPv6Address(group)), hlim=255)
           / ICMPv6ND_NS(tgt=stgt) / ICMPv6NDOptSrcLLAddr(lladdr=OUR_MAC))
    assert ns == bytes(ref)
    p = parse_nd(ns)
    assert p is not None
    assert (p.type, p.src_ip, p.dst_ip, p.target, p.lladdr, p.vlan) == (
        135, me, group, target, L.mac_bytes(OUR_MAC), vlan)
    # the owner of `target` answers
    na = advertise_to(p, THEIR_MAC, target)
    ref = Ether(src=THEIR_MAC, dst=OUR_MAC)
    if vlan is not None:
        ref = ref / Dot1Q(vlan=vlan, prio=0)
    ref = (ref / IPv6(src=stgt, dst=sme, hlim=255) / ICMPv6ND_NA(tgt=stgt, R=0, S=1, O=1)
           / ICMPv6NDOptDstLLAddr(lladdr=THEIR_MAC))
    assert na == bytes(ref)
    q = parse_nd(na)
    assert q is not None and q.type == 136 and q.flags == NA_SOLICITED | NA_OVERRIDE
    assert q.lladdr == L.mac_bytes(THEIR_MAC) and q.target == target


def test_nd_checks() -> None:
    ns = build_neighbor_solicitation(OUR_MAC, ip6("fd00::1"), ip6("fd00::2"))
    assert parse_nd(ns[:-1]) is None                                 # truncated
    bad_hlim = ns[:21] + b"\x40" + ns[22:]
    assert parse_nd(bad_hlim) is None                                # hop limit must be 255
    bad_sum = ns[:-1] + bytes([ns[-1] ^ 1])
    assert parse_nd(bad_sum) is None                                 # checksum
    dad = build_neighbor_solicitation(OUR_MAC, 0, ip6("fd00::2"))    # duplicate address detection
    p = parse_nd(dad)
    assert p is not None
    na = parse_nd(advertise_to(p, THEIR_MAC, ip6("fd00::2")))
    assert na is not None and na.dst_ip == ALL_NODES and not na.flags & NA_SOLICITED
    assert parse_nd(bytes(Ether() / IPv6(hlim=255) / ICMPv6ND_NA(tgt="fd00::9"))) is not None
    plain = build_neighbor_advertisement(OUR_MAC, ip6("fd00::1"), THEIR_MAC, ip6("fd00::2"))
    assert parse_nd(plain).target == ip6("fd00::1")  # type: ignore[union-attr]
