"""Which protocol is this?  Decided from the first bytes the server sends, not from the port.

Theory of operation
-------------------
masscan runs an Aho-Corasick matcher (case-insensitive) over the start of every reply
(masscan.md §3, ``proto-banner1.c`` ``patterns[]``): a server on port 8080 that answers
``SSH-2.0-...`` is reported as SSH.  We do the same with a small table of *anchored* patterns,
each a sequence of byte classes, plus a few *unanchored* telnet patterns searched anywhere in the
first bytes.  ``identify(heur, port, sent)`` looks at every byte seen so far (the session keeps
them, capped, under the name ``heur``) and answers:

* a ``Match`` -- the protocol, plus the VNC version taken from the match;
* ``PENDING`` -- some anchored pattern still agrees with every byte so far: wait for more;
* ``NO_MATCH`` -- no anchored pattern can match any more (unanchored ones may still appear
  later, ``find_unanchored`` looks for them as bytes accumulate).

Because the answer depends only on the bytes, not on how they were split into segments, the
session's choice of parser is split-invariant.  Kludges kept from masscan: ``220 `` means SMTP on
ports 25 and 587; ``16 03 0x``/``15 03 0x`` mean SSL only when we sent a ClientHello.  Added here:
RFB versions are matched generally (``RFB ddd.ddd\\n``), RDP by any X.224 Connection Confirm,
telnet by any IAC negotiation at the start, and a redis reply (``$<len>``/``-ERR``) only when we
sent the redis probe.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

__all__ = ["Match", "PENDING", "NO_MATCH", "identify", "find_unanchored", "vnc_version"]


@dataclass(frozen=True, slots=True)
class Match:
    proto: str
    extra: int = 0


PENDING = "pending"
NO_MATCH = "no-match"

_ANY = frozenset(range(256))
_DIGIT = frozenset(b"0123456789")


def _lit(text: bytes) -> list[frozenset[int]]:
    """Case-insensitive literal: one class per byte."""
    out = []
    for c in text:
        ch = bytes((c,))
        out.append(frozenset({ch.lower()[0], ch.upper()[0]}))
    return out


def _cls(*values: int) -> list[frozenset[int]]:
    return [frozenset(values)]


def _rng(lo: int, hi: int) -> list[frozenset[int]]:
    return [frozenset(range(lo, hi + 1))]


# (proto, pattern, requires: which hello we must have sent, or None)
_PATTERNS: list[tuple[str, list[frozenset[int]], str | None]] = [
    ("smb", _lit(b"\x00\x00") + [_ANY, _ANY] + _lit(b"\xffSMB"), None),
    ("smb", _lit(b"\x00\x00") + [_ANY, _ANY] + _lit(b"\xfeSMB"), None),
    ("smb", _lit(b"\x82\x00\x00\x00"), None),                       # NBT positive session response
    ("smb", _lit(b"\x83\x00\x00\x01") + _cls(0x80, 0x81, 0x82, 0x83, 0x8F), None),
    ("ssh", _lit(b"SSH-1."), None),
    ("ssh", _lit(b"SSH-2."), None),
    ("http", _lit(b"HTTP/1."), None),
    ("ftp", _lit(b"220-"), None),
    ("ftp", _lit(b"220 "), None),                                   # smtp on 25/587 (below)
    ("pop3", _lit(b"+OK "), None),
    ("imap", _lit(b"* OK "), None),
    ("smtp", _lit(b"521 "), None),
    ("ssl", _cls(0x16) + _cls(0x03) + _rng(0, 4), "ssl"),
    ("ssl", _cls(0x15) + _cls(0x03) + _rng(0, 4), "ssl"),
    ("vnc", _lit(b"RFB ") + [_DIGIT] * 3 + _lit(b".") + [_DIGIT] * 3 + _lit(b"\n"), None),
    ("memcached", _lit(b"STAT pid "), None),
    ("telnet", _cls(0xFF) + _rng(0xFB, 0xFE), None),                 # IAC WILL/WONT/DO/DONT
    ("telnet", _lit(b"login:"), None),
    ("telnet", _lit(b"password:"), None),
    ("rdp", _cls(0x03) + _cls(0x00) + [_ANY, _ANY, _ANY] + _cls(0xD0), None),  # TPKT + X.224 CC
    ("redis", _cls(ord("$")) + [_DIGIT], "redis"),
    ("redis", _cls(ord("-")) + _rng(ord("A"), ord("Z")), "redis"),
]

_MAX_ANCHORED = max(len(p) for _, p, _ in _PATTERNS)

# Unanchored telnet evidence (masscan's list, generalised): two negotiations in a row, or
# "IAC WILL ECHO" followed by a line break, anywhere in the first bytes.
_UNANCHORED = re.compile(rb"\xff[\xfb-\xfe][\x00-\x30]\xff[\xf0-\xfe]|\xff\xfb\x01[\r\n][\r\n]")
UNANCHORED_SPAN = 5


def _class_regex(cls: frozenset[int]) -> bytes:
    if len(cls) == 256:
        return rb"[\x00-\xff]"
    return b"[" + b"".join(b"\\x%02x" % c for c in sorted(cls)) + b"]"


@functools.lru_cache(maxsize=None)
def _full_regex(sent: str | None) -> re.Pattern[bytes]:
    """One anchored alternation of the patterns usable after hello ``sent`` (table order)."""
    alts = []
    for k, (_, pattern, requires) in enumerate(_PATTERNS):
        if requires is None or requires == sent:
            alts.append(b"(?P<p%d>" % k + b"".join(_class_regex(c) for c in pattern) + b")")
    return re.compile(b"|".join(alts))


def _agrees(heur: bytes, pattern: list[frozenset[int]]) -> bool:
    n = min(len(heur), len(pattern))
    for k in range(n):
        if heur[k] not in pattern[k]:
            return False
    return True


def vnc_version(line: bytes) -> int:
    """masscan's RFB version class: 3 (3.3 behaviour), 7 or 8 (3.8 and later, Apple's 3.889)."""
    try:
        major, minor = int(line[4:7]), int(line[8:11])
    except ValueError:
        return 3
    if major > 3 or minor >= 8:
        return 8
    if minor == 7:
        return 7
    return 3


def identify(heur: bytes, port: int, sent: str | None) -> Match | str:
    """Match the start of the reply against the anchored table (see the module docstring).

    A compiled alternation finds full matches in C; only a reply shorter than the longest
    pattern is then checked pattern by pattern for "could still match" (at most 12 bytes).
    """
    m = _full_regex(sent).match(heur)
    if m is not None:
        proto = _PATTERNS[int(m.lastgroup[1:])][0]  # type: ignore[index]
        if proto == "ftp" and heur[3:4] == b" " and port in (25, 587):
            return Match("smtp")
        if proto == "vnc":
            return Match("vnc", vnc_version(heur[:12]))
        return Match(proto)
    if len(heur) >= _MAX_ANCHORED:
        return NO_MATCH
    for _, pattern, requires in _PATTERNS:
        if (requires is None or requires == sent) and len(heur) < len(pattern) \
                and _agrees(heur, pattern):
            return PENDING
    return NO_MATCH


def find_unanchored(heur: bytes, start: int = 0) -> Match | None:
    """Search ``heur[start:]`` for the unanchored telnet patterns."""
    if _UNANCHORED.search(heur, max(0, start)):
        return Match("telnet")
    return None
