"""ARP scan (masscan `--arp`): which addresses of the local segment are in use, and by which MAC.

Why this module exists: on the local link, an ARP request gets an answer even from hosts that
drop every IP probe.  Each probe is a broadcast "who has ip_them? tell ip_me" (42 bytes: Ethernet
to ff:ff:ff:ff:ff:ff, ARP request with our MAC as sender and a zero target MAC, as in masscan's
template); only the sender and target IP columns change per target.  ARP carries no cookie: a
reply is valid when it is an ARP reply (op 2) addressed to one of our IPv4 addresses; status
"up", port 196610 (internal ARP port; masscan prints `up port 0/arp`), the MAC is the reply's
sender hardware address (`Parsed.arp_sha`).  IPv4 only.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from tidescan.packets import layout as L
from tidescan.packets.triage import Parsed
from tidescan.probes.base import ARP_PORT, UP, Ours, Probe, Replies, Targets4, Targets6

__all__ = ["ArpProbe"]


class ArpProbe(Probe):
    """Broadcast ARP requests for a batch of target IPv4 addresses."""

    name = "arp"

    def __init__(self, src_mac: bytes | str, vlan: int | None = None) -> None:
        mac = L.mac_bytes(src_mac)
        self.l3 = L.ETH_HLEN + (L.VLAN_TAG_LEN if vlan is not None else 0)
        arp = (b"\x00\x01\x08\x00\x06\x04" + L.ARP_REQUEST.to_bytes(2, "big")
               + mac + bytes(4) + bytes(6) + bytes(4))
        self._tmpl = np.frombuffer(
            L.eth_header(L.BROADCAST_MAC, mac, L.ETHERTYPE_ARP, vlan) + arp, np.uint8)

    def frame_len(self, version: int) -> int:
        return len(self._tmpl)

    def prepare(self, out: NDArray[np.uint8], version: int = 4) -> None:
        L.check_buffer(out, 0, len(self._tmpl))
        out[:, :len(self._tmpl)] = self._tmpl

    def seq4(self, ip_them: ArrayLike, port_them: ArrayLike, ip_me: ArrayLike,
             port_me: ArrayLike, entropy: int) -> NDArray[np.uint32]:
        """ARP has no cookie field."""
        return np.zeros(L.batch_size(ip_them, port_them, ip_me, port_me), dtype=np.uint32)

    def build(self, out: NDArray[np.uint8], targets: Targets4 | Targets6) -> NDArray[np.int32]:
        if isinstance(targets, Targets6):
            raise ValueError("ARP scan is IPv4 only")
        t = targets
        n = L.batch_size(t.ip_them, t.ip_me)
        L.check_buffer(out, n, len(self._tmpl))
        sha = slice(self.l3 + L.ARP_SHA, self.l3 + L.ARP_SPA)
        if n and not (np.array_equal(out[0, sha], self._tmpl[sha])
                      and np.array_equal(out[n - 1, :self.l3], self._tmpl[:self.l3])):
            self.prepare(out)
        o = out[:n]
        L.put_u32(o, self.l3 + L.ARP_SPA, L.u32_array(t.ip_me))
        L.put_u32(o, self.l3 + L.ARP_TPA, L.u32_array(t.ip_them))
        return np.full(n, len(self._tmpl), dtype=np.int32)

    def classify(self, parsed: Parsed, entropy: int, ours: Ours) -> Replies:
        p = parsed
        tpa = p.arp_tpa
        rows = np.flatnonzero(p.is_arp & (p.arp_op == L.ARP_REPLY)
                              & (tpa >= ours.ip4_first) & (tpa <= ours.ip4_last))
        r = Replies.of(p, rows, UP, ARP_PORT)
        r.ip4 = p.arp_spa[rows]
        return r
