"""Port lists: which (protocol, port) probes go to every target, as one integer line.

Why this exists: masscan folds the protocol into the port number so that "every probe for one
target" is a single integer range that BlackRock can shuffle together with the addresses.  We use
the same *internal encoding* (docs/internals.md), so indexes, cookies and resume files agree with
masscan:

    TCP  0..65535            UDP  65536 + p (UDP_BASE)        SCTP  131072 + p (SCTP_BASE)
    ICMP echo 196608         ICMP timestamp 196609            ARP   196610
    other IP protocol  196864 + proto (OPROTO_BASE, proto 0..255)

A `PortList` is a set of such integers held as sorted, merged, inclusive intervals in two NumPy
``uint64`` arrays ``starts``/``ends`` (never one object per port; `tidescan.intervals` does the
algebra).  Its hot operation is `PortList.pick`: the transmit loop turns a batch of shuffled
indexes into port numbers by locating each index among the prefix sums of interval lengths
(`tidescan.intervals.Picker`: a vectorized boundary count for short lists, a bucket table with a
``np.searchsorted`` fallback for long ones; plain ``searchsorted`` on random keys was 6-15x
slower here) and adding the interval's offset.

Text syntax (`parse_ports`, masscan's ``-p``): items separated by commas and/or whitespace; an
item is ``N``, ``N-M``, ``N-`` (to the maximum), ``-M`` (from 1) or ``-`` (1 to the maximum: port
0 is left out, as masscan does).  A prefix ``T:`` ``U:`` ``S:`` ``O:`` (IP protocol 0-255) or
``I:`` switches the protocol for the rest of the list (``U:53,80`` is UDP 53 and UDP 80; write
``U:53,T:80`` for TCP 80).  ``I:N`` is the raw offset from ICMP_ECHO: ``I:0`` is ICMP echo
(``--ping``), ``I:1`` ICMP timestamp, ``I:2`` ARP (``--arp``), and ``I:256+p`` equals ``O:p``,
which is how masscan itself writes other-protocol entries into ``--echo``/``paused.conf``
(``O:47`` comes out as ``I:303``, a masscan bug we read but do not repeat: `PortList.format`
writes ``O:47``).  Errors raise `ParseError` with the 1-based column.  masscan is laxer (it stops
silently at ``80,,443`` or ``80;443``); we accept repeated separators and reject anything else.

Top ports.  `top_ports(n, proto)` takes the first *n* ports of nmap's open-frequency ranking
(``nmap-services``), shipped as generated tables in ``tidescan/data/top_ports_{tcp,udp}.txt``
(see ``scripts/gen_top_ports.py``; ties are broken by ascending port number, which reproduces
``nmap --top-ports`` for 100 and 1000 with nmap 7.93).  When N is omitted we use 100 (nmap's
``-F``).  masscan differs: 1.3.2 uses 1000 and a numerically sorted list (so its
``--top-ports 10`` is ``1,3-4,6-7,...``), HEAD uses 20 from a 1008-entry hard-coded list.
"""

from __future__ import annotations

import functools
import re
from importlib import resources

import numpy as np

from tidescan import intervals
from tidescan.errors import ParseError, UsageError

__all__ = [
    "UDP_BASE", "SCTP_BASE", "ICMP_ECHO", "ICMP_TIMESTAMP", "ARP_PORT", "OPROTO_BASE",
    "MAX_ENCODED", "DEFAULT_TOP_PORTS", "KIND_NAMES",
    "PortList", "parse_ports", "top_ports", "top_ports_ranked", "add_ping", "add_arp",
    "decode_ports",
]

UDP_BASE = 65536
SCTP_BASE = 131072
ICMP_ECHO = 196608
ICMP_TIMESTAMP = 196609
ARP_PORT = 196610
OPROTO_BASE = 196864
MAX_ENCODED = OPROTO_BASE + 255  # the largest internal port number we accept

DEFAULT_TOP_PORTS = 100

# Regions of the encoded line: (echo prefix, first encoded value, last encoded value).
# Pieces of a PortList are split at these boundaries when written out.
_REGIONS: tuple[tuple[str, int, int], ...] = (
    ("", 0, 65535),
    ("U:", UDP_BASE, UDP_BASE + 65535),
    ("S:", SCTP_BASE, SCTP_BASE + 65535),
    ("I:", ICMP_ECHO, OPROTO_BASE - 1),
    ("O:", OPROTO_BASE, MAX_ENCODED),
)

# Prefix letter -> (base, largest number allowed after the prefix).
_PREFIXES: dict[str, tuple[int, int]] = {
    "T": (0, 65535),
    "U": (UDP_BASE, 65535),
    "S": (SCTP_BASE, 65535),
    "O": (OPROTO_BASE, 255),
    "I": (ICMP_ECHO, MAX_ENCODED - ICMP_ECHO),  # 0..511: I:256+p is O:p (masscan's echo form)
}
_DEFAULT_PREFIX = {"tcp": "T", "udp": "U", "sctp": "S", "oproto": "O", "icmp": "I"}

# decode_ports() kind codes.
KIND_NAMES = ("tcp", "udp", "sctp", "icmp", "arp", "oproto")

_ITEM_RE = re.compile(r"[^\s,]+")
_DIGITS_DASH = frozenset("0123456789-")
_RANGE_RE = re.compile(r"([0-9]*)(-?)([0-9]*)")


class PortList(intervals.IntervalSet):
    """A set of internal port numbers as normalized inclusive intervals (``uint64`` arrays).

    Immutable: every operation returns a new list.  Construct with `parse_ports`, `top_ports`,
    `PortList.single`, or ``PortList(starts, ends)`` (any order, overlaps allowed: normalized
    here).
    """

    LIMIT = MAX_ENCODED
    ITEM = "port"
    __slots__ = ()

    # -- construction ---------------------------------------------------------------------
    @classmethod
    def single(cls, port: int) -> PortList:
        """A list holding one internal port number."""
        return cls([port], [port])

    # -- size, pick, contains, merge, exclude: intervals.IntervalSet
    def __len__(self) -> int:
        return self.count

    def only(self, kind: str) -> PortList:
        """The part of the list of one kind: ``tcp udp sctp icmp arp oproto`` (see KIND_NAMES)."""
        lo, hi = _KIND_SPAN[kind]
        s, e = intervals.intersect(
            self._s, self._e, np.array([lo], dtype=np.int64), np.array([hi], dtype=np.int64)
        )
        return PortList(s, e)

    def _overlaps(self, lo: int, hi: int) -> bool:
        i = int(np.searchsorted(self._e, lo, side="left"))
        return i < len(self._s) and int(self._s[i]) <= hi

    @property
    def has_tcp(self) -> bool:
        return self._overlaps(0, 65535)

    @property
    def has_udp(self) -> bool:
        return self._overlaps(UDP_BASE, UDP_BASE + 65535)

    @property
    def has_sctp(self) -> bool:
        return self._overlaps(SCTP_BASE, SCTP_BASE + 65535)

    @property
    def has_icmp(self) -> bool:
        """ICMP echo is in the list (``--ping`` / ``I:0``)."""
        return self._overlaps(ICMP_ECHO, ICMP_ECHO)

    @property
    def has_icmp_timestamp(self) -> bool:
        return self._overlaps(ICMP_TIMESTAMP, ICMP_TIMESTAMP)

    @property
    def has_arp(self) -> bool:
        return self._overlaps(ARP_PORT, ARP_PORT)

    @property
    def has_oproto(self) -> bool:
        return self._overlaps(OPROTO_BASE, MAX_ENCODED)

    # -- text -----------------------------------------------------------------------------
    def format(self) -> str:
        """masscan's ``--echo`` form, e.g. ``80,U:53-55,S:7,I:0,O:47`` (re-parses to itself)."""
        items: list[str] = []
        for prefix, lo, hi in _REGIONS:
            s, e = intervals.intersect(
                self._s, self._e, np.array([lo], dtype=np.int64), np.array([hi], dtype=np.int64)
            )
            for a, b in zip((s - lo).tolist(), (e - lo).tolist()):
                items.append(f"{prefix}{a}" if a == b else f"{prefix}{a}-{b}")
        return ",".join(items)

    def __str__(self) -> str:
        return self.format()

    def __repr__(self) -> str:
        return f"PortList({self.format()!r})"


_KIND_SPAN: dict[str, tuple[int, int]] = {
    "tcp": (0, 65535),
    "udp": (UDP_BASE, UDP_BASE + 65535),
    "sctp": (SCTP_BASE, SCTP_BASE + 65535),
    "icmp": (ICMP_ECHO, ICMP_TIMESTAMP),
    "arp": (ARP_PORT, ARP_PORT),
    "oproto": (OPROTO_BASE, MAX_ENCODED),
}


def parse_ports(text: str, default_proto: str = "tcp") -> PortList:
    """Parse masscan's port syntax (see the module docstring) into a `PortList`.

    ``default_proto`` (``tcp udp sctp oproto icmp``) is the protocol before any prefix, e.g.
    ``udp`` after ``-sU``.  An empty or blank text gives an empty list.  Raises `ParseError`
    with a 1-based column on a bad number, a number above the protocol's maximum, a reversed
    range or an unknown prefix.
    """
    try:
        prefix = _DEFAULT_PREFIX[default_proto]
    except KeyError:
        raise ValueError(f"unknown default protocol {default_proto!r}") from None
    base, top = _PREFIXES[prefix]
    starts: list[int] = []
    ends: list[int] = []
    for m in _ITEM_RE.finditer(text):
        item, at = m.group(), m.start()
        if len(item) >= 2 and item[1] == ":":
            letter = item[0].upper()
            if letter not in _PREFIXES:
                raise ParseError(
                    f"unknown protocol prefix {item[:2]!r} (expected T:, U:, S:, O: or I:)", at + 1
                )
            prefix = letter
            base, top = _PREFIXES[prefix]
            item, at = item[2:], at + 2
            if not item:
                raise ParseError(f"missing port number after '{prefix}:'", at + 1)
        r = _RANGE_RE.fullmatch(item)
        if r is None:
            bad = next((i for i, c in enumerate(item) if c not in _DIGITS_DASH), None)
            if bad is None:  # only digits and dashes: the second dash is the culprit
                bad = item.index("-", item.index("-") + 1)
            raise ParseError(f"bad port: unexpected {item[bad]!r} in {item!r}", at + bad + 1)
        first_txt, dash, last_txt = r.groups()
        first = int(first_txt) if first_txt else 1
        last = (int(last_txt) if last_txt else top) if dash else first
        if first > top:
            raise ParseError(f"port {first} out of range (max {top} for '{prefix}:')", at + 1)
        if last > top:
            raise ParseError(
                f"port {last} out of range (max {top} for '{prefix}:')", at + r.start(3) + 1
            )
        if first > last:
            raise ParseError(f"reversed port range {first}-{last}", at + 1)
        starts.append(base + first)
        ends.append(base + last)
    return PortList(starts, ends)


def add_ping(ports: PortList) -> PortList:
    """``--ping``: add the ICMP echo pseudo-port."""
    return ports.merge(PortList.single(ICMP_ECHO))


def add_arp(ports: PortList) -> PortList:
    """``--arp``: add the ARP pseudo-port."""
    return ports.merge(PortList.single(ARP_PORT))


def decode_ports(encoded: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Split internal port numbers into (kind code, number) arrays (vectorized).

    The kind code indexes `KIND_NAMES` (``tcp udp sctp icmp arp oproto``).  The number is the
    port for TCP/UDP/SCTP, the ``I:`` offset for ICMP (0 echo, 1 timestamp), 0 for ARP and the
    IP protocol for oproto.
    """
    p = np.asarray(encoded).astype(np.int64)
    kind = np.select(
        [p < UDP_BASE, p < SCTP_BASE, p < ICMP_ECHO, p == ARP_PORT, p < OPROTO_BASE],
        [0, 1, 2, 4, 3],
        default=5,
    ).astype(np.uint8)
    bases = np.array([0, UDP_BASE, SCTP_BASE, ICMP_ECHO, ARP_PORT, OPROTO_BASE], dtype=np.int64)
    return kind, (p - bases[kind]).astype(np.uint32)


# -- top ports ----------------------------------------------------------------------------

@functools.lru_cache(maxsize=None)
def _ranking(proto: str) -> np.ndarray:
    """Ports of the shipped ranking table, most frequently open first (plain port numbers)."""
    ref = resources.files("tidescan").joinpath(f"data/top_ports_{proto}.txt")
    ports = [
        int(line.split()[0])
        for line in ref.read_text(encoding="ascii").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    arr = np.array(ports, dtype=np.uint64)
    arr.setflags(write=False)
    return arr


def top_ports_ranked(n: int | None, proto: str = "tcp") -> np.ndarray:
    """The ``n`` most frequently open ports in rank order, as internal port numbers (``uint64``).

    ``n=None`` means `DEFAULT_TOP_PORTS` (100).  An ``n`` above the table size (TCP 8366, UDP
    19022 entries for nmap 7.93) gives the whole table.
    """
    if proto not in ("tcp", "udp"):
        raise UsageError(f"--top-ports: no ranking for protocol {proto!r} (tcp or udp)")
    if n is None:
        n = DEFAULT_TOP_PORTS
    if n < 0:
        raise UsageError(f"--top-ports: N must be 0 or more, not {n}")
    base = np.uint64(UDP_BASE if proto == "udp" else 0)
    return _ranking(proto)[:n] + base


def top_ports(n: int | None, proto: str = "tcp") -> PortList:
    """The ``n`` (default 100) most frequently open ports of nmap's ranking, as a `PortList`."""
    ranked = top_ports_ranked(n, proto)
    return PortList(ranked, ranked)
