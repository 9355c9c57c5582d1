"""ARP frames, one at a time: asking for the router's MAC, and answering for our source IPs.

Why this module exists: a scanner that sends from an IPv4 address the kernel does not own (masscan's
`--source-ip`) must answer ARP requests for that address itself, or the replies to its probes never
reach it; and before scanning it must learn the router's MAC with its own ARP request.  These are a
few frames per scan, so they are built and parsed with plain `bytes` (sans-IO: no sockets here);
the batch ARP *scan* (`--arp`) lives in `tidescan.probes.arp`.  Received ARP frames are first
recognised in bulk by `tidescan.packets.triage`; `parse_arp` turns one of them into an `ArpPacket`.

Frames are 42 bytes (46 with a VLAN tag), not padded to the 60-byte Ethernet minimum: the NIC or
the veth driver pads, and the kernel accepts them as they are.
"""

from __future__ import annotations

from dataclasses import dataclass

from tidescan.packets import layout as L

__all__ = ["ArpPacket", "build_arp_request", "build_arp_reply", "reply_to", "parse_arp"]

_ARP_FIXED = (1).to_bytes(2, "big") + L.ETHERTYPE_IPV4.to_bytes(2, "big") + bytes([6, 4])


@dataclass(frozen=True, slots=True)
class ArpPacket:
    """One parsed ARP packet (IPv4 over Ethernet). Addresses: MACs as 6 bytes, IPs as integers."""

    op: int
    sender_mac: bytes
    sender_ip: int
    target_mac: bytes
    target_ip: int
    eth_src: bytes
    eth_dst: bytes
    vlan: int | None = None


def _arp(op: int, eth_dst: bytes, sha: bytes, spa: int, tha: bytes, tpa: int,
         vlan: int | None) -> bytes:
    return (L.eth_header(eth_dst, sha, L.ETHERTYPE_ARP, vlan) + _ARP_FIXED + op.to_bytes(2, "big")
            + sha + (spa & 0xFFFFFFFF).to_bytes(4, "big")
            + tha + (tpa & 0xFFFFFFFF).to_bytes(4, "big"))


def build_arp_request(src_mac: bytes | str, src_ip: int, target_ip: int,
                      vlan: int | None = None) -> bytes:
    """Broadcast "who has `target_ip`? tell `src_ip`" (target MAC field zero)."""
    return _arp(L.ARP_REQUEST, L.BROADCAST_MAC, L.mac_bytes(src_mac), src_ip, bytes(6), target_ip,
                vlan)


def build_arp_reply(src_mac: bytes | str, src_ip: int, dst_mac: bytes | str, dst_ip: int,
                    vlan: int | None = None) -> bytes:
    """Unicast "`src_ip` is at `src_mac`" to the asker (`dst_mac`, `dst_ip`)."""
    dst = L.mac_bytes(dst_mac)
    return _arp(L.ARP_REPLY, dst, L.mac_bytes(src_mac), src_ip, dst, dst_ip, vlan)


def reply_to(request: ArpPacket, our_mac: bytes | str) -> bytes:
    """The reply to a request for one of our addresses (same VLAN as the request)."""
    return build_arp_reply(our_mac, request.target_ip, request.sender_mac, request.sender_ip,
                           request.vlan)


def parse_arp(frame: bytes) -> ArpPacket | None:
    """An `ArpPacket` from an Ethernet frame, or None if it is not a complete IPv4/Ethernet ARP."""
    if len(frame) < L.ETH_HLEN:
        return None
    et = int.from_bytes(frame[12:14], "big")
    off, vlan = L.ETH_HLEN, None
    if et in (L.ETHERTYPE_VLAN, L.ETHERTYPE_QINQ):
        if len(frame) < L.ETH_HLEN + L.VLAN_TAG_LEN:
            return None
        vlan = int.from_bytes(frame[14:16], "big") & 0x0FFF
        et = int.from_bytes(frame[16:18], "big")
        off += L.VLAN_TAG_LEN
    a = frame[off:off + L.ARP_LEN]
    if et != L.ETHERTYPE_ARP or len(a) < L.ARP_LEN or a[:6] != _ARP_FIXED:
        return None
    return ArpPacket(op=int.from_bytes(a[6:8], "big"), sender_mac=bytes(a[8:14]),
                     sender_ip=int.from_bytes(a[14:18], "big"), target_mac=bytes(a[18:24]),
                     target_ip=int.from_bytes(a[24:28], "big"), eth_src=bytes(frame[6:12]),
                     eth_dst=bytes(frame[0:6]), vlan=vlan)
