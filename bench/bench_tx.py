"""Transmit-side CPU per probe, stage by stage and for the whole sender loop (no I/O).

Why this exists: issue 4 asks the Python share of a probe to halve, and the machine is shared, so
wall-clock pps is noise.  This script reports *process CPU time* per probe (`time.process_time`,
best of several runs) for each stage of `scan.transmit_loop` on a realistic batch (a /8 x 10 ports
scan, one source address and port, the `--offline` placeholders), at 4k and 16k probes per step:

    schedule  Schedule.probes            shuffle  BlackRock.shuffle_array
    pick      TargetSet.pick_scan        source   scan.source_choice (constant: a fill)
    cookie    Probe.seq4 (SipHash-2-4)   build    Probe.build (frame fields + checksums)

and then runs the real `transmit_loop` (offline, one sender, `--rate` unlimited) over a fixed
number of probes: that line is the honest total, fixed step costs included.

Run: `PYTHONPATH=src python bench/bench_tx.py [--batches 4096,16384] [--probes 2000000]`; it prints
which cookie kernel is active (the C extension, or NumPy with TIDESCAN_PURE_PYTHON=1).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from tidescan import scan
from tidescan.accel import COOKIE_PATH
from tidescan.blackrock import BlackRock
from tidescan.config import parse_args
from tidescan.identity import resolve_identity
from tidescan.probes.base import Targets4


def cpu_ns(fn: Callable[[], object], n: int, repeat: int = 9, inner: int = 8) -> float:
    """Best-of-`repeat` process CPU nanoseconds per item of `fn` (which handles `n` items)."""
    fn()
    best = float("inf")
    for _ in range(repeat):
        t0 = time.process_time_ns()
        for _ in range(inner):
            fn()
        best = min(best, (time.process_time_ns() - t0) / inner)
    return best / n


def make(argv: list[str]) -> scan.Plan:
    cfg = parse_args(argv)
    targets = cfg.targets()
    ident = resolve_identity(cfg, need_ipv6=False)
    return scan.make_plan(cfg, targets, ident)


def stages(plan: scan.Plan, batch: int) -> dict[str, float]:
    """ns per probe of each transmit stage on one steady-state step of `batch` probes."""
    sched = plan.schedule(0)
    br = BlackRock(plan.range_, plan.seed, plan.cfg.blackrock_rounds)
    step0 = sched.n_steps // 3
    idx, _ = sched.probes(step0, batch)
    x = br.shuffle_array(idx)
    picked = plan.targets.pick_scan(x)
    ip_me, port_me = scan.source_choice(idx, plan.identity, plan.seed)
    probe = plan.probes[scan.KIND_TCP]
    buf = probe.new_buffer(batch, 4)
    seq = probe.seq4(picked.ip4, picked.port, ip_me, port_me, plan.seed)
    t4 = Targets4(picked.ip4, picked.port, ip_me, port_me, seq)
    return {
        "schedule": cpu_ns(lambda: sched.probes(step0, batch), batch),
        "shuffle": cpu_ns(lambda: br.shuffle_array(idx), batch),
        "pick": cpu_ns(lambda: plan.targets.pick_scan(x), batch),
        "source": cpu_ns(lambda: scan.source_choice(idx, plan.identity, plan.seed), batch),
        "cookie": cpu_ns(lambda: probe.seq4(picked.ip4, picked.port, ip_me, port_me, plan.seed),
                         batch),
        "build": cpu_ns(lambda: probe.build(buf, t4), batch),
    }


def whole_loop(argv: list[str], batch: int, probes: int) -> float:
    """CPU ns per probe of `transmit_loop` itself over `probes` probes."""
    plan = make(argv + ["--resume-count", str(probes)])
    old = scan.MAX_BATCH
    scan.MAX_BATCH = batch
    try:
        shared = scan.Shared(1)
        t0 = time.process_time_ns()
        scan.transmit_loop(plan, 0, shared)
        spent = time.process_time_ns() - t0
    finally:
        scan.MAX_BATCH = old
    assert shared.total_sent() == probes, shared.total_sent()
    return spent / probes


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batches", default="4096,16384")
    ap.add_argument("--probes", type=int, default=2_000_000)
    ap.add_argument("--range", default="10.0.0.0/8")
    ap.add_argument("--ports", default="1-10")
    args = ap.parse_args()
    argv = [args.range, "-p", args.ports, "--offline", "--rate", "100000000", "--seed", "7",
            "--senders", "1", "--source-port", "61234"]
    plan = make(argv)
    print(f"cookie kernel: {COOKIE_PATH}")
    for batch in (int(b) for b in args.batches.split(",")):
        st = stages(plan, batch)
        total = sum(st.values())
        parts = "  ".join(f"{k} {v:6.1f}" for k, v in st.items())
        print(f"batch {batch:6d}: {parts}  | sum {total:6.1f} ns/probe")
        loop = min(whole_loop(argv, batch, args.probes) for _ in range(2))
        print(f"batch {batch:6d}: transmit_loop (offline, 1 sender) {loop:6.1f} ns/probe CPU"
              f"  = {1e3 / loop:5.2f} M probes/s per core")


if __name__ == "__main__":
    main()
