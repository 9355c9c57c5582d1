"""`tidescan -sL` prints masscan's order, line for line, compared with Debian's `masscan -sL`.

`-sL` sends nothing (it only prints the shuffled targets), so this runs masscan 1.3.2 for real.
"""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

MASSCAN = shutil.which("masscan")

CASES = [
    ["10.0.0.0/28", "-p80", "--seed", "1"],
    ["10.0.0.0/30", "-p80,443", "--seed", "1"],
    ["10.0.0.0/29", "--seed", "42", "--shard", "2/3", "-p80"],
    ["10.1.0.0/22", "10.9.9.9", "-p21-23,8080", "--seed", "7"],
    ["10.1.0.0/24", "-p1-100", "--seed", "123", "--shard", "3/4", "--exclude", "10.1.0.64/26"],
    ["10.2.0.0/23", "-pU:53,T:80", "--seed", "99"],
    ["10.3.0.0/26", "2001:db8::/120", "-p22,80", "--seed", "5"],
    ["10.4.0.0/24", "-p80", "--ping", "--seed", "3"],
    ["10.5.0.0/25", "-p1-1000", "--exclude-ports", "100-900", "--seed", "8", "--shard", "1/2"],
]


def run(cmd: list[str]) -> list[str]:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.split()


@pytest.mark.skipif(MASSCAN is None, reason="Debian's masscan is installed by scripts/install.sh")
@pytest.mark.parametrize("args", CASES, ids=lambda a: " ".join(a))
def test_list_scan_matches_masscan(args: list[str]) -> None:
    ours = run([sys.executable, "-m", "tidescan", "-sL", *args])
    theirs = run([MASSCAN, "-sL", *args])
    assert len(ours) == len(theirs) > 0
    assert ours == theirs


def test_list_scan_resume_window_is_a_slice_of_the_full_order() -> None:
    base = ["-sL", "10.0.0.0/24", "-p80,443", "--seed", "9"]
    full = run([sys.executable, "-m", "tidescan", *base])
    part = run([sys.executable, "-m", "tidescan", *base, "--resume-index", "100", "--resume-count", "50"])
    assert part == full[100:150]
