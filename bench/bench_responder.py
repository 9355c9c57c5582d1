"""SYN flood: SYN-ACKs per second from tidescanned vs the Linux kernel, on the same veth lab.

Why this exists: the issue's performance goal is that the user-mode responder answers a SYN flood
at least as fast as the kernel's own TCP stack.  This script builds the lab itself (two namespaces
`ts-<pid>-bna` / `ts-<pid>-bnb` joined by a veth pair, 10.201.0.0/24, no route out), then for each
target:

- `tidescanned`: the responder runs in namespace b (`-q`, handled range 10.201.1.0/24) with the
  interface's MAC; b's interface has no address, so b's kernel stays silent (but still routes,
  and drops, every SYN of the flood: that costs the flooder's CPU);
- `tidescanned-m`: the same with `-m 02:00:00:c9:01:01`, a MAC of its own as masscanned's upstream
  test runs it, so the flood is "other host" traffic that b's kernel drops on its first check;
- `kernel`: no tidescanned; b's interface gets 10.201.0.2/24, `ip route add local 10.201.1.0/24
  dev lo` makes the whole range local, and a listening socket on port 80 (backlog 4096,
  syncookies on, no SYN-ACK retransmission) makes the kernel answer SYN-ACK (to a closed port it
  would answer RST);

and a flooder in namespace a (this script, `--role flood`) sends prebuilt SYN frames (NumPy-built,
valid checksums, 65,536 distinct 4-tuples to port 80 of the range) with `PacketSender` (sendmmsg)
for a fixed time, full speed (1,024-frame calls) or paced (`--rate`, 256-frame bursts), while
counting the SYN-ACKs that come back in a TPACKET_V3 ring (`RxRing`) whose BPF filter keeps only
SYN-ACKs from port 80.  Answers still arriving after the flood ends are counted too, and the rate
is answers / time until the last answer, so a target that queues is not favoured over one that
drops.

The measuring side is made as cheap as possible, identically for both targets, so that the
numbers are the targets' and not the flooder's: the SYNs come from a MAC address that no
interface owns (b's kernel is told, with a permanent neighbour entry, that 10.201.0.1 lives
there), so every answer reaches namespace a as "other host" traffic, which a's IP stack discards
on its first line (no route lookup, no RST; an iptables rule also drops any RST a's kernel might
still send).  The flooder's ring sees the answers before that.

Besides rates, each run reports CPU microseconds per answer: the flooder's and (for tidescanned)
the responder's user + system time, which includes the softirq work the kernel did in their
context (the kernel target's whole answering path runs in the flooder's).  On a shared machine
this moves much less than the rates do, and says how much of a core each SYN-ACK costs.

Run as root: `python bench/bench_responder.py [--seconds 5] [--rates 0,100000,200000]
[--repeat 3] [--json FILE]` (rate 0 = as fast as the flooder can go).  Each run prints the load
average; with `--repeat` the medians come last.  `--src DIR` runs tidescanned from another source
tree (A/B comparisons of two versions under the same flooder).  The machine is shared and has 2
cores: the flooder uses one; the kernel target answers in the flooder's softirq context (on the
flooder's core), tidescanned on whatever core the scheduler gives it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(os.path.dirname(HERE), "src")
if SRC not in sys.path:
    sys.path.insert(0, SRC)

from tidescan import netns  # noqa: E402

CLIENT_IP = 0x0AC90001          # 10.201.0.1
RANGE_BASE = 0x0AC90100         # 10.201.1.0/24
N_FRAMES = 65536
CLIENT_MAC = bytes.fromhex("020000c90001")   # owned by no interface: answers are "other host" in a
RESPONDER_MAC = "02:00:00:c9:01:01"            # target `tidescanned-m`: tidescanned -m (not b's MAC)
TARGETS = ("kernel", "tidescanned", "tidescanned-m")
SEND_BATCH = 1024


def build_syns(src_mac: bytes, dst_mac: bytes) -> np.ndarray:
    """(N_FRAMES, 54) uint8 SYN frames with valid IPv4 and TCP checksums."""
    n = N_FRAMES
    i = np.arange(n, dtype=np.uint32)
    dst = RANGE_BASE + (i & 0xFF)
    sport = 1024 + (i >> 8) * 200 % 60000 + (i & 0xFF)
    sport = (sport % 64000 + 1024).astype(np.uint32)
    seq = (i * 2654435761) & 0xFFFFFFFF
    f = np.zeros((n, 54), dtype=np.uint8)
    f[:, 0:6] = np.frombuffer(dst_mac, np.uint8)
    f[:, 6:12] = np.frombuffer(src_mac, np.uint8)
    f[:, 12], f[:, 14], f[:, 17], f[:, 22], f[:, 23] = 0x08, 0x45, 40, 64, 6
    f[:, 26:30] = np.frombuffer(CLIENT_IP.to_bytes(4, "big"), np.uint8)
    f[:, 30:34] = dst.astype(">u4").view(np.uint8).reshape(n, 4)
    f[:, 34:36] = sport.astype(">u2").view(np.uint8).reshape(n, 2)
    f[:, 36:38] = np.frombuffer((80).to_bytes(2, "big"), np.uint8)
    f[:, 38:42] = seq.astype(">u4").view(np.uint8).reshape(n, 4)
    f[:, 46], f[:, 47], f[:, 48], f[:, 49] = 0x50, 0x02, 0x04, 0x00   # window 1024

    def words(a: int, b: int) -> np.ndarray:
        seg = f[:, a:b].astype(np.uint32)
        return (seg[:, 0::2] << 8 | seg[:, 1::2]).sum(axis=1)

    def fold(s: np.ndarray) -> np.ndarray:
        s = (s & 0xFFFF) + (s >> 16)
        s = (s & 0xFFFF) + (s >> 16)
        return (~s) & 0xFFFF

    ipc = fold(words(14, 34))
    f[:, 24], f[:, 25] = ipc >> 8, ipc & 0xFF
    tcpc = fold(words(26, 34) + 6 + 20 + words(34, 54))
    f[:, 50], f[:, 51] = tcpc >> 8, tcpc & 0xFF
    return f


def synack_filter() -> list:
    """BPF: IPv4 (IHL 5) TCP segments from port 80 with exactly SYN+ACK set."""
    from tidescan.wire import bpf
    a = bpf.Asm()
    a.ld(bpf.H, 12)
    a.jeq(bpf.ETH_P_IP, None, "drop")
    a.ld(bpf.B, 23)
    a.jeq(bpf.IPPROTO_TCP, None, "drop")
    a.ld(bpf.B, 14)
    a.jeq(0x45, None, "drop")
    a.ld(bpf.H, 34)
    a.jeq(80, None, "drop")
    a.ld(bpf.B, 47)
    a.jeq(0x12, None, "drop")
    a.ret(bpf.ACCEPT)
    a.label("drop")
    a.ret(0)
    return a.assemble()


def flood(iface: str, dst_mac: str, seconds: float, rate: float, batch: int) -> dict:
    from tidescan.wire.afpacket import PacketSender, RxRing
    frames = build_syns(CLIENT_MAC, bytes.fromhex(dst_mac.replace(":", "")))
    batch = SEND_BATCH if rate <= 0 else batch
    tx = PacketSender(iface)
    rx = RxRing(iface, bpf=synack_filter(), block_size=1 << 20, block_count=64, frame_size=256,
                snaplen=64, retire_ms=2, promisc=True)
    sent = got = 0
    pos = 0
    times = os.times()
    cpu0 = times.user + times.system

    def count() -> int:
        block = rx.read(0.0)
        if block is None:
            return 0
        f = block.frames
        return int(((f[:, 47] == 0x12) & (f[:, 34] == 0) & (f[:, 35] == 80)).sum())

    last_answer = last_count = t0 = time.perf_counter()
    end = t0 + seconds
    while True:
        now = time.perf_counter()
        if now >= end:
            break
        if rate <= 0 or sent < rate * (now - t0):
            if pos + batch > N_FRAMES:
                pos = 0
            sent += tx.send(frames[pos:pos + batch], 54)
            pos += batch
        elif rate > 0:
            time.sleep(min(0.0005, max(0.0, (sent + 1) / rate - (now - t0))))
        if now - last_count > 0.002:
            last_count = now
            c = count()
            if c:
                got += c
                last_answer = time.perf_counter()
    # answers still in flight (a target that queues rather than drops) count, at the time they came
    while time.perf_counter() - last_answer < 0.3 and time.perf_counter() - end < 10:
        c = count()
        if c:
            got += c
            last_answer = time.perf_counter()
        else:
            time.sleep(0.005)
    ring_drops = rx.stats()[1]
    rx.close()
    tx.close()
    cpu = os.times()
    return {"sent": sent, "synacks": got, "seconds": seconds, "answer_seconds": last_answer - t0,
            "flooder_ring_drops": ring_drops, "send_retries": tx.retries,
            "flooder_cpu_s": cpu.user + cpu.system - cpu0}


def process_cpu(pid: int) -> float:
    """User + system CPU seconds of a process (softirq work done in its context included)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_flooder(pair: netns.VethPair, dst_mac: str, rate: float, args: argparse.Namespace) -> dict:
    cmd = [sys.executable, os.path.abspath(__file__), "--role", "flood", "--iface", pair.a_if,
           "--dst-mac", dst_mac, "--seconds", str(args.seconds), "--rates", str(rate),
           "--batch", str(args.batch)]
    out = pair.a.run(cmd, timeout=args.seconds + 60)
    return json.loads(out.stdout.strip().splitlines()[-1])


def bench_tidescanned(pair: netns.VethPair, rate: float, args: argparse.Namespace,
                      own_mac: bool = False) -> dict:
    """tidescanned answering, with the interface's MAC or (`own_mac`) with `-m RESPONDER_MAC`."""
    mac = RESPONDER_MAC if own_mac else ":".join(f"{b:02x}" for b in pair.mac("b"))
    env = dict(os.environ, PYTHONPATH=args.src + os.pathsep + os.environ.get("PYTHONPATH", ""))
    cmd = [sys.executable, "-m", "tidescan.responder.cli", "--iface", pair.b_if, "-q",
           "--self-ip-list", "10.201.1.0/24", "--no-tls"] + (["-m", RESPONDER_MAC] if own_mac else [])
    with tempfile.TemporaryFile() as err:
        proc = pair.b.popen(cmd, stderr=err, env=env)
        try:
            deadline = time.time() + 20
            while time.time() < deadline and proc.poll() is None:
                err.seek(0)
                if b"answering" in err.read():
                    break
                time.sleep(0.05)
            time.sleep(0.3)
            if proc.poll() is not None:
                err.seek(0)
                raise RuntimeError(err.read().decode())
            cpu0 = process_cpu(proc.pid)
            result = run_flooder(pair, mac, rate, args)
            result["responder_cpu_s"] = process_cpu(proc.pid) - cpu0
        finally:
            proc.terminate()
            proc.wait(10)
        err.seek(0)
        summary = err.read().decode().strip().splitlines()
    result["responder"] = summary[-1] if summary else ""
    return result


def bench_kernel(pair: netns.VethPair, rate: float, args: argparse.Namespace) -> dict:
    mac = ":".join(f"{b:02x}" for b in pair.mac("b"))
    client_mac = ":".join(f"{b:02x}" for b in CLIENT_MAC)
    pair.b.run(["ip", "addr", "add", "10.201.0.2/24", "dev", pair.b_if])
    pair.b.run(["ip", "route", "add", "local", "10.201.1.0/24", "dev", "lo"])
    pair.b.run(["ip", "neigh", "replace", "10.201.0.1", "lladdr", client_mac, "dev", pair.b_if,
                "nud", "permanent"])
    # syncookies as under a real flood; no SYN-ACK retransmissions (they would count as answers)
    pair.b.run(["sysctl", "-qw", "net.ipv4.tcp_syncookies=1", "net.ipv4.tcp_max_syn_backlog=4096",
                "net.ipv4.tcp_synack_retries=0"])
    listener = pair.b.popen([sys.executable, "-c",
                             "import socket,time\ns=socket.socket()\n"
                             "s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n"
                             "s.bind(('0.0.0.0',80))\ns.listen(4096)\ntime.sleep(3600)"])
    try:
        time.sleep(1.0)
        return run_flooder(pair, mac, rate, args)
    finally:
        listener.terminate()
        listener.wait(10)
        pair.b.run(["ip", "route", "del", "local", "10.201.1.0/24", "dev", "lo"], check=False)
        pair.b.run(["ip", "addr", "del", "10.201.0.2/24", "dev", pair.b_if], check=False)
        pair.b.run(["ip", "neigh", "flush", "dev", pair.b_if], check=False)


def one_run(pair: netns.VethPair, target: str, rate: float, rep: int, args: argparse.Namespace) -> dict:
    load = os.getloadavg()[0]
    if target == "kernel":
        r = bench_kernel(pair, rate, args)
    else:
        r = bench_tidescanned(pair, rate, args, own_mac=target == "tidescanned-m")
    r.update(target=target, rate=rate, repeat=rep, load1=load, offered_pps=r["sent"] / r["seconds"],
             synack_pps=r["synacks"] / max(r["seconds"], r["answer_seconds"]))
    answers = max(1, r["synacks"])
    r["cpu_us_per_answer"] = 1e6 * (r["flooder_cpu_s"] + r.get("responder_cpu_s", 0.0)) / answers
    if r.get("responder"):
        print("   ", r["responder"])
    own = f" (responder {1e6 * r['responder_cpu_s'] / answers:.2f})" if "responder_cpu_s" in r else ""
    print(f"[{rep}] rate {rate or 'max':>8} {target:12s} load {load:4.2f}  offered {r['offered_pps']:>10,.0f} "
          f"SYN/s   answered {r['synack_pps']:>10,.0f} SYN-ACK/s   ({100 * r['synacks'] / max(1, r['sent']):.1f}%)"
          f"   CPU/answer {r['cpu_us_per_answer']:.2f} us{own}", flush=True)
    return r


def print_medians(runs: list[dict], rates: list[float], targets: list[str]) -> None:
    print("medians:")
    for rate in rates:
        sel = {t: [r for r in runs if r["rate"] == rate and r["target"] == t] for t in targets}
        for t, rs in sel.items():
            print(f"  rate {rate or 'max':>8} {t:12s} {statistics.median(r['synack_pps'] for r in rs):>10,.0f} "
                  f"SYN-ACK/s ({statistics.median(100 * r['synacks'] / max(1, r['sent']) for r in rs):.1f}%)"
                  f"   CPU/answer {statistics.median(r['cpu_us_per_answer'] for r in rs):.2f} us")
        for name in (t for t in targets if t != "kernel" and "kernel" in sel):
            ratios = [t["synack_pps"] / max(1.0, k["synack_pps"]) for k, t in zip(sel["kernel"], sel[name])]
            print(f"  rate {rate or 'max':>8} {name} / kernel: median of runs {statistics.median(ratios):.2f} "
                  f"(each: {', '.join(f'{x:.2f}' for x in ratios)})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--role", default="main", choices=("main", "flood"))
    ap.add_argument("--iface")
    ap.add_argument("--dst-mac")
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--rates", "--rate", default="0",
                    help="comma-separated offered SYN/s (0 = as fast as possible)")
    ap.add_argument("--batch", type=int, default=256, help="frames per burst when paced")
    ap.add_argument("--targets", default="kernel,tidescanned",
                    help=f"comma-separated, in run order, from {', '.join(TARGETS)}")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--src", default=SRC, help="source tree to run tidescanned from")
    ap.add_argument("--json", help="write every run here")
    args = ap.parse_args()
    rates = [float(r) for r in args.rates.split(",")]
    targets = args.targets.split(",")
    if not set(targets) <= set(TARGETS):
        ap.error(f"--targets: choose from {', '.join(TARGETS)}")
    if args.role == "flood":
        print(json.dumps(flood(args.iface, args.dst_mac, args.seconds, rates[0], args.batch)))
        return
    runs: list[dict] = []
    with netns.VethPair(tag="bn", a_ip="10.201.0.1/24", b_ip=None) as pair:
        # a's kernel never takes the answers for its own (other-host MAC); drop its RSTs regardless
        pair.a.run(["iptables", "-A", "OUTPUT", "-p", "tcp", "--tcp-flags", "RST", "RST", "-j", "DROP"])
        for rep in range(args.repeat):
            for rate in rates:
                last = {t: one_run(pair, t, rate, rep, args) for t in targets}
                runs.extend(last.values())
                for name in (t for t in targets if t != "kernel" and "kernel" in last):
                    print(f"[{rep}] rate {rate or 'max':>8} {name} / kernel = "
                          f"{last[name]['synack_pps'] / max(1.0, last['kernel']['synack_pps']):.2f}", flush=True)
    if args.repeat > 1 or len(rates) > 1:
        print_medians(runs, rates, targets)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(runs, f, indent=1)


if __name__ == "__main__":
    main()
