"""The transmit loop's straight path (one probe kind, IPv4, one source: step 8a) sends exactly the
frames, in exactly the order, of the grouped path (step 8b) it short-cuts; offline, no network."""

from __future__ import annotations

import numpy as np
import pytest

from tidescan import scan
from tidescan.config import parse_args
from tidescan.identity import resolve_identity


class Capture:
    """Stands in for `NullSink`: keeps every frame sent."""

    frames: list[bytes] = []

    def send(self, frames: np.ndarray, lengths: np.ndarray | int) -> int:
        lens = np.broadcast_to(np.asarray(lengths), (len(frames),))
        Capture.frames.extend(bytes(f[:int(n)]) for f, n in zip(frames, lens))
        return len(frames)

    def close(self) -> None:
        pass


def sent(argv: list[str], monkeypatch: pytest.MonkeyPatch, straight: bool) -> list[bytes]:
    cfg = parse_args(argv + ["--offline", "--seed", "11", "--senders", "1", "--rate", "1e9",
                             "--source-port", "61234"])
    targets = cfg.targets()
    plan = scan.make_plan(cfg, targets, resolve_identity(cfg, need_ipv6=False))
    monkeypatch.setattr(scan, "NullSink", Capture)
    if not straight:
        monkeypatch.setattr(scan, "single_kind", lambda t: None)
    monkeypatch.setattr(scan, "MAX_BATCH", 700)  # several steps, a partial last one
    Capture.frames = []
    shared = scan.Shared(1)
    scan.transmit_loop(plan, 0, shared)
    assert shared.total_sent() == plan.total_probes()
    return Capture.frames


@pytest.mark.parametrize("argv", [
    ["10.1.0.0/22", "-p", "22,80,443-445"],
    ["10.1.0.0/23", "10.9.0.0/30", "-p", "80", "--retries", "2", "--source-ip", "10.200.0.9"],
    ["10.1.0.0/23", "-p", "U:53,U:161,U:11211"],
    ["10.1.0.0/22", "--ping"],
    ["10.1.0.0/23", "--arp"],
])
def test_straight_path_equals_grouped_path(argv: list[str],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    assert scan.single_kind(parse_args(argv + ["--offline"]).targets()) is not None
    fast = sent(argv, monkeypatch, straight=True)
    ref = sent(argv, monkeypatch, straight=False)
    assert len(fast) == len(ref) > 0
    assert fast == ref


@pytest.mark.parametrize("argv,kind", [
    (["10.0.0.0/24", "-p", "80"], scan.KIND_TCP),
    (["10.0.0.0/24", "-p", "U:53-60"], scan.KIND_UDP),
    (["10.0.0.0/24", "--ping"], scan.KIND_ICMP),
    (["10.0.0.0/24", "-p", "80,U:53"], None),
    (["10.0.0.0/24", "-p", "80", "--ping"], None),
    (["--range", "fd00::/120", "-p", "80"], None),
])
def test_single_kind(argv: list[str], kind: int | None) -> None:
    assert scan.single_kind(parse_args(argv + ["--offline"]).targets()) == kind
