"""The transmit loop and the receive loop: read this file first.

Theory of operation (masscan's, in batches).  There is no record of what was sent.  A sender
process walks the scan space in BlackRock order, and for every probe writes into the packet a
cookie (SipHash of the 4-tuple and the seed).  The receive loop, in another process, looks at
every frame addressed to us, recomputes the cookie from the frame's own addresses and ports, and
believes the frame is an answer to us exactly when the cookie matches.  Transmit and receive share
nothing but the seed, which is what makes the scan stateless, shardable and resumable.

Python pays for every bytecode, so nothing here runs per packet.  Each step of both loops handles a
*batch*: thousands of indexes are shuffled, picked, hashed and written into a preallocated frame
buffer with NumPy, then one `sendmmsg` hands the batch to the kernel; a whole RX-ring block is
triaged and cookie-checked with array operations.  Only rare frames (ARP and ND for our source
address) get a per-frame Python path.

Processes:
  * the main process runs `receive_loop` (it owns the outputs, the status line and Ctrl-C);
  * `senders` child processes each run `transmit_loop` on a disjoint sub-shard (order.Schedule),
    each throttled to rate/senders, reporting progress through shared counters (`Shared`).

The two loops below are deliberately flat: numbered steps, top to bottom.
"""

from __future__ import annotations

import ctypes
import multiprocessing as mp
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from multiprocessing.sharedctypes import RawArray, RawValue
from typing import Any

import numpy as np

from tidescan import order, siphash
from tidescan.blackrock import BlackRock
from tidescan.config_model import ScanConfig
from tidescan.dedup import Dedup
from tidescan.identity import Identity
from tidescan.output.base import OutputMeta, Writer
from tidescan.output.batch import StatusBatch
from tidescan.packets.template import SynTemplate
from tidescan.packets.triage import parse_frames
from tidescan.probes.arp import ArpProbe
from tidescan.probes.base import Ours, Probe, Replies, Targets4, Targets6
from tidescan.probes.icmp_echo import IcmpEchoProbe
from tidescan.probes.tcp_syn import TcpSynProbe
from tidescan.probes.udp import UdpProbe
from tidescan.status import Status, StatusSample
from tidescan.targets import TargetSet
from tidescan.throttle import Throttle

MAX_BATCH = 16384           # probes generated per step (sent in sendmmsg calls of <= 1024)
SRC_SALT = 0x5352435F504F5254  # separates the source-choice hash from the cookie hash

# Kinds of probe, by internal port number (masscan's encoding; see tidescan.ports).
KIND_TCP, KIND_UDP, KIND_SCTP, KIND_ICMP, KIND_ARP, KIND_OTHER = range(6)


def kind_of(port: np.ndarray) -> np.ndarray:
    """Vectorized: which probe kind each internal port number needs."""
    k = np.full(port.shape, KIND_OTHER, dtype=np.uint8)
    k[port < 65536] = KIND_TCP
    k[(port >= 65536) & (port < 131072)] = KIND_UDP
    k[(port >= 131072) & (port < 196608)] = KIND_SCTP
    k[port == 196608] = KIND_ICMP
    k[port == 196610] = KIND_ARP
    return k


@dataclass
class Plan:
    """Everything both loops need, decided once in the parent before the senders fork."""

    cfg: ScanConfig
    targets: TargetSet
    identity: Identity
    seed: int
    senders: int
    gap: int
    probes: dict[int, Probe] = field(default_factory=dict)
    probes6: dict[int, Probe] = field(default_factory=dict)  # same kinds, framed for the IPv6 router
    start_wall: float = field(default_factory=time.time)

    @property
    def range_(self) -> int:
        return self.targets.range_

    def schedule(self, sender: int) -> order.Schedule:
        cfg = self.cfg
        return order.Schedule(self.range_, retries=cfg.retries, gap=self.gap, shard=cfg.shard,
                              senders=self.senders, sender=sender,
                              resume_index=cfg.resume_index, resume_count=cfg.resume_count)

    def total_probes(self) -> int:
        return sum(self.schedule(s).total_probes for s in range(self.senders))

    def ours(self) -> Ours:
        ident = self.identity
        return Ours(ident.src_ip_first, ident.src_ip_last, ident.src_ip6,
                    ident.src_port_first, ident.src_port_last)


def choose_seed(cfg: ScanConfig) -> int:
    """masscan: an unset or zero seed means a random one."""
    if cfg.seed:
        return int(cfg.seed) & 0xFFFFFFFFFFFFFFFF
    return int.from_bytes(os.urandom(8), "little") or 1  # (secrets would load OpenSSL: ~4 ms)


NICE_ABOVE_PPS = 100_000    # live senders run at nice 10 above this --rate


def choose_senders(cfg: ScanConfig) -> int:
    """One sender up to 300 kpps; above, one per core (at most 4).  Fast live senders run at nice 10,
    so the receiver still wins a contended core (measured: 2 senders + receiver on 2 cores found
    100 % of the answers in every run, docs/benchmarks.md)."""
    if cfg.senders:
        return max(1, int(cfg.senders))
    if cfg.rate <= 300_000:
        return 1
    return max(1, min(os.cpu_count() or 1, 4))


def make_probes(cfg: ScanConfig, ident: Identity, router_mac: bytes | None = None) -> dict[int, Probe]:
    """One probe object per kind, built from the configured template options; frames go to
    `router_mac` (default: the IPv4 router's)."""
    mac = router_mac or ident.router_mac
    tmpl = SynTemplate(ident.src_mac, mac, ttl=cfg.ttl, mss=cfg.tcp_mss,
                       wscale=cfg.tcp_wscale, sackok=cfg.tcp_sackok, tsecho=cfg.tcp_tsecho,
                       vlan=cfg.vlan)
    return {
        KIND_TCP: TcpSynProbe(tmpl),
        KIND_UDP: UdpProbe(ident.src_mac, mac, ttl=cfg.ttl, vlan=cfg.vlan),
        KIND_ICMP: IcmpEchoProbe(ident.src_mac, mac, ttl=cfg.ttl, vlan=cfg.vlan),
        KIND_ARP: ArpProbe(ident.src_mac, vlan=cfg.vlan),
    }


def make_plan(cfg: ScanConfig, targets: TargetSet, ident: Identity) -> Plan:
    seed = choose_seed(cfg)
    senders = choose_senders(cfg)
    # Retry copies go ~retry_interval apart: a step carries retries+1 probes (order.py).
    per_sender = cfg.rate / senders
    gap = max(1, int(cfg.retry_interval * per_sender / (cfg.retries + 1)))
    plan = Plan(cfg, targets, ident, seed, senders, gap)
    # Only the kinds this scan sends: their classifiers are the only ones the receiver runs
    # (an ARP reply is a result in an ARP scan, and noise in a SYN scan).
    ports = targets.ports
    present = {KIND_TCP: ports.has_tcp, KIND_UDP: ports.has_udp,
               KIND_ICMP: ports.has_icmp, KIND_ARP: ports.has_arp}
    plan.probes = {k: p for k, p in make_probes(cfg, ident).items() if present.get(k)}
    if targets.n6:  # IPv6 frames go to the IPv6 router (NDP / --router-mac-ipv6), not the IPv4 one
        plan.probes6 = {k: p for k, p in make_probes(cfg, ident, ident.router_mac6).items()
                        if k in plan.probes and k != KIND_ARP}
    return plan


class Shared:
    """Counters the senders publish and the receiver reads (no locks: one writer per slot)."""

    def __init__(self, senders: int) -> None:
        self.sent = RawArray(ctypes.c_uint64, senders)   # probes sent
        self.steps = RawArray(ctypes.c_uint64, senders)  # schedule steps completed
        self.done = RawArray(ctypes.c_uint8, senders)    # 1 when a sender has finished
        self.stop = RawValue(ctypes.c_uint8, 0)           # set by the receiver on Ctrl-C
        self.errors = RawArray(ctypes.c_char, 512)         # first sender error, as text

    def total_sent(self) -> int:
        return int(sum(self.sent))

    def all_done(self) -> bool:
        return all(self.done)


class NullSink:
    """--offline: frames are built exactly as for the wire, then dropped here."""

    def send(self, frames: np.ndarray, lengths: np.ndarray | int) -> int:
        return len(frames)

    def close(self) -> None:
        pass


def single_kind(targets: TargetSet) -> int | None:
    """The probe kind of every target when there is exactly one and all targets are IPv4 (then
    the transmit loop needs no per-kind or per-version grouping); else None."""
    ports = targets.ports
    if targets.n6 or ports.count == 0:
        return None
    lo, hi = kind_of(np.array([ports.starts[0], ports.ends[-1]], dtype=np.uint64)).tolist()
    if lo != hi or (lo not in (KIND_TCP, KIND_UDP, KIND_SCTP) and ports.count != 1):
        return None
    return lo


def source_choice(idx: np.ndarray, ident: Identity, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-probe source IP and port from a hash of the index (power-of-two ranges, masscan-style)."""
    if ident.src_ip_count == 1 and ident.src_port_count == 1:
        return (np.full(idx.shape, ident.src_ip_first, np.uint64),
                np.full(idx.shape, ident.src_port_first, np.uint64))
    h = siphash.cookie4_array(idx & np.uint64(0xFFFFFFFF), idx >> np.uint64(32), 0, 0, seed ^ SRC_SALT)
    port = np.uint64(ident.src_port_first) + (h & np.uint64(ident.src_port_count - 1))
    ip = np.uint64(ident.src_ip_first) + ((h >> np.uint64(16)) & np.uint64(ident.src_ip_count - 1))
    return ip, port


# ================================================================================================
# TRANSMIT
# ================================================================================================

def transmit_loop(plan: Plan, sender_id: int, shared: Shared) -> None:
    """One sender: walk its sub-shard in BlackRock order and put the probes on the wire."""
    cfg, ident, seed = plan.cfg, plan.identity, plan.seed

    # 1. The order: this sender's slice of the scan space, and the permutation over all of it.
    sched = plan.schedule(sender_id)
    blackrock = BlackRock(plan.range_, seed, cfg.blackrock_rounds)
    targets = plan.targets

    # 2. Where frames go: the wire, or nowhere with --offline (everything else is identical).
    if cfg.offline:
        sink: Any = NullSink()
    else:
        from tidescan.wire.afpacket import PacketSender
        sink = PacketSender(ident.ifname)

    # 3. One preallocated, template-filled frame buffer per probe kind and IP version.
    probes, probes6 = plan.probes, plan.probes6
    buffers = {(k, 4): probes[k].new_buffer(MAX_BATCH, 4) for k in probes}
    buffers.update({(k, 6): probes6[k].new_buffer(MAX_BATCH, 6) for k in probes6})

    # 4. The throttle: this sender's share of --rate; batch size follows from it.
    throttle = Throttle(cfg.rate / plan.senders, max_batch=MAX_BATCH)
    per_step = cfg.retries + 1

    # The common scan (one probe kind, IPv4 only, one source address and port) takes a straight
    # path through step 8: no grouping, and the source stays a pair of scalars.
    only_kind = single_kind(targets)
    fast = (only_kind is not None and only_kind in probes
            and ident.src_ip_count == 1 and ident.src_port_count == 1)
    if fast:
        probe, buf = probes[only_kind], buffers[(only_kind, 4)]
        src_ip, src_port = np.uint64(ident.src_ip_first), np.uint64(ident.src_port_first)

    step = 0
    t_start = time.monotonic()
    while step < sched.n_steps and not shared.stop.value:
        # 5. How many probes may go now (at least one whole step: retries travel together).
        allowed = max(throttle.next_batch(), per_step)

        # 6. Which indexes: the schedule gives global, pre-shuffle indexes in transmit order.
        idx, step = sched.probes(step, allowed)
        n = len(idx)
        if n == 0:
            continue

        # 7. Shuffle and pick: index -> BlackRock -> (ip, port) over the merged ranges.
        x = blackrock.shuffle_array(idx)
        picked = targets.pick_scan(x)

        # 8. Build and send: cookies, fields, checksums.
        if fast:  # 8a. one kind, IPv4, one source: the whole batch at once
            seq = probe.seq4(picked.ip4, picked.port, src_ip, src_port, seed)
            lengths = probe.build(buf, Targets4(picked.ip4, picked.port, src_ip, src_port, seq))
            sink.send(buf[:n], lengths)
            if cfg.packet_trace:
                trace_sent(picked, np.arange(n), np.full(n, src_ip), np.full(n, src_port),
                           only_kind, t_start)
        else:  # 8b. one group per (kind, IP version)
            ip_me, port_me = source_choice(idx, ident, seed)
            kinds = kind_of(picked.port)
            # (bincount, not np.unique: its first call imports numpy.ma, ~20 ms before the first SYN)
            for kind in np.flatnonzero(np.bincount(kinds, minlength=KIND_OTHER + 1)):
                probe = probes.get(int(kind))
                if probe is None:
                    continue  # SCTP / other IP protocols: parsed and echoed, not yet sent
                sel_k = kinds == kind
                for v6 in (False, True):
                    sel = np.flatnonzero(sel_k & (picked.is_v6 == v6))
                    if sel.size == 0 or (v6 and kind == KIND_ARP):
                        continue
                    buf = buffers[(int(kind), 6 if v6 else 4)]
                    if v6:
                        me_hi, me_lo = (ident.src_ip6 or 0) >> 64, (ident.src_ip6 or 0) & ((1 << 64) - 1)
                        seq = probe.seq6(picked.ip6_hi[sel], picked.ip6_lo[sel], picked.port[sel],
                                         me_hi, me_lo, port_me[sel], seed)
                        lengths = probes6[int(kind)].build(buf, Targets6(
                            picked.ip6_hi[sel], picked.ip6_lo[sel], picked.port[sel], me_hi, me_lo,
                            port_me[sel], seq))
                    else:
                        seq = probe.seq4(picked.ip4[sel], picked.port[sel], ip_me[sel], port_me[sel], seed)
                        lengths = probe.build(buf, Targets4(picked.ip4[sel], picked.port[sel], ip_me[sel],
                                                            port_me[sel], seq))
                    sink.send(buf[:sel.size], lengths)
                    if cfg.packet_trace:
                        trace_sent(picked, sel, ip_me, port_me, int(kind), t_start)

        # 9. Account: the throttle, and the counters the receiver shows and resumes from.
        throttle.consume(n)
        shared.sent[sender_id] += n
        shared.steps[sender_id] = step

    sink.close()
    shared.done[sender_id] = 1


def _sender_main(plan: Plan, sender_id: int, shared: Shared) -> None:
    """Child-process entry: Ctrl-C is the receiver's business; errors are reported, not raised."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if not plan.cfg.offline and plan.cfg.rate > NICE_ABOVE_PPS:
        # The receiver wins any contention for a core: replies lost are lost for good.  Below
        # NICE_ABOVE_PPS a sender is nearly idle and protects nothing by yielding, while a niced
        # sender starved on a loaded host would lose --rate accuracy (stalls are not caught up).
        os.nice(10)
    try:
        transmit_loop(plan, sender_id, shared)
    except Exception as exc:  # surfaced by the receiver as one line
        text = f"sender {sender_id}: {type(exc).__name__}: {exc}".encode()[:511]
        shared.errors.value = text
        shared.done[sender_id] = 1
        shared.stop.value = 1
        os._exit(1)
    os._exit(0)


def start_senders(plan: Plan, shared: Shared) -> list[Any]:
    ctx = mp.get_context("fork")
    procs = []
    for s in range(plan.senders):
        p = ctx.Process(target=_sender_main, args=(plan, s, shared), daemon=True)
        p.start()
        procs.append(p)
    return procs


def _addr(is_v6: bool, ip4: int, hi: int, lo: int) -> str:
    from tidescan.ipfmt import format_ipv4, format_ipv6

    return format_ipv6((hi << 64) | lo) if is_v6 else format_ipv4(ip4)


def trace_sent(picked: Any, sel: np.ndarray, ip_me: np.ndarray, port_me: np.ndarray, kind: int,
               t_start: float) -> None:
    """--packet-trace: masscan's `SENT (t) TCP [me]:port > [them]:port SYN` (debugging only)."""
    t = time.monotonic() - t_start
    name = {KIND_TCP: "TCP", KIND_UDP: "UDP", KIND_ICMP: "ICMP", KIND_ARP: "ARP"}.get(kind, "IP")
    what = {KIND_TCP: "SYN", KIND_UDP: "", KIND_ICMP: "ECHO", KIND_ARP: "WHO-HAS"}.get(kind, "")
    lines = []
    for i in sel.tolist():
        them = _addr(bool(picked.is_v6[i]), int(picked.ip4[i]), int(picked.ip6_hi[i]), int(picked.ip6_lo[i]))
        lines.append(f"SENT ({t:.4f}) {name} [{_addr(False, int(ip_me[i]), 0, 0)}]:{int(port_me[i])} > "
                     f"[{them}]:{int(picked.port[i]) & 0xFFFF} {what}\n")
    sys.stderr.write("".join(lines))


def trace_received(parsed: Any, replies: Replies, t_start: float) -> None:
    """--packet-trace: `RCVD (t) TCP [them]:port > [me]:port SYN-ACK` for each verified reply."""
    from tidescan.output.record import reason_text

    t = time.monotonic() - t_start
    lines = []
    for j, row in enumerate(replies.rows.tolist()):
        v6 = bool(replies.is_v6[j])
        src = _addr(v6, int(parsed.src4[row]), int(parsed.src6_hi[row]), int(parsed.src6_lo[row]))
        dst = _addr(v6, int(parsed.dst4[row]), int(parsed.dst6_hi[row]), int(parsed.dst6_lo[row]))
        kind = int(kind_of(np.asarray([replies.port[j]], dtype=np.uint64))[0])
        name = {KIND_TCP: "TCP", KIND_UDP: "UDP", KIND_ICMP: "ICMP", KIND_ARP: "ARP"}.get(kind, "IP")
        lines.append(f"RCVD ({t:.4f}) {name} [{src}]:{int(parsed.sport[row])} > [{dst}]:{int(parsed.dport[row])} "
                     f"{reason_text(int(replies.reason[j])).upper()}\n")
    sys.stderr.write("".join(lines))


# ================================================================================================
# RECEIVE
# ================================================================================================

@dataclass
class Counters:
    found: int = 0      # open results (masscan's found=)
    closed: int = 0
    received: int = 0   # frames read from the ring
    drops: int = 0      # kernel drops
    answered_arp: int = 0


# IP protocol number reported for each probe kind (KIND_TCP..KIND_OTHER); other IP protocols are
# not sent yet, so no reply of that kind reaches the output (reported as tcp, as before).
_PROTO_OF_KIND = np.array([6, 17, 132, 1, 0, 6], dtype=np.uint8)


def status_batch(parsed: Any, replies: Replies, now_wall: int) -> StatusBatch:
    """Verified replies as output columns, straight from the triage arrays (no per-result
    Python): the bare port (0 for ICMP/ARP), the protocol, status, reason, the reply's TTL, and
    the responder's MAC for ARP."""
    kinds = kind_of(replies.port.astype(np.uint64))
    port = np.where(kinds <= KIND_SCTP, replies.port & 0xFFFF, 0)
    arp = kinds == KIND_ARP
    mac = np.where(arp, parsed.arp_sha[replies.rows], 0) if arp.any() else None
    return StatusBatch(now_wall, replies.is_v6, replies.ip4, replies.ip6_hi, replies.ip6_lo, port,
                       _PROTO_OF_KIND[kinds], replies.status, replies.reason, parsed.ttl[replies.rows], mac)


def answer_neighbours(plan: Plan, parsed: Any, reply_sink: Any) -> int:
    """Answer ARP requests (and IPv6 neighbour solicitations) for our source addresses.

    This is what lets `--source-ip` be an address the OS does not own (seed 001).  These frames
    are rare, so a per-frame path is fine here.
    """
    from tidescan.packets import arp as arp_pkt
    from tidescan.packets import nd as nd_pkt

    ident = plan.identity
    answered = 0
    rows = np.flatnonzero(parsed.is_arp & (parsed.arp_op == 1)
                          & (parsed.arp_tpa >= ident.src_ip_first) & (parsed.arp_tpa <= ident.src_ip_last))
    for r in rows:
        req = arp_pkt.parse_arp(parsed.frame(int(r)))
        if req is not None:
            reply_sink.send_one(arp_pkt.reply_to(req, ident.src_mac))
            answered += 1
    if ident.src_ip6 is not None:
        hi, lo = ident.src_ip6 >> 64, ident.src_ip6 & ((1 << 64) - 1)
        rows = np.flatnonzero(parsed.is_icmp6 & (parsed.icmp_type == 135)
                              & (parsed.nd_target_hi == np.uint64(hi)) & (parsed.nd_target_lo == np.uint64(lo)))
        for r in rows:
            ns = nd_pkt.parse_nd(parsed.frame(int(r)))
            if ns is not None:
                reply_sink.send_one(nd_pkt.advertise_to(ns, ident.src_mac, ident.src_ip6))
                answered += 1
    return answered


def send_resets(plan: Plan, parsed: Any, replies: Replies, rst_tmpl: Any, buf: np.ndarray,
                reply_sink: Any, rst6: Any = None) -> None:
    """After a SYN-ACK, RST so the target frees its half-open connection (vectorized).
    `rst6`: (template, buffer) for IPv6 SYN-ACKs, framed for the IPv6 router."""
    synack = (replies.status == 1) & (replies.reason & 0x12 == 0x12)
    rows = replies.rows[np.flatnonzero(synack & ~replies.is_v6)]
    for start in range(0, rows.size, len(buf)):
        r = rows[start:start + len(buf)]
        n = rst_tmpl.build_v4(buf, parsed.src4[r], parsed.sport[r], parsed.dst4[r], parsed.dport[r],
                              parsed.ack[r])
        reply_sink.send(buf[:n], rst_tmpl.frame_len_v4)
    if rst6 is None:
        return
    tmpl6, buf6 = rst6
    rows = replies.rows[np.flatnonzero(synack & replies.is_v6)]
    for start in range(0, rows.size, len(buf6)):
        r = rows[start:start + len(buf6)]
        n = tmpl6.build_v6(buf6, parsed.src6_hi[r], parsed.src6_lo[r], parsed.sport[r],
                           parsed.dst6_hi[r], parsed.dst6_lo[r], parsed.dport[r], parsed.ack[r])
        reply_sink.send(buf6[:n], tmpl6.frame_len_v6)


@dataclass
class ReceiveState:
    stop_requested: int = 0   # Ctrl-C count
    tx_done_at: float | None = None


@dataclass
class ReceiveSide:
    """The receive side's sockets, opened before any probe leaves."""

    ring: Any = None
    reply_sink: Any = None
    pcap: Any = None
    rst_tmpl: Any = None
    rst_buf: Any = None
    stack: Any = None          # the user-mode TCP stack (--banners)
    rst6: Any = None   # (template, buffer) for IPv6 RSTs: framed for the IPv6 router


def open_receive_side(plan: Plan, ring: Any = None) -> ReceiveSide:
    """The RX ring with a kernel filter (only frames addressed to us reach Python), a socket for
    our own replies (ARP answers, RSTs), and the --pcap file.  `ring`: a ring (or a
    `PendingRxRing`) the caller already started with `receive_ring.open_ring`."""
    cfg, ident = plan.cfg, plan.identity
    if cfg.offline:
        return ReceiveSide()
    from tidescan.packets.rst import RstTemplate
    from tidescan.receive_ring import open_ring
    from tidescan.wire.afpacket import PacketSender, PendingRxRing

    if ring is None:
        ring = open_ring(cfg, ident)
    elif isinstance(ring, PendingRxRing):
        ring = ring.result()
    rx = ReceiveSide(ring=ring, reply_sink=PacketSender(ident.ifname))
    rx.rst_tmpl = RstTemplate(ident.src_mac, ident.router_mac, ttl=cfg.ttl, vlan=cfg.vlan)
    rx.rst_buf = np.zeros((1024, 64), dtype=np.uint8)
    if plan.targets.n6:
        rx.rst6 = (RstTemplate(ident.src_mac, ident.router_mac6 or ident.router_mac, ttl=cfg.ttl,
                               vlan=cfg.vlan), np.zeros((1024, 128), dtype=np.uint8))
    if cfg.pcap:
        from tidescan.wire.pcapfile import PcapWriter
        rx.pcap = PcapWriter(cfg.pcap)
    if cfg.banners:
        from tidescan.stack.driver import Stack
        rx.stack = Stack.for_scan(cfg, ident)
    return rx


def receive_loop(plan: Plan, rx: ReceiveSide, shared: Shared, writers: list[Writer], status: Status,
                 state: ReceiveState, trace: bool = False) -> Counters:
    """Read replies until the senders are done and --wait has passed (or a second Ctrl-C)."""
    cfg, ident, seed = plan.cfg, plan.identity, plan.seed
    counters = Counters()
    total = plan.total_probes()

    # 1. The ring (opened before the senders started, so no early reply is missed).
    ring, reply_sink, pcap, rst_tmpl, rst_buf = rx.ring, rx.reply_sink, rx.pcap, rx.rst_tmpl, rx.rst_buf
    stack = rx.stack

    def emit(out: Any) -> None:
        """Frames and banner records produced by the TCP stack."""
        if len(out):
            reply_sink.send(out.frames, out.lengths)
        for rec in out.records:
            for w in writers:
                w.write(rec)

    # 2. Dedup (bounded memory) and the probe kinds whose replies we look for.
    dedup = Dedup()
    ours = plan.ours()
    kinds_in_use = [plan.probes[k] for k in sorted(plan.probes)]
    show_closed = "closed" in cfg.show
    want_reset = not cfg.noreset and not cfg.banners
    last_flush = t_start = time.monotonic()

    try:
        while True:
            now = time.monotonic()

            # 3. When to stop: senders finished (or stopped) and --wait elapsed; a second ^C now.
            if state.stop_requested:
                shared.stop.value = 1
            if state.tx_done_at is None and shared.all_done():
                state.tx_done_at = now
            wait = 0.0 if cfg.offline else float(cfg.wait)
            if state.tx_done_at is not None and (now - state.tx_done_at >= wait or state.stop_requested >= 2):
                break
            if shared.errors.value:
                break

            # 4. Status line about once a second.
            if ring is not None:
                counters.received, counters.drops = ring.stats()
            waiting = None if state.tx_done_at is None else max(0.0, wait - (now - state.tx_done_at))
            status.update(StatusSample(now, shared.total_sent(), total, counters.found, waiting,
                                       counters.received, counters.drops))
            if now - last_flush >= 0.5:  # results reach files (and pipes) within half a second
                last_flush = now
                for w in writers:
                    w.flush()

            if ring is None:          # --offline: nothing to receive
                time.sleep(0.05)
                continue

            # The banner stack's timers: hellos after --hello-timeout, retransmits, timeouts.
            if stack is not None:
                emit(stack.on_timer(now))

            # 5. A block of frames (waits at most 50 ms, so Ctrl-C and the clock are noticed).
            block = ring.read(timeout=0.05)
            if block is None or len(block) == 0:
                continue
            if pcap is not None:
                pcap.write_batch(block.frames, block.lengths, block.timestamps)

            # 6. Triage the whole block at once: headers -> arrays of fields.
            parsed = parse_frames(block.frames, block.lengths)

            # 7. Rare frames: ARP / ND asking for our (possibly spoofed) source address.
            counters.answered_arp += answer_neighbours(plan, parsed, reply_sink)

            # 8. Replies to our probes: each kind recomputes its cookie from the reply's tuple.
            replies = Replies.concat([p.classify(parsed, seed, ours) for p in kinds_in_use])
            # An ICMP unreachable quoting a TCP probe (the only TCP reply without TCP flags) means a
            # filter answered, not the host: nmap calls it "filtered", and so do we (not reported).
            # For UDP, port-unreachable is the host saying "closed", and is kept.
            tcp_icmp = (replies.port < 65536) & (replies.reason == 0)
            if tcp_icmp.any():
                replies = _subset(replies, np.flatnonzero(~tcp_icmp))

            # 8b. --banners: the stack completes connections after SYN-ACKs (a repeated SYN-ACK
            #     means our ACK was lost, so this comes before dedup) and takes every other TCP
            #     segment to us (data, FIN, RST: also in blocks with no probe reply at all).
            if stack is not None:
                from tidescan.stack.driver import tcp_rows_for_stack
                synack = replies.rows[(replies.port < 65536) & ((replies.reason & 0x16) == 0x12)]
                emit(stack.on_synacks(parsed, synack, now))
                emit(stack.on_segments(parsed, tcp_rows_for_stack(parsed, synack), now))
            if len(replies) == 0:
                continue

            # 9. Dedup: retries and retransmitted SYN-ACKs report once.
            first = first_seen(dedup, parsed, replies)
            if not first.all():
                replies = _subset(replies, np.flatnonzero(first))

            # 10. RST the SYN-ACKs (the banner stack would ACK them instead).
            if want_reset:
                send_resets(plan, parsed, replies, rst_tmpl, rst_buf, reply_sink, rx.rst6)

            if trace:
                trace_received(parsed, replies, t_start)

            # 11. Report.
            closed = replies.status == 2
            n_closed = int(np.count_nonzero(closed))
            counters.found += len(replies) - n_closed
            counters.closed += n_closed
            if n_closed and not show_closed:
                replies = _subset(replies, np.flatnonzero(~closed))
            if len(replies):
                batch = status_batch(parsed, replies, int(time.time()))
                for w in writers:
                    w.write_batch(batch)
        # 12. Shutdown of the banner stack: close every connection, flush every banner.
        if stack is not None:
            emit(stack.close_all(time.monotonic()))
    finally:
        if ring is not None:
            counters.received, counters.drops = ring.stats()
            ring.close()
        if reply_sink is not None:
            reply_sink.close()
        if pcap is not None:
            pcap.close()
    return counters


def first_seen(dedup: Dedup, parsed: Any, replies: Replies) -> np.ndarray:
    """Mask of the replies whose (them, port, me, our port) tuple `dedup` has not seen before."""
    rows, v6 = replies.rows, replies.is_v6
    if not v6.any():  # the usual block: IPv4 only, no masking
        return dedup.filter4(replies.ip4, replies.port, parsed.dst4[rows], parsed.dport[rows])
    first = np.ones(len(replies), dtype=bool)
    v4 = ~v6
    if v4.any():
        r4 = rows[v4]
        first[v4] = dedup.filter4(replies.ip4[v4], replies.port[v4], parsed.dst4[r4], parsed.dport[r4])
    r6 = rows[v6]
    first[v6] = dedup.filter6(replies.ip6_hi[v6], replies.ip6_lo[v6], parsed.dst6_hi[r6],
                              parsed.dst6_lo[r6], replies.port[v6], parsed.dport[r6])
    return first


def _subset(r: Replies, sel: np.ndarray) -> Replies:
    return Replies(r.rows[sel], r.status[sel], r.port[sel], r.is_v6[sel], r.ip4[sel],
                   r.ip6_hi[sel], r.ip6_lo[sel], r.reason[sel], r.verified[sel])


# ================================================================================================
# THE WHOLE SCAN
# ================================================================================================

@dataclass
class ScanResult:
    counters: Counters
    sent: int
    total: int
    elapsed: float
    resume_index: int | None   # set when the scan stopped early (paused.conf written)
    error: str | None = None


def output_meta(plan: Plan) -> OutputMeta:
    cfg = plan.cfg
    scan_type = "syn"
    ports = plan.targets.ports
    if getattr(ports, "has_udp", False) and not getattr(ports, "has_tcp", True):
        scan_type = "udp"
    return OutputMeta(start_time=int(plan.start_wall), version="1.3.2", scan_type=scan_type, ports=ports,
                      stylesheet=cfg.stylesheet, show=frozenset(cfg.show | {"up"}), flush=True)


def run(plan: Plan, writers: list[Writer], status: Status, ring: Any = None) -> ScanResult:
    """Start the senders, run the receiver in this process, handle Ctrl-C, return the totals.
    `ring`: the receive ring if the caller started it early (see `open_receive_side`)."""
    shared = Shared(plan.senders)
    state = ReceiveState()

    def on_sigint(signum: int, frame: object) -> None:
        state.stop_requested += 1
        shared.stop.value = 1
        if state.stop_requested == 1:
            sys.stderr.write("\nwaiting several seconds to exit...\n")
            sys.stderr.flush()

    old = signal.signal(signal.SIGINT, on_sigint)
    rx = open_receive_side(plan, ring)
    t0 = time.monotonic()
    procs = start_senders(plan, shared)
    try:
        counters = receive_loop(plan, rx, shared, writers, status, state, trace=plan.cfg.packet_trace)
    finally:
        shared.stop.value = 1
        for p in procs:
            p.join(timeout=2)
            if p.is_alive():
                p.kill()
        signal.signal(signal.SIGINT, old)
    elapsed = time.monotonic() - t0
    sent = shared.total_sent()
    total = plan.total_probes()
    status.update(StatusSample(time.monotonic(), sent, total, counters.found, 0.0,
                               counters.received, counters.drops), force=True)
    status.close()

    resume = None
    if sent < total and (state.stop_requested or shared.errors.value):
        resume = order.resume_index_from([int(s) for s in shared.steps], plan.range_, plan.cfg.retries,
                                         plan.gap, plan.cfg.shard, plan.cfg.resume_index,
                                         plan.cfg.resume_count)
    error = shared.errors.value.decode(errors="replace") or None
    return ScanResult(counters, sent, total, elapsed, resume, error)
