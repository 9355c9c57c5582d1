"""One banner-grabbing conversation: the only object the TCP stack talks to.

Theory of operation
-------------------
The stack creates ``BannerSession(port, config, now)`` when a connection is established
(``config``: one ``BannerConfig`` per scan, e.g. ``BannerConfig.from_scan_config(cfg)``; None means
the defaults) and then calls, with the current time:

``on_connect(now)``        -- returns nothing: masscan *listens first* (usually [])
``on_hello_timeout(now)``  -- at ``hello_deadline``: if the server has not spoken, ``Send`` the
                              port's hello (registry.py); otherwise nothing
``feed(data, now)``        -- each in-order TCP payload, as it arrives
``on_close(now)``          -- FIN, RST, connection timeout or shutdown: flush the banners

Each returns a list of actions (base.py) for the stack: ``Send`` (transmit; consecutive ones may
be coalesced), ``Close`` (we are done: send FIN), ``Banner`` (write a banner record) and
``Upgrade`` (informational; the session has already switched parsers and put the new hello in a
``Send`` in the same list).  After ``Close`` the session ignores further data.

Inside, the session (1) keeps every byte the server sends, capped, as ``heur`` until identify.py
recognises the protocol from the content; (2) then creates that protocol's parser and re-feeds it
``heur``, after which segments go straight to the parser; (3) on ``Upgrade("ssl")`` (STARTTLS,
AUTH TLS, STLS) replaces the parser with a TLS parser and sends its ClientHello; (4) on close,
reports unidentified bytes as ``unknown``.  A parser that raises (a bug) is not allowed to take
the receive loop down: its banners so far are flushed and the session closes (``errors`` counts
it; tests make sure it never happens).
"""

from __future__ import annotations

from .base import Action, Banner, BannerConfig, Close, Parser, Send, Upgrade
from .identify import NO_MATCH, PENDING, UNANCHORED_SPAN, Match, find_unanchored, identify
from .registry import hello_for, make_parser
from .tls import TlsParser

__all__ = ["BannerSession"]

_DEFAULT_CONFIG = BannerConfig()


class BannerSession:
    """Protocol identification + parser switching for one TCP connection (sans-IO)."""

    __slots__ = ("port", "cfg", "server_name", "hello_deadline", "sent", "parser", "closed",
                 "errors", "_heur", "_anchored_failed", "_heur_full", "_spoke")

    def __init__(self, port: int, config: BannerConfig | None, now: float,
                 server_name: str | None = None) -> None:
        if config is None:
            config = _DEFAULT_CONFIG
        self.port = port
        self.cfg = config
        self.server_name = server_name
        self.hello_deadline = now + config.hello_timeout
        self.sent: str | None = None           # kind of hello sent ("http", "ssl", ...)
        self.parser: Parser | None = None
        self.closed = False
        self.errors = 0
        self._heur = bytearray()
        self._anchored_failed = False
        self._heur_full = False
        self._spoke = False

    @property
    def app(self) -> str | None:
        """Name of the protocol being parsed, None while unidentified."""
        return None if self.parser is None else self.parser.name

    # -- the stack's entry points -------------------------------------------------------------
    def on_connect(self, now: float) -> list[Action]:
        if self.cfg.hello_timeout <= 0:
            return self.on_hello_timeout(now)
        return []

    def on_hello_timeout(self, now: float) -> list[Action]:
        if self._spoke or self.closed or self.sent is not None:
            return []
        kind, hello = hello_for(self.port, self.cfg, self.server_name)
        if hello is None:
            return []
        self.sent = kind
        return [Send(hello)]

    def feed(self, data: bytes, now: float) -> list[Action]:
        if self.closed or not data:
            return []
        self._spoke = True
        if self.parser is not None:
            return self._run(self.parser.feed, data, now)
        return self._identify(bytes(data), now)

    def on_close(self, now: float) -> list[Action]:
        if self.closed:
            return []
        self.closed = True
        if self.parser is not None:
            return self._run(self.parser.on_close, now)
        if self._heur:
            return [Banner("unknown", bytes(self._heur))]
        return []

    # -- internals ----------------------------------------------------------------------------
    def _identify(self, data: bytes, now: float) -> list[Action]:
        """Add ``data`` to ``heur``; on a match, start the parser with everything seen so far.

        A match is always found inside the segment that completes the pattern, and every byte
        before that segment is still in ``heur`` (it is below the cap), so the parser receives
        exactly the stream so far, however it was segmented.
        """
        if self._heur_full:
            return []
        if not self._heur and not self._anchored_failed and len(data) < self.cfg.max_banner:
            # Fast path (most connections): the first segment identifies the protocol by
            # itself.  Same result as below with an empty ``heur``, without the copies.
            first = identify(data, self.port, self.sent)
            if isinstance(first, Match):
                self.parser = make_parser(first.proto, self.cfg, self.port, self.server_name)
                return self._run(self.parser.feed, data, now)
        before = len(self._heur)
        self._heur += data[:self.cfg.max_banner - before]
        if len(self._heur) >= self.cfg.max_banner:
            self._heur_full = True
        match: Match | str | None = None
        search_from = before - UNANCHORED_SPAN
        if not self._anchored_failed:
            match = identify(bytes(self._heur), self.port, self.sent)
            if match == PENDING:
                return []
            if match == NO_MATCH:
                self._anchored_failed = True
                search_from = 0
                match = None
        if match is None:
            match = find_unanchored(bytes(self._heur), search_from)
            if match is None:
                return []
        assert isinstance(match, Match)
        self.parser = make_parser(match.proto, self.cfg, self.port, self.server_name)
        stream = bytes(self._heur[:before]) + data
        self._heur.clear()
        self._heur_full = False
        return self._run(self.parser.feed, stream, now)

    def _run(self, step, *args) -> list[Action]:  # type: ignore[no-untyped-def]
        parser = self.parser
        assert parser is not None
        try:
            actions = step(*args)
        except Exception:  # noqa: BLE001 - a parser bug must not kill the receive loop
            self.errors += 1
            actions = parser._finish(Close()) if not parser.done else [Close()]
        out: list[Action] = []
        for act in actions:
            out.append(act)
            if isinstance(act, Close):
                self.closed = True
            elif isinstance(act, Upgrade):
                out.extend(self._upgrade(act.to, parser.leftover, args[-1]))
        return out

    def _upgrade(self, to: str, rest: bytes, now: float) -> list[Action]:
        if to != "ssl":
            self.closed = True
            return [Close()]
        tls = TlsParser(self.cfg, self.server_name)
        self.parser = tls
        self.sent = "ssl"
        out: list[Action] = [Send(tls.hello())]
        if rest:
            out.extend(self._run(tls.feed, rest, now))
        return out
