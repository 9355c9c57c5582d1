"""The per-frame context that travels down the layers (masscanned's `ClientInfo`).

Why this exists: each layer learns one part of "who is talking to whom" (MACs, addresses, ports)
and the protocol handlers need all of it (STUN reports the client's address, DNS answers with the
address the query was sent to, RPC GETADDR formats the local address and port).  Layers fill a
`Ctx` as they parse; replies are built from it on the way back up.  The `reply_*` fields let an
inner layer change how the outer layers address the reply (a Neighbor Advertisement's source is the
solicited target; STUN's change-port answers from `dport + 1`; a DAD probe is answered to the
all-nodes group).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass


@dataclass(slots=True)
class Ctx:
    """What is known about the frame being answered."""

    now: float
    src_mac: bytes = b""
    dst_mac: bytes = b""
    ethertype: int = 0
    ip_version: int = 0
    ip_src: bytes = b""          # raw 4 or 16 bytes (the client)
    ip_dst: bytes = b""          # raw 4 or 16 bytes (the responder address that was asked)
    transport: str = ""          # "tcp", "udp", "icmp", "icmp6", "arp"
    sport: int = 0               # client port
    dport: int = 0               # responder port
    reply_sport: int | None = None      # None: answer from dport
    reply_ip_src: bytes | None = None   # None: answer from ip_dst
    reply_ip_dst: bytes | None = None   # None: answer to ip_src
    reply_mac_dst: bytes | None = None  # None: answer to src_mac
    reply_hop_limit: int = 64
    note: str = ""                      # what was answered (for the packet log)
    drop: str = ""                      # why nothing was answered (for the packet log)

    @property
    def src_int(self) -> int:
        return int.from_bytes(self.ip_src, "big")

    @property
    def dst_int(self) -> int:
        return int.from_bytes(self.ip_dst, "big")

    @property
    def dst_text(self) -> str:
        return str(ipaddress.ip_address(self.ip_dst)) if self.ip_dst else ""

    @property
    def src_text(self) -> str:
        return str(ipaddress.ip_address(self.ip_src)) if self.ip_src else ""
