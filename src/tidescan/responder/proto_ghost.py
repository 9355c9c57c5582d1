"""Gh0st RAT: a `Gh0st`-framed packet gets a Gh0st-framed zlib-compressed single NUL byte.

Why this exists: Gh0st RAT controllers are hunted by scanners that send the implant's login frame
and look for the `Gh0st` magic in the answer (reference masscanned.md §17).  Frame layout:
`b"Gh0st"`, little-endian u32 total frame length, little-endian u32 uncompressed length (1), then
the zlib stream of `b"\x00"`.
"""

from __future__ import annotations

import struct
import zlib

from .context import Ctx

MAGIC = b"Gh0st"
_PAYLOAD = zlib.compress(b"\x00")
REPLY = MAGIC + struct.pack("<II", len(MAGIC) + 8 + len(_PAYLOAD), 1) + _PAYLOAD


class Ghost:
    name = "ghost"

    def feed(self, data: bytes, ctx: Ctx) -> bytes | None:
        if not data.startswith(MAGIC):
            return None
        ctx.note = "gh0st reply"
        return REPLY
