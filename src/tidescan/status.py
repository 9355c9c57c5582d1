"""The once-a-second status report: masscan's line, NDJSON for machines, rich for people.

Why: users drive scans from scripts that already parse masscan's status line
(`rate:  0.00-kpps, 18.75% done,   0:00:26 remaining, found=0`), so that exact text is the
default on stderr.  `--ndjson-status` prints masscan HEAD's JSON objects instead (one per line, for
pipelines), and when stderr is a terminal a rich progress bar shows the same numbers.  The status
object is fed plain numbers by the receive loop; it never touches the hot path.

The rate shown is measured from the senders' counters over a sliding window of recent samples
(masscan averages its last 8), so it reflects what is on the wire now, not since the start.
"""

from __future__ import annotations

import json
import sys
import time
from collections import deque
from dataclasses import dataclass
from typing import TextIO


@dataclass
class StatusSample:
    """One reading of the scan's counters, taken by the receive loop."""

    now: float
    sent: int          # probes put on the wire so far (all senders)
    total: int         # probes this run will send in all
    found: int         # open results reported
    waiting: float | None = None  # seconds of --wait left once transmission is over
    received: int = 0  # frames read from the RX ring
    drops: int = 0     # frames the kernel dropped (PACKET_STATISTICS)


def format_eta(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 3600:4d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class Status:
    """Prints a status report at most every `interval` seconds (stderr by default)."""

    def __init__(self, mode: str = "line", stream: TextIO | None = None, interval: float = 1.0) -> None:
        self.mode = mode  # "line" (masscan), "ndjson", "rich", or "none"
        self.stream = stream if stream is not None else sys.stderr
        self.interval = interval
        self._last = 0.0
        self._history: deque[tuple[float, int]] = deque(maxlen=8)
        self._progress = None
        self._task = None
        if mode == "rich":
            self._start_rich()

    @staticmethod
    def choose(ndjson: bool, enabled: bool, stream: TextIO | None = None) -> Status:
        """Pick the mode users expect: NDJSON when asked, rich on a terminal, masscan's line otherwise."""
        stream = stream if stream is not None else sys.stderr
        if not enabled:
            return Status("none", stream)
        if ndjson:
            return Status("ndjson", stream)
        if stream.isatty():
            return Status("rich", stream)
        return Status("line", stream)

    def _start_rich(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

        self._progress = Progress(
            TextColumn("[bold]tidescan"), BarColumn(), TextColumn("{task.percentage:>5.1f}%"),
            TextColumn("{task.fields[rate]}"), TextColumn("found={task.fields[found]}"),
            TextColumn("{task.fields[extra]}"), TimeRemainingColumn(),
            console=Console(file=self.stream), transient=False, refresh_per_second=4)
        self._task = self._progress.add_task("scan", total=1, rate="", found=0, extra="")
        self._progress.start()

    def rate(self, sample: StatusSample) -> float:
        """Probes per second over the recent window."""
        self._history.append((sample.now, sample.sent))
        t0, s0 = self._history[0]
        if sample.now - t0 <= 0:
            return 0.0
        return (sample.sent - s0) / (sample.now - t0)

    def update(self, sample: StatusSample, force: bool = False) -> None:
        if self.mode == "none":
            return
        if not force and sample.now - self._last < self.interval:
            return
        self._last = sample.now
        pps = self.rate(sample)
        percent = 100.0 * sample.sent / sample.total if sample.total else 100.0
        remaining = max(0, sample.total - sample.sent)
        eta = remaining / pps if pps > 0 else 0.0
        if self.mode == "line":
            if sample.waiting is None:
                text = (f"rate:{pps / 1000:6.2f}-kpps, {percent:5.2f}% done,{format_eta(eta)} remaining, "
                        f"found={sample.found}       \r")
            else:
                text = (f"rate:{pps / 1000:6.2f}-kpps, {percent:5.2f}% done, waiting {int(sample.waiting)}-secs, "
                        f"found={sample.found}       \r")
            self.stream.write(text)
            self.stream.flush()
        elif self.mode == "ndjson":
            self.stream.write(json.dumps(ndjson_status(sample, pps, percent, eta), separators=(",", ":")) + "\n")
            self.stream.flush()
        elif self.mode == "rich" and self._progress is not None:
            extra = f"waiting {int(sample.waiting)}s" if sample.waiting is not None else ""
            if sample.drops:
                extra += f" drops={sample.drops}"
            self._progress.update(self._task, total=max(1, sample.total), completed=sample.sent,
                                  rate=f"{pps / 1000:.2f} kpps", found=sample.found, extra=extra)

    def close(self) -> None:
        if self.mode == "line":
            self.stream.write("\n")
            self.stream.flush()
        elif self.mode == "rich" and self._progress is not None:
            self._progress.stop()


def ndjson_status(sample: StatusSample, pps: float, percent: float, eta: float) -> dict[str, object]:
    """masscan HEAD's `--ndjson-status` object for one sample."""
    syn = {"sent": sample.sent, "total": sample.total, "remaining": max(0, sample.total - sample.sent)}
    rate = {"kpps": round(pps / 1000, 2), "pps": round(pps, 2)}
    if sample.waiting is None:
        secs = int(eta)
        progress: dict[str, object] = {
            "percent": round(percent, 2),
            "eta": {"hours": secs // 3600, "mins": secs // 60 % 60, "seconds": secs % 60},
            "syn": syn, "found": sample.found}
        state = "running"
    else:
        progress = {"percent": round(percent, 2), "seconds": int(sample.waiting), "found": sample.found, "syn": syn}
        state = "waiting"
    return {"state": state, "rate": rate, "progress": progress,
            "received": sample.received, "dropped": sample.drops}


def now() -> float:
    return time.monotonic()
