"""`tidescan --lab`: a real scan of the built-in lab, printed, then checked against the lab's truth.

Why: the first thing a new user runs should be a real scan — raw frames, a real kernel answering
for a whole range, real listeners, firewalled hosts, and `tidescanned` — that is safe anywhere,
because every packet stays inside network namespaces this command makes and removes.  Options
given with `--lab` are passed to the scan (e.g. `tidescan --lab --rate 5000 -oJ out.json`); the
lab supplies the targets, ports and adapter unless they are given.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence

from tidescan.config_model import ScanConfig
from tidescan.errors import EnvironmentProblem

_LAB_FLAGS = {"--lab"}


def _scan_args(args: Sequence[str]) -> list[str]:
    return [a for a in args if a.lower().replace("_", "-") not in _LAB_FLAGS]


def _responder_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("tidescan.responder.cli") is not None


def run_lab_demo(cfg: ScanConfig, args: Sequence[str]) -> int:
    """Build the lab, scan it from inside the scanner namespace, report found vs truth."""
    from tidescan.lab import Lab, default_lab_scan_argv
    from tidescan.lab_plan import int_to_ip
    from tidescan.output.binary import read_binary

    if os.geteuid() != 0:
        raise EnvironmentProblem("--lab builds network namespaces: run as root (sudo tidescan --lab)")
    user = _scan_args(args)
    with Lab(with_responder=_responder_available()) as lab, tempfile.TemporaryDirectory() as tmp:
        argv = []
        if not (cfg.ranges or cfg.include_files):
            argv.append(lab.target_range)
            if lab.responder_range:
                argv.append(lab.responder_range)
        if not cfg.ports and cfg.top_ports is None and not cfg.ping:
            argv += ["-p", lab.ports_text]
        if cfg.adapter is None:
            argv += ["--adapter", lab.scan_if]
        if "rate" not in _given(args):
            argv += ["--rate", "20000"]
        if "wait" not in _given(args):
            argv += ["--wait", "2"]
        record = os.path.join(tmp, "lab.bin")
        cmd = [sys.executable, "-m", "tidescan", *argv, *user, "-oB", record]
        if not cfg.outputs and not cfg.ndjson_status:
            cmd.append("--nostatus") if not sys.stderr.isatty() else None
        sys.stderr.write(f"lab: {lab.summary()}\n")
        sys.stderr.write(f"lab: scanning from namespace {lab.scan_ns}: tidescan {' '.join(argv + user)}\n")
        sys.stderr.flush()
        proc = lab.popen_scanner(cmd)
        try:
            rc = proc.wait()
        except KeyboardInterrupt:
            proc.send_signal(2)
            rc = proc.wait()
        if rc != 0:
            return rc

        found = set()
        responder_open = 0
        for rec in read_binary(record):
            if rec.kind == "status" and rec.status == "open" and rec.ip_version == 4:
                lo, hi = lab.target_bounds
                if lo <= rec.ip <= hi:
                    found.add((rec.ip, rec.port))
                elif lab.responder_range:
                    responder_open += 1
        if not cfg.outputs:  # the scan wrote only the record file: show what it found, sorted
            for ip, port in sorted(found):
                print(f"Discovered open port {port}/tcp on {int_to_ip(ip)}")
        truth = {(ip, port) for ip, port in lab.open_set(list(lab.ports))}
        missing = truth - found
        extra = found - truth
        print(f"lab: truth {len(truth)} open ports in {lab.target_range}; found {len(found & truth)}, "
              f"missing {len(missing)}, extra {len(extra)}"
              + (f"; tidescanned at {lab.responder_range}: {responder_open} open" if lab.responder_range else ""))
        for ip, port in sorted(missing)[:10]:
            print(f"lab: missing {int_to_ip(ip)}:{port}")
        return 0 if not missing and not extra else 2


def _given(args: Sequence[str]) -> set[str]:
    names = set()
    for a in args:
        if a.startswith("--"):
            names.add(a[2:].split("=", 1)[0].split(":", 1)[0].lower().replace("-", "").replace("_", ""))
    return names


def run_subprocess(cmd: Sequence[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(cmd), capture_output=True, text=True)
