"""IPv6 neighbour discovery (RFC 4861) frames, one at a time: ARP's job for IPv6.

Why this module exists: the scanner must learn the IPv6 router's MAC with a Neighbor Solicitation
(NS) and must answer NS for its own IPv6 source address with a Neighbor Advertisement (NA), exactly
as it does with ARP for IPv4 (masscan `stack-ndpv6.c`).  Few frames, so plain `bytes` (sans-IO).

Wire facts: NS and NA are ICMPv6 types 135 and 136 sent with hop limit 255 (receivers drop any
other value).  An NS for target T goes to T's solicited-node multicast group `ff02::1:ffXX:XXXX`
(the low 24 bits of T) at MAC `33:33:ff:XX:XX:XX`, carrying a source link-layer address option
(type 1).  An NA carries the flags R (router), S (solicited), O (override) and a target link-layer
address option (type 2).  The ICMPv6 checksum covers the IPv6 pseudo-header.
"""

from __future__ import annotations

from dataclasses import dataclass

from tidescan.packets import layout as L
from tidescan.packets.checksum import internet_checksum, pseudo_sum6

__all__ = ["NdPacket", "ALL_NODES", "NA_ROUTER", "NA_SOLICITED", "NA_OVERRIDE", "solicited_node",
           "multicast_mac", "build_neighbor_solicitation", "build_neighbor_advertisement",
           "advertise_to", "parse_nd"]

ALL_NODES = 0xFF02 << 112 | 1
_ND_OPT_SRC_LLADDR, _ND_OPT_TGT_LLADDR = 1, 2
NA_ROUTER, NA_SOLICITED, NA_OVERRIDE = 0x80, 0x40, 0x20


@dataclass(frozen=True, slots=True)
class NdPacket:
    """A parsed NS or NA.  `lladdr` is the link-layer address option's MAC (None if absent);
    `flags` the NA's R/S/O byte (0 for NS)."""

    type: int
    src_ip: int
    dst_ip: int
    target: int
    lladdr: bytes | None
    flags: int
    eth_src: bytes
    eth_dst: bytes
    hop_limit: int
    vlan: int | None = None


def solicited_node(ip6: int) -> int:
    """The solicited-node multicast address of `ip6` (ff02::1:ff00:0/104 + its low 24 bits)."""
    return (0xFF02 << 112) | (1 << 32) | (0xFF << 24) | (ip6 & 0xFFFFFF)


def multicast_mac(ip6: int) -> bytes:
    """The Ethernet address of IPv6 multicast group `ip6`: 33:33 + its low 32 bits."""
    return b"\x33\x33" + (ip6 & 0xFFFFFFFF).to_bytes(4, "big")


def _icmp6_frame(eth_dst: bytes, eth_src: bytes, src: int, dst: int, icmp: bytes,
                 vlan: int | None) -> bytes:
    csum = internet_checksum(icmp, pseudo_sum6(src, dst, L.IPPROTO_ICMPV6, len(icmp)))
    icmp = icmp[:2] + csum.to_bytes(2, "big") + icmp[4:]
    ip = (bytes([0x60, 0, 0, 0]) + len(icmp).to_bytes(2, "big") + bytes([L.IPPROTO_ICMPV6, 255])
          + src.to_bytes(16, "big") + dst.to_bytes(16, "big"))
    return L.eth_header(eth_dst, eth_src, L.ETHERTYPE_IPV6, vlan) + ip + icmp


def build_neighbor_solicitation(src_mac: bytes | str, src_ip: int, target: int,
                                vlan: int | None = None) -> bytes:
    """NS "who has `target`?" to its solicited-node group, with our link-layer address."""
    mac = L.mac_bytes(src_mac)
    group = solicited_node(target)
    icmp = (bytes([L.ND_NEIGHBOR_SOLICIT, 0, 0, 0]) + bytes(4) + target.to_bytes(16, "big")
            + bytes([_ND_OPT_SRC_LLADDR, 1]) + mac)
    return _icmp6_frame(multicast_mac(group), mac, src_ip, group, icmp, vlan)


def build_neighbor_advertisement(src_mac: bytes | str, src_ip: int, dst_mac: bytes | str,
                                 dst_ip: int, target: int | None = None,
                                 flags: int = NA_SOLICITED | NA_OVERRIDE,
                                 vlan: int | None = None) -> bytes:
    """NA "`target` (default `src_ip`) is at `src_mac`" to `dst_ip`/`dst_mac`.

    For an unsolicited NA send to `ALL_NODES` / `multicast_mac(ALL_NODES)` without NA_SOLICITED.
    """
    mac = L.mac_bytes(src_mac)
    tgt = src_ip if target is None else target
    icmp = (bytes([L.ND_NEIGHBOR_ADVERT, 0, 0, 0]) + bytes([flags & 0xE0, 0, 0, 0])
            + tgt.to_bytes(16, "big") + bytes([_ND_OPT_TGT_LLADDR, 1]) + mac)
    return _icmp6_frame(L.mac_bytes(dst_mac), mac, src_ip, dst_ip, icmp, vlan)


def advertise_to(ns: NdPacket, our_mac: bytes | str, our_ip: int) -> bytes:
    """The NA answering solicitation `ns` for our address `our_ip` (RFC 4861 §7.2.4).

    An NS from the unspecified address (duplicate address detection) is answered to all-nodes.
    """
    if ns.src_ip == 0:
        return build_neighbor_advertisement(our_mac, our_ip, multicast_mac(ALL_NODES), ALL_NODES,
                                            ns.target, NA_OVERRIDE, ns.vlan)
    dst_mac = ns.lladdr if ns.lladdr is not None else ns.eth_src
    return build_neighbor_advertisement(our_mac, our_ip, dst_mac, ns.src_ip, ns.target,
                                        NA_SOLICITED | NA_OVERRIDE, ns.vlan)


def parse_nd(frame: bytes) -> NdPacket | None:
    """An `NdPacket` from an Ethernet frame holding an NS or NA, else None.

    Checks what RFC 4861 §7.1 asks of a receiver that cheap code can: hop limit 255, ICMP code 0,
    length, checksum.  Extension headers before ICMPv6 are not followed.
    """
    if len(frame) < L.ETH_HLEN:
        return None
    et = int.from_bytes(frame[12:14], "big")
    off, vlan = L.ETH_HLEN, None
    if et in (L.ETHERTYPE_VLAN, L.ETHERTYPE_QINQ) and len(frame) >= 18:
        vlan = int.from_bytes(frame[14:16], "big") & 0x0FFF
        et = int.from_bytes(frame[16:18], "big")
        off += L.VLAN_TAG_LEN
    ip = frame[off:off + L.IPV6_HLEN]
    if et != L.ETHERTYPE_IPV6 or len(ip) < L.IPV6_HLEN or ip[0] >> 4 != 6:
        return None
    if ip[L.IP6_NXT] != L.IPPROTO_ICMPV6:
        return None
    plen = int.from_bytes(ip[4:6], "big")
    icmp = frame[off + L.IPV6_HLEN: off + L.IPV6_HLEN + plen]
    if len(icmp) < plen or plen < 24 or icmp[0] not in (L.ND_NEIGHBOR_SOLICIT,
                                                        L.ND_NEIGHBOR_ADVERT):
        return None
    src = int.from_bytes(ip[8:24], "big")
    dst = int.from_bytes(ip[24:40], "big")
    if ip[L.IP6_HLIM] != 255 or icmp[1] != 0:
        return None
    if internet_checksum(icmp, pseudo_sum6(src, dst, L.IPPROTO_ICMPV6, plen)) != 0:
        return None
    want = _ND_OPT_SRC_LLADDR if icmp[0] == L.ND_NEIGHBOR_SOLICIT else _ND_OPT_TGT_LLADDR
    lladdr = None
    pos = 24
    while pos + 2 <= len(icmp):
        olen = icmp[pos + 1] * 8
        if olen == 0 or pos + olen > len(icmp):
            return None  # RFC 4861: a zero-length option invalidates the message
        if icmp[pos] == want and olen >= 8:
            lladdr = bytes(icmp[pos + 2: pos + 8])
        pos += olen
    return NdPacket(type=icmp[0], src_ip=src, dst_ip=dst, target=int.from_bytes(icmp[8:24], "big"),
                    lladdr=lladdr, flags=icmp[4] if icmp[0] == L.ND_NEIGHBOR_ADVERT else 0,
                    eth_src=bytes(frame[6:12]), eth_dst=bytes(frame[0:6]),
                    hop_limit=ip[L.IP6_HLIM], vlan=vlan)
