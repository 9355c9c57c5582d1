"""The probe-kind interface: what every kind of probe (TCP SYN, UDP, ICMP echo, ARP) provides.

Why this module exists: the transmit and receive loops must not know how a SYN differs from a DNS
query.  Following ZMap's probe modules, each kind is one object with a handful of methods, all
working on whole batches:

    frame_len(version)   longest frame this kind builds (the buffer stride must be >= this)
    prepare(out, version)  write the constant bytes into every row of a fresh buffer, once
    new_buffer(n, version) a zeroed (n, stride) buffer, already prepared
    seq4(...) / seq6(...)  this kind's cookie for each target (low 32 bits of masscan's SipHash
                           cookie over the tuple the kind defines: ICMP echo uses port_me = 0)
    build(out, targets)    write the per-target fields of a `Targets4`/`Targets6` batch into rows
                           0..n-1 and return the frame lengths (int32 array)
    classify(parsed, entropy, ours)  look at a triaged block (`tidescan.packets.triage.Parsed`)
                           and return the `Replies` that answer this kind's probes: which rows,
                           target address and (internal) port, status, reason, whether verified

The transmit loop, per batch and per kind: `seq = probe.seq4(...)`, `lengths = probe.build(buf,
Targets4(..., seq))`, send `buf[:n]` with `lengths`.  The receive loop, per block: `parsed =
parse_frames(...)`, then `probe.classify(parsed, entropy, ours)` for each kind in use.  Nothing is
remembered between the two: a reply is ours iff the cookie recomputed from its tuple matches.

Ports use masscan's internal encoding (TCP p, UDP 65536+p, ICMP echo 196608, ARP 196610); the
constants below are the same values as `tidescan.ports` and are repeated here so that probe code
does not import the target parser.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
from numpy.typing import ArrayLike, NDArray

from tidescan import siphash
from tidescan.siphash_seq import seq4_array
from tidescan.packets import layout as L
from tidescan.packets.triage import Parsed

__all__ = [
    "UDP_BASE", "SCTP_BASE", "ICMP_ECHO", "ARP_PORT", "OPEN", "CLOSED", "UP", "STATUS_NAMES",
    "Targets4", "Targets6", "Ours", "Replies", "Probe", "cookie_seq4", "cookie_seq6",
]

UDP_BASE = 65536
SCTP_BASE = 131072
ICMP_ECHO = 196608
ARP_PORT = 196610

OPEN, CLOSED, UP = 1, 2, 3
STATUS_NAMES = {OPEN: "open", CLOSED: "closed", UP: "up"}


@dataclass(slots=True)
class Targets4:
    """A batch of IPv4 targets: 1-D arrays of one length n, or scalars (broadcast).

    `port_them` uses the internal encoding; `seq` is the kind's cookie (`Probe.seq4`).
    """

    ip_them: ArrayLike
    port_them: ArrayLike
    ip_me: ArrayLike
    port_me: ArrayLike
    seq: ArrayLike

    def __len__(self) -> int:
        return L.batch_size(self.ip_them, self.port_them, self.ip_me, self.port_me, self.seq)


@dataclass(slots=True)
class Targets6:
    """A batch of IPv6 targets; addresses as uint64 halves (`hi` = first 8 bytes on the wire)."""

    them_hi: ArrayLike
    them_lo: ArrayLike
    port_them: ArrayLike
    me_hi: ArrayLike
    me_lo: ArrayLike
    port_me: ArrayLike
    seq: ArrayLike

    def __len__(self) -> int:
        return L.batch_size(self.them_hi, self.them_lo, self.port_them, self.me_hi, self.me_lo,
                            self.port_me, self.seq)


@dataclass(frozen=True, slots=True)
class Ours:
    """Where replies to us are addressed: our IPv4 source range, IPv6 source address, and source
    port range (inclusive).  The default IPv4 range is empty."""

    ip4_first: int = 1
    ip4_last: int = 0
    ip6: int | None = None
    port_first: int = 0
    port_last: int = 65535

    def _ip4(self, a: NDArray[np.uint32]) -> NDArray[np.bool_]:
        return (a >= self.ip4_first) & (a <= self.ip4_last)

    def _ip6(self, hi: NDArray[np.uint64], lo: NDArray[np.uint64]) -> NDArray[np.bool_]:
        if self.ip6 is None:
            return np.zeros(len(hi), dtype=bool)
        return (hi == np.uint64(self.ip6 >> 64)) & (lo == np.uint64(self.ip6 & ((1 << 64) - 1)))

    def port(self, ports: NDArray[np.uint16]) -> NDArray[np.bool_]:
        """Mask: port inside our source-port range."""
        return (ports >= self.port_first) & (ports <= self.port_last)

    def to_us(self, p: Parsed) -> NDArray[np.bool_]:
        """Mask: the frame's IP destination is one of our addresses."""
        return (p.is_ip4 & self._ip4(p.dst4)) | (p.is_ip6 & self._ip6(p.dst6_hi, p.dst6_lo))

    def quoted_from_us(self, p: Parsed) -> NDArray[np.bool_]:
        """Mask: an ICMP error quoting a datagram we sent (our address and source port)."""
        src = ((p.is_ip4 & self._ip4(p.inner_src4))
               | (p.is_ip6 & self._ip6(p.inner_src6_hi, p.inner_src6_lo)))
        return p.has_inner & src & self.port(p.inner_sport)


@dataclass(slots=True)
class Replies:
    """Valid replies found in a triaged block, one entry per reply (arrays of one length).

    `rows` index the `Parsed` block (TTL, MACs, payloads are read from there).  The target's
    address is given explicitly because for ICMP errors it is the quoted destination, not the
    sender.  `port` is internal-encoded; `reason` is the TCP flags byte (0 for other kinds);
    `verified` says the reply echoed our cookie (always for TCP and ICMP echo; for UDP only when
    the probe's payload carries one and the reply matched it).
    """

    rows: NDArray[np.intp]
    status: NDArray[np.uint8]
    port: NDArray[np.uint32]
    is_v6: NDArray[np.bool_]
    ip4: NDArray[np.uint32]
    ip6_hi: NDArray[np.uint64]
    ip6_lo: NDArray[np.uint64]
    reason: NDArray[np.uint8]
    verified: NDArray[np.bool_]

    def __len__(self) -> int:
        return len(self.rows)

    @staticmethod
    def empty() -> Replies:
        z = np.zeros(0, dtype=np.uint32)
        return Replies(np.zeros(0, np.intp), np.zeros(0, np.uint8), z, np.zeros(0, bool), z,
                       np.zeros(0, np.uint64), np.zeros(0, np.uint64), np.zeros(0, np.uint8),
                       np.zeros(0, bool))

    @staticmethod
    def of(p: Parsed, rows: NDArray[np.intp], status: ArrayLike, port: ArrayLike,
           reason: ArrayLike = 0, verified: ArrayLike = True, quoted: bool = False) -> Replies:
        """Replies for `rows` of `p`; the target address is the IP source, or with `quoted` the
        destination quoted inside an ICMP error."""
        k = len(rows)

        def arr(x: ArrayLike, dt: type) -> NDArray:  # type: ignore[type-arg]
            return np.broadcast_to(np.asarray(x).astype(dt), (k,)).copy()

        if quoted:
            ip4, hi, lo = p.inner_dst4[rows], p.inner_dst6_hi[rows], p.inner_dst6_lo[rows]
        else:
            ip4, hi, lo = p.src4[rows], p.src6_hi[rows], p.src6_lo[rows]
        return Replies(rows, arr(status, np.uint8), arr(port, np.uint32), p.is_ip6[rows].copy(),
                       ip4, hi, lo, arr(reason, np.uint8), arr(verified, bool))

    @staticmethod
    def concat(parts: list[Replies]) -> Replies:
        parts = [r for r in parts if len(r)]
        if not parts:
            return Replies.empty()
        if len(parts) == 1:
            return parts[0]
        return Replies(*(np.concatenate([getattr(r, f.name) for r in parts])
                         for f in fields(Replies)))


def cookie_seq4(ip_them: ArrayLike, port_them: ArrayLike, ip_me: ArrayLike, port_me: ArrayLike,
                entropy: int, out: NDArray[np.uint32] | None = None) -> NDArray[np.uint32]:
    """Low 32 bits of masscan's IPv4 cookie, vectorized (scalars or 1-D arrays; into `out`)."""
    return seq4_array(ip_them, port_them, ip_me, port_me, entropy, out)


def cookie_seq6(them_hi: ArrayLike, them_lo: ArrayLike, port_them: ArrayLike, me_hi: ArrayLike,
                me_lo: ArrayLike, port_me: ArrayLike, entropy: int) -> NDArray[np.uint32]:
    """Low 32 bits of masscan's IPv6 cookie, vectorized."""
    return siphash.cookie6_array(them_hi, them_lo, me_hi, me_lo, port_them, port_me,
                                 entropy).astype(np.uint32)


class Probe:
    """Base of the probe kinds; subclasses set `name` and implement `frame_len`, `prepare`,
    `build` and `classify` (and override `seq4`/`seq6` if their cookie tuple differs)."""

    name = "probe"

    def frame_len(self, version: int) -> int:
        raise NotImplementedError

    def prepare(self, out: NDArray[np.uint8], version: int) -> None:
        raise NotImplementedError

    def build(self, out: NDArray[np.uint8], targets: Targets4 | Targets6) -> NDArray[np.int32]:
        raise NotImplementedError

    def classify(self, parsed: Parsed, entropy: int, ours: Ours) -> Replies:
        raise NotImplementedError

    def seq4(self, ip_them: ArrayLike, port_them: ArrayLike, ip_me: ArrayLike,
             port_me: ArrayLike, entropy: int) -> NDArray[np.uint32]:
        """The cookie each IPv4 probe carries (masscan: SipHash over the full tuple)."""
        return cookie_seq4(ip_them, port_them, ip_me, port_me, entropy)

    def seq6(self, them_hi: ArrayLike, them_lo: ArrayLike, port_them: ArrayLike,
             me_hi: ArrayLike, me_lo: ArrayLike, port_me: ArrayLike,
             entropy: int) -> NDArray[np.uint32]:
        """The cookie each IPv6 probe carries."""
        return cookie_seq6(them_hi, them_lo, port_them, me_hi, me_lo, port_me, entropy)

    def new_buffer(self, n: int, version: int = 4) -> NDArray[np.uint8]:
        """A zeroed (n, stride) frame buffer for this kind, prepared (stride: frame_len rounded
        up to 64 bytes)."""
        stride = -(-self.frame_len(version) // 64) * 64
        out = np.zeros((n, stride), dtype=np.uint8)
        self.prepare(out, version)
        return out
