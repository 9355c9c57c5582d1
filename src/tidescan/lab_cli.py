"""`tidescan-lab up|truth|clean`: the lab from a shell.

Why this module exists: a user should be able to build the lab, look at its truth and scan it with
any tool (tidescan, masscan, nmap) without writing Python.  `up` builds the lab, prints where it is
and the commands that scan it, and holds it until Ctrl-C (or SIGTERM), then removes it; `truth`
prints what a perfect scan finds (no root needed); `clean` removes namespaces of dead runs.
The console script points at `tidescan.lab:main`, which calls `run()` here.
"""

from __future__ import annotations

import argparse
import os
import shlex
import signal
import sys
from collections.abc import Iterator

from tidescan.errors import EnvironmentProblem, TidescanError, UsageError
from tidescan.lab import Lab, default_lab_scan_argv
from tidescan.lab_plan import (DEFAULT_LISTEN, DEFAULT_PORTS, DROP, ICMP_REJECT, RST_REJECT,
                               int_to_ip)
from tidescan.netns import cleanup_stale


def _parse_port_list(text: str, option: str) -> list[int]:
    ports: list[int] = []
    for col, item in _items(text):
        lo_s, sep, hi_s = item.partition("-")
        try:
            lo = int(lo_s)
            hi = int(hi_s) if sep else lo
        except ValueError:
            raise UsageError(f"{option}: bad port {item!r} at column {col}") from None
        if not 0 <= lo <= hi <= 65535:
            raise UsageError(f"{option}: port range {item!r} at column {col} outside 0..65535")
        ports.extend(range(lo, hi + 1))
    if not ports:
        raise UsageError(f"{option}: no ports given")
    return sorted(set(ports))


def _items(text: str) -> Iterator[tuple[int, str]]:
    col = 1
    for item in text.split(","):
        if item.strip():
            yield col, item.strip()
        col += len(item) + 1


def _lab_from_args(args: argparse.Namespace) -> Lab:
    ports = _parse_port_list(args.ports, "--ports") if args.ports else list(DEFAULT_PORTS)
    dense = _parse_port_list(args.dense, "--dense") if args.dense else []
    listen = dict(DEFAULT_LISTEN)
    for p in dense:
        listen.setdefault(p, "silent")
    try:
        return Lab(size=args.size, ports=ports, seed=args.seed, listen=listen, dense_ports=dense,
                   sink=args.sink, with_responder=getattr(args, "responder", False))
    except ValueError as e:
        raise UsageError(str(e)) from None


def _print_up(lab: Lab) -> None:
    scan = " ".join(shlex.quote(a) for a in default_lab_scan_argv(lab))
    print(f"tidescan lab is up ({lab.startup_seconds * 1000:.0f} ms). Ctrl-C tears it down.")
    print(f"scanner  namespace {lab.scan_ns}, {lab.scan_if} {lab.scan_ip}/24 {lab.scan_mac}, "
          f"default via {lab.gateway_ip}")
    print(f"target   namespace {lab.tgt_ns}, {lab.tgt_if} {lab.gateway_ip} {lab.gateway_mac}")
    if lab.responder_range:
        print(f"responder namespace {lab.rsp_ns}: tidescanned answers {lab.responder_range}")
    print(lab.summary())
    print("scan it:")
    print(f"  sudo ip netns exec {lab.scan_ns} tidescan {scan}")
    print(f"  sudo ip netns exec {lab.scan_ns} masscan {scan}")
    print(f"  sudo ip netns exec {lab.scan_ns} nmap -sS -Pn -n -p {lab.ports_text} "
          f"{int_to_ip(lab.target_bounds[0])}/28")
    sys.stdout.flush()


def run(argv: list[str] | None = None) -> int:
    """`tidescan-lab up|truth|clean`; returns the exit status."""
    ap = argparse.ArgumentParser(prog="tidescan-lab",
                                 description="tidescan's built-in lab: namespaces, veth, truth")
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name, help_ in (("up", "build the lab, print how to scan it, wait for Ctrl-C"),
                        ("truth", "print the lab's ground truth (no root needed)")):
        p = sub.add_parser(name, help=help_)
        p.add_argument("--size", type=int, default=20, help="prefix length of the range (20)")
        p.add_argument("--ports", default="", help="ports to suggest/truth (21,22,80,443,8080)")
        p.add_argument("--dense", default="", help="ports open on every ordinary host")
        p.add_argument("--seed", type=int, default=1)
        p.add_argument("--sink", action="store_true", help="drop everything sent to the range")
        if name == "up":
            p.add_argument("--responder", action="store_true", help="add tidescanned")
        else:
            p.add_argument("--list", action="store_true", help="also list open pairs and "
                           "firewalled hosts")
    sub.add_parser("clean", help="remove namespaces left by dead tidescan runs")
    args = ap.parse_args(argv)
    try:
        if args.cmd == "clean":
            for name in cleanup_stale():
                print(f"removed {name}")
            return 0
        lab = _lab_from_args(args)
        if args.cmd == "truth":
            print(lab.summary())
            if args.list:
                for ip, port in lab.open_array().tolist():
                    print(f"open     {int_to_ip(ip)}:{port}")
                for role in (DROP, ICMP_REJECT, RST_REJECT):
                    for ip in lab.hosts_with_role(role).tolist():
                        print(f"{['', 'drop', 'icmp', 'rst'][role]:8} {int_to_ip(ip)}")
            return 0
        if os.geteuid() != 0:
            raise EnvironmentProblem("tidescan-lab up needs root (network namespaces)")
        try:
            with lab:
                _print_up(lab)
                while True:
                    signal.pause()
        except KeyboardInterrupt:  # Ctrl-C is the way to stop `up`; the with-block cleaned up
            pass
        print(f"lab removed ({lab.teardown_seconds * 1000:.0f} ms)")
        return 0
    except TidescanError as e:
        print(f"tidescan-lab: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(run())
