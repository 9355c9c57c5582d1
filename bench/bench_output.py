"""Cost of reporting results: microseconds per result from verified replies to bytes in a file.

Why this exists: in a scan where targets answer (scenario 2, dense open ports) the receive process
turns every verified reply into output.  That step used to cost ~20 us per result in per-result
Python (a `Record` per reply, then `Writer.write` per record and per writer), capping a core at
~50 k results/s, far below what the ring delivers.  This script measures exactly that step, with
no sockets, per output format:

- `records`: the per-record path (`Record` objects, then `Writer.write` for each) — what banners
  and rare kinds still take, and what every result took before the columnar path;
- `batch`:   the columnar path (`StatusBatch` columns straight from the triage arrays, then one
  `Writer.write_batch` per receive batch).

Synthetic input: batches of IPv4 TCP SYN-ACK replies (every answer open, as in `-p21,22,80`
against the bench lab), written to a real file in /tmp with the scanner's output settings
(`output_meta`: flush after every record / batch).  Reported: best of `--repeat` runs, in us per
result, of this process's CPU time (the machine is shared; CPU time swings less than wall time).

Run: `python bench/bench_output.py [--batch 1024] [--results 65536] [--formats list,binary]`.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from types import SimpleNamespace

import numpy as np

from tidescan.output.base import OutputMeta, Writer
from tidescan.output.writers import open_output
from tidescan.probes.base import Replies
from tidescan.scan import status_batch

FORMATS = ("binary", "list", "json", "ndjson", "xml", "grepable", "unicornscan", "hostonly")


def synthetic(n: int, rng: np.random.Generator) -> tuple[SimpleNamespace, Replies]:
    """A triaged block's relevant columns and its `Replies`: n open IPv4 TCP ports."""
    rows = np.arange(n, dtype=np.intp)
    ip4 = (0x0A700000 + rng.integers(0, 1 << 16, n)).astype(np.uint32)
    port = rng.choice(np.array([21, 22, 80], np.uint32), n)
    parsed = SimpleNamespace(ttl=np.full(n, 64, np.uint8), arp_sha=np.zeros(n, np.uint64))
    replies = Replies(rows, np.ones(n, np.uint8), port, np.zeros(n, bool), ip4,
                      np.zeros(n, np.uint64), np.zeros(n, np.uint64), np.full(n, 0x12, np.uint8),
                      np.ones(n, bool))
    return parsed, replies


def per_record(parsed: SimpleNamespace, replies: Replies, wall: int, writer: Writer) -> None:
    for rec in status_batch(parsed, replies, wall).records():
        writer.write(rec)


def columnar(parsed: SimpleNamespace, replies: Replies, wall: int, writer: Writer) -> None:
    writer.write_batch(status_batch(parsed, replies, wall))


def cpu_us_per_result(fmt: str, path: str, path_fn: Callable[..., None], blocks: list,
                      flush: bool, repeat: int) -> float:
    best = float("inf")
    n = sum(len(r) for _, r in blocks)
    for _ in range(repeat):
        meta = OutputMeta(start_time=1700000000, flush=flush)
        w = open_output(fmt, path, meta=meta)
        t0 = time.process_time()
        for parsed, replies in blocks:
            path_fn(parsed, replies, 1700000000, w)
        w.close()
        best = min(best, time.process_time() - t0)
    return best / n * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=1024, help="results per receive batch")
    ap.add_argument("--results", type=int, default=65536, help="results per run")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--formats", default=",".join(FORMATS))
    ap.add_argument("--no-flush", action="store_true",
                    help="writers buffer (64 KiB / 0.5 s) instead of the scanner's flush-per-write")
    args = ap.parse_args()
    rng = np.random.default_rng(1)
    blocks = [synthetic(args.batch, rng) for _ in range(max(1, args.results // args.batch))]
    paths: dict[str, Callable[..., None]] = {"records": per_record, "batch": columnar}
    flush = not args.no_flush
    print(f"{len(blocks)} batches x {args.batch} results, flush={'each write' if flush else 'buffered'}")
    print(f"{'format':<12}" + "".join(f"{name:>14}" for name in paths) + "   (CPU us per result, best)")
    with tempfile.TemporaryDirectory() as tmp:
        for fmt in args.formats.split(","):
            path = os.path.join(tmp, f"out.{fmt}")
            cells = [cpu_us_per_result(fmt, path, fn, blocks, flush, args.repeat) for fn in paths.values()]
            print(f"{fmt:<12}" + "".join(f"{c:14.3f}" for c in cells))


if __name__ == "__main__":
    main()
