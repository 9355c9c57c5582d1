"""Our own ARP (IPv4) and neighbour solicitation (IPv6) for the router's MAC address.

Why this module exists: the scanner sends Ethernet frames, so it needs the router's MAC before the
first probe.  The kernel's neighbour table is only a hint (it may be empty or stale, and the kernel
resolves with *its* address): like masscan (seed 001), we ask ourselves, from the source IP and MAC
the scan will use, which may be an address the operating system does not own.  The router then
also learns where that address lives, so its replies to our probes find us.

How: a packet socket on the interface, with a BPF filter that lets only the expected answer in
(an ARP reply from the router's IP to our IP; a neighbour advertisement for the router's IPv6
address), is opened *before* the request goes out, so no answer can be missed.  The request is
sent up to `retries` times, waiting `timeout` seconds for an answer after each.  The frames come
from `tidescan.packets.arp` / `tidescan.packets.nd` (sans-IO); this module only does the I/O.
If the chosen MAC is not the interface's own, set `promisc=True` so the unicast answer to it is
not filtered out by the network card.
"""

from __future__ import annotations

import contextlib
import ipaddress
import select
import socket
import time
from collections.abc import Callable

from ..errors import EnvironmentProblem
from ..packets.arp import build_arp_request, parse_arp
from . import bpf, linux
from .afpacket import bind_interface, close_soon, open_packet_socket


def _listener(ifname: str, prog: list[bpf.Insn], protocol: int, promisc: bool) -> socket.socket:
    sock = open_packet_socket(0)  # receives nothing until bound
    try:
        with contextlib.suppress(OSError):  # kernels before 4.20; the filter drops requests anyway
            sock.setsockopt(linux.SOL_PACKET, linux.PACKET_IGNORE_OUTGOING, 1)
        bpf.attach(sock, prog)
        bind_interface(sock, ifname, protocol)
        if promisc:
            mreq = linux.PACKET_MREQ.pack(socket.if_nametoindex(ifname), linux.PACKET_MR_PROMISC, 0, b"")
            sock.setsockopt(linux.SOL_PACKET, linux.PACKET_ADD_MEMBERSHIP, mreq)
    except BaseException:
        sock.close()
        raise
    return sock


def _ask(sock: socket.socket, request: bytes, answer: Callable[[bytes], bytes | None],
         timeout: float, retries: int) -> tuple[bytes | None, int]:
    """Send `request` up to `retries` times; return (the first answer, tries used)."""
    poller = select.poll()
    poller.register(sock.fileno(), select.POLLIN)
    tries = 0
    for tries in range(1, max(1, retries) + 1):
        sock.send(request)
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            if not poller.poll(max(1, int(left * 1000))):
                continue
            mac = answer(sock.recv(65535))
            if mac is not None:
                return mac, tries
    return None, tries


def arp_resolve(ifname: str, src_mac: bytes, src_ip: int, target_ip: int, timeout: float = 1.0,
                retries: int = 3, *, promisc: bool = False) -> bytes:
    """MAC of `target_ip`, asked by ARP "who has target_ip? tell src_ip (at src_mac)".

    `retries` is the number of requests sent (each followed by up to `timeout` seconds of
    listening).  Raises EnvironmentProblem naming `--router-mac` if nothing answers.
    """
    request = build_arp_request(src_mac, src_ip, target_ip)

    def answer(frame: bytes) -> bytes | None:
        pkt = parse_arp(frame)
        if pkt and pkt.op == 2 and pkt.sender_ip == target_ip and pkt.target_ip == src_ip:
            return pkt.sender_mac
        return None

    sock = _listener(ifname, bpf.arp_reply_filter(target_ip, src_ip), linux.ETH_P_ARP, promisc)
    try:
        mac, tries = _ask(sock, request, answer, timeout, retries)
    finally:
        close_soon(sock)  # its close waits ~10 ms in the kernel: not on the way to the first probe
    if mac is None:
        raise EnvironmentProblem(f"ARP timed out for router {ipaddress.IPv4Address(target_ip)} on "
                                 f"{ifname} after {tries} tries; give --router-mac")
    return mac


def nd_resolve(ifname: str, src_mac: bytes, src_ip6: int, target_ip6: int, timeout: float = 1.0,
               retries: int = 3, *, promisc: bool = False) -> bytes:
    """MAC of IPv6 `target_ip6`, asked by a neighbour solicitation to its solicited-node group.

    The answer's target link-layer address option gives the MAC (its Ethernet source if the
    option is missing).  Raises EnvironmentProblem naming `--router-mac` if nothing answers.
    """
    from ..packets.nd import build_neighbor_solicitation, parse_nd  # IPv6 only: not on an IPv4 start

    request = build_neighbor_solicitation(src_mac, src_ip6, target_ip6)

    def answer(frame: bytes) -> bytes | None:
        pkt = parse_nd(frame)
        if pkt and pkt.type == 136 and pkt.target == target_ip6:
            return pkt.lladdr if pkt.lladdr is not None else pkt.eth_src
        return None

    sock = _listener(ifname, bpf.na_filter(target_ip6), linux.ETH_P_IPV6, promisc)
    try:
        mac, tries = _ask(sock, request, answer, timeout, retries)
    finally:
        close_soon(sock)  # its close waits ~10 ms in the kernel: not on the way to the first probe
    if mac is None:
        raise EnvironmentProblem(f"neighbour solicitation timed out for router "
                                 f"{ipaddress.IPv6Address(target_ip6)} on {ifname} after {tries} "
                                 "tries; give --router-mac")
    return mac
