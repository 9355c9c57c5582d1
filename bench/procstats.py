"""What the benchmarks read from /proc about the processes they run and about the host.

Why this exists: `run_bench.py` (issue 4) and `bench_banners_live.py` (issue 6) both sample a
scanner's process tree while it runs (RSS, CPU) and the host's softnet backlog drops; one
reading of each, here, so both benchmarks count the same way.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable

__all__ = ["softnet_drops", "process_tree", "status_kib", "tree_rss_kib", "proc_cpu_s"]


def softnet_drops() -> int:
    """Host-wide: frames dropped because a CPU's input backlog (net.core.netdev_max_backlog) was
    full (/proc/net/softnet_stat, column 2, summed over CPUs).  veth delivers into that backlog,
    so drops here lose frames on their way to a scanner, whoever's traffic filled it."""
    with open("/proc/net/softnet_stat") as fh:
        return sum(int(line.split()[1], 16) for line in fh if line.strip())


def process_tree(pid: int) -> list[int]:
    """`pid` and all its descendants alive now (via /proc/PID/task/PID/children)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        with contextlib.suppress(OSError, ValueError):
            with open(f"/proc/{p}/task/{p}/children") as fh:
                todo += [int(c) for c in fh.read().split()]
    return out


def status_kib(pid: int, key: str) -> int:
    """One kB field of /proc/PID/status (`"VmRSS:"`, `"VmHWM:"`, ...); 0 if the process is gone."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith(key):
                    return int(line.split()[1])
    return 0


def tree_rss_kib(pids: Iterable[int]) -> int:
    """Summed VmRSS of `pids` (pages shared after fork count once per process)."""
    return sum(status_kib(p, "VmRSS:") for p in pids)


def proc_cpu_s(pid: int) -> float | None:
    """utime+stime (seconds) of one process, not its children, from /proc/PID/stat."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None
