"""The scan's receive ring: which frames the kernel lets through, how big it is, opened early.

Why its own module: the ring must exist before the first probe leaves (a reply that arrives
before it does is lost), and creating it is mostly waiting in the kernel (an RCU grace period and
a 32 MiB allocation: 15 - 25 ms on an idle machine, up to ~0.2 s measured on a busy one).  So the
CLI starts it in a background thread as soon as the scanner's identity is known and imports the
scan loops meanwhile (`open_ring(..., background=True)`); `scan.open_receive_side` takes it over.
This module therefore imports only the wire layer, never the scan.
"""

from __future__ import annotations

from tidescan.config_model import ScanConfig
from tidescan.identity import Identity
from tidescan.wire.afpacket import PendingRxRing, RxRing
from tidescan.wire.bpf import scanner_filter

# 128 x 256 KiB (32 MiB): > 0.5 s of answers at 400 k/s, set up in ~25 ms.  Blocks retire after
# 10 ms when traffic is thin, so each receive pass carries a worthwhile batch.
BLOCK_SIZE = 1 << 18
BLOCK_COUNT = 128
RETIRE_MS = 10


def open_ring(cfg: ScanConfig, ident: Identity, *,
              background: bool = False) -> RxRing | PendingRxRing:
    """The RX ring on the scan's interface with the scanner's kernel filter (only frames addressed
    to us reach Python); with `background`, a `PendingRxRing` whose `result()` is that ring."""
    if ident.ifname is None:
        raise ValueError("no receive ring with --offline")
    # RSTs are ~97 % of replies when targets answer; unless closed ports are shown or the banner
    # stack needs them, the kernel drops them before they reach the ring.
    drop_rst = "closed" not in cfg.show and not cfg.banners
    bpf = scanner_filter([(ident.src_ip_first, ident.src_ip_last)], ident.src_ip6,
                         ident.src_port_first, ident.src_port_last, drop_rst=drop_rst)
    if background:
        return PendingRxRing(ident.ifname, bpf=bpf, block_size=BLOCK_SIZE, block_count=BLOCK_COUNT,
                             retire_ms=RETIRE_MS)
    return RxRing(ident.ifname, bpf=bpf, block_size=BLOCK_SIZE, block_count=BLOCK_COUNT,
                  retire_ms=RETIRE_MS)
