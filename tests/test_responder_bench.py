"""Smoke test of bench/bench_responder.py: the SYN-flood benchmark runs end to end, both targets answer.

Never a speed threshold (the machine is shared; the numbers belong in docs/tidescanned.md): at a
gentle 20,000 SYN/s for one second both the kernel and tidescanned must answer (nearly) every SYN,
which proves that the lab, the flooder's counting ring and the CPU accounting all work.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench" / "bench_responder.py"


@pytest.mark.lab
def test_bench_responder_runs_and_both_targets_answer(tmp_path: Path) -> None:
    out = tmp_path / "runs.json"
    proc = subprocess.run([sys.executable, str(BENCH), "--seconds", "1", "--rates", "20000",
                           "--json", str(out)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "tidescanned / kernel = " in proc.stdout
    runs = {r["target"]: r for r in json.loads(out.read_text())}
    assert set(runs) == {"kernel", "tidescanned"}
    for target, r in runs.items():
        assert 15_000 < r["offered_pps"] < 25_000, (target, r)
        assert r["synacks"] >= 0.9 * r["sent"], (target, r)
        assert r["synacks"] <= r["sent"] and r["flooder_ring_drops"] == 0
        assert r["flooder_cpu_s"] > 0 and r["cpu_us_per_answer"] > 0
    assert runs["tidescanned"]["responder_cpu_s"] > 0
    assert "0 dropped by the kernel" in runs["tidescanned"]["responder"]
