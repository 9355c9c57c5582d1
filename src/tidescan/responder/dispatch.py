"""Which application protocol is this? Recognition by content, on any port.

Why this exists: masscanned does not trust port numbers: a payload is matched against anchored
byte patterns (its `smack` matcher, case sensitive, `?` = any byte) and handed to the protocol
whose pattern it starts with (reference masscanned.md §10):

| protocol | pattern (anchored at the payload start) | transports |
|---|---|---|
| HTTP  | `<VERB> /` for the nine verbs | TCP, UDP |
| STUN  | `00 01 ?? ?? 21 12 a4 42`; UDP also: exactly 20 bytes `00 01 00 00 ...`, exactly 28 bytes with CHANGE-REQUEST | TCP, UDP |
| SSH   | `SSH-2.0`, `SSH-1.99` | TCP, UDP |
| Gh0st | `Gh0st` | TCP, UDP |
| RPC   | CALL to program 0x186xx (record mark first over TCP) | TCP, UDP |
| SMB   | `00 00 ?? ?? ff S M B` / `00 00 ?? ?? fe S M B` | TCP, UDP |
| TLS   | `16 03 0[0-4] ?? ?? 01` (tidescanned addition) | TCP |
| DNS   | anything else that parses as an A query | UDP |

Over TCP the decision is made on the *stream*: while the bytes received so far are a proper prefix
of some pattern the decision waits (the bytes are kept in the connection and given to the protocol
once it is known, so `GE` + `T / HTTP/1.0...` works), and once a protocol is chosen it stays for
the connection.  If the first bytes match nothing, detection starts again on the next segment
(masscanned retries on later segments too).

Safety rule (tidescanned): a UDP answer identical to the datagram that caused it is never sent,
so two responders (or a spoofed source) cannot bounce SSH banners or Gh0st frames forever.
"""

from __future__ import annotations

from collections.abc import Callable

from . import proto_rpc, proto_smb, proto_stun, proto_tls
from .config import ResponderConfig
from .context import Ctx
from .proto_dns import Dns
from .proto_ghost import MAGIC as GHOST_MAGIC, Ghost
from .proto_http import PATTERNS as HTTP_PATTERNS, Http
from .proto_rpc import RpcTcp, RpcUdp
from .proto_smb import Smb
from .proto_ssh import PATTERNS as SSH_PATTERNS, Ssh
from .proto_stun import Stun
from .proto_tls import Tls
from .tcb import Tcb

W = -1  # wildcard byte
Pattern = tuple[int, ...]


def _lit(b: bytes) -> Pattern:
    return tuple(b)


_STUN = (0, 1, W, W, 0x21, 0x12, 0xA4, 0x42)
_SMB = (0, 0, W, W, W, 0x53, 0x4D, 0x42)           # byte 4 checked by proto_smb.matches
_RPC_UDP = (W, W, W, W, 0, 0, 0, 0, 0, 0, 0, W, 0, 1, 0x86, W, W, W, W, W, 0, 0, 0, W)
_RPC_TCP = (W, W, W, W) + _RPC_UDP
_TLS = (0x16, 3, W, W, W, 1)

# (name, pattern, extra check on a full match, over TCP?, over UDP?)
_TABLE: list[tuple[str, Pattern, Callable[[bytes], bool] | None, bool, bool]] = [
    ("ghost", _lit(GHOST_MAGIC), None, True, True),
    ("tls", _TLS, proto_tls.matches, True, False),
    *[("http", _lit(p), None, True, True) for p in HTTP_PATTERNS],
    *[("ssh", _lit(p), None, True, True) for p in SSH_PATTERNS],
    ("stun", _STUN, None, True, True),
    ("smb", _SMB, proto_smb.matches, True, True),
    ("rpc", _RPC_UDP, lambda d: proto_rpc.matches(d, tcp=False), False, True),
    ("rpc", _RPC_TCP, lambda d: proto_rpc.matches(d, tcp=True), True, False),
]
_TABLE.sort(key=lambda row: len(row[1]))


def _consistent(data: bytes, pattern: Pattern) -> bool:
    for i in range(min(len(data), len(pattern))):
        p = pattern[i]
        if p != W and data[i] != p:
            return False
    return True


MATCH, MAYBE, NONE = "match", "maybe", "none"


def detect(data: bytes, udp: bool) -> tuple[str, str | None]:
    """(MATCH, name) | (MAYBE, None) | (NONE, None) for a stream/datagram start."""
    maybe = False
    for name, pattern, check, tcp_ok, udp_ok in _TABLE:
        if not (udp_ok if udp else tcp_ok):
            continue
        if not _consistent(data, pattern):
            continue
        if len(data) >= len(pattern):
            if check is None or check(data):
                return MATCH, name
        elif not udp:
            maybe = True
    if udp and proto_stun.matches(data, udp=True):
        return MATCH, "stun"
    return (MAYBE if maybe else NONE), None


class AppDispatcher:
    """Creates protocol handlers and routes payloads to them."""

    def __init__(self, cfg: ResponderConfig) -> None:
        self.cfg = cfg
        tls_ok = cfg.tls
        identity = cfg.tls_identity
        self.tcp_factories: dict[str, Callable[[], object]] = {
            "http": Http, "ssh": Ssh, "stun": Stun, "ghost": Ghost, "smb": Smb, "rpc": RpcTcp,
        }
        if tls_ok:
            self.tcp_factories["tls"] = lambda: Tls(identity)
        self.udp_handlers: dict[str, Callable[[], object]] = {
            "http": Http, "ssh": Ssh, "stun": Stun, "ghost": Ghost, "smb": Smb, "rpc": RpcUdp,
        }

    def on_tcp_data(self, ctx: Ctx, tcb: Tcb, data: bytes) -> bytes | None:
        if tcb.handler is None:
            stream = tcb.prefix + data
            verdict, name = detect(stream, udp=False)
            if verdict == MAYBE:
                tcb.prefix = stream
                return None
            tcb.prefix = b""
            factory = self.tcp_factories.get(name) if name else None
            if factory is None:
                return None
            tcb.handler = factory()
            data = stream
        return tcb.handler.feed(data, ctx)  # type: ignore[attr-defined]

    def on_udp(self, ctx: Ctx, data: bytes) -> bytes | None:
        verdict, name = detect(data, udp=True)
        handler = self.udp_handlers[name]() if verdict == MATCH and name else Dns()
        reply = handler.feed(data, ctx)  # type: ignore[attr-defined]
        if reply is not None and reply == data:
            ctx.note = "not answering a datagram with itself"
            return None
        return reply
