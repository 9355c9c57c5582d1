"""Classic pcap files (`--pcap FILE`), written a batch at a time.

Why this module exists: users check a scanner with Wireshark, tcpdump and tshark, and those read
the classic libpcap format (magic a1b2c3d4, microsecond timestamps).  The receive loop has frames
as an `(n, width)` array with lengths and timestamps, so the writer takes exactly that and emits
one `write()` per batch: the 16-byte record headers are built for all frames at once, laid in front
of each row in an `(n, 16 + width)` matrix, and a boolean mask keeps the header plus each frame's
captured bytes; flattening the masked matrix in row order *is* the file's byte sequence.

Record format (host byte order, as libpcap writes it): ts_sec u32, ts_usec u32, incl_len u32,
orig_len u32, then incl_len bytes.  The global header carries `snaplen` and `linktype` (1 =
Ethernet); frames longer than `snaplen` are truncated (incl_len < orig_len).
"""

from __future__ import annotations

import struct
import time
from types import TracebackType
from typing import BinaryIO

import numpy as np

MAGIC_USEC = 0xA1B2C3D4
LINKTYPE_ETHERNET = 1
_GLOBAL = struct.Struct("=IHHiIII")
_RECORD = struct.Struct("=IIII")


class PcapWriter:
    """Write frames to a classic (microsecond) pcap file."""

    def __init__(self, path: str, linktype: int = LINKTYPE_ETHERNET, snaplen: int = 65535,
                 *, append: bool = False) -> None:
        self.path = path
        self.snaplen = snaplen
        self.count = 0
        self._f: BinaryIO | None = open(path, "ab" if append else "wb")
        if self._f.tell() == 0:
            self._f.write(_GLOBAL.pack(MAGIC_USEC, 2, 4, 0, 0, snaplen, linktype))

    def write_batch(self, frames: np.ndarray, lengths: np.ndarray | int,
                    timestamps: np.ndarray | float | None = None,
                    orig_lengths: np.ndarray | None = None) -> None:
        """Append n records: row i's first `lengths[i]` bytes, at `timestamps[i]` (seconds).

        `orig_lengths` (default `lengths`) is the frame's length on the wire.
        """
        f = self._checked()
        n, width = frames.shape
        if n == 0:
            return
        lens = np.broadcast_to(np.asarray(lengths, dtype=np.int64), (n,))
        if int(lens.max()) > width or int(lens.min()) < 0:
            raise ValueError(f"frame lengths must be within 0..{width}")
        orig = lens if orig_lengths is None else np.asarray(orig_lengths, dtype=np.int64)
        incl = np.minimum(lens, self.snaplen)
        ts = np.broadcast_to(np.asarray(time.time() if timestamps is None else timestamps,
                                        dtype=np.float64), (n,))
        sec = np.floor(ts)
        usec = np.rint((ts - sec) * 1e6).astype(np.int64)
        sec = sec.astype(np.int64) + (usec >= 1_000_000)
        usec = np.where(usec >= 1_000_000, usec - 1_000_000, usec)
        rows = np.empty((n, 16 + width), dtype=np.uint8)
        head = np.stack([sec, usec, incl, orig], axis=1).astype("=u4")
        rows[:, :16] = head.view(np.uint8).reshape(n, 16)
        rows[:, 16:] = frames
        keep = np.arange(16 + width) < (16 + incl)[:, None]
        f.write(rows[keep].tobytes())
        self.count += n

    def write(self, frame: bytes, ts: float | None = None) -> None:
        """Append one record."""
        f = self._checked()
        t = time.time() if ts is None else ts
        sec = int(t)
        usec = int(round((t - sec) * 1e6))
        if usec >= 1_000_000:
            sec, usec = sec + 1, usec - 1_000_000
        incl = min(len(frame), self.snaplen)
        f.write(_RECORD.pack(sec, usec, incl, len(frame)) + bytes(frame[:incl]))
        self.count += 1

    def flush(self) -> None:
        self._checked().flush()

    def close(self) -> None:
        if self._f is not None:
            self._f.close()
            self._f = None

    def _checked(self) -> BinaryIO:
        if self._f is None:
            raise ValueError("pcap file is closed")
        return self._f

    def __enter__(self) -> PcapWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
