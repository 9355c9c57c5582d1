"""Target address sets and the index -> (ip, port) mapping at the heart of the scan.

Why this exists: a stateless scanner never holds its target list as a list of targets.  It holds
a few ranges, a port list, and one integer index space ``[0, (n4 + n6) * nports)``; BlackRock
shuffles an index, and this module turns a *batch* of shuffled indexes into addresses and ports
with a few whole-array steps (masscan's ``pick``: locate the index among the prefix sums of the
range sizes, add the range's offset; see `tidescan.intervals`).  Measured here: 1M picks from
three IPv4 ranges x 1024 ports take ~20 ms; from 0.0.0.0/0 minus 5000 excludes x 4 ports ~32 ms.  Excludes are applied up front
by interval subtraction, so the index space contains only addresses that may be probed.

Representation.
* `RangeList` (IPv4): normalized inclusive intervals (`tidescan.intervals`) in ``uint64`` arrays
  ``starts``/``ends`` (``uint64`` so that ``end + 1`` never overflows).
* `Range6List` (IPv6): the same, but the boundaries are Python ints in ``object`` arrays (128 bits
  do not fit a NumPy integer).  Lists are short, so the interval algebra runs element-wise on
  Python ints; the per-packet operations stay vectorized on ``uint64`` halves: `Range6List.pick`
  returns ``(hi, lo)`` arrays (offsets inside a range fit in 64 bits because a scan is limited to
  63 bits), and `Range6List.contains` compares 16-byte big-endian keys (``S16``), whose byte order
  is the numeric order.

Index layouts (masscan, see reference §5):
* transmit (`TargetSet.pick_scan`): IPv6 first.  ``x < n6*nports`` -> ``ip6 = pick6(x % n6)``,
  ``port = ports.pick(x // n6)``; otherwise ``x -= n6*nports``, ``ip4 = pick4(x % n4)``,
  ``port = ports.pick(x // n4)``.  Consecutive indexes walk the addresses for one port, so one
  port's probes are spread over all hosts.
* ``-sL`` list (`TargetSet.pick_list`): the mirror image, IPv4 first then IPv6, same ``%``/``//``
  scheme (checked against ``masscan -sL`` output for mixed v4/v6 lists).

Text syntax (`parse_targets`, ``--range``/``--exclude`` values and ``-iL``/``--excludefile``
files via `parse_target_file`): items separated by commas and/or whitespace; an item is an IPv4
address, ``a.b.c.d/N`` (host bits masked: ``10.0.1.2/16`` is 10.0.0.0-10.0.255.255), ``a-b``, an
IPv6 address, ``[v6]``, ``v6/N``, ``v6-v6`` or ``[v6]-[v6]``.  The byte 0x96 (a Windows-1252 en
dash, as masscan accepts) and U+2013 are read as ``-``.  Files also take ``#`` comments.  Errors
carry a 1-based line and column; for IPv4 they are placed where masscan's own parser places them
(an over-large first number is reported at the dot after it, because until then it could still be
the start of an IPv6 address).  We are stricter than masscan where it silently misreads: a
reversed range or a missing prefix length (``10.0.0.1/``, which masscan takes as /0) is an error.

Text output (`RangeList.format`, masscan's ``--echo`` form): ``a.b.c.d``, ``a.b.c.d/N`` when the
interval is exactly a CIDR block, else ``a-b``; IPv6 likewise (masscan HEAD's form), with
masscan's address text (`tidescan.ipfmt.format_ipv6`: the *first* run of zero groups is compressed, even a run of
one; no dotted-quad tail).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tidescan import intervals
from tidescan.errors import ParseError, UsageError
from tidescan.ipfmt import format_ipv4, format_ipv6
from tidescan.ports import PortList

__all__ = [
    "RangeList", "Range6List", "TargetSet", "Picked",
    "parse_targets", "parse_target_file", "check_size",
    "MAX_IPV4_WITHOUT_EXCLUDE",
]

MAX_IPV4 = (1 << 32) - 1
MAX_IPV6 = (1 << 128) - 1
_MASK64 = (1 << 64) - 1
MAX_IPV4_WITHOUT_EXCLUDE = 1_000_000_000  # masscan's "range too big" threshold


# -- address text ---------------------------------------------------------------------------

def _cidr_len(start: int, end: int, bits: int) -> int | None:
    """Prefix length if [start, end] is exactly one CIDR block, else None."""
    size = end - start + 1
    if size & (size - 1) or start & (size - 1):
        return None
    return bits - (size.bit_length() - 1)


def _range_text(start: int, end: int, bits: int, text: Callable[[int], str]) -> str:
    if start == end:
        return text(start)
    n = _cidr_len(start, end, bits)
    if n is not None:
        return f"{text(start)}/{n}"
    return f"{text(start)}-{text(end)}"


# -- IPv4 ---------------------------------------------------------------------------------

class RangeList(intervals.IntervalSet):
    """IPv4 targets: normalized inclusive intervals of address integers (``uint64`` arrays);
    count, pick, contains, merge and exclude come from `intervals.IntervalSet`."""

    LIMIT = MAX_IPV4
    ITEM = "address"
    __slots__ = ()

    def format_items(self) -> list[str]:
        return [_range_text(a, b, 32, format_ipv4) for a, b in zip(self._s.tolist(), self._e.tolist())]

    def format(self) -> str:
        """masscan ``--echo`` form, items joined by commas (``10.0.0.0/8,10.1.0.1-10.1.0.5``)."""
        return ",".join(self.format_items())

    def __repr__(self) -> str:
        return f"RangeList({self.format()!r})"


# -- IPv6 ---------------------------------------------------------------------------------

def _objects(values: object) -> np.ndarray:
    seq = [int(v) for v in (values if not isinstance(values, np.ndarray) else values.tolist())]
    arr = np.empty(len(seq), dtype=object)
    arr[:] = seq
    return arr


def _halves(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Object array of 128-bit ints -> (hi, lo) ``uint64`` arrays."""
    if len(values) == 0:
        return np.empty(0, np.uint64), np.empty(0, np.uint64)
    return (values >> 64).astype(np.uint64), (values & _MASK64).astype(np.uint64)


def _keys(hi: np.ndarray, lo: np.ndarray) -> np.ndarray:
    """16-byte big-endian keys: comparing them compares the 128-bit numbers."""
    pair = np.empty((len(hi), 2), dtype=">u8")
    pair[:, 0] = hi
    pair[:, 1] = lo
    return pair.view("S16").reshape(-1)


class Range6List:
    """IPv6 targets: normalized inclusive intervals; boundaries are Python ints (object arrays)."""

    __slots__ = ("starts", "ends", "count", "_picker", "_base", "_shi", "_slo", "_kstart", "_kend")

    def __init__(self, starts: object = (), ends: object = ()) -> None:
        s, e = _objects(starts), _objects(ends)
        if s.shape != e.shape:
            raise ValueError("starts and ends differ in length")
        if len(s) and (min(s) < 0 or max(e) > MAX_IPV6 or any(s > e)):
            raise ValueError("IPv6 interval out of range or reversed")
        self.starts, self.ends = intervals.normalize(s, e)
        counts = self.ends - self.starts + 1
        self.count: int = int(counts.sum()) if len(counts) else 0
        # Prefix sums for pick(), saturated to 64 bits: an index is a uint64, so ranges that
        # start beyond 2**64 - 1 can never be reached.
        cum = np.cumsum(counts) if len(counts) else counts
        self._picker = intervals.Picker(np.minimum(cum, _MASK64).astype(np.uint64))
        self._base = np.minimum(cum - counts, _MASK64).astype(np.uint64)
        self._shi, self._slo = _halves(self.starts)
        self._kstart = _keys(self._shi, self._slo)
        self._kend = _keys(*_halves(self.ends))

    @property
    def n_ranges(self) -> int:
        return len(self.starts)

    def __bool__(self) -> bool:
        return len(self.starts) > 0

    def pick(self, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The ``idx``-th smallest addresses (vectorized) as ``(hi, lo)`` ``uint64`` arrays."""
        idx = intervals.as_uint64(idx)
        if idx.size and int(idx.max()) >= min(self.count, _MASK64):
            raise IndexError(f"address index {int(idx.max())} out of range (count {self.count})")
        if len(self._base) == 1:
            off, lo0, hi0 = idx, self._slo[0], self._shi[0]
        else:
            r = self._picker.index(idx)
            off, lo0, hi0 = idx - self._base[r], self._slo[r], self._shi[r]
        lo = lo0 + off  # wraps modulo 2**64 ...
        return hi0 + (lo < off).astype(np.uint64), lo  # ... and the wrap is the carry

    def contains(self, hi: np.ndarray, lo: np.ndarray) -> np.ndarray:
        """Boolean mask: which addresses, given as ``(hi, lo)`` halves, are in the list."""
        hi = intervals.as_uint64(hi).reshape(-1)
        lo = intervals.as_uint64(lo).reshape(-1)
        if len(self._kstart) == 0:
            return np.zeros(len(hi), dtype=bool)
        k = _keys(hi, lo)
        i = np.searchsorted(self._kstart, k, side="right") - 1
        return (i >= 0) & (k <= self._kend[np.maximum(i, 0)])

    def merge(self, other: Range6List) -> Range6List:
        return Range6List(*intervals.union(self.starts, self.ends, other.starts, other.ends))

    def exclude(self, other: Range6List) -> Range6List:
        return Range6List(*intervals.subtract(self.starts, self.ends, other.starts, other.ends))

    def format_items(self) -> list[str]:
        return [_range_text(a, b, 128, format_ipv6) for a, b in zip(self.starts, self.ends)]

    def format(self) -> str:
        return ",".join(self.format_items())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Range6List):
            return NotImplemented
        return self.starts.tolist() == other.starts.tolist() and self.ends.tolist() == other.ends.tolist()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Range6List({self.format()!r})"


# -- parsing --------------------------------------------------------------------------------

class _Bad(Exception):
    """A parse error at ``index`` (0-based, within the token being parsed)."""

    def __init__(self, index: int, message: str) -> None:
        super().__init__(message)
        self.index = index
        self.message = message


_TOKEN_RE = re.compile(r"[^\s,]+")
_COMMENT_RE = re.compile(r"#[^\n]*")
_DASHES = str.maketrans({"\x96": "-", "\u2013": "-", "\udc96": "-"})
_OCT = r"([0-9]{1,3})"
_V4_RE = re.compile(
    rf"{_OCT}\.{_OCT}\.{_OCT}\.{_OCT}(?:/([0-9]{{1,2}})|-{_OCT}\.{_OCT}\.{_OCT}\.{_OCT})?"
)
_DIGITS = frozenset("0123456789")


def _v4_error(tok: str) -> _Bad:
    """Locate the first error in an IPv4-looking token (only called when the fast path failed)."""
    n, i = len(tok), 0
    for part in (0, 1):
        for octet in range(4):
            start = i
            while i < n and tok[i] in _DIGITS:
                if i - start >= 3 or int(tok[start:i + 1]) > 255:
                    if part == 0 and octet == 0:
                        # Until a dot is seen this number may still be an IPv6 group, so masscan
                        # reports it at the character after the number; so do we.
                        while i < n and tok[i] in _DIGITS:
                            i += 1
                        return _Bad(i, f"bad IPv4 address: {tok[start:i]} is not a number 0-255")
                    return _Bad(i, f"bad IPv4 address: {tok[start:i + 1]}... is not a number 0-255")
                i += 1
            if i == start:
                if i >= n:
                    return _Bad(i, "incomplete IPv4 address")
                return _Bad(i, f"bad address: unexpected {tok[i]!r}")
            if octet < 3:
                if i >= n:
                    return _Bad(i, "incomplete IPv4 address (expected 4 numbers)")
                if tok[i] != ".":
                    return _Bad(i, f"bad address: unexpected {tok[i]!r}")
                i += 1
        if i >= n:
            break
        c = tok[i]
        if c == ".":
            return _Bad(i, "bad IPv4 address: more than 4 numbers")
        if c == "/" and part == 0:
            digits = tok[i + 1:]
            if not digits:
                return _Bad(i + 1, "missing CIDR prefix length after '/'")
            j = next((k for k, ch in enumerate(digits) if ch not in _DIGITS), len(digits))
            if j == 0 or j < len(digits):
                return _Bad(i + 1 + j, f"bad CIDR prefix: unexpected {digits[j]!r}")
            return _Bad(i + 1, f"bad CIDR prefix /{digits}: must be 0-32")
        if c == "-" and part == 0:
            i += 1
            continue
        return _Bad(i, f"bad address: unexpected {c!r}")
    return _Bad(0, f"bad address {tok!r}")


def _v6_address(text: str, at: int) -> int:
    """One IPv6 address, optionally in brackets; ``at`` is its index within the token."""
    inner = text
    if text.startswith("["):
        if not text.endswith("]"):
            raise _Bad(at + len(text), "missing ']' after IPv6 address")
        inner = text[1:-1]
    elif text.endswith("]"):
        raise _Bad(at + len(text) - 1, "unexpected ']' without '['")
    if "%" in inner:
        raise _Bad(at + text.index("%"), "IPv6 zone index (%...) not allowed in a target")
    try:
        return int(ipaddress.IPv6Address(inner))
    except ValueError as exc:
        raise _Bad(at, f"bad IPv6 address {inner!r}: {exc}") from None


def _v6_token(tok: str) -> tuple[int, int]:
    """``v6``, ``[v6]``, ``v6/N``, ``[v6]/N``, ``v6-v6``, ``[v6]-[v6]`` -> inclusive range."""
    parts = tok.split("-")
    if len(parts) > 2:
        raise _Bad(len(parts[0]) + 1 + len(parts[1]), "bad range: more than one '-'")
    if len(parts) == 2:
        first, second = parts
        dash = len(first)
        for text, at in ((first, 0), (second, dash + 1)):
            if not text:
                raise _Bad(at, "bad range: missing address")
            if ":" not in text and not text.startswith("["):
                raise _Bad(dash, "bad range: cannot mix IPv4 and IPv6 addresses")
        a, b = _v6_address(first, 0), _v6_address(second, dash + 1)
        if a > b:
            raise _Bad(0, f"reversed range {first}-{second}")
        return a, b
    body, slash, plen = tok.partition("/")
    a = _v6_address(body, 0)
    if not slash:
        return a, a
    if not plen or not all(c in _DIGITS for c in plen):
        raise _Bad(len(body) + 1, f"bad CIDR prefix /{plen}: must be 0-128")
    n = int(plen)
    if n > 128:
        raise _Bad(len(body) + 1, f"bad CIDR prefix /{plen}: must be 0-128")
    host = (1 << (128 - n)) - 1
    start = a & ~host & MAX_IPV6
    return start, start | host


def _parse_text(text: str, comments: bool) -> tuple[list[int], list[int], list[int], list[int]]:
    """Parse targets; returns v4 starts/ends and v6 starts/ends.  Raises _Bad with a text index."""
    if comments:
        # Blank comments out (same length, newlines kept) so error positions index the file.
        text = _COMMENT_RE.sub(lambda m: " " * len(m.group()), text)
    s4: list[int] = []
    e4: list[int] = []
    s6: list[int] = []
    e6: list[int] = []
    v4 = _V4_RE.fullmatch
    for m in _TOKEN_RE.finditer(text):
        tok = m.group().translate(_DASHES)
        at = m.start()
        try:
            g = v4(tok)
            if g is not None:
                a, b, c, d, plen, a2, b2, c2, d2 = g.groups()
                oa, ob, oc, od = int(a), int(b), int(c), int(d)
                if (oa | ob | oc | od) > 255:
                    raise _v4_error(tok)
                ip = oa << 24 | ob << 16 | oc << 8 | od
                if plen is not None:
                    n = int(plen)
                    if n > 32:
                        raise _Bad(tok.index("/") + 1, f"bad CIDR prefix /{plen}: must be 0-32")
                    host = (1 << (32 - n)) - 1
                    ip &= ~host & MAX_IPV4
                    s4.append(ip)
                    e4.append(ip | host)
                elif a2 is not None:
                    pa, pb, pc, pd = int(a2), int(b2), int(c2), int(d2)
                    if (pa | pb | pc | pd) > 255:
                        raise _v4_error(tok)
                    ip2 = pa << 24 | pb << 16 | pc << 8 | pd
                    if ip > ip2:
                        raise _Bad(0, f"reversed range {tok}")
                    s4.append(ip)
                    e4.append(ip2)
                else:
                    s4.append(ip)
                    e4.append(ip)
            elif ":" in tok or tok.startswith("["):
                lo, hi = _v6_token(tok)
                s6.append(lo)
                e6.append(hi)
            else:
                raise _v4_error(tok)
        except _Bad as bad:
            raise _Bad(at + bad.index, bad.message) from None
    return s4, e4, s6, e6


def _where(text: str, index: int) -> tuple[int, int]:
    """(line, column), both 1-based, of a 0-based index into ``text``."""
    line = text.count("\n", 0, index) + 1
    column = index - text.rfind("\n", 0, index)
    return line, column


def parse_targets(text: str) -> tuple[RangeList, Range6List]:
    """Parse a ``--range``/``--exclude`` value (see the module docstring).

    Raises `ParseError` whose ``column`` (and ``line``, for multi-line text) point at the error.
    """
    try:
        s4, e4, s6, e6 = _parse_text(text, comments=False)
    except _Bad as bad:
        line, column = _where(text, bad.index)
        raise ParseError(bad.message, column, line) from None
    return RangeList(s4, e4), Range6List(s6, e6)


def parse_target_file(path: str | Path) -> tuple[RangeList, Range6List]:
    """Read an ``-iL``/``--excludefile`` file: ``#`` comments, ranges split by spaces/commas/newlines.

    Errors raise `UsageError` as ``FILE:LINE:COL: message``; an unreadable file names the file.
    """
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise UsageError(f"{path}: cannot read target file: {exc.strerror or exc}") from None
    text = raw.decode("utf-8", errors="surrogateescape")
    try:
        s4, e4, s6, e6 = _parse_text(text, comments=True)
    except _Bad as bad:
        line, column = _where(text, bad.index)
        raise UsageError(f"{path}:{line}:{column}: {bad.message}") from None
    return RangeList(s4, e4), Range6List(s6, e6)


# -- the index space ------------------------------------------------------------------------

@dataclass(frozen=True)
class Picked:
    """A batch of (address, port) targets, one element per index.

    ``ip4`` is meaningful where ``is_v6`` is False, ``ip6_hi``/``ip6_lo`` where it is True (the
    other fields hold 0).  ``port`` uses the internal encoding of `tidescan.ports`.
    """

    is_v6: np.ndarray
    ip4: np.ndarray
    ip6_hi: np.ndarray
    ip6_lo: np.ndarray
    port: np.ndarray

    def __len__(self) -> int:
        return len(self.port)


@dataclass(frozen=True)
class TargetSet:
    """Targets after excludes, and the ports, forming the index space ``[0, range_)``."""

    ipv4: RangeList
    ipv6: Range6List
    ports: PortList

    @property
    def n4(self) -> int:
        return self.ipv4.count

    @property
    def n6(self) -> int:
        return self.ipv6.count

    @property
    def nports(self) -> int:
        return self.ports.count

    @property
    def range_(self) -> int:
        """Size of the index space: ``(n4 + n6) * nports`` (a Python int)."""
        return (self.n4 + self.n6) * self.nports

    def pick_scan(self, x: np.ndarray) -> Picked:
        """Transmit layout: IPv6 targets take the low indexes (masscan ``transmit_thread``)."""
        return self._pick(x, v6_first=True)

    def pick_list(self, x: np.ndarray) -> Picked:
        """``-sL`` layout: IPv4 targets take the low indexes (masscan ``massip_pick``)."""
        return self._pick(x, v6_first=False)

    def _family(self, xs: np.ndarray, v6: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Indexes inside one family's block -> (ip4 or hi, lo or None, port)."""
        count = np.uint64(self.n6 if v6 else self.n4)
        step = xs // count
        which = xs - step * count  # xs % count, but numpy's uint64 % is several times slower
        port = self.ports.pick(step)
        if v6:
            hi, lo = self.ipv6.pick(which)
            return hi, lo, port
        return self.ipv4.pick(which), None, port

    def _pick(self, x: np.ndarray, v6_first: bool) -> Picked:
        x = intervals.as_uint64(x).reshape(-1)
        n = len(x)
        total = self.range_
        if total > _MASK64:
            raise ValueError("scan range does not fit in 64 bits (call check_size first)")
        if n and int(x.max()) >= total:
            raise IndexError(f"target index {int(x.max())} out of range (range {total})")
        zeros = np.zeros(n, dtype=np.uint64)
        # The family in the low indexes covers [0, split); the other one follows it.
        split = (self.n6 if v6_first else self.n4) * self.nports
        if n == 0 or split == 0 or split == total:
            v6 = v6_first if split else not v6_first
            a, b, port = self._family(x, v6)
            if v6:
                return Picked(np.ones(n, dtype=bool), zeros, a, b, port)
            return Picked(np.zeros(n, dtype=bool), a, zeros, zeros.copy(), port)
        low = x < np.uint64(split)
        is_v6 = low if v6_first else ~low
        ip4, hi, lo, port = zeros, zeros.copy(), zeros.copy(), zeros.copy()
        for mask, xs in ((is_v6, x[is_v6]), (~is_v6, x[~is_v6])):
            v6 = mask is is_v6
            if v6 != v6_first:
                xs = xs - np.uint64(split)
            a, b, port[mask] = self._family(xs, v6)
            if v6:
                hi[mask], lo[mask] = a, b
            else:
                ip4[mask] = a
        return Picked(is_v6, ip4, hi, lo, port)


def check_size(targets: TargetSet, has_exclude: bool) -> None:
    """The two guards masscan applies before a scan; raise `UsageError` when one trips.

    * More than 1e9 IPv4 addresses and no ``--exclude`` at all: "range too big" (an accident
      guard; ``--exclude 255.255.255.255`` acknowledges it).
    * ``(n4 + n6) * nports`` must fit in 63 bits (an IPv6 /64 with one port does not; /66 does).
    """
    if targets.n4 > MAX_IPV4_WITHOUT_EXCLUDE and not has_exclude:
        raise UsageError(
            f"range too big, need confirmation: {targets.n4} IPv4 addresses; to prevent accidents "
            'at least one --exclude must be specified (use "--exclude 255.255.255.255" as a '
            "simple confirmation)"
        )
    bits = targets.range_.bit_length()
    if bits > 63:
        hint = "the scan range is the number of IP addresses times the number of ports"
        if targets.n6:
            hint += "; an IPv6 subnet must be at least /66"
        raise UsageError(
            f"scan range too large, max is 63-bits, requested is {min(bits, 128)} bits ({hint})"
        )
