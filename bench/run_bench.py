"""Issue 4's benchmark: masscan and tidescan, alternately, on the same lab, measured on the wire.

Why this exists: "faster than masscan" is only a claim until both programs run on the same machine,
against the same targets, in the same minutes, and are counted by something neither of them
controls.  This script builds the built-in lab (`tidescan.lab.bench_lab`: two namespaces, a veth
pair, the target kernel answering a whole /16) and runs the two scanners one after the other,
several rounds, and counts what arrives on the *target* side of the veth:

* a tiny nftables table on the target veth's ingress hook (`netdev`, priority -100, before the
  lab's own sink/drop rules) with three named counters: pure SYNs (= probes), RSTs (the scanners'
  resets of SYN-ACKs; the scanner host's kernel sends one too), everything else;
* the veth's rx packet counter, read from `/proc/net/dev` of the target namespace every 5 ms
  (~10 us a read): the transmit phase runs from the first change to the last interval with more
  than `ACTIVE` new frames (so the pokes that wake masscan at the end are not counted);
* an AF_PACKET socket on the target veth with kernel timestamps (SO_TIMESTAMPNS), open from just
  before the exec until the first SYN arrives: exec-to-first-frame and exec-to-first-SYN;
* `os.wait4` of the scanner process: its user+sys CPU and peak RSS (`ru_maxrss`, the largest
  single process of the tree: the kernel folds reaped children in), plus the peak of the *sum*
  of the tree's resident sets sampled every 100 ms (sender processes share pages with the parent
  after fork, so the sum over-counts);
* results: the `-oB` file read with `tidescan.output.binary.read_binary`, compared with the lab's
  truth (`lab.open_array()`).

Scenarios (issue 4): 1 = TX to a sink (the target drops everything); 2 = full scan, the target
answers everything, at rates chosen by a short search (each tool's fastest rate that still found
100 % of the truth; when none did, the one that found the most), then confirmation rounds;
3 = `--offline` generation (tidescan only: Debian's masscan 1.3.2 cannot run `--offline` on a
veth); 4 = start-up (exec to first frame), short runs stopped with two SIGINTs after the first SYN.

Debian's masscan 1.3.2 blocks in libpcap after its `--wait` until any frame arrives; once its
transmit phase is over, the script pokes it with a UDP datagram from the target namespace every
0.2 s (harmless: the scanner host's kernel answers port-unreachable; they are not counted in the
transmit phase).  Both programs run inside the lab's scanner namespace via `ip netns exec`; every
packet stays inside namespaces this run created (10.x addresses, no route out).

Run as root: `python bench/run_bench.py` (all scenarios; ~25 min on the 2-core machine), or e.g.
`python bench/run_bench.py --scenarios 1,4 --repeat 5 --json out.json`.  See bench/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import shlex
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from procstats import process_tree, softnet_drops, tree_rss_kib  # (this directory)
from tidescan import netns
from tidescan.lab import Lab, bench_lab
from tidescan.lab_plan import DEFAULT_LISTEN

SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
POLL_S = 0.005           # counter poll period
ACTIVE = 10              # frames per poll interval that count as "transmitting"
WAKE_AFTER_S = 0.5       # masscan: start poking once the wire has been quiet this long
WAKE_EVERY_S = 0.2
DEFAULT_PORTS = "1-100"
DEFAULT_DENSE = (21, 22, 80)


# ================================================================================================
# The lab, with counters on the target's ingress
# ================================================================================================

def make_lab(sink: bool, size: int, ports: Sequence[int], dense: Sequence[int]) -> Lab:
    """`bench_lab` itself for the issue's /16; the same recipe for other sizes (smoke test)."""
    if size == 16:
        return bench_lab(sink=sink, ports=tuple(ports), dense_ports=tuple(dense))
    listen = {p: DEFAULT_LISTEN.get(p, "silent") for p in dense}
    return Lab(size=size, ports=tuple(ports), listen=listen, dense_ports=tuple(dense),
               open_per_port=0, drop_hosts=0, icmp_hosts=0, rst_hosts=0, sink=sink)


def install_counters(lab: Lab) -> None:
    rules = f"""
table netdev tsbench {{
    counter syn {{ }}
    counter rst {{ }}
    counter other {{ }}
    chain ingress {{
        type filter hook ingress device "{lab.tgt_if}" priority -100; policy accept;
        tcp flags & (syn | ack | rst | fin) == syn counter name "syn" accept
        tcp flags & rst == rst counter name "rst" accept
        counter name "other"
    }}
}}
"""
    r = lab.run_target(["nft", "-f", "-"], input=rules)
    if r.returncode != 0:
        raise RuntimeError(f"nft (bench counters): {r.stderr.strip()}")


def read_counters(lab: Lab) -> dict[str, int]:
    r = lab.run_target(["nft", "-j", "list", "counters", "table", "netdev", "tsbench"])
    out = {}
    for item in json.loads(r.stdout)["nftables"]:
        if "counter" in item:
            out[item["counter"]["name"]] = int(item["counter"]["packets"])
    return out


class RxCounter:
    """The target veth's rx_packets, read cheaply: /proc/net/dev opened inside the namespace."""

    def __init__(self, lab: Lab) -> None:
        with netns.entered(lab.tgt_ns):
            self._f = open("/proc/thread-self/net/dev", "rb", buffering=0)  # noqa: SIM115
        self._key = lab.tgt_if.encode() + b":"

    def read(self) -> int:
        self._f.seek(0)
        for line in self._f.read(1 << 16).split(b"\n"):
            if self._key in line:
                return int(line.split(b":", 1)[1].split()[0 + 1])
        raise RuntimeError("target interface vanished")

    def close(self) -> None:
        self._f.close()


def load1() -> float:
    return os.getloadavg()[0]


# ================================================================================================
# One run
# ================================================================================================

@dataclass
class Run:
    scenario: int
    tool: str                 # "masscan" | "tidescan"
    config: str               # label, e.g. "tidescan s2"
    rate: int
    round: int
    argv: list[str] = field(default_factory=list)
    load1: float = 0.0
    returncode: int | None = None
    wall_s: float = 0.0
    tx_s: float = 0.0
    frames: int = 0           # target veth rx during the transmit phase
    probes: int = 0           # pure SYNs counted on the target's ingress
    rsts: int = 0
    replies: int = 0          # frames the scanner's veth received (the target's answers)
    probes_per_s: float = 0.0
    frames_per_s: float = 0.0
    cpu_user_s: float = 0.0
    cpu_sys_s: float = 0.0
    maxrss_kib: int = 0
    tree_rss_peak_kib: int = 0
    first_frame_ms: float | None = None
    first_syn_ms: float | None = None
    found: int = 0            # open results that are in the truth
    false_open: int = 0
    truth_open: int = 0
    ring_drops: int = 0       # tidescan's own report (kernel drops on its RX ring)
    softnet_drops: int = 0
    tgt_rx_dropped: int = 0
    scan_rx_dropped: int = 0
    self_reported_mpps: float | None = None   # --offline only
    note: str = ""
    stderr_tail: str = ""

    @property
    def cpu_s(self) -> float:
        return self.cpu_user_s + self.cpu_sys_s

    @property
    def complete(self) -> bool:
        return self.found == self.truth_open and self.false_open == 0


class FirstFrames:
    """Kernel timestamps of the first frame and the first pure SYN arriving on the target veth."""

    def __init__(self, lab: Lab) -> None:
        with netns.entered(lab.tgt_ns):
            self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        self.sock.bind((lab.tgt_if, 0))
        self.sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        self.sock.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            while True:
                self.sock.recv(2048)  # drain anything from before
        self.sock.settimeout(0.2)
        self.first: float | None = None
        self.first_syn: float | None = None
        self._stop = False
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        deadline = time.monotonic() + 60
        try:
            while not self._stop and self.first_syn is None and time.monotonic() < deadline:
                try:
                    data, anc, _flags, addr = self.sock.recvmsg(128, socket.CMSG_SPACE(16))
                except TimeoutError:
                    continue
                if addr[2] == PACKET_OUTGOING:
                    continue
                if data[12:14] == b"\x08\x06" and data[:6] != b"\xff" * 6:
                    continue   # unicast ARP: the scanner host kernel's neighbour probe
                ts = None
                for level, kind, payload in anc:
                    if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                        sec, nsec = struct.unpack("qq", payload[:16])
                        ts = sec + nsec * 1e-9
                if ts is None:
                    ts = time.time()
                if self.first is None:
                    self.first = ts
                if (len(data) >= 48 and data[12:14] == b"\x08\x00" and data[23] == 6
                        and data[14 + (data[14] & 15) * 4 + 13] & 0x17 == 0x02):
                    self.first_syn = ts
        finally:
            self.sock.close()

    def stop(self) -> None:
        self._stop = True
        self._thread.join(timeout=1)


class Sampler:
    """Polls the target rx counter (every POLL_S) and the scanner tree's RSS (every 100 ms)."""

    def __init__(self, counter: RxCounter | None, pid: int) -> None:
        self.counter, self.pid = counter, pid
        self.base = counter.read() if counter else 0
        self.samples: list[tuple[float, int]] = [(time.monotonic(), self.base)]
        self.rss_peak = 0
        self.pids: set[int] = {pid}
        self._stop = False
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        i = 0
        while not self._stop:
            v = self.counter.read() if self.counter else 0
            if v != self.samples[-1][1]:
                self.samples.append((time.monotonic(), v))
            if i % 20 == 0:
                tree = process_tree(self.pid)
                self.pids.update(tree)
                self.rss_peak = max(self.rss_peak, tree_rss_kib(tree))
            i += 1
            time.sleep(POLL_S)

    def last_activity(self) -> float | None:
        """Time of the last poll interval with more than ACTIVE new frames."""
        s = self.samples
        for k in range(len(s) - 1, 0, -1):
            if s[k][1] - s[k - 1][1] > ACTIVE:
                return s[k][0]
        return None

    def tx_phase(self) -> tuple[float, int]:
        """(seconds, frames) from the first new frame to the end of the last active interval."""
        s = self.samples
        if len(s) < 2:
            return 0.0, 0
        start = (s[0][0] + s[1][0]) / 2 if s[1][0] - s[0][0] < 2 * POLL_S else s[1][0] - POLL_S / 2
        end_k = next((k for k in range(len(s) - 1, 0, -1) if s[k][1] - s[k - 1][1] > ACTIVE), 1)
        return max(s[end_k][0] - start, 1e-9), s[end_k][1] - self.base

    def stop(self) -> None:
        self._stop = True
        self._thread.join(timeout=1)


class Poker:
    """A UDP socket in the target namespace: one datagram to the scanner wakes masscan's pcap."""

    def __init__(self, lab: Lab) -> None:
        with netns.entered(lab.tgt_ns):
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.addr = (lab.scan_ip, 9)

    def poke(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.sendto(b"wake", self.addr)

    def close(self) -> None:
        self.sock.close()


def read_found(path: str, truth_keys: np.ndarray) -> tuple[int, int]:
    """(open results in the truth, open results not in it) of an -oB file."""
    from tidescan.output.binary import read_binary

    if not os.path.exists(path) or os.path.getsize(path) == 0:
        return 0, 0
    keys = np.fromiter(((r.ip << 16) | r.port for r in read_binary(path)
                        if r.kind == "status" and r.status == "open" and r.proto == "tcp"),
                       dtype=np.uint64)
    keys = np.unique(keys)
    hit = int(np.count_nonzero(np.isin(keys, truth_keys, assume_unique=True)))
    return hit, int(keys.size - hit)


def execute(lab: Lab, run: Run, argv: list[str], *, truth_keys: np.ndarray | None,
            counter: RxCounter | None, poker: Poker | None, out_path: str | None,
            stop_after_first_syn: bool = False, timeout: float = 900) -> Run:
    """Run one scanner command in the lab's scanner namespace and fill `run` with what was seen."""
    run.argv = list(argv)
    run.load1 = load1()
    c0 = read_counters(lab) if counter else {}
    l0 = lab.target_counters() if counter else {}
    s0 = lab.scanner_counters() if counter else {}
    sd0 = softnet_drops()
    if out_path and os.path.exists(out_path):
        os.unlink(out_path)
    err = tempfile.TemporaryFile(mode="w+")
    first = FirstFrames(lab) if counter else None
    t_exec_wall = time.time()
    t_exec = time.monotonic()
    proc = lab.popen_scanner(argv, stdin=subprocess.DEVNULL, stdout=err, stderr=err)
    sampler = Sampler(counter, proc.pid)
    status, ru = 0, None
    last_poke = 0.0
    interrupted = 0
    try:
        while True:
            pid, status, ru = os.wait4(proc.pid, os.WNOHANG)
            if pid == proc.pid:
                break
            now = time.monotonic()
            if now - t_exec > timeout:
                os.kill(proc.pid, signal.SIGKILL)
                run.note += f"killed after {timeout:.0f} s; "
                timeout = float("inf")
            if stop_after_first_syn and first is not None and first.first_syn is not None \
                    and interrupted < 2 and now - last_poke > 0.1:
                os.kill(proc.pid, signal.SIGINT)   # twice: stop sending, then do not wait
                interrupted += 1
                last_poke = now
            if run.tool == "masscan" and poker is not None:
                la = sampler.last_activity()
                quiet = (la is not None and now - la > WAKE_AFTER_S) or interrupted >= 2
                if quiet and now - last_poke > WAKE_EVERY_S:
                    poker.poke()
                    last_poke = now
            time.sleep(0.01)
    finally:
        if first is not None:
            first.stop()
        sampler.stop()
    run.wall_s = time.monotonic() - t_exec
    proc.returncode = os.waitstatus_to_exitcode(status)
    run.returncode = proc.returncode
    if ru is not None:
        run.cpu_user_s, run.cpu_sys_s, run.maxrss_kib = ru.ru_utime, ru.ru_stime, ru.ru_maxrss
    for p in sorted(sampler.pids - {proc.pid}):   # orphaned children (never expected)
        with contextlib.suppress(ProcessLookupError):
            os.kill(p, signal.SIGKILL)
    run.tree_rss_peak_kib = sampler.rss_peak
    if counter:
        run.tx_s, run.frames = sampler.tx_phase()
    run.softnet_drops = softnet_drops() - sd0
    if counter:
        c1 = read_counters(lab)
        l1, s1 = lab.target_counters(), lab.scanner_counters()
        run.probes = c1.get("syn", 0) - c0.get("syn", 0)
        run.rsts = c1.get("rst", 0) - c0.get("rst", 0)
        run.tgt_rx_dropped = l1["rx_dropped"] - l0["rx_dropped"]
        run.scan_rx_dropped = s1["rx_dropped"] - s0["rx_dropped"]
        run.replies = s1["rx_packets"] - s0["rx_packets"]
        if run.tx_s > 0:
            run.probes_per_s = run.probes / run.tx_s
            run.frames_per_s = run.frames / run.tx_s
    if first is not None:
        if first.first is not None:
            run.first_frame_ms = (first.first - t_exec_wall) * 1e3
        if first.first_syn is not None:
            run.first_syn_ms = (first.first_syn - t_exec_wall) * 1e3
    err.seek(0)
    text = err.read()
    err.close()
    run.stderr_tail = text[-600:].replace("\r", "\n")
    m = re.search(r"dropped (\d+) received frames", text)
    run.ring_drops = int(m.group(1)) if m else 0
    m = re.search(r"offline: (\d+) probes built in ([\d.]+) s \(([\d.]+) M probes/s", text)
    if m:
        run.probes = int(m.group(1))
        run.tx_s = float(m.group(2))
        run.self_reported_mpps = float(m.group(3))
        run.probes_per_s = run.probes / run.tx_s if run.tx_s else 0.0
    if truth_keys is not None and out_path:
        run.truth_open = int(truth_keys.size)
        run.found, run.false_open = read_found(out_path, truth_keys)
    return run


# ================================================================================================
# Commands
# ================================================================================================

def masscan_argv(lab: Lab, rate: int, ports: str, out: str, wait: int) -> list[str]:
    return ["masscan", lab.target_range, f"-p{ports}", "--rate", str(rate), "--wait", str(wait),
            "--adapter", lab.scan_if, "--router-mac", lab.gateway_mac, "--source-ip", lab.scan_ip,
            "-oB", out]


def tidescan_cmd(text: str | None) -> list[str]:
    """How to start tidescan: `python -m tidescan`, or `--tidescan-cmd` (a variant to compare)."""
    return shlex.split(text) if text else [sys.executable, "-m", "tidescan"]


def tidescan_argv(lab: Lab, rate: int, ports: str, out: str, wait: int,
                  senders: str | None, cmd: str | None = None) -> list[str]:
    argv = [*tidescan_cmd(cmd), lab.target_range, f"-p{ports}", "--rate", str(rate),
            "--wait", str(wait), "--adapter", lab.scan_if, "-oB", out, "--nostatus"]
    if senders and senders != "auto":
        argv += ["--senders", senders]
    return argv


def tidescan_label(senders: str | None) -> str:
    return "tidescan" if not senders or senders == "auto" else f"tidescan s{senders}"


@dataclass
class Bench:
    args: argparse.Namespace
    runs: list[Run] = field(default_factory=list)
    log: Callable[[str], None] = print

    @property
    def ports(self) -> list[int]:
        from tidescan.ports import parse_ports
        pl = parse_ports(self.args.ports)
        return [int(p) for s, e in zip(pl.starts, pl.ends) for p in range(int(s), int(e) + 1)]

    def tools(self) -> list[tuple[str, str | None]]:
        out: list[tuple[str, str | None]] = []
        if not self.args.no_masscan:
            out.append(("masscan", None))
        out += [("tidescan", s) for s in self.args.senders.split(",")]
        return out

    def _one(self, lab: Lab, scenario: int, tool: str, senders: str | None, rate: int, rnd: int,
             counter: RxCounter, poker: Poker, truth: np.ndarray | None, workdir: str,
             stop_early: bool = False) -> Run:
        out = os.path.join(workdir, f"s{scenario}-{tool}-{senders}-{rate}-{rnd}.bin")
        label = "masscan" if tool == "masscan" else tidescan_label(senders)
        argv = (masscan_argv(lab, rate, self.args.ports, out, self.args.wait) if tool == "masscan"
                else tidescan_argv(lab, rate, self.args.ports, out, self.args.wait, senders,
                                   self.args.tidescan_cmd))
        run = Run(scenario, tool, label, rate, rnd)
        execute(lab, run, argv, truth_keys=truth, counter=counter, poker=poker, out_path=out,
                stop_after_first_syn=stop_early, timeout=self.args.timeout)
        with contextlib.suppress(OSError):
            os.unlink(out)
        self.runs.append(run)
        self.log(row(run))
        return run

    def with_lab(self, sink: bool,
                 body: Callable[[Lab, RxCounter, Poker, np.ndarray, str], None]) -> None:
        with make_lab(sink, self.args.size, self.ports, self.dense) as lab, \
                tempfile.TemporaryDirectory(prefix="tsbench-") as workdir:
            install_counters(lab)
            counter, poker = RxCounter(lab), Poker(lab)
            truth = lab.open_array()
            keys = np.unique((truth[:, 0] << np.uint64(16)) | truth[:, 1])
            try:
                body(lab, counter, poker, keys, workdir)
            finally:
                counter.close()
                poker.close()

    @property
    def dense(self) -> tuple[int, ...]:
        return tuple(int(p) for p in self.args.dense.split(",") if p)

    # -- scenario 1: TX to a sink -----------------------------------------------------------------
    def scenario1(self) -> None:
        a = self.args
        self.log(f"\n## Scenario 1: TX to a sink, {a.size_text} x {a.ports} ports, "
                 f"--rate {a.rate1}")
        self.log(HEADER)

        def body(lab: Lab, counter: RxCounter, poker: Poker, keys: np.ndarray,
                 workdir: str) -> None:
            tools = self.tools()
            for rnd in range(a.repeat):
                order = tools if rnd % 2 == 0 else tools[::-1]
                for tool, senders in order:
                    self._one(lab, 1, tool, senders, a.rate1, rnd, counter, poker, keys, workdir)
        self.with_lab(True, body)

    # -- scenario 2: the target answers -----------------------------------------------------------
    def scenario2(self) -> None:
        a = self.args
        self.log(f"\n## Scenario 2: full scan, target answers, {a.size_text} x {a.ports} ports")

        def body(lab: Lab, counter: RxCounter, poker: Poker, keys: np.ndarray,
                 workdir: str) -> None:
            self.log(f"truth: {keys.size} open pairs")
            best: dict[tuple[str, str | None], int] = {}
            ladders: list[tuple[str, str | None, list[int]]] = []
            if not a.no_masscan:
                ladders.append(("masscan", None, parse_rates(a.masscan_rates)))
            for s in a.senders2.split(","):
                ladders.append(("tidescan", s, parse_rates(a.tidescan_rates)))
            if a.search:
                self.log("### search: one run per rate (interleaved); "
                         "best = fastest run with 100 %")
                self.log(HEADER)
                depth = max(len(rates) for _, _, rates in ladders)
                tried: dict[tuple[str, str | None], list[Run]] = {}
                for i in range(depth):
                    for tool, senders, rates in ladders:
                        if i < len(rates):
                            r = self._one(lab, 2, tool, senders, rates[i], -1 - i, counter, poker,
                                          keys, workdir)
                            tried.setdefault((tool, senders), []).append(r)
                for key, rs in tried.items():
                    ok = [r for r in rs if r.complete and r.returncode == 0]
                    if ok:
                        best[key] = max(ok, key=lambda r: r.probes_per_s).rate
                    else:   # none complete: the run that found the most (then the fastest)
                        b = max(rs, key=lambda r: (r.found, r.probes_per_s))
                        best[key] = b.rate
                        self.log(f"{rs[0].config}: no rate found 100 % of the truth; using "
                                 f"{b.rate} (found {b.found}/{b.truth_open})")
            else:
                for tool, senders, rates in ladders:
                    best[(tool, senders)] = rates[-1]
            if not best:
                return
            self.log("### best rates: " + ", ".join(
                f"{'masscan' if t == 'masscan' else tidescan_label(s)} {rate}"
                for (t, s), rate in best.items()))
            self.log(HEADER)
            items = [(t, s, rate) for (t, s), rate in best.items()]
            for rnd in range(a.repeat):
                order = items if rnd % 2 == 0 else items[::-1]
                for tool, senders, rate in order:
                    self._one(lab, 2, tool, senders, rate, rnd, counter, poker, keys, workdir)
        self.with_lab(False, body)

    # -- scenario 3: offline generation -----------------------------------------------------------
    def scenario3(self) -> None:
        a = self.args
        self.log(f"\n## Scenario 3: --offline generation, {a.offline_range} x {a.offline_ports} "
                 "(tidescan only)")
        self.log(HEADER)

        def body(lab: Lab, counter: RxCounter, poker: Poker, keys: np.ndarray,
                 workdir: str) -> None:
            for rnd in range(a.repeat3):
                for senders in a.senders3.split(","):
                    argv = [*tidescan_cmd(a.tidescan_cmd), a.offline_range, f"-p{a.offline_ports}",
                            "--offline", "--rate", "1000000000", "--nostatus"]
                    if senders != "auto":
                        argv += ["--senders", senders]
                    run = Run(3, "tidescan", tidescan_label(senders) + " offline", 10**9, rnd)
                    execute(lab, run, argv, truth_keys=None, counter=None, poker=None,
                            out_path=None, timeout=a.timeout)
                    self.runs.append(run)
                    self.log(row(run))
        self.with_lab(True, body)

    # -- scenario 4: start-up ---------------------------------------------------------------------
    def scenario4(self) -> None:
        a = self.args
        self.log(f"\n## Scenario 4: start-up, exec to first frame / first SYN on the target veth "
                 f"({a.size_text} x {a.ports}, --rate {a.rate1}, stopped after the first SYN)")
        self.log(HEADER)

        def body(lab: Lab, counter: RxCounter, poker: Poker, keys: np.ndarray,
                 workdir: str) -> None:
            tools = self.tools()
            for rnd in range(a.repeat4):
                order = tools if rnd % 2 == 0 else tools[::-1]
                for tool, senders in order:
                    self._one(lab, 4, tool, senders, a.rate1, rnd, counter, poker, None, workdir,
                              stop_early=True)
        self.with_lab(True, body)


def parse_rates(text: str) -> list[int]:
    return [int(float(x)) for x in text.split(",") if x]


# ================================================================================================
# Reporting
# ================================================================================================

HEADER = (f"{'scn':>3} {'rnd':>3} {'config':<18} {'rate':>9} {'load1':>5} {'probes/s':>10} "
          f"{'frames/s':>10} {'tx s':>6} {'wall s':>6} {'cpu s':>6} {'maxrss':>7} {'treeRSS':>7} "
          f"{'1stfrm':>7} {'1stSYN':>7} {'found/truth':>15} {'rc':>3} {'ring':>5} {'softnet':>7}")


def _ms(v: float | None) -> str:
    return "-" if v is None else f"{v:.0f}"


def row(r: Run) -> str:
    truth = f"{r.found}/{r.truth_open}" + (f"+{r.false_open}" if r.false_open else "")
    return (f"{r.scenario:>3} {r.round:>3} {r.config:<18} {r.rate:>9} {r.load1:>5.2f} "
            f"{r.probes_per_s:>10,.0f} {r.frames_per_s:>10,.0f} {r.tx_s:>6.2f} {r.wall_s:>6.2f} "
            f"{r.cpu_s:>6.2f} {r.maxrss_kib / 1024:>6.0f}M {r.tree_rss_peak_kib / 1024:>6.0f}M "
            f"{_ms(r.first_frame_ms):>7} {_ms(r.first_syn_ms):>7} {truth:>15} {r.returncode!s:>3} "
            f"{r.ring_drops:>5} {r.softnet_drops:>7}")


def med(values: Sequence[float | None]) -> float:
    vals = [v for v in values if v is not None]
    return statistics.median(vals) if vals else float("nan")


def _f(v: float, spec: str = ".0f") -> str:
    return "-" if v != v else format(v, spec)


@dataclass
class Medians:
    config: str
    n: int
    rate: int
    probes_per_s: float
    frames_per_s: float
    tx_s: float
    wall_s: float
    cpu_s: float
    cpu_us_per_probe: float
    maxrss_mib: float
    tree_rss_mib: float
    first_frame_ms: float
    first_syn_ms: float
    complete: int
    ratios: list[float]     # tidescan / masscan probes/s, one per round with both


def medians(runs: Sequence[Run], scenario: int) -> list[Medians]:
    """Per config of one scenario (search runs excluded): medians, and per-round ratios."""
    rs = [r for r in runs if r.scenario == scenario and r.round >= 0]
    out = []
    for cfg in dict.fromkeys(r.config for r in rs):
        c = [r for r in rs if r.config == cfg]
        ratios = []
        if scenario != 4:
            for r in c:
                m = [x for x in rs if x.tool == "masscan" and x.round == r.round]
                if r.tool == "tidescan" and m and m[0].probes_per_s > 0:
                    ratios.append(r.probes_per_s / m[0].probes_per_s)
        out.append(Medians(
            cfg, len(c), c[0].rate, med([r.probes_per_s for r in c]),
            med([r.frames_per_s for r in c]), med([r.tx_s for r in c]), med([r.wall_s for r in c]),
            med([r.cpu_s for r in c]), med([r.cpu_s / r.probes * 1e6 for r in c if r.probes]),
            med([r.maxrss_kib for r in c]) / 1024, med([r.tree_rss_peak_kib for r in c]) / 1024,
            med([r.first_frame_ms for r in c]), med([r.first_syn_ms for r in c]),
            sum(r.complete for r in c), ratios))
    return out


def summary(runs: Sequence[Run]) -> list[str]:
    """Plain-text medians per scenario and config, with the median per-round ratio."""
    lines = []
    for scn in sorted({r.scenario for r in runs}):
        ms = medians(runs, scn)
        if not ms:
            continue
        lines.append(f"\n### Scenario {scn}: medians over rounds")
        lines.append(f"{'config':<26} {'n':>2} {'rate':>9} {'probes/s':>10} {'frames/s':>10} "
                     f"{'tx s':>6} {'wall s':>6} {'cpu s':>6} {'cpu us/probe':>12} {'maxrss':>7} "
                     f"{'1stfrm ms':>9} {'1stSYN ms':>9} {'100% runs':>9} {'ratio t/m':>9}")
        for m in ms:
            ratio = f"{med(m.ratios):.2f}x" if m.ratios else "-"
            lines.append(
                f"{m.config:<26} {m.n:>2} {m.rate:>9} {m.probes_per_s:>10,.0f} "
                f"{m.frames_per_s:>10,.0f} {m.tx_s:>6.2f} {m.wall_s:>6.2f} {m.cpu_s:>6.2f} "
                f"{m.cpu_us_per_probe:>12.2f} {m.maxrss_mib:>6.0f}M {_f(m.first_frame_ms):>9} "
                f"{_f(m.first_syn_ms):>9} {m.complete:>4}/{m.n:<4} {ratio:>9}")
    return lines


def markdown(runs: Sequence[Run]) -> list[str]:
    """`summary`'s medians as Markdown tables, plus every run (for docs/benchmarks.md)."""
    out = []
    for scn in sorted({r.scenario for r in runs}):
        ms = medians(runs, scn)
        if not ms:
            continue
        out += [f"\n**Scenario {scn}: medians**\n",
                "| config | runs | --rate | probes/s | frames/s | tx s | wall s | CPU s "
                "| CPU us/probe "
                "| peak RSS (largest process / tree sum) | exec to 1st frame / 1st SYN, ms "
                "| 100 % runs | ratio t/m (median of per-round ratios) |",
                "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for m in ms:
            ratio = (f"{med(m.ratios):.2f}x (" + ", ".join(f"{x:.2f}" for x in m.ratios) + ")"
                     if m.ratios else "-")
            out.append(
                f"| {m.config} | {m.n} | {m.rate:,} | {m.probes_per_s:,.0f} "
                f"| {m.frames_per_s:,.0f} "
                f"| {m.tx_s:.2f} | {m.wall_s:.2f} | {m.cpu_s:.2f} | {m.cpu_us_per_probe:.2f} "
                f"| {m.maxrss_mib:.0f} / {m.tree_rss_mib:.0f} MiB "
                f"| {_f(m.first_frame_ms)} / {_f(m.first_syn_ms)} | {m.complete}/{m.n} | {ratio} |")
        out += [f"\n<details><summary>Scenario {scn}: every run</summary>\n", "```", HEADER]
        out += [row(r) for r in runs if r.scenario == scn]
        out += ["```", "</details>"]
    return out


def load_runs(paths: Sequence[str]) -> list[Run]:
    names = {f.name for f in fields(Run)}
    runs = []
    for path in paths:
        for d in json.loads(Path(path).read_text())["runs"]:
            runs.append(Run(**{k: v for k, v in d.items() if k in names}))
    return runs


def machine() -> dict[str, Any]:
    info: dict[str, Any] = {"kernel": platform.release(), "python": platform.python_version(),
                            "numpy": np.__version__, "cpus": os.cpu_count()}
    with contextlib.suppress(OSError):
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
    with contextlib.suppress(OSError):
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal"):
                info["mem_gib"] = round(int(line.split()[1]) / 2**20, 1)
    with contextlib.suppress(Exception):
        out = subprocess.run(["masscan", "--version"], capture_output=True, text=True, timeout=10)
        m = re.search(r"version ([\d.]+)", out.stdout + out.stderr)
        info["masscan"] = m.group(1) if m else "?"
    with contextlib.suppress(Exception):
        from tidescan import __version__
        info["tidescan"] = __version__
    with contextlib.suppress(OSError):
        info["netdev_max_backlog"] = int(open("/proc/sys/net/core/netdev_max_backlog").read())
    info["tidescan_bytecode"] = bytecode_state()
    info["load_at_start"] = os.getloadavg()
    return info


def bytecode_state() -> str:
    """Whether tidescan starts from cached bytecode: without it (PYTHONDONTWRITEBYTECODE and no
    __pycache__) every start compiles ~0.5 MB of source, ~0.1 - 0.2 s of scenario 4."""
    import importlib.util

    spec = importlib.util.find_spec("tidescan.scan")
    if spec is None or spec.origin is None:
        return "?"
    pyc = importlib.util.cache_from_source(spec.origin)
    if os.path.exists(pyc) and os.path.getmtime(pyc) >= os.path.getmtime(spec.origin):
        return "cached"
    return "compiled at every start" if sys.flags.dont_write_bytecode else "written on first start"


def compile_tidescan() -> None:
    """--compile: write tidescan's bytecode, as `pip install` does for a regular install."""
    import compileall

    import tidescan
    compileall.compile_dir(os.path.dirname(tidescan.__file__), quiet=1)


# ================================================================================================
# Main
# ================================================================================================

def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scenarios", default="1,2,3,4", help="which scenarios (default 1,2,3,4)")
    p.add_argument("--repeat", type=int, default=3, help="rounds for scenarios 1 and 2 (default 3)")
    p.add_argument("--repeat3", type=int, default=2, help="runs per config in scenario 3")
    p.add_argument("--repeat4", type=int, default=5, help="rounds in scenario 4")
    p.add_argument("--size", type=int, default=16, help="target prefix length (default 16: /16)")
    p.add_argument("--ports", default=DEFAULT_PORTS, help="ports (default 1-100)")
    p.add_argument("--dense", default=",".join(map(str, DEFAULT_DENSE)),
                   help="ports open on every host (default 21,22,80)")
    p.add_argument("--wait", type=int, default=2, help="--wait for both scanners (default 2)")
    p.add_argument("--rate1", type=int, default=10_000_000, help="scenario 1/4 --rate (10 M)")
    p.add_argument("--senders", default="auto,1,3",
                   help="tidescan --senders values for scenarios 1 and 4 (default auto,1,3)")
    p.add_argument("--senders2", default="auto", help="tidescan --senders values for scenario 2")
    p.add_argument("--senders3", default="auto,1", help="tidescan --senders values for scenario 3")
    p.add_argument("--masscan-rates", default="100000,10000000",
                   help="scenario 2: masscan rates to try (the last one if --no-search)")
    p.add_argument("--tidescan-rates", default="150000,200000,250000",
                   help="scenario 2: tidescan rates to try (the last one if --no-search)")
    p.add_argument("--no-search", dest="search", action="store_false",
                   help="scenario 2: no search, run the last rate of each list")
    p.add_argument("--offline-range", default="10.0.0.0/8")
    p.add_argument("--offline-ports", default="1-10")
    p.add_argument("--no-masscan", action="store_true", help="tidescan only")
    p.add_argument("--tidescan-cmd", help="command that starts tidescan (default: this python "
                   "-m tidescan), e.g. to compare a patched variant")
    p.add_argument("--compile", action="store_true",
                   help="write tidescan's bytecode first (as pip install does); matters for scenario 4 "
                        "when PYTHONDONTWRITEBYTECODE is set: the machine line says tidescan_bytecode")
    p.add_argument("--timeout", type=float, default=900, help="per run, seconds")
    p.add_argument("--json", help="write every run and the machine description here")
    p.add_argument("--report", nargs="+", metavar="JSON",
                   help="no runs: print Markdown tables from JSON files written by --json")
    a = p.parse_args(argv)
    a.size_text = f"10.112.0.0/{a.size}"
    return a


def main(argv: Sequence[str] | None = None) -> int:
    a = parse_args(argv)
    if a.report:
        print("\n".join(markdown(load_runs(a.report))))
        return 0
    if os.geteuid() != 0:
        print("run_bench: needs root (network namespaces)", file=sys.stderr)
        return 2
    if not a.no_masscan and subprocess.run(["which", "masscan"], capture_output=True).returncode:
        print("run_bench: masscan not found (install it, or give --no-masscan)", file=sys.stderr)
        return 2
    if a.compile:
        compile_tidescan()
    info = machine()
    print(f"# tidescan vs masscan, {time.strftime('%Y-%m-%d %H:%M:%S')}")
    print("# machine: " + json.dumps(info))
    print("# command: " + " ".join([sys.executable, *sys.argv]))
    bench = Bench(a, log=lambda s: print(s, flush=True))
    scenarios = {int(s) for s in a.scenarios.split(",") if s}
    try:
        for n in sorted(scenarios):
            getattr(bench, f"scenario{n}")()
    finally:
        for line in summary(bench.runs):
            print(line)
        if a.json:
            Path(a.json).write_text(json.dumps({"machine": info, "argv": list(sys.argv),
                                                "runs": [asdict(r) | {"cpu_s": r.cpu_s,
                                                                      "complete": r.complete}
                                                         for r in bench.runs]}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
