"""`--rate` is honoured on the wire (measured on the target side), from 10 pps to tens of thousands."""

from __future__ import annotations

from pathlib import Path

import dpkt
import pytest

from scanlab import scan
from tidescan.lab import Lab

pytestmark = pytest.mark.lab


def syn_times(pcap: Path) -> list[float]:
    times = []
    with open(pcap, "rb") as fh:
        for ts, buf in dpkt.pcap.Reader(fh):
            eth = dpkt.ethernet.Ethernet(buf)
            if isinstance(eth.data, dpkt.ip.IP) and isinstance(eth.data.data, dpkt.tcp.TCP):
                if eth.data.data.flags & dpkt.tcp.TH_SYN and not eth.data.data.flags & dpkt.tcp.TH_ACK:
                    times.append(ts)
    return times


@pytest.mark.parametrize("rate,seconds", [(10, 3.0), (500, 3.0), (20000, 3.0)])
def test_rate_on_the_wire_within_five_percent(tmp_path: Path, rate: int, seconds: float) -> None:
    n = int(rate * seconds)
    with Lab(size=20, seed=2, sink=True) as lab:
        pcap = tmp_path / "syn.pcap"
        with lab.capture(pcap, bpf="tcp", snaplen=64) as cap:
            proc = scan(lab, [lab.target_range, "-p1-20", "--rate", str(rate), "--wait", "0",
                              "--resume-count", str(n), "--seed", "4"], timeout=60)
        assert proc.returncode == 0, proc.stderr
        assert cap.complete
    times = syn_times(pcap)
    assert len(times) == n
    measured = (n - 1) / (times[-1] - times[0])
    assert abs(measured - rate) / rate < 0.05, f"asked {rate} pps, measured {measured:.1f} pps"
