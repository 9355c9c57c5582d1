"""In-memory tests of tidescanned's layers 2-4 (reference masscanned.md §2-§9), frames built by scapy."""

from __future__ import annotations

import pytest
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.inet6 import ICMPv6EchoReply, ICMPv6EchoRequest, ICMPv6ND_NA, ICMPv6ND_NS, ICMPv6NDOptDstLLAddr, IPv6
from scapy.layers.l2 import ARP, Dot1Q, Ether
from scapy.packet import Raw

from tidescan.responder.config import DEFAULT_MAC, AddressSet, ResponderConfig
from tidescan.responder.core import Responder
from tidescan.responder.synack_cookie import cookie_v4, cookie_v6

MAC = "52:1c:4e:c2:a4:1f"
CLIENT_MAC = "02:00:00:00:00:01"
ME4, ME6 = "10.0.0.1", "fd00::ab32:bdb8"
CL4, CL6 = "10.0.0.2", "fd00::1234:5678"


def make(selfs: tuple[str, ...] = (ME4, ME6), deny: tuple[str, ...] = (), **kw) -> Responder:
    cfg = ResponderConfig(mac=bytes.fromhex(MAC.replace(":", "")), self_ips=AddressSet.of(selfs),
                          deny_ips=AddressSet.of(deny), **kw)
    return Responder(cfg, clock=lambda: 1_700_000_000.0)


def ask(r: Responder, pkt) -> list[Ether]:
    return [Ether(f) for f in r.respond(bytes(pkt))]


def eth(dst: str = MAC) -> Ether:
    return Ether(dst=dst, src=CLIENT_MAC)


def ip4(dst: str = ME4, src: str = CL4) -> Ether:
    return eth() / IP(src=src, dst=dst, id=0x1337)


def ip6(dst: str = ME6, src: str = CL6) -> Ether:
    return eth() / IPv6(src=src, dst=dst)


def checksums_ok(p: Ether) -> bool:
    """Clear every checksum field, let scapy recompute them, compare with what we sent."""
    q = Ether(bytes(p))
    layer = q
    while layer:
        for name in ("chksum", "cksum"):
            if name in layer.fields:
                setattr(layer, name, None)
        layer = layer.payload if layer.payload else None
    return bytes(q) == bytes(p)


# ------------------------------------------------------------------------------------------ L2

def test_arp_request_for_handled_address_gets_is_at() -> None:
    r = make()
    (rep,) = ask(r, eth("ff:ff:ff:ff:ff:ff") / ARP(op=1, hwsrc=CLIENT_MAC, psrc=CL4, pdst=ME4))
    assert rep.dst == CLIENT_MAC and rep.src == MAC
    a = rep[ARP]
    assert (a.op, a.hwsrc, a.psrc, a.hwdst, a.pdst) == (2, MAC, ME4, CLIENT_MAC, CL4)
    assert len(bytes(rep)) == 42  # no padding


@pytest.mark.parametrize("pkt", [
    ARP(op=1, psrc=CL4, pdst="1.2.3.4"),        # other address
    ARP(op=2, psrc=CL4, pdst=ME4),              # reply, not a request
])
def test_arp_not_answered(pkt) -> None:
    assert ask(make(), eth("ff:ff:ff:ff:ff:ff") / pkt) == []


def test_arp_any_address_when_no_self_ip() -> None:
    (rep,) = ask(make(selfs=()), eth("ff:ff:ff:ff:ff:ff") / ARP(op=1, psrc=CL4, pdst="10.9.9.9"))
    assert rep[ARP].psrc == "10.9.9.9"


def test_truncated_arp_dropped() -> None:
    assert make().respond(bytes(eth("ff:ff:ff:ff:ff:ff") / ARP(pdst=ME4))[:30]) == []


@pytest.mark.parametrize("dst,answered", [
    (MAC, True), ("ff:ff:ff:ff:ff:ff", True), ("33:33:00:00:00:01", True),
    ("01:00:5e:00:00:01", True),          # RFC 1112 mapping of 10.0.0.1 (masscanned applies it)
    ("00:00:00:11:11:11", False), ("01:00:5e:00:00:02", False),
])
def test_l2_destination_filter(dst: str, answered: bool) -> None:
    reps = ask(make(), Ether(dst=dst, src=CLIENT_MAC) / IP(src=CL4, dst=ME4) / ICMP())
    assert bool(reps) == answered


def test_vlan_and_short_frames_dropped() -> None:
    r = make()
    assert ask(r, eth() / Dot1Q(vlan=5) / IP(src=CL4, dst=ME4) / ICMP()) == []
    for n in range(0, 15):
        assert r.respond(bytes(ip4() / ICMP())[:n]) == []
    assert r.internal_errors == 0


def test_default_mac_is_masscanneds() -> None:
    assert DEFAULT_MAC == bytes.fromhex("c0ffeec0ffee")


# ------------------------------------------------------------------------------------------ L3

def test_icmp_echo_reply_fields() -> None:
    (rep,) = ask(make(), ip4() / ICMP(type=8, code=0, id=77, seq=5) / b"payload-123")
    assert rep[IP].src == ME4 and rep[IP].dst == CL4
    assert (rep[IP].id, rep[IP].ttl, rep[IP].flags, rep[IP].tos, rep[IP].ihl) == (0, 64, 2, 0, 5)
    assert (rep[ICMP].type, rep[ICMP].code, rep[ICMP].id, rep[ICMP].seq) == (0, 0, 77, 5)
    assert rep[Raw].load == b"payload-123"
    assert checksums_ok(rep)


@pytest.mark.parametrize("icmp", [ICMP(type=8, code=1), ICMP(type=0), ICMP(type=13)])
def test_icmp_other_types_dropped(icmp) -> None:
    assert ask(make(), ip4() / icmp) == []


def test_ipv4_destination_and_deny_filters() -> None:
    r = make(deny=("10.0.0.66",))
    assert ask(r, ip4(dst="1.2.3.4") / ICMP()) == []
    assert ask(r, ip4(src="10.0.0.66") / ICMP()) == []
    assert ask(make(selfs=()), ip4(dst="1.2.3.4") / ICMP())[0][IP].src == "1.2.3.4"


def test_ipv4_options_not_echoed_and_padding_ignored() -> None:
    from scapy.layers.inet import IPOption_NOP
    pkt = eth() / IP(src=CL4, dst=ME4, options=[IPOption_NOP()] * 4) / ICMP() / b"x"
    (rep,) = ask(make(), pkt)
    assert rep[IP].ihl == 5 and rep[Raw].load == b"x"
    padded = bytes(ip4() / UDP(sport=1, dport=2) / b"SSH-2.0-x\r\n") + b"\x00" * 20
    (rep,) = ask(make(), Ether(padded))
    assert rep[Raw].load == b"SSH-2.0-1\r\n"


def test_ipv4_lying_lengths_never_raise() -> None:
    r = make()
    base = bytearray(bytes(ip4() / TCP(flags="S")))
    for total in (0, 1, 19, 20, 39, 40, 41, 65535):
        f = bytearray(base)
        f[16:18] = total.to_bytes(2, "big")
        r.respond(bytes(f))
    for ihl in range(16):
        f = bytearray(base)
        f[14] = 0x40 | ihl
        r.respond(bytes(f))
    assert r.internal_errors == 0


def test_multicast_destination_not_answered() -> None:
    r = make(selfs=())
    assert ask(r, ip4(dst="224.0.0.1") / ICMP()) == []
    assert ask(r, ip4(dst="255.255.255.255") / ICMP()) == []


def test_unhandled_ip_protocol_dropped() -> None:
    assert ask(make(), ip4() / Raw(b"\x00" * 8)) == []  # proto 0


def test_icmpv6_echo() -> None:
    (rep,) = ask(make(), ip6() / ICMPv6EchoRequest(id=3, seq=4, data=b"abc"))
    assert rep[IPv6].src == ME6 and rep[IPv6].dst == CL6 and rep[IPv6].hlim == 64
    e = rep[ICMPv6EchoReply]
    assert (e.code, e.id, e.seq, e.data) == (0, 3, 4, b"abc")
    assert checksums_ok(rep)


def test_icmpv6_echo_to_unhandled_destination_dropped() -> None:
    assert ask(make(), ip6(dst="fd00::9999") / ICMPv6EchoRequest()) == []


@pytest.mark.parametrize("l2dst", [MAC, "ff:ff:ff:ff:ff:ff", "33:33:00:00:00:01", "33:33:ff:32:bd:b8"])
def test_neighbor_solicitation(l2dst: str) -> None:
    pkt = Ether(dst=l2dst, src=CLIENT_MAC) / IPv6(src=CL6, dst="ff02::1:ff32:bdb8") / ICMPv6ND_NS(tgt=ME6)
    (rep,) = ask(make(), pkt)
    na = rep[ICMPv6ND_NA]
    assert (na.code, na.R, na.S, na.O, na.tgt) == (0, 0, 1, 1, ME6)
    assert rep[ICMPv6NDOptDstLLAddr].lladdr == MAC
    assert rep[IPv6].src == ME6 and rep[IPv6].dst == CL6 and rep[IPv6].hlim == 255
    assert checksums_ok(rep)


def test_neighbor_solicitation_other_target_and_truncated() -> None:
    r = make()
    assert ask(r, ip6(dst="ff02::1:ffbd:bdbd") / ICMPv6ND_NS(tgt="2020:4141:3030:2020::bdbd")) == []
    raw = bytes(ip6() / ICMPv6ND_NS(tgt=ME6))
    for cut in range(54, len(raw)):
        r.respond(raw[:cut])    # masscanned crashed on truncated NS
    assert r.internal_errors == 0


def test_dad_probe_answered_to_all_nodes() -> None:
    pkt = Ether(dst="33:33:ff:32:bd:b8", src=CLIENT_MAC) / IPv6(src="::", dst="ff02::1:ff32:bdb8") / ICMPv6ND_NS(tgt=ME6)
    (rep,) = ask(make(), pkt)
    assert rep.dst == "33:33:00:00:00:01" and rep[IPv6].dst == "ff02::1" and rep[ICMPv6ND_NA].S == 0


def test_nd_any_target_and_solicited_node_mac_when_no_self_ip() -> None:
    pkt = Ether(dst="33:33:ff:00:00:99", src=CLIENT_MAC) / IPv6(src=CL6, dst="ff02::1:ff00:99") / ICMPv6ND_NS(tgt="fd00::99")
    (rep,) = ask(make(selfs=()), pkt)
    assert rep[ICMPv6ND_NA].tgt == "fd00::99"


# ------------------------------------------------------------------------------------------ TCP

def synack(r: Responder, sport: int = 4242, dport: int = 80, seq: int = 1000, v6: bool = False) -> Ether:
    base = ip6() if v6 else ip4()
    (rep,) = ask(r, base / TCP(sport=sport, dport=dport, flags="S", seq=seq))
    return rep


def test_syn_any_port_gets_synack_with_cookie() -> None:
    r = make()
    for dport in (1, 22, 80, 443, 8080, 53228, 65535):
        rep = synack(r, dport=dport, seq=0xFFFFFFFF)
        t = rep[TCP]
        assert t.flags == "SA" and t.sport == dport and t.dport == 4242
        assert t.ack == 0  # seq + 1 wraps
        assert t.seq == cookie_v4(0x0A000002, 0x0A000001, 4242, dport)
        assert (t.window, t.dataofs, t.options, t.urgptr) == (65535, 5, [], 0)
        assert checksums_ok(rep)


def test_syn_cookie_ipv6_and_deterministic() -> None:
    r = make()
    a, b = synack(r, v6=True, seq=1), synack(r, v6=True, seq=999)
    import ipaddress
    want = cookie_v6(int(ipaddress.ip_address(CL6)), int(ipaddress.ip_address(ME6)), 4242, 80)
    assert a[TCP].seq == b[TCP].seq == want  # independent of the client ISN
    assert checksums_ok(a)


@pytest.mark.parametrize("flags,answered", [
    ("S", True), ("SP", True), ("SU", True), ("SC", True), ("SE", True), ("SPU", True), ("SPC", True),
    ("SPE", True), ("SPUC", True), ("SPUE", True),
    ("SA", False), ("SF", False), ("SR", False), ("SCE", False), ("SPUCE", False), ("P", False),
    ("", False), ("F", False), ("FPU", False), ("RA", False), ("A", False), ("R", False),
])
def test_tcp_flag_matrix(flags: str, answered: bool) -> None:
    reps = ask(make(), ip4() / TCP(sport=1, dport=2, flags=flags, seq=10, ack=0))
    assert bool(reps) == answered
    if answered:
        assert reps[0][TCP].flags == "SA"


def test_psh_ack_cookie_rules() -> None:
    r = make()
    assert ask(r, ip4() / TCP(sport=5000, dport=80, flags="PA", seq=1, ack=0) / b"x") == []  # bad cookie
    sa = synack(r, sport=5000)
    assert ask(r, ip4() / TCP(sport=5000, dport=80, flags="PA", seq=1001, ack=0) / b"x") == []
    (rep,) = ask(r, ip4() / TCP(sport=5000, dport=80, flags="PA", seq=1001, ack=sa[TCP].seq + 1) / b"hello")
    assert rep[TCP].flags == "A" and rep[TCP].seq == sa[TCP].seq + 1 and rep[TCP].ack == 1006
    assert Raw not in rep
    # the connection is known now: later segments are accepted whatever their ack number
    (rep,) = ask(r, ip4() / TCP(sport=5000, dport=80, flags="PA", seq=1006, ack=12345) / b"more")
    assert rep[TCP].flags == "A" and rep[TCP].seq == 12345 and rep[TCP].ack == 1010


def test_fin_ack_answered_rst_and_ack_ignored() -> None:
    r = make()
    (rep,) = ask(r, ip4() / TCP(sport=1, dport=2, flags="FA", seq=0xFFFFFFFF, ack=7654321))
    assert rep[TCP].flags == "FA" and rep[TCP].seq == 7654321 and rep[TCP].ack == 0
    assert ask(r, ip4() / TCP(flags="R")) == []
    assert ask(r, ip4() / TCP(flags="A", dport=80)) == []


def test_tcp_truncated_and_bad_offsets() -> None:
    r = make()
    raw = bytes(ip4() / TCP(flags="S"))
    for cut in range(34, len(raw)):
        assert r.respond(raw[:cut]) == []
    f = bytearray(raw)
    for off in range(16):
        f[46] = off << 4
        r.respond(bytes(f))
    assert r.internal_errors == 0


def test_udp_empty_and_unknown_payloads_dropped() -> None:
    r = make()
    assert ask(r, ip4() / UDP(sport=1, dport=2)) == []
    assert ask(r, ip6() / UDP(sport=1, dport=2)) == []
    assert ask(r, ip4() / UDP(sport=1, dport=2) / b"\x01garbage") == []


def test_greeting_on_handshake_ack_then_commands() -> None:
    r = make()
    sa = synack(r, sport=6000, dport=21)
    cookie = sa[TCP].seq
    (rep,) = ask(r, ip4() / TCP(sport=6000, dport=21, flags="A", seq=1001, ack=cookie + 1))
    assert rep[TCP].flags == "PA" and rep[Raw].load == b"220 (vsFTPd 3.0.3)\r\n"
    assert rep[TCP].seq == cookie + 1 and rep[TCP].ack == 1001
    (rep,) = ask(r, ip4() / TCP(sport=6000, dport=21, flags="PA", seq=1001, ack=cookie + 21) / b"USER anonymous\r\n")
    assert rep[Raw].load.startswith(b"331 ")
    # the ACK of our greeting does not greet again
    assert ask(r, ip4() / TCP(sport=6000, dport=21, flags="A", seq=1017, ack=cookie + 21)) == []
    # no greeting on other ports, nor when disabled
    sa = synack(r, sport=6001, dport=80)
    assert ask(r, ip4() / TCP(sport=6001, dport=80, flags="A", seq=1001, ack=sa[TCP].seq + 1)) == []
    r2 = make(greetings=False)
    sa = synack(r2, sport=6002, dport=25)
    assert ask(r2, ip4() / TCP(sport=6002, dport=25, flags="A", seq=1001, ack=sa[TCP].seq + 1)) == []


@pytest.mark.parametrize("port,prefix", [(21, b"220 "), (23, b"\xff\xfb\x01"), (25, b"220 "), (587, b"220 "),
                                         (110, b"+OK"), (143, b"* OK")])
def test_every_greeting_port(port: int, prefix: bytes) -> None:
    r = make()
    sa = synack(r, sport=7000, dport=port, v6=True)
    (rep,) = ask(r, ip6() / TCP(sport=7000, dport=port, flags="A", seq=1001, ack=sa[TCP].seq + 1))
    assert rep[Raw].load.startswith(prefix)


def test_tcb_table_is_bounded() -> None:
    r = make(max_tcbs=8)
    for sport in range(1000, 1100):
        sa = synack(r, sport=sport)
        ask(r, ip4() / TCP(sport=sport, dport=80, flags="PA", seq=1001, ack=sa[TCP].seq + 1) / b"x")
    assert len(r.tcbs) == 8
