"""Helpers for tests that run real tidescan scans inside the built-in lab."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence

from tidescan.lab import Lab
from tidescan.lab_plan import ip_to_int


def tidescan_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "tidescan", *args]


def scan(lab: Lab, args: Sequence[str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run tidescan in the lab's scanner namespace with the lab's adapter; return the process."""
    argv = tidescan_cmd(*args, "--adapter", lab.scan_if, "--nostatus")
    proc = lab.run_scanner(argv, timeout=timeout)
    return proc


def read_list(path: str | os.PathLike[str]) -> tuple[set[tuple[int, int]], set[tuple[int, int]]]:
    """(open, closed) (ip, port) pairs of a -oL file."""
    opened: set[tuple[int, int]] = set()
    closed: set[tuple[int, int]] = set()
    with open(path) as fh:
        for line in fh:
            parts = line.split()
            if len(parts) >= 4 and parts[0] in ("open", "closed") and parts[1] == "tcp":
                pair = (ip_to_int(parts[3]), int(parts[2]))
                (opened if parts[0] == "open" else closed).add(pair)
    return opened, closed


def read_json(path: str | os.PathLike[str]) -> list[dict[str, object]]:
    with open(path) as fh:
        return json.load(fh)


def truth_sets(lab: Lab, ports: Sequence[int] | None = None) -> tuple[set[tuple[int, int]], set[tuple[int, int]]]:
    truth = lab.truth(ports)
    opened = {k for k, v in truth.items() if v == "open"}
    closed = {k for k, v in truth.items() if v == "closed"}
    return opened, closed
