"""Packet capture on the lab's wire: tcpdump in the target namespace, read back as frames.

Why this module exists: some lab tests are about what was *not* sent ("zero packets to excluded
addresses") or about exactly which answers came back; counters cannot say that, a capture can.
tcpdump runs on the target's veth end, where it sees every frame the scanner put on the wire before
the lab's drop rules, and every answer the target sent.  Reading the pcap back needs no library.

Completeness matters more than speed here: tcpdump runs in immediate mode with per-packet writes,
and `stop()` waits until the file stops growing before it sends SIGINT, then checks tcpdump's own
"captured" and "received by filter" counts (`complete`) and kernel drops (`kernel_drops`).
"""

from __future__ import annotations

import select
import shlex
import signal
import struct
import subprocess
import time
from pathlib import Path
from typing import Any

import numpy as np

from tidescan import netns
from tidescan.errors import EnvironmentProblem


class Capture:
    """A tcpdump running in the target namespace on its veth end, writing a pcap file.

    Use through `Lab.capture()` (`ns` is the target namespace, `iface` its veth end).  tcpdump
    sees frames before the ingress drop rules, so it counts everything the scanner put on the
    wire, including frames to filtered hosts.
    """

    def __init__(self, ns: str, path: Path, bpf: str, snaplen: int, iface: str,
                 started: list[Any], *, buffered: bool = False, buffer_kib: int = 65536) -> None:
        self.path = path
        self.kernel_drops: int | None = None
        self.captured: int | None = None
        self.received: int | None = None
        # --immediate-mode and -U: each frame reaches the file at once (libpcap's default ring
        # mode holds a partly filled block for up to a second, and SIGINT would lose it).
        # `buffered` (benchmarks: far less CPU per frame) keeps libpcap's ring mode; then stop
        # with a `settle` above that second.
        live = [] if buffered else ["--immediate-mode", "-U"]
        cmd = ["tcpdump", "-i", iface, "-n", "-s", str(snaplen), "-B", str(buffer_kib), "-Z", "root",
               *live, "-w", str(path), *shlex.split(bpf)]
        with netns.entered(ns):
            self._proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                          text=True, start_new_session=True)
        started.append(self._proc)  # the lab kills it at close if still running
        # Capturing has begun when tcpdump says "listening on".
        err = self._proc.stderr
        assert err is not None
        deadline = time.monotonic() + 10
        seen: list[str] = []
        while not any("listening on" in line for line in seen):
            ready, _, _ = select.select([err], [], [], max(0.0, deadline - time.monotonic()))
            line = err.readline() if ready else ""
            if not line:
                raise EnvironmentProblem("lab: tcpdump did not start: " + "".join(seen).strip())
            seen.append(line)

    def stop(self, settle: float = 0.2, limit: float = 10.0) -> None:
        """Stop tcpdump once the file has stopped growing for `settle` s (at most `limit` s from
        now); read its counts.

        `captured` and `received` (by the filter) are tcpdump's own counts; `kernel_drops`
        should be 0, and `complete` says tcpdump wrote everything the filter passed.
        """
        size, still_since, deadline = -1, time.monotonic(), time.monotonic() + limit
        while self._proc.poll() is None and time.monotonic() < deadline:
            now_size = self.path.stat().st_size if self.path.exists() else 0
            now = time.monotonic()
            if now_size != size:
                size, still_since = now_size, now
            elif now - still_since >= settle:
                break
            time.sleep(0.05)
        if self._proc.poll() is None:
            self._proc.send_signal(signal.SIGINT)
        try:
            _out, err = self._proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            _out, err = self._proc.communicate()
        for line in (err or "").splitlines():
            words = line.split()
            if line.endswith("dropped by kernel") and words[0].isdigit():
                self.kernel_drops = int(words[0])
            elif line.endswith("packets captured") and words[0].isdigit():
                self.captured = int(words[0])
            elif line.endswith("received by filter") and words[0].isdigit():
                self.received = int(words[0])

    @property
    def complete(self) -> bool:
        return self.captured is not None and self.captured == self.received

    def frames(self) -> list[bytes]:
        """The captured frames (link-layer bytes, possibly cut at the snap length)."""
        data = self.path.read_bytes()
        if len(data) < 24:
            return []
        magic = data[:4]
        endian = "<" if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
        out, off = [], 24
        while off + 16 <= len(data):
            incl = struct.unpack_from(endian + "I", data, off + 8)[0]
            out.append(data[off + 16: off + 16 + incl])
            off += 16 + incl
        return out

    def ipv4_destinations(self) -> np.ndarray:
        """Destination addresses (uint32) of the captured IPv4 frames (untagged Ethernet)."""
        dst = [struct.unpack_from("!I", f, 30)[0] for f in self.frames()
               if len(f) >= 34 and f[12:14] == b"\x08\x00"]
        return np.asarray(dst, dtype=np.uint32)
