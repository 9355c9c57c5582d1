"""TCP SYN scan: the probe kind that finds open and closed TCP ports.

Why this module exists: it ties the SYN frame builder (`tidescan.packets.template.SynTemplate`)
to the probe interface and holds the rule that decides which received frames answer our SYNs
(masscan §6, ZMap `module_tcp_synscan.c`):

- a SYN-ACK or a RST addressed to one of our IPs and source ports, whose `ack - 1` equals the
  cookie recomputed from the reply's tuple (them = the reply's source): SYN-ACK -> open,
  RST -> closed, reason = the TCP flags byte;
- an ICMP port-unreachable (v4 type 3 code 3, v6 type 1 code 4) quoting a TCP segment we sent:
  the quoted sequence number must be the cookie of the quoted tuple; -> closed for the quoted
  destination.  (masscan reports these without the sequence check.)

Everything is vectorized over the block; cookies are recomputed only for candidate rows.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from tidescan.packets import layout as L
from tidescan.packets.template import SynTemplate
from tidescan.packets.triage import Parsed
from tidescan.probes.base import (CLOSED, OPEN, Ours, Probe, Replies, Targets4, Targets6,
                                  cookie_seq4, cookie_seq6)

__all__ = ["TcpSynProbe", "unreachable_quoting"]


def unreachable_quoting(p: Parsed, ours: Ours, proto: int) -> NDArray[np.bool_]:
    """Mask: ICMP port-unreachable errors quoting a `proto` datagram we sent."""
    port_unreach = ((p.is_icmp4 & (p.icmp_type == L.ICMP_UNREACH)
                     & (p.icmp_code == L.ICMP_UNREACH_PORT))
                    | (p.is_icmp6 & (p.icmp_type == L.ICMP6_UNREACH)
                       & (p.icmp_code == L.ICMP6_UNREACH_PORT)))
    return port_unreach & (p.inner_proto == proto) & ours.to_us(p) & ours.quoted_from_us(p)


def _seq_matches(p: Parsed, rows: NDArray[np.intp], value: NDArray[np.uint32], entropy: int,
                 quoted: bool) -> NDArray[np.bool_]:
    """value[i] == cookie of row i's tuple (the reply's own tuple, or the quoted one)."""
    if quoted:  # quoted datagram: we are its source, the target its destination
        them4, me4 = p.inner_dst4[rows], p.inner_src4[rows]
        th, tl = p.inner_dst6_hi[rows], p.inner_dst6_lo[rows]
        mh, ml = p.inner_src6_hi[rows], p.inner_src6_lo[rows]
        pt, pm = p.inner_dport[rows], p.inner_sport[rows]
    else:
        them4, me4 = p.src4[rows], p.dst4[rows]
        th, tl, mh, ml = p.src6_hi[rows], p.src6_lo[rows], p.dst6_hi[rows], p.dst6_lo[rows]
        pt, pm = p.sport[rows], p.dport[rows]
    v6 = p.is_ip6[rows]
    want = np.zeros(len(rows), dtype=np.uint32)
    if (~v6).any():
        i = ~v6
        want[i] = cookie_seq4(them4[i], pt[i], me4[i], pm[i], entropy)
    if v6.any():
        want[v6] = cookie_seq6(th[v6], tl[v6], pt[v6], mh[v6], ml[v6], pm[v6], entropy)
    return value == want


class TcpSynProbe(Probe):
    """SYN probes built from a `SynTemplate` (MACs, TTL, window, options, VLAN)."""

    name = "tcp_syn"

    def __init__(self, template: SynTemplate) -> None:
        self.template = template

    def frame_len(self, version: int) -> int:
        return self.template.frame_len_v4 if version == 4 else self.template.frame_len_v6

    def prepare(self, out: NDArray[np.uint8], version: int) -> None:
        if version == 4:
            self.template.prepare_v4(out)
        else:
            self.template.prepare_v6(out)

    def build(self, out: NDArray[np.uint8], targets: Targets4 | Targets6) -> NDArray[np.int32]:
        t = targets
        if isinstance(t, Targets4):
            n = self.template.build_v4(out, t.ip_them, t.port_them, t.ip_me, t.port_me, t.seq)
            return np.full(n, self.template.frame_len_v4, dtype=np.int32)
        n = self.template.build_v6(out, t.them_hi, t.them_lo, t.port_them, t.me_hi, t.me_lo,
                                   t.port_me, t.seq)
        return np.full(n, self.template.frame_len_v6, dtype=np.int32)

    def classify(self, parsed: Parsed, entropy: int, ours: Ours) -> Replies:
        p = parsed
        flags = p.tcp_flags
        synack = (flags & (L.TCP_SYN | L.TCP_ACK_FLAG)) == (L.TCP_SYN | L.TCP_ACK_FLAG)
        rst = (flags & L.TCP_RST) != 0
        rows = np.flatnonzero(p.is_tcp & (synack | rst) & ours.to_us(p) & ours.port(p.dport))
        parts = []
        if rows.size:
            ok = _seq_matches(p, rows, p.ack[rows] - np.uint32(1), entropy, quoted=False)
            rows = rows[ok]
            status = np.where(rst[rows], CLOSED, OPEN)
            parts.append(Replies.of(p, rows, status, p.sport[rows], p.tcp_flags[rows]))
        icmp = np.flatnonzero(unreachable_quoting(p, ours, L.IPPROTO_TCP))
        if icmp.size:
            icmp = icmp[_seq_matches(p, icmp, p.inner_seq[icmp], entropy, quoted=True)]
            parts.append(Replies.of(p, icmp, CLOSED, p.inner_dport[icmp], quoted=True))
        return Replies.concat(parts)
