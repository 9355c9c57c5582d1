"""RST segments for whole batches: how the scanner lets go of a half-open connection.

Why: after a SYN-ACK, masscan sends a RST (seq = the target's ack, ack = 0) so the target frees
its half-open connection at once instead of retransmitting SYN-ACKs for a minute.  At high rates
there are thousands of these a second, so they are built exactly like the SYNs: one template, the
per-target fields and checksums written with NumPy, one `sendmmsg` per batch.

The segment is the SYN template with other flags and no options, so every checksum shortcut of
`SynTemplate` applies unchanged.
"""

from __future__ import annotations

from tidescan.packets import layout as L
from tidescan.packets.template import SynTemplate


class RstTemplate(SynTemplate):
    """Ethernet/IP/TCP segments with `flags` (default RST) and no TCP options.

    `build_v4(out, ip_them, port_them, ip_me, port_me, seq)` writes them; `seq` is the value the
    target expects next (its SYN-ACK's ack field).
    """

    def __init__(self, src_mac: bytes | str, dst_mac: bytes | str, ttl: int = 255,
                 vlan: int | None = None, flags: int = L.TCP_RST, window: int = 0) -> None:
        self.flags = flags
        super().__init__(src_mac, dst_mac, ttl=ttl, window=window, mss=None, vlan=vlan)

    def _tcp_header(self) -> bytes:
        off_flags = ((self.tcp_len // 4) << 12) | self.flags
        return (bytes(12) + off_flags.to_bytes(2, "big") + self.window.to_bytes(2, "big")
                + bytes(4) + self.options)
