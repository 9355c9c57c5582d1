"""Smoke test of issue 4's benchmark (bench/run_bench.py): it runs end to end and tidescan finds the truth.

Never a speed threshold: the machine is shared and the numbers belong in docs/benchmarks.md, not in
CI.  What is checked is that every measurement the benchmark reports is really taken: the probes
are counted on the target's side of the veth (exactly targets x ports of them, for both scanners),
tidescan's results equal the lab's truth, the offline scenario built every probe, and the
start-up scenario saw a first SYN on the wire.  A tiny lab (/20 x 13 ports) keeps it ~20 s.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench" / "run_bench.py"
PORTS = "1-10,21,22,80"          # the three dense ports are open on every host
N_PORTS = 13
SIZE = 20                        # 4096 hosts


@pytest.mark.lab
def test_bench_runs_end_to_end_and_tidescan_finds_the_truth(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    argv = [sys.executable, str(BENCH), "--scenarios", "1,2,3,4", "--size", str(SIZE),
            "--ports", PORTS, "--repeat", "1", "--repeat3", "1", "--repeat4", "1",
            "--senders", "auto", "--senders3", "1", "--no-search",
            "--masscan-rates", "50000", "--tidescan-rates", "20000",
            "--offline-range", "10.0.0.0/20", "--offline-ports", PORTS, "--wait", "1",
            "--timeout", "60", "--json", str(out)]
    if shutil.which("masscan") is None:
        argv.append("--no-masscan")
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=170)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "Scenario 1: medians" in proc.stdout and "Scenario 2: medians" in proc.stdout

    data = json.loads(out.read_text())
    runs = data["runs"]
    by = {(r["scenario"], r["tool"]): r for r in runs}
    expected = (1 << (32 - SIZE)) * N_PORTS
    assert {s for s, _ in by} == {1, 2, 3, 4}
    assert data["machine"]["cpus"] >= 1

    for r in runs:
        assert r["returncode"] == 0, (r["config"], r["stderr_tail"])

    # Scenario 1 (sink): every probe of both scanners counted on the target's ingress, once.
    for (scn, tool), r in by.items():
        if scn == 1:
            assert r["probes"] == expected, (tool, r["probes"], expected)
            assert r["frames"] >= r["probes"] and r["tx_s"] > 0 and r["probes_per_s"] > 0
            assert r["cpu_s"] > 0 and r["maxrss_kib"] > 0
            assert r["truth_open"] == 0 and r["found"] == 0   # a sink answers nothing

    # Scenario 2 (answers): tidescan finds exactly the truth, and every probe went out.
    t2 = by[(2, "tidescan")]
    assert t2["truth_open"] == (1 << (32 - SIZE)) * 3
    assert t2["found"] == t2["truth_open"] and t2["false_open"] == 0
    assert t2["complete"] is True
    assert t2["probes"] == expected
    # the SYN-ACKs were reset (by tidescan; the scanner host's kernel adds its own RST)
    assert t2["rsts"] >= t2["truth_open"]
    if (2, "masscan") in by:
        assert by[(2, "masscan")]["probes"] == expected

    # Scenario 3 (offline): every probe built, the rate parsed from tidescan's own report.
    t3 = by[(3, "tidescan")]
    assert t3["probes"] == expected and t3["self_reported_mpps"] > 0

    # Scenario 4 (start-up): a first SYN seen on the wire, after the exec, and the run stopped early.
    for (scn, tool), r in by.items():
        if scn == 4:
            assert r["first_syn_ms"] is not None and 0 < r["first_syn_ms"] < 30_000, tool
            assert r["first_frame_ms"] <= r["first_syn_ms"]
