"""The one interface every banner parser implements, the actions it returns, and its config.

Theory of operation
-------------------
After the user-mode TCP stack (``tidescan.stack``) completes a handshake it drives one
``BannerSession`` (session.py) per connection, and the session drives one protocol parser at a
time.  Parsers are *sans-IO state machines* in the style of h11/h2/aioquic and of masscan's
``ProtocolParserStream`` (seed 000): bytes and the current time go in, actions come out, nothing
else happens.  A parser is an object with::

    name: str                          # protocol name ("http", "ssl", "ftp", ...)
    hello() -> bytes | None            # what to send first (None: the server talks first)
    feed(data, now) -> list[Action]    # one TCP segment's payload, as it arrives
    on_close(now) -> list[Action]      # the connection ended: flush what is left

and an action is one of four frozen dataclasses: ``Banner(app, text)`` (one banner record for
the output), ``Send(data)`` (bytes for the stack to transmit), ``Close()`` (the parser is done:
close the connection) and ``Upgrade(to)`` (switch the stream to another protocol, e.g. ``"ssl"``
after STARTTLS; the session handles it).

Rules every parser obeys (the tests check each of them):

1. **No reassembly, no I/O, no clock.**  Each segment is parsed when it arrives and then
   forgotten; time comes in as ``now``.  Between segments a parser keeps O(1) state: a partial
   line (``LINE_MAX``), a partial header of a few bytes, or one bounded protocol message (an SMB
   message, a certificate) -- never the stream.
2. **Split invariance.**  The concatenation of the actions returned by every ``feed`` plus
   ``on_close`` is the same whether the reply arrives whole, one byte at a time, or split
   anywhere.  So actions are tied to protocol events, never to segments: a parser never emits
   "one Send per segment".  (The stack may coalesce consecutive ``Send`` actions of one list.)
3. **Capped banners.**  Each app's text is capped at ``BannerConfig.max_banner`` bytes (8 KiB).
   When a parser upgrades (STARTTLS), the bytes of that segment after the trigger are left in
   ``leftover`` and the session feeds them to the next parser.
4. **One Banner per app, when final.**  A parser emits its banners when it is done (in the same
   list as its ``Close`` or ``Upgrade``) or in ``on_close``; after that it ignores input.
   Exception: a TLS parser emits one ``X509``/``X509CA`` banner per certificate.
5. **Never raise on garbage.**  Malformed input ends the parse (usually with ``Close``).

Within a segment parsers use ``bytes.find``/``split``/regular expressions, never a Python loop
per byte: a loop per *line* or per *protocol message* is fine.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Union

__all__ = ["LineParser", 
    "Banner", "Send", "Close", "Upgrade", "Action", "BannerConfig", "Parser", "Collector",
    "LineSplitter", "DEFAULT_MAX_BANNER", "LINE_MAX",
]

DEFAULT_MAX_BANNER = 8192
LINE_MAX = 2048          # longest line a line-oriented parser keeps (the rest of the line is dropped)


# --------------------------------------------------------------------------------------- actions

@dataclass(frozen=True, slots=True)
class Banner:
    """One banner record: ``app`` is the banner type key (``output.apps``), ``text`` the bytes."""

    app: str
    text: bytes


@dataclass(frozen=True, slots=True)
class Send:
    """Bytes for the stack to transmit on this connection."""

    data: bytes


@dataclass(frozen=True, slots=True)
class Close:
    """The parser has what it wants: close the connection (FIN)."""


@dataclass(frozen=True, slots=True)
class Upgrade:
    """Switch the stream to protocol ``to`` (``"ssl"``): the session makes the new parser and sends
    its hello in the same action list; a stack using ``BannerSession`` need not act on it."""

    to: str


Action = Union[Banner, Send, Close, Upgrade]


# ---------------------------------------------------------------------------------------- config

@dataclass(frozen=True, eq=False)
class BannerConfig:
    """Everything the parsers need from the scan configuration (masscan.md §1e).

    Build it once per scan (``from_scan_config``); it caches the HTTP probe.  ``tls13`` makes the
    ClientHello offer TLS 1.3 (off by default: a TLS 1.3 server encrypts its certificate, and
    capturing certificates is the point of ``--banners``); ``server_name`` is the SNI name sent
    when a session has no name of its own; ``random`` supplies the ClientHello's random bytes.
    """

    max_banner: int = DEFAULT_MAX_BANNER
    capture: frozenset[str] = frozenset({"cert"})
    hello: str | None = None                       # --hello ssl | http | smbv1
    hello_strings: Mapping[int, bytes] = field(default_factory=dict)
    hello_timeout: float = 2.0
    http_method: str | None = None
    http_url: str | None = None
    http_version: str | None = None
    http_host: str | None = None
    http_user_agent: str | None = None
    http_headers: tuple[tuple[str, str], ...] = ()
    http_cookies: tuple[str, ...] = ()
    http_payload: str | None = None
    http_remove: tuple[str, ...] = ()
    tls13: bool = False
    server_name: str | None = None
    random: Callable[[int], bytes] = os.urandom    # ClientHello randomness (tests inject)

    @classmethod
    def from_scan_config(cls, cfg: Any, **overrides: Any) -> BannerConfig:
        """Take the banner fields of a ``tidescan.config_model.ScanConfig`` (duck-typed)."""
        values: dict[str, Any] = dict(
            capture=frozenset(getattr(cfg, "capture", {"cert"})),
            hello=getattr(cfg, "hello", None),
            hello_strings=dict(getattr(cfg, "hello_strings", {}) or {}),
            hello_timeout=float(getattr(cfg, "hello_timeout", 2) or 0),
            http_method=getattr(cfg, "http_method", None),
            http_url=getattr(cfg, "http_url", None),
            http_version=getattr(cfg, "http_version", None),
            http_host=getattr(cfg, "http_host", None),
            http_user_agent=getattr(cfg, "http_user_agent", None),
            http_headers=tuple(getattr(cfg, "http_headers", ()) or ()),
            http_cookies=tuple(getattr(cfg, "http_cookies", ()) or ()),
            http_payload=getattr(cfg, "http_payload", None),
            http_remove=tuple(getattr(cfg, "http_remove", ()) or ()),
        )
        values.update(overrides)
        return cls(**values)

    @functools.cached_property
    def http_probe(self) -> bytes:
        """The HTTP request sent as hello (built once; see ``http.build_http_probe``)."""
        from .http import build_http_probe
        return build_http_probe(self)


# ------------------------------------------------------------------------------------- the parser

class Parser:
    """Base class: capped per-app banner buffers, flush-once, and the public entry points.

    Subclasses implement ``_feed(data, now)`` and may override ``_finalize()`` (called once, just
    before the banners are flushed, to compose banners from parsed fields).
    """

    name = "?"
    APPS: tuple[str, ...] = ()     # report order of the banner types, when it must be fixed
    __slots__ = ("cfg", "done", "leftover", "_banners")

    def __init__(self, cfg: BannerConfig) -> None:
        self.cfg = cfg
        self.done = False
        self.leftover = b""        # bytes after an Upgrade trigger, for the next parser
        self._banners: dict[str, bytearray] = {}

    # -- public interface ---------------------------------------------------------------------
    def hello(self) -> bytes | None:
        return None

    def feed(self, data: bytes, now: float) -> list[Action]:
        if self.done or not data:
            return []
        return self._feed(bytes(data), now)

    def on_close(self, now: float) -> list[Action]:
        if self.done:
            return []
        return self._finish()

    # -- for subclasses -------------------------------------------------------------------------
    def _feed(self, data: bytes, now: float) -> list[Action]:
        raise NotImplementedError

    def _finalize(self) -> None:
        """Compose banners from parsed state before the flush (default: nothing to do)."""

    def _add(self, app: str, text: bytes) -> None:
        """Append to app's banner, silently dropping what exceeds ``max_banner``."""
        buf = self._banners.get(app)
        if buf is None:
            buf = self._banners[app] = bytearray()
        room = self.cfg.max_banner - len(buf)
        if room > 0 and text:
            buf += text[:room]

    def _upgrade(self, to: str, rest: bytes) -> list[Action]:
        """Finish with ``Upgrade(to)``; ``rest`` (what follows the trigger) goes to the next parser."""
        self.leftover = rest
        return self._finish(Upgrade(to))

    def _finish(self, *tail: Action) -> list[Action]:
        """Mark done, emit every non-empty banner (in order of first use), then ``tail``."""
        self.done = True
        self._finalize()
        found = self._banners
        order = self.APPS or tuple(found)
        out: list[Action] = [Banner(app, bytes(found[app])) for app in order if found.get(app)]
        found.clear()
        out.extend(tail)
        return out


# -------------------------------------------------------------------------------------- helpers

class Collector:
    """Gathers a fixed number of bytes across segment boundaries (headers, small messages).

    ``expect(n)`` sets the size of the next field; ``take(data, i)`` consumes from ``data[i:]``
    and returns ``(field | None, new_i)`` (None: the field continues in the next segment).
    ``expect(n, keep=limit)`` keeps only the first ``limit`` bytes of a longer field; the rest is
    consumed and dropped, so memory stays bounded whatever length the peer announces.
    """

    __slots__ = ("buf", "keep", "skip")

    def __init__(self) -> None:
        self.buf = bytearray()
        self.keep = 0
        self.skip = 0

    def expect(self, n: int, keep: int | None = None) -> None:
        self.buf.clear()
        self.keep = n if keep is None else max(0, min(n, keep))
        self.skip = n - self.keep

    def take(self, data: bytes, i: int) -> tuple[bytes | None, int]:
        if len(self.buf) < self.keep:
            piece = data[i:i + self.keep - len(self.buf)]
            self.buf += piece
            i += len(piece)
            if len(self.buf) < self.keep:
                return None, i
        if self.skip:
            step = min(self.skip, len(data) - i)
            i += step
            self.skip -= step
            if self.skip:
                return None, i
        out = bytes(self.buf)
        self.buf.clear()
        self.keep = 0
        return out, i


class LineSplitter:
    """Splits a stream into lines across segments; keeps only the unfinished last line.

    ``feed(data)`` returns the complete lines (without the ``\\n``; ``\\r`` is left to the caller),
    each cut to ``max_line`` bytes, so the result does not depend on where segments split.
    """

    __slots__ = ("_partial", "_max")

    def __init__(self, max_line: int = LINE_MAX) -> None:
        self._partial = b""
        self._max = max_line

    def feed_ends(self, data: bytes) -> list[tuple[bytes, int]]:
        """Like ``feed``, with each line's end: the index in ``data`` just past its ``\\n``."""
        lines = self.feed(data)
        out: list[tuple[bytes, int]] = []
        pos = -1
        for line in lines:
            pos = data.find(b"\n", pos + 1)
            out.append((line, pos + 1))
        return out

    def feed(self, data: bytes) -> list[bytes]:
        if b"\n" not in data:
            if len(self._partial) < self._max:
                self._partial = (self._partial + data)[:self._max]
            return []
        parts = data.split(b"\n")
        m = self._max
        first = (self._partial + parts[0])[:m] if len(self._partial) < m else self._partial
        self._partial = parts[-1][:m]
        lines = [first]
        lines.extend(p[:m] if len(p) > m else p for p in parts[1:-1])
        return lines

    @property
    def partial(self) -> bytes:
        return self._partial


class LineParser(Parser):
    """A line-based dialogue (FTP, SMTP, POP3, IMAP): `_line` gets each complete line, ``\r``
    removed, in order across segments, with the segment and the index just past the line (what
    follows it goes to the next parser on an upgrade).  The dialogue ends as soon as `_line`
    finishes the parser (`_finish`, `_upgrade`); `_state` is the subclass's state number."""

    __slots__ = ("_lines", "_state")

    def __init__(self, cfg: BannerConfig) -> None:
        super().__init__(cfg)
        self._lines = LineSplitter()
        self._state = 0

    def _feed(self, data: bytes, now: float) -> list[Action]:
        out: list[Action] = []
        for raw, end in self._lines.feed_ends(data):
            out += self._line(raw.replace(b"\r", b""), data, end)
            if self.done:
                break
        return out

    def _line(self, line: bytes, data: bytes, end: int) -> list[Action]:
        raise NotImplementedError
