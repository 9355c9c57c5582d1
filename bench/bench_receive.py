"""The receive loop's per-batch steps on synthetic SYN-ACKs: where a dense-open scan's CPU goes.

Why this exists: with the kernel dropping RSTs, every frame that reaches the receive process in a
dense-open scan is a SYN-ACK and becomes a result, so each step of `scan.receive_loop` runs on every
frame.  This script times those steps with no sockets, on blocks of verified IPv4 SYN-ACKs (valid
cookies, 2 % duplicates), per block size:

    parse   `parse_frames` (step 6)          classify  `TcpSynProbe.classify` (step 8)
    dedup   `Dedup.filter4` (step 9)         rst       `RstTemplate.build_v4` of the RSTs (step 10)
    batch   `status_batch` (step 11)         write     `BinaryWriter.write_batch` to /tmp (step 11)

Reported: best of `--repeat` runs, microseconds per frame (the machine is shared: the best run is
the fairest estimate).  Run: `python bench/bench_receive.py [--blocks 256,1024,4096]`.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from collections.abc import Callable

import numpy as np

from timing import best_seconds  # (this directory)
from tidescan.dedup import Dedup
from tidescan.output.base import OutputMeta
from tidescan.output.writers import open_output
from tidescan.packets import layout as L
from tidescan.packets.rst import RstTemplate
from tidescan.packets.template import SynTemplate
from tidescan.packets.triage import parse_frames
from tidescan.probes.base import Ours, Replies
from tidescan.probes.tcp_syn import TcpSynProbe
from tidescan.scan import status_batch

ME, MY_PORT, SEED = 0x0AFFFF01, 40000, 0x5EED
MAC_ME, MAC_GW = "02:00:00:00:00:01", "66:55:44:33:22:11"


def synacks(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """n SYN-ACK frames from random targets on ports 21/22/80 to us, acking our cookies."""
    them = (0x0A700000 + rng.integers(0, 1 << 16, n)).astype(np.uint32)
    port = rng.choice(np.array([21, 22, 80], np.uint32), n)
    dup = rng.random(n) < 0.02  # retransmitted SYN-ACKs
    them[dup], port[dup] = them[0], port[0]
    probe = TcpSynProbe(SynTemplate(MAC_ME, MAC_GW))
    cookie = probe.seq4(them, port, ME, MY_PORT, SEED)
    tmpl = SynTemplate(MAC_GW, MAC_ME, ttl=64)
    buf = np.zeros((n, 128), np.uint8)   # the ring's minimum row width
    tmpl.build_v4(buf, ME, MY_PORT, them, port, rng.integers(0, 1 << 32, n, dtype=np.uint64))
    tcp = tmpl.l3 + L.IPV4_HLEN
    L.put_u32(buf, tcp + L.TCP_ACK, (cookie.astype(np.uint64) + 1) & 0xFFFFFFFF)
    buf[:, tcp + L.TCP_FLAGS] = L.TCP_SYN | L.TCP_ACK_FLAG
    return buf, np.full(n, tmpl.frame_len_v4, np.int32)


def best_us(fn: Callable[[], object], n: int, repeat: int) -> float:
    return best_seconds(fn, repeat) / n * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--blocks", default="256,1024,4096", help="frames per receive batch")
    ap.add_argument("--repeat", type=int, default=20)
    args = ap.parse_args()
    rng = np.random.default_rng(1)
    ours = Ours(ME, ME, None, MY_PORT, MY_PORT)
    probe = TcpSynProbe(SynTemplate(MAC_ME, MAC_GW))
    rst = RstTemplate(MAC_ME, MAC_GW)
    rst_buf = np.zeros((1024, 64), np.uint8)
    steps = ("parse", "classify", "dedup", "rst", "batch", "write", "total")
    print(f"{'frames':>7}" + "".join(f"{s:>10}" for s in steps) + "   (us per frame, best)")
    with tempfile.TemporaryDirectory() as tmp:
        writer = open_output("binary", os.path.join(tmp, "out.bin"), meta=OutputMeta(flush=True))
        for n in (int(x) for x in args.blocks.split(",")):
            frames, lengths = synacks(n, rng)
            parsed = parse_frames(frames, lengths)
            replies = probe.classify(parsed, SEED, ours)
            assert len(replies) == n, "synthetic SYN-ACKs must all verify"
            r4 = replies.rows

            warm, calls = Dedup(), [0]

            def dedup() -> np.ndarray:   # a warm table, new tuples every call (our address moves)
                calls[0] += 1
                return warm.filter4(replies.ip4, replies.port, parsed.dst4[r4] + np.uint32(calls[0]),
                                    parsed.dport[r4])

            def resets() -> None:
                for lo in range(0, n, len(rst_buf)):
                    r = r4[lo:lo + len(rst_buf)]
                    rst.build_v4(rst_buf, parsed.src4[r], parsed.sport[r], parsed.dst4[r],
                                 parsed.dport[r], parsed.ack[r])

            d = Dedup()

            def whole() -> None:
                p = parse_frames(frames, lengths)
                rep = probe.classify(p, SEED, ours)
                first = d.filter4(rep.ip4, rep.port, p.dst4[rep.rows], p.dport[rep.rows])
                sel = np.flatnonzero(first)
                rep = Replies(*(getattr(rep, f)[sel] for f in Replies.__dataclass_fields__))
                resets()
                writer.write_batch(status_batch(p, rep, 1700000000))

            cells = [
                best_us(lambda: parse_frames(frames, lengths), n, args.repeat),
                best_us(lambda: probe.classify(parsed, SEED, ours), n, args.repeat),
                best_us(dedup, n, args.repeat),
                best_us(resets, n, args.repeat),
                best_us(lambda: status_batch(parsed, replies, 1700000000), n, args.repeat),
                best_us(lambda: writer.write_batch(status_batch(parsed, replies, 1700000000)), n,
                        args.repeat),
                best_us(whole, n, args.repeat),
            ]
            print(f"{n:>7}" + "".join(f"{c:10.3f}" for c in cells))
        writer.close()


if __name__ == "__main__":
    main()
