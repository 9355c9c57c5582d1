"""SYN flood: SYN-ACKs per second from tidescanned vs the Linux kernel, on the same veth lab.

Why this exists: the issue's performance goal is that the user-mode responder answers a SYN flood
at least as fast as the kernel's own TCP stack.  This script builds the lab itself (two namespaces
`ts-<pid>-bna` / `ts-<pid>-bnb` joined by a veth pair, 10.201.0.0/24, no route out), then for each
target:

- `tidescanned`: the responder runs in namespace b (`-q`, handled range 10.201.1.0/24); b's
  interface has no address, so b's kernel stays silent;
- `kernel`: no tidescanned; b's interface gets 10.201.0.2/24, `ip route add local 10.201.1.0/24
  dev lo` makes the whole range local, and a listening socket on port 80 (backlog 4096,
  syncookies on) makes the kernel answer SYN-ACK (to a closed port it would answer RST);

and a flooder in namespace a (this script, `--role flood`) sends prebuilt SYN frames (NumPy-built,
valid checksums, 65,536 distinct 4-tuples to port 80 of the range) through `sendmmsg` batches for
a fixed time while counting, with `recvmmsg` batches, the SYN-ACKs that come back (answers still
arriving after the flood ends are counted too, and the rate is answers / time until the last
answer, so a target that queues is not favoured over one that drops).  RSTs from a's
own kernel (which knows nothing of these connections) are avoided by dropping the answers in a's
raw PREROUTING table (after the flooder's packet socket has seen them), for both targets.  Numbers: offered SYN/s, SYN-ACK/s received, ratio.

Run as root: `python bench/bench_responder.py [--seconds 5] [--rate PPS]` (rate 0 = as fast as the
flooder can go).  The machine is shared and has 2 cores: the flooder uses one, the answering side
(tidescanned, or the kernel in softirq context) competes for the rest.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
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


def flood(iface: str, dst_mac: str, seconds: float, rate: float, batch: int) -> dict:
    from tidescan.responder.io import FrameSocket, interface_mac
    src_mac = interface_mac(iface) or bytes(6)
    frames = build_syns(src_mac, bytes.fromhex(dst_mac.replace(":", "")))
    lengths = np.full(batch, 54, dtype=np.int64)
    s = FrameSocket(iface, batch=1024, snap=128)
    sent = got = 0
    pos = 0
    last_answer = t0 = time.perf_counter()
    end = t0 + seconds

    def count() -> int:
        n = 0
        while True:
            r = s.read(0.0)
            if r is None:
                return n
            rx, ln = r
            k = len(ln)
            hit = (ln >= 54) & (rx[:k, 23] == 6) & (rx[:k, 47] == 0x12) & (rx[:k, 34] == 0) & (rx[:k, 35] == 80)
            n += int(hit.sum())
            if k < 1024:
                return n

    while True:
        now = time.perf_counter()
        if now >= end:
            break
        if rate <= 0 or sent < rate * (now - t0):
            chunk = frames[pos:pos + batch]
            if len(chunk) < batch:
                pos = 0
                chunk = frames[:batch]
            sent += s.send(chunk, lengths[:len(chunk)])
            pos += batch
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
            time.sleep(0.01)
    s.close()
    return {"sent": sent, "synacks": got, "seconds": seconds, "answer_seconds": last_answer - t0}


def run_flooder(pair: netns.VethPair, dst_mac: str, args: argparse.Namespace) -> dict:
    cmd = [sys.executable, os.path.abspath(__file__), "--role", "flood", "--iface", pair.a_if,
           "--dst-mac", dst_mac, "--seconds", str(args.seconds), "--rate", str(args.rate), "--batch", str(args.batch)]
    out = pair.a.run(cmd, timeout=args.seconds + 60)
    return json.loads(out.stdout.strip().splitlines()[-1])


def bench_tidescanned(pair: netns.VethPair, args: argparse.Namespace) -> dict:
    mac = ":".join(f"{b:02x}" for b in pair.mac("b"))
    env = dict(os.environ, PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = pair.b.popen([sys.executable, "-m", "tidescan.responder.cli", "--iface", pair.b_if, "-q",
                         "--self-ip-list", "10.201.1.0/24", "--no-tls"],
                        stderr=subprocess.PIPE, env=env)
    try:
        time.sleep(2.0)
        if proc.poll() is not None:
            raise RuntimeError(proc.stderr.read().decode())
        result = run_flooder(pair, mac, args)
    finally:
        proc.terminate()
        proc.wait(10)
    summary = proc.stderr.read().decode().strip().splitlines()
    result["responder"] = summary[-1] if summary else ""
    return result


def bench_kernel(pair: netns.VethPair, args: argparse.Namespace) -> dict:
    mac = ":".join(f"{b:02x}" for b in pair.mac("b"))
    pair.b.run(["ip", "addr", "add", "10.201.0.2/24", "dev", pair.b_if])
    pair.b.run(["ip", "route", "add", "local", "10.201.1.0/24", "dev", "lo"])
    pair.b.run(["sysctl", "-qw", "net.ipv4.tcp_syncookies=1", "net.ipv4.tcp_max_syn_backlog=4096"], )
    listener = pair.b.popen([sys.executable, "-c",
                             "import socket,time\ns=socket.socket()\ns.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n"
                             "s.bind(('0.0.0.0',80))\ns.listen(4096)\ntime.sleep(3600)"])
    try:
        time.sleep(1.0)
        return run_flooder(pair, mac, args)
    finally:
        listener.terminate()
        listener.wait(10)
        pair.b.run(["ip", "route", "del", "local", "10.201.1.0/24", "dev", "lo"], check=False)
        pair.b.run(["ip", "addr", "del", "10.201.0.2/24", "dev", pair.b_if], check=False)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--role", default="main", choices=("main", "flood"))
    ap.add_argument("--iface")
    ap.add_argument("--dst-mac")
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--rate", type=float, default=0.0, help="offered SYN/s (0 = as fast as possible)")
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--targets", default="kernel,tidescanned")
    args = ap.parse_args()
    if args.role == "flood":
        print(json.dumps(flood(args.iface, args.dst_mac, args.seconds, args.rate, args.batch)))
        return
    results = {}
    with netns.VethPair(tag="bn", a_ip="10.201.0.1/24", b_ip=None) as pair:
        # a's kernel would RST every SYN-ACK it did not ask for; keep the wire to the flood
        pair.a.run(["iptables", "-A", "OUTPUT", "-p", "tcp", "--tcp-flags", "RST", "RST", "-j", "DROP"])
        # ... and need not even look at the answers (the flooder's packet socket sees them first)
        pair.a.run(["iptables", "-t", "raw", "-A", "PREROUTING", "-p", "tcp", "-s", "10.201.1.0/24", "-j", "DROP"])
        pair.a.run(["ip", "neigh", "replace", "10.201.0.2", "lladdr",
                    ":".join(f"{b:02x}" for b in pair.mac("b")), "dev", pair.a_if])
        for target in args.targets.split(","):
            r = bench_kernel(pair, args) if target == "kernel" else bench_tidescanned(pair, args)
            r["offered_pps"] = r["sent"] / r["seconds"]
            r["synack_pps"] = r["synacks"] / max(r["seconds"], r["answer_seconds"])
            results[target] = r
            if r.get("responder"):
                print("   ", r["responder"])
            print(f"{target:12s} offered {r['offered_pps']:>10,.0f} SYN/s   answered {r['synack_pps']:>10,.0f} "
                  f"SYN-ACK/s   ({100 * r['synacks'] / max(1, r['sent']):.1f}%)", flush=True)
    if "kernel" in results and "tidescanned" in results:
        ratio = results["tidescanned"]["synack_pps"] / max(1.0, results["kernel"]["synack_pps"])
        print(f"tidescanned / kernel = {ratio:.2f}")


if __name__ == "__main__":
    main()
