"""Issue 6's banner benchmark: connections completed with banners per second, tidescan vs masscan.

Why this exists: `--banners` speed is not the SYN rate.  Every open port becomes a TCP connection
that the scanner's own stack must complete, feed to a parser and close, and a banner is only
"grabbed" when it reaches the output file.  This script puts both scanners in front of the same
servers, in the same run, alternately, and counts what each one wrote and what was on the wire.

The lab (`tidescan.lab.Lab`): a /`size` range (default /18: 16,384 hosts) where *every* host has
the lab's real listeners (`lab_listeners.py`) on 21 (ftp), 22 (ssh) and 80 (http), no firewalled
hosts, so every SYN gives one connection and every connection one known banner: the greeting for
ftp/ssh (server first), the HTTP reply to the scanner's GET (sent after the 2 s hello timeout).
Expected: hosts x 3 (ip, port) pairs.

Per run (`Run`):

* **banners**: (ip, port) pairs with at least one banner record in the scanner's `-oB` file
  (`tidescan.output.binary.read_binary`); **named** = those whose banner text names the address
  the listener was reached at (each lab greeting does: a check that the banner is the right one).
  **%** = banners / expected.
* **grab s**: the *grab phase*, from the first SYN on the wire to the last frame with a payload
  the servers sent (a banner), both timestamped by the kernel: a tcpdump on the target's end of
  the veth with a filter that passes only pure SYNs and server frames with payload (so ~2 frames
  per connection; buffered, not per-packet flushed, so it costs little).  **banners/s** =
  banners / grab s: the headline figure.  It excludes start-up and `--wait` (both tools wait
  `--wait` seconds after the last SYN, see **wall s** and **b/wall-s** for the whole command).
* **SYN/s**: SYNs seen on the wire / (last SYN - first SYN).  masscan counts the segments its
  TCP stack sends (ACKs, hellos, FINs) into `--rate`, so at the same `--rate` it sends fewer
  SYNs; each tool gets its own rate ladder, and the comparison is banners/s.
* **wire**: pairs whose server sent a payload (the capture); **lost** = wire pairs the scanner did
  not report (lost *inside* the scanner: ring drops, a slow receive loop, ...); expected - wire
  = the server never spoke (no GET, listener overloaded, connection reset).
* **cpu s** (user+sys of the scanner and its children, `os.wait4`), **rx cpu** (tidescan's
  receive process alone, from /proc), **maxrss** (`ru_maxrss`, largest single process),
  **treeRSS** (peak sum over the process tree, sampled every 100 ms), **lst cpu** (the lab
  listener's CPU seconds during the run: it is one Python process and can be the bottleneck),
  **ring** (tidescan's RX-ring drops, its own warning), **load1** (machine load at the start).

Procedure: `--tidescan-rates` and `--masscan-rates` are ladders; each round runs every (tool,
rate) once, alternating the order between rounds; the summary gives per (tool, rate) medians
and, per tool, the *best* rate: the highest median banners/s among rates where every run got
100 % of the banners (if none did, the most complete).  The ratio is tidescan/masscan of
banners/s at the two best rates, per round, then the median.

Memory (`--memory`, `--memory-only`): bytes per concurrent connection, live, for both tools.
The lab's target drops every non-SYN segment from the scanner at its veth ingress (an nftables
rule this script adds), so the target kernel answers each SYN with a SYN-ACK (syncookies) and
never sees the rest: the scanner's connections stay open, and on port 22 (server first: no hello
to send or retransmit) each one waits for the 30 s connection timeout, longer than the scan.
Three scans per tool: the whole range without `--banners` (off), the first half with it (half),
the whole range with it (full).  The receive process's RSS at full concurrency (the largest
VmRSS sample taken >= 1 s before it exits, i.e. during `--wait`, before the shutdown closes
everything) gives (full - off) / opened and the marginal (full - half) / (opened_full -
opened_half), "opened" being the open status records; the same from VmHWM includes the
shutdown's burst.  The OS's view: allocator slack, columns grown by doubling included.  For
tidescan the live-object figure is also computed in-process with `bench/bench_stack.py`'s
method (tracemalloc, 100k connections).

`--micro`: no lab, no root: the lab's conversations replayed through the stack and the banner
sessions in-process, CPU microseconds per connection per batch size (`micro_bench`).
`--profile DIR`: tidescan once more per rate under py-spy (raw collapsed stacks in DIR, and a
per-function summary of the receive process).  `--variant NAME=CMD`: another tidescan command
(a patched copy, an older tree) on the tidescan ladder, in the same rounds.

Safety: everything runs inside the namespaces `Lab` creates (`ts-<pid>-...`, 10.x only, no route
out); masscan scans from another spare address of `lab.spare_cidr` (it answers its own ARP);
processes are killed by PID.  masscan 1.3.2 runs its timers only when a frame arrives, so the
target pings the scanner's address every 0.1 s during *every* run (both tools, same conditions).

Run (root): `python bench/bench_banners_live.py` (defaults: /18, 3 rounds, ~12 min), or e.g.
`python bench/bench_banners_live.py --size 20 --rounds 1 --tidescan-rates 5000 --masscan-rates
5000 --memory --json out.json`.  See docs/benchmarks-banners.md for the results.
"""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import json
import os
import re
import shlex
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from procstats import proc_cpu_s, process_tree, softnet_drops, status_kib, tree_rss_kib  # (this directory)
from tidescan.lab import Lab
from tidescan.lab_capture import Capture
from tidescan.output.binary import read_binary

PORTS = (21, 22, 80)
LISTEN = {21: "ftp", 22: "ssh", 80: "http"}
SAMPLE_S = 0.1
CAPTURE_SNAP = 80
CAPTURE_SETTLE = 1.6   # s without file growth before SIGINT (> libpcap's 1 s block hand-over)
CAPTURE_FILTER = ("(tcp[tcpflags] & (tcp-syn|tcp-ack|tcp-rst) == tcp-syn) or "
                  "(tcp src port (21 or 22 or 80) and "
                  "ip[2:2] - ((ip[0] & 0xf) << 2) - ((tcp[12] & 0xf0) >> 2) != 0)")


# ================================================================================================
# The lab
# ================================================================================================

def make_lab(size: int) -> Lab:
    """Every host of 10.112.0.0/`size` runs the ftp, ssh and http listeners; nothing filtered."""
    return Lab(size=size, ports=PORTS, listen=LISTEN, dense_ports=PORTS, open_per_port=0,
               drop_hosts=0, icmp_hosts=0, rst_hosts=0)


def expected_keys(lab: Lab) -> np.ndarray:
    """(ip << 16 | port) of every open pair: each one must yield a banner."""
    a = lab.open_array()
    return np.unique((a[:, 0] << np.uint64(16)) | a[:, 1])


def masscan_source(lab: Lab) -> str:
    return str(ipaddress.ip_network(lab.spare_cidr)[1])


# ================================================================================================
# Measuring one run
# ================================================================================================

def wire_capture(lab: Lab, path: Path, started: list[Any]) -> Capture:
    """tcpdump on the target's veth end: pure SYNs and server frames carrying payload.

    Buffered (no `-U`, no immediate mode), so it costs the machine little: libpcap's ring hands
    blocks over at most 1 s late, hence `stop(settle=CAPTURE_SETTLE)`; tcpdump's counts say
    whether every frame the filter passed was written (`complete`)."""
    return Capture(lab.tgt_ns, path, CAPTURE_FILTER, CAPTURE_SNAP, lab.tgt_if, started,
                   buffered=True, buffer_kib=131072)


@dataclass
class Wire:
    syns: int = 0
    first_syn: float | None = None
    last_syn: float | None = None
    payload_frames: int = 0
    pairs: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint64))  # ip<<16|port
    first_payload: np.ndarray = field(default_factory=lambda: np.zeros(0))     # per pair, ts

    def last_banner(self, reported: np.ndarray) -> float | None:
        """When the last banner the scanner reported began to arrive: the latest first-payload
        time over the `reported` pairs (server retransmissions, e.g. to a scanner that has
        exited, are not counted)."""
        sel = np.isin(self.pairs, reported)
        return float(self.first_payload[sel].max()) if sel.any() else None
    # per port: median seconds from the first SYN of the pair to its first payload
    syn_to_banner_ms: dict[int, float] = field(default_factory=dict)


def read_wire(path: Path, scanner_ip: int) -> Wire:
    """Parse the capture (plain pcap, Ethernet, IPv4): SYNs from `scanner_ip`, server payloads."""
    data = path.read_bytes() if path.exists() else b""
    w = Wire()
    if len(data) < 24:
        return w
    endian = "<" if data[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    nano = data[:4] in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
    rec = struct.Struct(endian + "IIII")
    off, n = 24, len(data)
    syn_ts: dict[int, float] = {}
    first_pay: dict[int, float] = {}
    ts_syn: list[float] = []
    ts_pay: list[float] = []
    while off + 16 <= n:
        sec, frac, incl, _orig = rec.unpack_from(data, off)
        f = data[off + 16: off + 16 + incl]
        off += 16 + incl
        if len(f) < 54 or f[12:14] != b"\x08\x00" or f[23] != 6:
            continue
        ts = sec + frac * (1e-9 if nano else 1e-6)
        ihl = (f[14] & 15) * 4
        src = int.from_bytes(f[26:30], "big")
        dst = int.from_bytes(f[30:34], "big")
        t = 14 + ihl
        sport = int.from_bytes(f[t:t + 2], "big")
        dport = int.from_bytes(f[t + 2:t + 4], "big")
        flags = f[t + 13]
        if flags & 0x02:
            if src == scanner_ip:
                ts_syn.append(ts)
                syn_ts.setdefault((dst << 16) | dport, ts)
            continue
        key = (src << 16) | sport
        ts_pay.append(ts)
        first_pay.setdefault(key, ts)
    w.syns = len(ts_syn)
    if ts_syn:
        w.first_syn, w.last_syn = min(ts_syn), max(ts_syn)
    w.payload_frames = len(ts_pay)
    w.pairs = np.fromiter(first_pay.keys(), np.uint64, len(first_pay))
    w.first_payload = np.fromiter(first_pay.values(), np.float64, len(first_pay))
    order = np.argsort(w.pairs)
    w.pairs, w.first_payload = w.pairs[order], w.first_payload[order]
    by_port: dict[int, list[float]] = {}
    for key, tp in first_pay.items():
        ts0 = syn_ts.get(key)
        if ts0 is not None:
            by_port.setdefault(key & 0xFFFF, []).append(tp - ts0)
    w.syn_to_banner_ms = {p: statistics.median(v) * 1e3 for p, v in sorted(by_port.items())}
    return w


class Sampler:
    """Every SAMPLE_S: the process tree's summed VmRSS (peak), the main process's VmHWM and its
    own CPU time (the last reading before it exits)."""

    def __init__(self, pid: int, interval: float = SAMPLE_S) -> None:
        self.pid, self.interval = pid, interval
        self.tree_peak_kib = 0
        self.main_hwm_kib = 0
        self.main_rss_peak_kib = 0
        self.main_cpu_s: float | None = None
        self.rss_series: list[tuple[float, int]] = []
        self._stop = False
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop:
            tree = process_tree(self.pid)
            self.tree_peak_kib = max(self.tree_peak_kib, tree_rss_kib(tree))
            rss = status_kib(self.pid, "VmRSS:")
            if rss:
                self.main_rss_peak_kib = max(self.main_rss_peak_kib, rss)
                self.rss_series.append((time.monotonic(), rss))
            self.main_hwm_kib = max(self.main_hwm_kib, status_kib(self.pid, "VmHWM:"))
            cpu = proc_cpu_s(self.pid)
            if cpu is not None:
                self.main_cpu_s = cpu
            time.sleep(self.interval)

    def stop(self) -> None:
        self._stop = True
        self._thread.join(timeout=2)


@dataclass
class Run:
    tool: str
    rate: int
    round: int
    argv: list[str] = field(default_factory=list)
    load1: float = 0.0
    returncode: int | None = None
    expected: int = 0
    banners: int = 0            # pairs with >= 1 banner record
    named: int = 0              # pairs whose banner names the right address
    records: int = 0            # banner records
    by_app: dict[str, int] = field(default_factory=dict)
    wire_pairs: int = 0         # pairs whose server sent a payload
    lost: int = 0               # wire pairs without a banner in the output
    syns: int = 0
    syn_s: float = 0.0          # first to last SYN
    grab_s: float = 0.0         # first SYN to last server payload
    wall_s: float = 0.0
    banners_per_s: float = 0.0
    banners_per_wall_s: float = 0.0
    syn_rate: float = 0.0
    syn_to_banner_ms: dict[int, float] = field(default_factory=dict)
    banners_by_port: dict[int, int] = field(default_factory=dict)
    wire_by_port: dict[int, int] = field(default_factory=dict)
    cpu_user_s: float = 0.0
    cpu_sys_s: float = 0.0
    rx_cpu_s: float | None = None   # tidescan: the receive (main) process alone
    maxrss_kib: int = 0
    tree_rss_peak_kib: int = 0
    main_hwm_kib: int = 0
    rss_before_end_kib: int = 0     # receive process: largest VmRSS sample >= `margin` s before exit
    listener_cpu_s: float | None = None
    ring_drops: int = 0
    softnet_drops: int = 0      # host-wide backlog drops during the run (anyone's traffic)
    scan_rx_dropped: int = 0    # the scanner veth's rx_dropped during the run
    capture_complete: bool = False
    note: str = ""
    stderr_tail: str = ""

    @property
    def cpu_s(self) -> float:
        return self.cpu_user_s + self.cpu_sys_s

    @property
    def pct(self) -> float:
        return 100.0 * self.banners / self.expected if self.expected else 0.0

    @property
    def complete(self) -> bool:
        return self.expected > 0 and self.banners == self.expected and self.returncode == 0


def count_banners(path: Path) -> tuple[np.ndarray, np.ndarray, int, dict[str, int]]:
    """(pairs with a banner, pairs whose banner names the address, banner records, per app)."""
    if not path.exists() or path.stat().st_size == 0:
        z = np.zeros(0, np.uint64)
        return z, z, 0, {}
    pairs: set[int] = set()
    named: set[int] = set()
    apps: dict[str, int] = {}
    n = 0
    for r in read_binary(path):
        if r.kind != "banner" or r.proto != "tcp":
            continue
        n += 1
        apps[r.app] = apps.get(r.app, 0) + 1
        key = (r.ip << 16) | r.port
        pairs.add(key)
        if str(ipaddress.IPv4Address(r.ip)).encode() in r.banner:
            named.add(key)
    return (np.fromiter(sorted(pairs), np.uint64, len(pairs)),
            np.fromiter(sorted(named), np.uint64, len(named)), n, apps)


def count_open(path: Path) -> int:
    """Open (ip, port) status records in an -oB file: the connections a --banners scan opened."""
    if not path.exists() or path.stat().st_size == 0:
        return 0
    return len({(r.ip, r.port) for r in read_binary(path)
                if r.kind == "status" and r.status == "open"})


def execute(lab: Lab, run: Run, argv: list[str], out: Path, keys: np.ndarray, workdir: Path,
            *, capture: bool = True, timeout: float = 900, margin: float = 1.0) -> Run:
    """Run one scanner command in the scanner namespace; fill `run`."""
    run.argv = list(argv)
    run.load1 = os.getloadavg()[0]
    run.expected = int(keys.size)
    with contextlib.suppress(FileNotFoundError):
        out.unlink()
    pcap = workdir / f"{run.tool}-{run.rate}-{run.round}.pcap"
    started: list[Any] = []
    cap = wire_capture(lab, pcap, started) if capture else None
    try:
        return _execute(lab, run, argv, out, keys, cap, pcap, timeout, margin)
    finally:
        for proc in started:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        with contextlib.suppress(OSError):
            pcap.unlink()


def _execute(lab: Lab, run: Run, argv: list[str], out: Path, keys: np.ndarray,
             cap: Capture | None, pcap: Path, timeout: float, margin: float) -> Run:
    listener = getattr(lab, "_listener", None)
    lst0 = proc_cpu_s(listener.pid) if listener is not None else None
    sd0, rxd0 = softnet_drops(), lab.scanner_counters()["rx_dropped"]
    err = tempfile.TemporaryFile(mode="w+")
    status, ru = 0, None
    t0 = time.monotonic()
    with lab.keep_scanner_awake():
        proc = lab.popen_scanner(argv, stdin=subprocess.DEVNULL, stdout=err, stderr=err)
        sampler = Sampler(proc.pid)
        try:
            while True:
                pid, status, ru = os.wait4(proc.pid, os.WNOHANG)
                if pid == proc.pid:
                    break
                if time.monotonic() - t0 > timeout:
                    os.kill(proc.pid, signal.SIGKILL)
                    run.note += f"killed after {timeout:.0f} s; "
                    timeout = float("inf")
                time.sleep(0.01)
        finally:
            sampler.stop()
    run.wall_s = time.monotonic() - t0
    run.softnet_drops = softnet_drops() - sd0
    run.scan_rx_dropped = lab.scanner_counters()["rx_dropped"] - rxd0
    proc.returncode = os.waitstatus_to_exitcode(status)
    run.returncode = proc.returncode
    if ru is not None:
        run.cpu_user_s, run.cpu_sys_s, run.maxrss_kib = ru.ru_utime, ru.ru_stime, ru.ru_maxrss
    run.tree_rss_peak_kib, run.main_hwm_kib = sampler.tree_peak_kib, sampler.main_hwm_kib
    t_end = t0 + run.wall_s
    early = [kib for t, kib in sampler.rss_series if t <= t_end - margin]
    run.rss_before_end_kib = max(early, default=0)
    if run.tool != "masscan":
        run.rx_cpu_s = sampler.main_cpu_s
    if cap is not None:
        cap.stop(settle=CAPTURE_SETTLE)
        run.capture_complete = cap.complete and not cap.kernel_drops
        if not run.capture_complete:
            run.note += f"capture {cap.captured}/{cap.received} dropped {cap.kernel_drops}; "
    if listener is not None and lst0 is not None:
        lst1 = proc_cpu_s(listener.pid)
        run.listener_cpu_s = None if lst1 is None else lst1 - lst0
    err.seek(0)
    text = err.read()
    err.close()
    run.stderr_tail = text[-800:].replace("\r", "\n")
    m = re.search(r"dropped (\d+) received frames", text)
    run.ring_drops = int(m.group(1)) if m else 0

    pairs, named, run.records, run.by_app = count_banners(out)
    pairs = pairs[np.isin(pairs, keys)]
    run.banners = int(pairs.size)
    run.named = int(np.count_nonzero(np.isin(named, keys)))
    run.banners_by_port = {p: int(np.count_nonzero((pairs & np.uint64(0xFFFF)) == p)) for p in PORTS}
    if cap is not None:
        src = int(ipaddress.IPv4Address(source_ip(lab, run.tool)))
        w = read_wire(pcap, src)
        wp = w.pairs[np.isin(w.pairs, keys)]
        run.wire_pairs = int(wp.size)
        run.wire_by_port = {p: int(np.count_nonzero((wp & np.uint64(0xFFFF)) == p)) for p in PORTS}
        run.lost = int(np.count_nonzero(~np.isin(wp, pairs)))
        run.syns = w.syns
        run.syn_to_banner_ms = w.syn_to_banner_ms
        if w.first_syn is not None and w.last_syn is not None:
            run.syn_s = w.last_syn - w.first_syn
            run.syn_rate = w.syns / run.syn_s if run.syn_s > 0 else 0.0
        last = w.last_banner(pairs)
        if w.first_syn is not None and last is not None:
            run.grab_s = last - w.first_syn
            run.banners_per_s = run.banners / run.grab_s if run.grab_s > 0 else 0.0
    run.banners_per_wall_s = run.banners / run.wall_s if run.wall_s else 0.0
    return run


# ================================================================================================
# Commands
# ================================================================================================

def source_ip(lab: Lab, tool: str) -> str:
    return masscan_source(lab) if tool == "masscan" else lab.spare_ip


def tidescan_cmd(text: str | None) -> list[str]:
    return shlex.split(text) if text else [sys.executable, "-m", "tidescan"]


def tidescan_argv(lab: Lab, rate: int, out: Path, wait: int, ports: str, *, banners: bool = True,
                  cmd: str | None = None, extra: Sequence[str] = (),
                  target: str | None = None) -> list[str]:
    argv = [*tidescan_cmd(cmd), target or lab.target_range, f"-p{ports}", "--source-ip", lab.spare_ip,
            "--rate", str(rate), "--wait", str(wait), "--adapter", lab.scan_if, "-oB", str(out),
            "--nostatus", *extra]
    return argv + (["--banners"] if banners else [])


def masscan_argv(lab: Lab, rate: int, out: Path, wait: int, ports: str, *,
                 banners: bool = True, target: str | None = None) -> list[str]:
    argv = ["masscan", target or lab.target_range, f"-p{ports}", "--source-ip", masscan_source(lab),
            "--adapter", lab.scan_if, "--router-mac", lab.gateway_mac, "--rate", str(rate),
            "--wait", str(wait), "-oB", str(out)]
    return argv + (["--banners"] if banners else [])


# ================================================================================================
# Reporting
# ================================================================================================

HEADER = (f"{'tool':<16} {'rate':>6} {'rnd':>3} {'load1':>5} {'banners':>13} {'%':>6} {'named':>7} "
          f"{'wire':>7} {'lost':>5} {'SYNs':>7} {'SYN/s':>7} {'grab s':>6} {'banners/s':>9} {'wall s':>6} "
          f"{'b/wall-s':>8} {'cpu s':>6} {'rx cpu':>6} {'maxrss':>7} {'treeRSS':>7} "
          f"{'lst cpu':>7} {'ring':>5} {'softnet':>7} {'ms 21/22/80':>14}")


def row(r: Run) -> str:
    lat = "/".join(f"{r.syn_to_banner_ms.get(p, float('nan')):.0f}" for p in PORTS)
    rx = "-" if r.rx_cpu_s is None else f"{r.rx_cpu_s:.2f}"
    lst = "-" if r.listener_cpu_s is None else f"{r.listener_cpu_s:.2f}"
    return (f"{r.tool:<16} {r.rate:>6} {r.round:>3} {r.load1:>5.2f} "
            f"{f'{r.banners}/{r.expected}':>13} {r.pct:>6.2f} {r.named:>7} {r.wire_pairs:>7} "
            f"{r.lost:>5} {r.syns:>7} {r.syn_rate:>7,.0f} {r.grab_s:>6.2f} {r.banners_per_s:>9,.0f} "
            f"{r.wall_s:>6.2f} {r.banners_per_wall_s:>8,.0f} {r.cpu_s:>6.2f} {rx:>6} "
            f"{r.maxrss_kib / 1024:>6.0f}M {r.tree_rss_peak_kib / 1024:>6.0f}M {lst:>7} "
            f"{r.ring_drops:>5} {r.softnet_drops:>7} {lat:>14}" + (f"  rc={r.returncode}" if r.returncode else "")
            + (f"  {r.note}" if r.note else ""))


def med(values: Sequence[float | None]) -> float:
    vals = [v for v in values if v is not None]
    return statistics.median(vals) if vals else float("nan")


def best_rates(runs: Sequence[Run]) -> dict[str, int]:
    """Per tool: the rate with the highest median banners/s among the rates where every run got
    100 %; if no rate did, the rate with the highest median completeness."""
    out: dict[str, int] = {}
    for tool in dict.fromkeys(r.tool for r in runs):
        rates = sorted({r.rate for r in runs if r.tool == tool})
        per = {rate: [r for r in runs if r.tool == tool and r.rate == rate] for rate in rates}
        full = [rate for rate, rs in per.items() if all(r.complete for r in rs)]
        if full:
            out[tool] = max(full, key=lambda rate: med([r.banners_per_s for r in per[rate]]))
        else:
            out[tool] = max(rates, key=lambda rate: (med([r.pct for r in per[rate]]),
                                                     med([r.banners_per_s for r in per[rate]])))
    return out


def summary(runs: Sequence[Run]) -> list[str]:
    lines = ["", "## Medians per tool and rate",
             f"{'tool':<16} {'rate':>6} {'n':>2} {'100%':>5} {'% med':>6} {'% min':>6} "
             f"{'SYN/s':>7} {'grab s':>6} {'banners/s':>9} {'b/wall-s':>8} {'wall s':>6} "
             f"{'cpu s':>6} {'cpu us/banner':>13} {'rx cpu %':>8} {'maxrss':>7} {'lst cpu %':>9} "
             f"{'lost':>5}"]
    for tool in dict.fromkeys(r.tool for r in runs):
        for rate in sorted({r.rate for r in runs if r.tool == tool}):
            c = [r for r in runs if r.tool == tool and r.rate == rate]
            rx = med([r.rx_cpu_s / r.grab_s * 100 if r.rx_cpu_s and r.grab_s else None for r in c])
            lst = med([r.listener_cpu_s / r.grab_s * 100 if r.listener_cpu_s is not None and r.grab_s
                       else None for r in c])
            lines.append(
                f"{tool:<16} {rate:>6} {len(c):>2} {sum(r.complete for r in c):>2}/{len(c):<2} "
                f"{med([r.pct for r in c]):>6.2f} {min(r.pct for r in c):>6.2f} "
                f"{med([r.syn_rate for r in c]):>7,.0f} {med([r.grab_s for r in c]):>6.2f} "
                f"{med([r.banners_per_s for r in c]):>9,.0f} "
                f"{med([r.banners_per_wall_s for r in c]):>8,.0f} {med([r.wall_s for r in c]):>6.2f} "
                f"{med([r.cpu_s for r in c]):>6.2f} "
                f"{med([r.cpu_s / r.banners * 1e6 if r.banners else None for r in c]):>13.1f} "
                f"{rx:>8.0f} {med([r.maxrss_kib for r in c]) / 1024:>6.0f}M {lst:>9.0f} "
                f"{med([r.lost for r in c]):>5.0f}")
    best = best_rates(runs)
    if {"tidescan", "masscan"} <= best.keys():
        t_rate = best["tidescan"]
        m_fast = max(sorted({r.rate for r in runs if r.tool == "masscan"}),
                     key=lambda rate: med([r.banners_per_s for r in runs
                                           if r.tool == "masscan" and r.rate == rate]))
        lines += ["", f"## Best rates (100 % of the banners in every run, else the most complete): "
                  f"tidescan --rate {t_rate}, masscan --rate {best['masscan']}"]
        for what, m_rate in ((f"masscan at its best rate ({best['masscan']})", best["masscan"]),
                             (f"masscan at its fastest rate ({m_fast}, any completeness)", m_fast)):
            ratios, wall_ratios = [], []
            for rnd in sorted({r.round for r in runs}):
                t = [r for r in runs if r.tool == "tidescan" and r.rate == t_rate and r.round == rnd]
                m = [r for r in runs if r.tool == "masscan" and r.rate == m_rate and r.round == rnd]
                if t and m and m[0].banners_per_s > 0:
                    ratios.append(t[0].banners_per_s / m[0].banners_per_s)
                    wall_ratios.append(t[0].banners_per_wall_s / m[0].banners_per_wall_s)
            lines += [f"tidescan ({t_rate}) / {what}: banners/s {med(ratios):.2f}x (per round: "
                      f"{', '.join(f'{x:.2f}' for x in ratios)}), banners per wall second "
                      f"{med(wall_ratios):.2f}x"]
    return lines


# ================================================================================================
# Memory per connection
# ================================================================================================

def memory_phase(args: argparse.Namespace, log: Any) -> dict[str, Any]:
    """Live RSS per concurrent connection (both tools), and tidescan's tracemalloc figure.

    Per tool, three scans of the same lab: without --banners over the whole range ("off"), with
    --banners over its first half ("half") and over all of it ("full").  Two figures:
    (full - off) / opened: everything --banners costs, per connection (fixed costs such as the
    parser modules included); (full - half) / (opened_full - opened_half): the marginal cost of
    one more concurrent connection (fixed costs cancel out)."""
    res: dict[str, Any] = {}
    size = args.memory_size
    with make_lab(size) as lab, tempfile.TemporaryDirectory(prefix="tsbb-mem-") as wd:
        work = Path(wd)
        # Drop everything but SYNs from the scanner at the target's ingress: SYN-ACKs go out
        # (syncookies), the handshake never completes on the target, nothing closes our side.
        rules = f"""
table netdev tsbbmem {{
    chain ingress {{
        type filter hook ingress device "{lab.tgt_if}" priority -200; policy accept;
        ip saddr 10.200.0.0/24 tcp flags & (syn | ack) != syn drop
    }}
}}
"""
        r = lab.run_target(["nft", "-f", "-"], input=rules)
        if r.returncode != 0:
            raise RuntimeError(f"nft: {r.stderr.strip()}")
        net = ipaddress.ip_network(lab.target_range)
        half = str(next(net.subnets(prefixlen_diff=1)))
        n = net.num_addresses * len(args.memory_ports.split(","))
        log(f"\n## Memory: up to {n} concurrent connections ({lab.target_range} x "
            f"{args.memory_ports}, --rate {args.memory_rate}; the target drops all but SYNs, so "
            "every connection stays open)")
        log(f"{'tool':<9} {'scan':<30} {'load1':>5} {'opened':>7} {'RSS conc':>9} {'VmHWM':>9} "
            f"{'wall s':>6}")
        keys = np.zeros(0, np.uint64)
        configs = (("off", lab.target_range, False), ("half", half, True),
                   ("full", lab.target_range, True))
        for tool in (["tidescan"] + ([] if args.no_masscan else ["masscan"])):
            got: dict[str, tuple[float, float, int, list[Run]]] = {}
            for label, target, banners in configs:
                vals = []
                for rnd in range(args.memory_rounds):
                    out = work / f"mem-{tool}-{label}-{rnd}.bin"
                    argv = (tidescan_argv(lab, args.memory_rate, out, args.memory_wait,
                                          args.memory_ports, banners=banners,
                                          cmd=args.tidescan_cmd, target=target)
                            if tool == "tidescan" else
                            masscan_argv(lab, args.memory_rate, out, args.memory_wait,
                                         args.memory_ports, banners=banners, target=target))
                    run = Run(tool, args.memory_rate, rnd)
                    execute(lab, run, argv, out, keys, work, capture=False, timeout=args.timeout)
                    run.expected = count_open(out)
                    run.note += f"{label}: {target}, opened {run.expected}; "
                    vals.append(run)
                # the receive process: tidescan's main process, masscan's only one
                got[label] = (med([r.rss_before_end_kib for r in vals]),
                              med([r.main_hwm_kib for r in vals]),
                              int(med([r.expected for r in vals])), vals)
                log(f"{tool:<9} {label + ' ' + target + (' --banners' if banners else ''):<30} "
                    f"{vals[0].load1:>5.2f} {got[label][2]:>7} {got[label][0] / 1024:>8.1f}M "
                    f"{got[label][1] / 1024:>8.1f}M {med([r.wall_s for r in vals]):>6.2f}")
            off, hf, full = (got[c[0]] for c in configs)
            opened, opened_half = full[2], hf[2]
            per = {f"{what}_{kind}": (full[i] - base[i]) * 1024 / max(opened - n0, 1)
                   for i, what in ((0, "rss"), (1, "hwm"))
                   for kind, base, n0 in (("vs_off", off, 0), ("marginal", hf, opened_half))}
            res[tool] = {"connections": n, "opened": opened, "opened_half": opened_half,
                         "rss_kib": {k: got[k][0] for k in got},
                         "hwm_kib": {k: got[k][1] for k in got},
                         "bytes_per_connection": per,
                         "runs": [asdict(r) for *_, vs in got.values() for r in vs]}
            log(f"{tool:<9} bytes per connection: at full concurrency {per['rss_vs_off']:.0f} "
                f"(full - off) / opened, {per['rss_marginal']:.0f} marginal (full - half); "
                f"peak (VmHWM, shutdown included) {per['hwm_vs_off']:.0f} / "
                f"{per['hwm_marginal']:.0f}")
    if not args.no_tracemalloc:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        import bench_stack  # noqa: E402  (this directory)

        m = bench_stack.memory(args.tracemalloc_connections, args.tracemalloc_connections)
        res["tidescan_tracemalloc"] = m
        log(f"tidescan, tracemalloc (bench_stack.py method), {m['connections']} connections: "
            f"{m['bytes_per_conn_connected']:.0f} B/connection after the handshake, "
            f"{m['bytes_per_conn_with_40B_banner']:.0f} B with 40 pending bytes; masscan's TCB 616 B")
    return res


# ================================================================================================
# Profiling
# ================================================================================================

def profile_phase(args: argparse.Namespace, lab: Lab, keys: np.ndarray, work: Path, log: Any) -> None:
    """tidescan under py-spy (--subprocesses, raw collapsed stacks) once per rate; a top list of
    the receive process's functions by own samples and by cumulative samples."""
    out_dir = Path(args.profile)
    out_dir.mkdir(parents=True, exist_ok=True)
    for rate in parse_rates(args.tidescan_rates):
        out = work / f"prof-{rate}.bin"
        raw = out_dir / f"tidescan-{rate}.txt"
        argv = ["py-spy", "record", "-r", str(args.profile_hz), "-f", "raw", "-o", str(raw),
                "--subprocesses", "--nonblocking", "--",
                *tidescan_argv(lab, rate, out, args.wait, ",".join(map(str, PORTS)),
                               cmd=args.tidescan_cmd)]
        run = Run("tidescan", rate, -9)
        execute(lab, run, argv, out, keys, work, timeout=args.timeout)
        log(HEADER)
        log(row(run))
        log(f"\n### py-spy, tidescan --rate {rate} ({run.banners}/{run.expected} banners, "
            f"{run.pct:.2f} %): {raw}")
        for line in top_functions(raw, args.profile_top):
            log(line)


def top_functions(raw: Path, top: int) -> list[str]:
    """From py-spy's collapsed stacks (raw format): per function (line numbers folded), the share
    of the receive process's samples spent in it (own) and under it (cumulative)."""
    own: dict[str, int] = {}
    cum: dict[str, int] = {}
    total = 0
    if not raw.exists():
        return ["(no profile written)"]
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit() or "receive_loop" not in stack:
            continue                       # senders' stacks (children) are left out
        c = int(count)
        total += c
        frames = [re.sub(r":\d+\)$", ")", f) for f in stack.split(";")]
        own[frames[-1]] = own.get(frames[-1], 0) + c
        for f in set(frames):
            cum[f] = cum.get(f, 0) + c
    pct = lambda v: 100 * v / max(total, 1)  # noqa: E731
    lines = [f"receive-process samples: {total}", "  own%   cum%  function (cumulative order)"]
    skip = ("<module>", "_run_code", "_run_module_as_main", "process ", "main (", "run_scan",
            "_dispatch", "run (tidescan/scan.py)")
    ranked = [kv for kv in sorted(cum.items(), key=lambda kv: -kv[1])
              if not kv[0].startswith(skip)]
    lines += [f"  {pct(own.get(f, 0)):5.1f}  {pct(c):5.1f}  {f}" for f, c in ranked[:top]]
    lines.append("  own%  function (own order)")
    lines += [f"  {pct(c):5.1f}  {f}" for f, c in sorted(own.items(), key=lambda kv: -kv[1])[:top]]
    return lines


# ================================================================================================
# The receive loop's stack calls alone (no lab, no I/O)
# ================================================================================================

def micro_bench(hosts: int, block: int, repeat: int) -> dict[str, float]:
    """The lab's conversations replayed through `Stack` + `BannerSession` in-process: per
    connection (ports 21, 22, 80 of `hosts` hosts) a SYN-ACK, then for ftp/ssh the greeting and
    a FIN; for http, 2 s later, the hello timer (our GET) and the reply and a FIN; `block`
    connections per call (the receive loop's batch).  CPU microseconds per connection spent
    inside the stack calls, by phase; the best of `repeat` runs (the machine is shared)."""
    from tidescan.banners.base import BannerConfig
    from tidescan.lab_listeners import banner_for
    from tidescan.packets.triage import parse_frames
    from tidescan.stack.driver import Stack
    from tidescan.stack.segments import ACK, FIN, PSH, SYN, SegmentTemplate

    ours, router, me, my_port = "02:00:00:00:00:01", "02:00:00:00:00:fe", 0x0AC80003, 61000
    tmpl = SegmentTemplate(router, ours, ttl=64, window=65535)

    def frames(them: np.ndarray, port: np.ndarray, seq: np.ndarray, ack: np.ndarray, flags: int,
               payloads: list[bytes] | None = None) -> Any:
        f, ln = tmpl.build(4, 0, them.astype(np.uint64), port, 0, me, my_port, seq, ack, flags,
                           payloads)
        return parse_frames(f, ln)

    h = np.repeat(0x0A700000 + np.arange(hosts, dtype=np.int64), 3)
    port = np.tile(np.array(PORTS), hosts)
    their_isn = (h * 7919 + port) & 0xFFFFFFFF
    our_next = (h * 104729 + port * 3) & 0xFFFFFFFF
    data = [banner_for(LISTEN[p], str(ipaddress.IPv4Address(int(x))), p)
            for x, p in zip(h.tolist(), port.tolist())]
    dlen = np.array([len(d) for d in data])
    n = len(h)
    best: dict[str, float] = {}
    for _ in range(repeat):
        cfg = BannerConfig()
        st = Stack(ours, router, banner_config=cfg, capacity=1 << (n - 1).bit_length(),
                   epoch_offset=0.0)
        t = dict.fromkeys(("synack", "data", "fin", "timer"), 0.0)

        def go(key: str, fn: Any, *a: Any) -> None:
            t0 = time.process_time()
            fn(*a)
            t[key] += time.process_time() - t0

        for lo in range(0, n, block):
            i = np.arange(lo, min(n, lo + block))
            go("synack", st.on_synacks, frames(h[i], port[i], their_isn[i], our_next[i], SYN | ACK),
               np.arange(i.size), 0.0)
            sf = i[port[i] != 80]
            seq = (their_isn[sf] + 1) & 0xFFFFFFFF
            go("data", st.on_segments, frames(h[sf], port[sf], seq, our_next[sf], PSH | ACK,
                                              [data[k] for k in sf.tolist()]),
               np.arange(sf.size), 0.0)
            go("fin", st.on_segments, frames(h[sf], port[sf], (seq + dlen[sf]) & 0xFFFFFFFF,
                                             our_next[sf], FIN | ACK), np.arange(sf.size), 0.0)
        go("timer", st.on_timer, 2.5)
        web = np.flatnonzero(port == 80)
        ack = (our_next[web] + len(cfg.http_probe)) & 0xFFFFFFFF
        for lo in range(0, web.size, block):
            i, a = web[lo:lo + block], ack[lo:lo + block]
            seq = (their_isn[i] + 1) & 0xFFFFFFFF
            go("data", st.on_segments, frames(h[i], port[i], seq, a, PSH | ACK,
                                              [data[k] for k in i.tolist()]),
               np.arange(i.size), 2.6)
            go("fin", st.on_segments, frames(h[i], port[i], (seq + dlen[i]) & 0xFFFFFFFF, a,
                                             FIN | ACK), np.arange(i.size), 2.6)
        if len(st) or st.stats.records != n + 2 * web.size or st.stats.session_errors:
            raise RuntimeError(f"micro: unexpected end state: {len(st)} open, {st.stats}")
        per = {k: v / n * 1e6 for k, v in t.items()}
        per["total"] = sum(t.values()) / n * 1e6
        if not best or per["total"] < best["total"]:
            best = per
    return best


# ================================================================================================
# Main
# ================================================================================================

def parse_rates(text: str) -> list[int]:
    return [int(float(x)) for x in text.split(",") if x]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", type=int, default=18, help="target prefix length (default 18)")
    p.add_argument("--rounds", type=int, default=3, help="rounds over every (tool, rate)")
    p.add_argument("--tidescan-rates", default="5000,10000,20000,40000")
    p.add_argument("--masscan-rates", default="5000,10000,20000,40000")
    p.add_argument("--wait", type=int, default=4, help="--wait for both (default 4: > the 2 s "
                   "hello timeout, so the last HTTP grabs finish)")
    p.add_argument("--no-masscan", action="store_true")
    p.add_argument("--tidescan-cmd", help="command that starts tidescan (default: python -m tidescan)")
    p.add_argument("--variant", action="append", default=[], metavar="NAME=CMD",
                   help="also run tidescan started by CMD (e.g. a patched copy), reported as "
                   "tidescan:NAME, on the tidescan rate ladder (repeatable)")
    p.add_argument("--timeout", type=float, default=900, help="per run, seconds")
    p.add_argument("--no-capture", action="store_true", help="no tcpdump (no grab-phase timing)")
    p.add_argument("--memory", action="store_true", help="also measure memory per connection")
    p.add_argument("--memory-only", action="store_true", help="only the memory measurement")
    p.add_argument("--memory-size", type=int, default=16)
    p.add_argument("--memory-ports", default="22", help="ports for the memory scan (default 22: "
                   "server first, so no hello: every connection waits for the 30 s timeout)")
    p.add_argument("--memory-rate", type=int, default=5000)
    p.add_argument("--memory-wait", type=int, default=3, help="--wait of the memory scans; "
                   "the RSS at full concurrency is the largest sample >= 1 s before the exit")
    p.add_argument("--memory-rounds", type=int, default=1)
    p.add_argument("--no-tracemalloc", action="store_true")
    p.add_argument("--tracemalloc-connections", type=int, default=100_000)
    p.add_argument("--profile", metavar="DIR", help="also run tidescan under py-spy, once per rate")
    p.add_argument("--profile-hz", type=int, default=200)
    p.add_argument("--profile-top", type=int, default=25)
    p.add_argument("--micro", action="store_true", help="only the in-process stack benchmark "
                   "(no lab, no root)")
    p.add_argument("--micro-hosts", type=int, default=8192)
    p.add_argument("--micro-blocks", default="16,64,256")
    p.add_argument("--micro-repeat", type=int, default=5)
    p.add_argument("--json", help="write every run here")
    return p.parse_args(argv)


def machine() -> dict[str, Any]:
    info: dict[str, Any] = {"cpus": os.cpu_count(), "load_at_start": os.getloadavg()}
    with contextlib.suppress(OSError):
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
    with contextlib.suppress(Exception):
        out = subprocess.run(["masscan", "--version"], capture_output=True, text=True, timeout=10)
        m = re.search(r"version ([\d.]+)", out.stdout + out.stderr)
        info["masscan"] = m.group(1) if m else "?"
    return info


def main(argv: Sequence[str] | None = None) -> int:
    a = parse_args(argv)
    if a.micro:
        print(f"stack + banner sessions, lab conversations, {a.micro_hosts * 3} connections; "
              "CPU us per connection (best of {a.micro_repeat}):".replace("{a.micro_repeat}",
                                                                        str(a.micro_repeat)))
        res = {}
        for b in parse_rates(a.micro_blocks):
            r = res[b] = micro_bench(a.micro_hosts, b, a.micro_repeat)
            print(f"  block {b:>5}: total {r['total']:6.1f}  (synack {r['synack']:.1f}, data "
                  f"{r['data']:.1f}, fin {r['fin']:.1f}, timer {r['timer']:.1f})", flush=True)
        if a.json:
            Path(a.json).write_text(json.dumps({"micro": res}, indent=1))
        return 0
    if os.geteuid() != 0:
        print("bench_banners_live: needs root (network namespaces)", file=sys.stderr)
        return 2
    if not a.no_masscan and subprocess.run(["which", "masscan"], capture_output=True).returncode:
        print("bench_banners_live: masscan not found (or give --no-masscan)", file=sys.stderr)
        return 2

    def log(s: str) -> None:
        print(s, flush=True)

    info = machine()
    log(f"# banner benchmark, {time.strftime('%Y-%m-%d %H:%M:%S')}; machine: {json.dumps(info)}")
    log("# command: " + " ".join([sys.executable, *sys.argv]))
    runs: list[Run] = []
    memory: dict[str, Any] = {}
    try:
        if not a.memory_only:
            with make_lab(a.size) as lab, tempfile.TemporaryDirectory(prefix="tsbb-") as wd:
                work = Path(wd)
                keys = expected_keys(lab)
                log(f"\n## {lab.target_range} x 21,22,80: {keys.size} connections, each one banner "
                    f"(tidescan from {lab.spare_ip}, masscan from {masscan_source(lab)}; --wait {a.wait})")
                log(HEADER)
                ladders = [("tidescan", parse_rates(a.tidescan_rates))]
                variants = dict(v.split("=", 1) for v in a.variant)
                ladders += [(f"tidescan:{name}", parse_rates(a.tidescan_rates)) for name in variants]
                if not a.no_masscan:
                    ladders.insert(0, ("masscan", parse_rates(a.masscan_rates)))
                # interleave the tools: m r1, t r1, m r2, t r2, ...
                inter: list[tuple[str, int]] = []
                depth = max(len(rs) for _, rs in ladders)
                for i in range(depth):
                    for tool, rs in ladders:
                        if i < len(rs):
                            inter.append((tool, rs[i]))
                for rnd in range(a.rounds):
                    order = inter if rnd % 2 == 0 else inter[::-1]
                    for tool, rate in order:
                        out = work / f"{tool}-{rate}-{rnd}.bin"
                        ports = ",".join(map(str, PORTS))
                        if tool == "masscan":
                            argv = masscan_argv(lab, rate, out, a.wait, ports)
                        else:
                            cmd = variants.get(tool.partition(":")[2], a.tidescan_cmd)
                            argv = tidescan_argv(lab, rate, out, a.wait, ports, cmd=cmd)
                        run = Run(tool, rate, rnd)
                        execute(lab, run, argv, out, keys, work, capture=not a.no_capture,
                                timeout=a.timeout)
                        runs.append(run)
                        log(row(run))
                if a.profile:
                    profile_phase(a, lab, keys, work, log)
        if a.memory or a.memory_only:
            memory = memory_phase(a, log)
    finally:
        for line in summary(runs) if runs else []:
            log(line)
        if a.json:
            Path(a.json).write_text(json.dumps(
                {"machine": info, "argv": list(sys.argv),
                 "runs": [asdict(r) | {"cpu_s": r.cpu_s, "pct": r.pct, "complete": r.complete}
                          for r in runs],
                 "best_rates": best_rates(runs) if runs else {}, "memory": memory},
                indent=1, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
