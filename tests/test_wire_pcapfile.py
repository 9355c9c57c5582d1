"""pcap files as tcpdump, tshark and dpkt read them."""

from __future__ import annotations

import subprocess
from pathlib import Path

import dpkt
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tidescan.wire.pcapfile import PcapWriter


def syn(i: int) -> bytes:
    """A real Ethernet/IPv4/TCP SYN (dpkt builds the checksums) so the tools decode it."""
    tcp = dpkt.tcp.TCP(sport=40000 + i, dport=80, seq=1000 + i, flags=dpkt.tcp.TH_SYN, win=1024)
    ip = dpkt.ip.IP(src=bytes([10, 199, 0, 1]), dst=bytes([10, 199, 0, 2 + i % 200]), p=6, ttl=64,
                    data=tcp)
    ip.len = 20 + len(bytes(tcp))
    eth = dpkt.ethernet.Ethernet(dst=b"\x02" * 6, src=b"\x04" * 6, type=0x0800, data=ip)
    return bytes(eth)


def batch(frames: list[bytes], stride: int = 128) -> tuple[np.ndarray, np.ndarray]:
    buf = np.zeros((len(frames), stride), np.uint8)
    for i, f in enumerate(frames):
        buf[i, :len(f)] = np.frombuffer(f, np.uint8)
    return buf, np.array([len(f) for f in frames])


def test_batch_and_single_records_read_back(tmp_path: Path) -> None:
    path = tmp_path / "out.pcap"
    frames = [syn(i) for i in range(50)]
    buf, lens = batch(frames)
    ts = 1_700_000_000.25 + np.arange(50) * 0.001
    with PcapWriter(str(path)) as w:
        w.write_batch(buf, lens, ts)
        w.write(syn(99), 1_700_000_001.999_999_7)  # rounds up into the next second
        assert w.count == 51
    with open(path, "rb") as f:
        recs = list(dpkt.pcap.Reader(f))
    assert [bytes(r[1]) for r in recs] == frames + [syn(99)]
    assert [round(r[0], 6) for r in recs][:3] == [1_700_000_000.25, 1_700_000_000.251, 1_700_000_000.252]
    assert round(recs[-1][0], 6) == 1_700_000_002.0

    out = subprocess.run(["tcpdump", "-nn", "-r", str(path)], capture_output=True, text=True, check=True)
    lines = out.stdout.splitlines()
    assert len(lines) == 51
    assert "10.199.0.1.40000 > 10.199.0.2.80: Flags [S], seq 1000" in lines[0]
    tshark = subprocess.run(["tshark", "-r", str(path), "-T", "fields", "-e", "tcp.dstport",
                             "-e", "tcp.checksum.status", "-o", "tcp.check_checksum:TRUE"],
                            capture_output=True, text=True, check=True)
    assert tshark.stdout.splitlines()[:2] == ["80\t1", "80\t1"]  # 1 = checksum good


def test_snaplen_truncates_and_append_continues(tmp_path: Path) -> None:
    path = tmp_path / "snap.pcap"
    frames = [syn(1), syn(2)]
    buf, lens = batch(frames)
    with PcapWriter(str(path), snaplen=40) as w:
        w.write_batch(buf, lens, 5.0)
    with PcapWriter(str(path), snaplen=40, append=True) as w:
        w.write(syn(3), 6.0)
    with open(path, "rb") as f:
        reader = dpkt.pcap.Reader(f)
        assert reader.snaplen == 40
        recs = list(reader)
    assert [len(r[1]) for r in recs] == [40, 40, 40]
    raw = path.read_bytes()
    assert int.from_bytes(raw[24 + 12:24 + 16], "little") == len(syn(1))  # orig_len kept
    out = subprocess.run(["tcpdump", "-nn", "-r", str(path)], capture_output=True, text=True)
    assert len(out.stdout.splitlines()) == 3


@settings(max_examples=40, deadline=None)
@given(st.lists(st.binary(min_size=0, max_size=200), min_size=1, max_size=30),
       st.floats(0, 4e9, allow_nan=False))
def test_write_batch_equals_single_writes(tmp_path_factory: pytest.TempPathFactory,
                                          frames: list[bytes], t: float) -> None:
    d = tmp_path_factory.mktemp("pcap")
    buf, lens = batch(frames, stride=200)
    ts = t + np.arange(len(frames)) * 1e-3
    with PcapWriter(str(d / "a.pcap")) as a:
        a.write_batch(buf, lens, ts)
    with PcapWriter(str(d / "b.pcap")) as b:
        for f, x in zip(frames, ts):
            b.write(f, float(x))
    assert (d / "a.pcap").read_bytes() == (d / "b.pcap").read_bytes()


def test_bad_lengths_rejected(tmp_path: Path) -> None:
    with PcapWriter(str(tmp_path / "x.pcap")) as w, pytest.raises(ValueError):
        w.write_batch(np.zeros((2, 10), np.uint8), np.array([5, 11]), 0.0)
