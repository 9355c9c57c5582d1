"""`--pcap FILE`: every frame tidescanned receives and sends, in a classic pcap file.

Why this exists: masscanned's documentation recommends capturing everything a responder sees and
says (for Zeek/IVRE); doing it inside the process records exactly the frames the core handled, in
order, with no second capture tool.  Format: libpcap 2.4, microsecond timestamps, link type 1
(Ethernet), readable by tcpdump, tshark and scapy.
"""

from __future__ import annotations

import struct
from typing import BinaryIO

import numpy as np
from numpy.typing import NDArray


class PcapWriter:
    def __init__(self, path: str, snaplen: int = 65535) -> None:
        self._f: BinaryIO = open(path, "wb")  # noqa: SIM115 - closed by close()
        self._f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, snaplen, 1))

    def write(self, frame: bytes, ts: float) -> None:
        sec = int(ts)
        usec = int((ts - sec) * 1_000_000)
        self._f.write(struct.pack("<IIII", sec, usec, len(frame), len(frame)) + frame)

    def write_batch(self, frames: NDArray[np.uint8], lengths: NDArray, ts: float) -> None:
        for i, n in enumerate(np.asarray(lengths).tolist()):
            self.write(frames[i, :n].tobytes(), ts)

    def flush(self) -> None:
        self._f.flush()

    def close(self) -> None:
        self._f.close()
