"""Wire throughput on a veth lab: sendmmsg batches into a sink, and the TPACKET_V3 ring.

Why this file exists: the wire layer's speed is the ceiling of the whole scanner, and it depends on
the kernel and machine more than on our code, so it has to be measured here, not assumed.  It builds
its own two-namespace veth lab (run-unique names, 10.x addresses, no route out, removed at exit),
then measures:

1. TX: `PacketSender.send` of 60-byte SYN frames in batches, with and without PACKET_QDISC_BYPASS,
   with one and with two sender processes.  Frames per second are counted on the far side of the
   veth (the peer interface's rx_packets), not self-reported.  The peer has no address, so its
   kernel drops every frame (a sink).
2. RX: a sender process floods the peer; `RxRing.read` + nothing else in this process; frames/s
   delivered, kernel drops, and the reader's CPU time per frame.  Run with a homogeneous stream
   (equal-size frames: the vector walk) and a mixed-size one (signature scan).

Usage (root):  python bench/bench_wire.py [--seconds 2] [--repeat 3]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import resource
import sys
import time

import numpy as np

from tidescan import netns
from tidescan.wire import bpf
from tidescan.wire.afpacket import PacketSender, RxRing

ETH_OTHER = 0x88B5


def syn_frames(n: int, dst_mac: bytes, src_mac: bytes, stride: int = 64) -> np.ndarray:
    """n 54-byte Ethernet/IPv4/TCP SYN frames to 10.200.x.x (checksums not needed for a sink)."""
    f = np.zeros((n, stride), np.uint8)
    f[:, 0:6] = np.frombuffer(dst_mac, np.uint8)
    f[:, 6:12] = np.frombuffer(src_mac, np.uint8)
    f[:, 12:14] = [0x08, 0x00]
    f[:, 14:16] = [0x45, 0]
    f[:, 16:18] = [0, 40]
    f[:, 22:24] = [255, 6]
    f[:, 26:30] = [10, 199, 0, 1]
    dst = (0x0AC80000 + np.arange(n, dtype=np.uint32)).astype(">u4")
    f[:, 30:34] = dst.view(np.uint8).reshape(n, 4)
    f[:, 34:36] = [0x9C, 0x40]
    f[:, 36:38] = [0, 80]
    f[:, 46:48] = [0x50, 0x02]
    return f


def rx_packets(ns: netns.Namespace, ifname: str) -> int:
    return int(ns.run(["cat", f"/sys/class/net/{ifname}/statistics/rx_packets"]).stdout)


def _blast(ns: str, ifname: str, frames: np.ndarray, lengths: np.ndarray | int, seconds: float,
           qdisc_bypass: bool, out: mp.Queue) -> None:
    with netns.entered(ns):
        tx = PacketSender(ifname, qdisc_bypass=qdisc_bypass)
    end = time.monotonic() + seconds
    t0 = time.monotonic()
    while time.monotonic() < end:
        tx.send(frames, lengths)
    out.put((tx.sent, time.monotonic() - t0, tx.retries, tx.calls))
    tx.close()


def bench_tx(lab: netns.VethPair, seconds: float, procs: int, bypass: bool) -> dict[str, float]:
    frames = syn_frames(1 << 16, lab.mac("b"), lab.mac("a"))
    q: mp.Queue = mp.Queue()
    before = rx_packets(lab.b, lab.b_if)
    ps = [mp.Process(target=_blast, args=(lab.a.name, lab.a_if, frames, 54, seconds, bypass, q))
          for _ in range(procs)]
    t0 = time.monotonic()
    for p in ps:
        p.start()
    results = [q.get() for _ in ps]
    for p in ps:
        p.join()
    wall = time.monotonic() - t0
    wire = rx_packets(lab.b, lab.b_if) - before
    sent = sum(r[0] for r in results)
    return {"sent": sent, "wire": wire, "wall": wall,
            "pps_sender": sum(r[0] / r[1] for r in results), "retries": sum(r[2] for r in results)}


def bench_rx(lab: netns.VethPair, seconds: float, mixed: bool, filt: bool) -> dict[str, float]:
    n = 1 << 14
    rng = np.random.default_rng(1)
    frames = rng.integers(0, 256, (n, 256), dtype=np.uint8)
    frames[:, 0:6] = np.frombuffer(lab.mac("b"), np.uint8)
    frames[:, 6:12] = np.frombuffer(lab.mac("a"), np.uint8)
    frames[:, 12:14] = [ETH_OTHER >> 8, ETH_OTHER & 0xFF]
    lengths: np.ndarray | int = rng.integers(54, 120, n) if mixed else 60
    with netns.entered(lab.b.name):
        ring = RxRing(lab.b_if, bpf=bpf.ethertype_filter(ETH_OTHER) if filt else None)
    q: mp.Queue = mp.Queue()
    p = mp.Process(target=_blast, args=(lab.a.name, lab.a_if, frames, lengths, seconds, False, q))
    got = 0
    reads = 0
    c0 = time.process_time()
    t0 = time.monotonic()
    p.start()
    end = t0 + seconds + 0.3
    while time.monotonic() < end:
        b = ring.read(0.05)
        if b is not None:
            got += len(b)
            reads += 1
    cpu = time.process_time() - c0
    wall = time.monotonic() - t0
    sent = q.get()[0]
    p.join()
    packets, drops = ring.stats()
    walks = dict(ring.walks)
    ring.close()
    return {"sent": sent, "got": got, "drops": drops, "packets": packets, "wall": wall, "cpu": cpu,
            "reads": reads, "walks": walks}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    if os.geteuid() != 0:
        print("bench_wire: needs root (network namespaces, raw sockets)", file=sys.stderr)
        return 1
    mp.set_start_method("fork")
    netns.cleanup_stale()
    with netns.VethPair(tag="w", a_ip="10.199.0.1/24", b_ip=None) as lab:
        print(f"# wire bench, {os.cpu_count()} CPUs, kernel {os.uname().release}, {args.seconds:g} s each")
        print("\n## TX: PacketSender.send, 60-byte SYNs, 64k-frame batches, 1024 per sendmmsg")
        print(f"   (configurations interleaved, {args.repeat} runs each, median; Mpps counted on the wire)")
        print(f"{'procs':>5} {'qdisc bypass':>12} {'on wire Mpps':>13} {'runs':>24} {'retries':>8}")
        configs = ((1, False), (1, True), (2, False), (2, True))
        runs: dict[tuple[int, bool], list[dict[str, float]]] = {c: [] for c in configs}
        for _ in range(args.repeat):
            for procs, bypass in configs:
                runs[(procs, bypass)].append(bench_tx(lab, args.seconds, procs, bypass))
        for (procs, bypass), rs in runs.items():
            mpps = [r["wire"] / r["wall"] / 1e6 for r in rs]
            print(f"{procs:>5} {str(bypass):>12} {float(np.median(mpps)):>13.3f} "
                  f"{' '.join(f'{m:.3f}' for m in mpps):>24} {sum(r['retries'] for r in rs):>8}")
        print("\n## RX: RxRing.read (1 MiB x 256 blocks), one flooding sender process")
        print(f"{'stream':>8} {'filter':>6} {'sent':>9} {'read':>9} {'drops':>9} {'read Mpps':>9} "
              f"{'cpu us/frame':>12} {'frames/read':>11}  walks")
        for mixed, filt in ((False, True), (True, True), (True, False)):
            r = bench_rx(lab, args.seconds, mixed, filt)
            print(f"{'mixed' if mixed else 'equal':>8} {'bpf' if filt else 'none':>6} {r['sent']:>9} "
                  f"{r['got']:>9} {r['drops']:>9} {r['got'] / args.seconds / 1e6:>9.3f} "
                  f"{r['cpu'] / max(1, r['got']) * 1e6:>12.3f} {r['got'] / max(1, r['reads']):>11.0f}  "
                  f"{r['walks']}")
    print(f"\npeak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB (reader)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
