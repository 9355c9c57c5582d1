"""The packet log: what tidescanned received, answered and ignored, on stdout.

Why this exists: a responder's output is its log (masscanned users feed it to IVRE or grep it).
Levels follow the issue: 0 = errors only (stderr); `-v` = every frame sent; `-vv` = also frames
ignored/unhandled (with the reason); `-vvv` = also every frame received.  `-q` silences stdout.

Formats (one line per event):

- `console` (masscanned's layout): `<secs>.<ms>\t<proto>\t<verb>\t<src mac>\t<dst mac>\t<src ip>\t<dst
  ip>\t<transport>\t<sport>\t<dport>\t<info>` with verb `init`, `recv`, `send` or `drop`;
- `logfmt`: `ts=<secs.ms> proto=<p> verb=<v> src_mac=... dst_mac=... src=... dst=... sport=...
  dport=... info="..."`.

For `send`, source and destination are those of the answer.  `info` is what was answered
(`syn-ack`, `http 401 to GET /`...) or why nothing was (`destination MAC not ours`...).
"""

from __future__ import annotations

import ipaddress
import sys
import time
from collections.abc import Callable
from typing import TextIO

from .config import format_mac
from .context import Ctx

INIT_PROTOS = ("arp", "eth", "ipv4", "ipv6", "icmpv4", "icmpv6", "tcp", "udp")


def _proto(ctx: Ctx) -> str:
    if ctx.transport:
        return {"icmp": "icmpv4", "icmp6": "icmpv6"}.get(ctx.transport, ctx.transport)
    if ctx.ip_version:
        return f"ipv{ctx.ip_version}"
    return "eth"


def _ip_text(raw: bytes) -> str:
    return str(ipaddress.ip_address(raw))


def _quote(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


class PacketLog:
    def __init__(self, level: int, fmt: str = "console", out: TextIO | None = None,
                 err: TextIO | None = None, clock: Callable[[], float] = time.time) -> None:
        self.level = level
        self.fmt = fmt
        self.out = out
        self.err = err if err is not None else sys.stderr
        self.clock = clock

    def _stamp(self) -> str:
        t = self.clock()
        return f"{int(t)}.{int((t % 1) * 1000):03d}"

    def _line(self, proto: str, verb: str, fields: list[str], info: str) -> None:
        if self.out is None:
            return
        if self.fmt == "logfmt":
            names = ("src_mac", "dst_mac", "src", "dst", "transport", "sport", "dport")
            kv = " ".join(f"{k}={v}" for k, v in zip(names, fields) if v)
            line = f"ts={self._stamp()} proto={proto} verb={verb} {kv} info={_quote(info)}".replace("  ", " ")
        else:
            line = "\t".join([self._stamp(), proto, verb, *fields, info])
        self.out.write(line + "\n")

    def init(self) -> None:
        for p in INIT_PROTOS:
            if self.fmt == "logfmt":
                if self.out is not None:
                    self.out.write(f"ts={self._stamp()} proto={p} verb=init\n")
            elif self.out is not None:
                self.out.write(f"{self._stamp()}\t{p}\tinit\n")

    @staticmethod
    def _fields(ctx: Ctx, frame: bytes | None = None) -> list[str]:
        """Fields of the request (frame None) or of the answer `frame` (addresses as sent)."""
        ports = ctx.transport in ("tcp", "udp")
        if frame is None:
            smac, dmac, src, dst = ctx.src_mac, ctx.dst_mac, ctx.src_text, ctx.dst_text
            sport, dport = (str(ctx.sport), str(ctx.dport)) if ports else ("", "")
        else:
            smac, dmac = frame[6:12], frame[0:6]
            src = _ip_text(ctx.reply_ip_src) if ctx.reply_ip_src else ctx.dst_text
            dst = _ip_text(ctx.reply_ip_dst) if ctx.reply_ip_dst else ctx.src_text
            reply_sport = ctx.dport if ctx.reply_sport is None else ctx.reply_sport
            sport, dport = (str(reply_sport), str(ctx.sport)) if ports else ("", "")
        return [format_mac(smac) if smac else "", format_mac(dmac) if dmac else "", src, dst,
                ctx.transport, sport, dport]

    def recv(self, ctx: Ctx, frame: bytes) -> None:
        self._line(_proto(ctx), "recv", self._fields(ctx), f"{len(frame)} bytes")

    def send(self, ctx: Ctx, frame: bytes) -> None:
        self._line(_proto(ctx), "send", self._fields(ctx, frame), ctx.note)

    def drop(self, ctx: Ctx, frame: bytes) -> None:
        self._line(_proto(ctx), "drop", self._fields(ctx), ctx.drop or ctx.note)

    def error(self, message: str) -> None:
        self.err.write(f"tidescanned: error: {message}\n")

    def flush(self) -> None:
        if self.out is not None:
            self.out.flush()
