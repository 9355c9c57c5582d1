"""HTTP: the probe we send (every ``--http-*`` option) and the response parser.

The probe (masscan.md §1e)
--------------------------
Default: ``GET / HTTP/1.0``, ``User-Agent: <masscan 1.3.2's UA>``, ``Accept: */*``, blank line
(no Host header).  The options edit a list of header fields in masscan's order, which fixes where
each field lands:

1. ``--http-payload`` sets the body and replaces-or-appends ``Content-Length``;
2. ``--http-user-agent`` replaces ``User-Agent``;
3. ``--http-host`` replaces-or-appends ``Host``;
4. ``--http-method``/``--http-url``/``--http-version`` edit the request line;
5. each ``--http-header Name:value`` replaces the first field of that name, or is appended;
6. each ``--http-cookie`` *adds* a ``Cookie`` field in front of the first existing ``Cookie``
   (so repeated cookies come out in reverse order, as in masscan), or appends it;
7. each ``--http-field-remove Name`` deletes the fields of that name (masscan documents this but
   never implemented it).

So ``POST /x HTTP/1.1`` with host, user agent, one header and cookies ``a=b`` then ``c=d`` gives
``User-Agent, Accept, Host, X-Test, Cookie: c=d, Cookie: a=b``, and a payload's
``Content-Length`` comes right after ``Accept``.

The parser (``proto-http.c`` semantics, checked against Debian's masscan 1.3.2)
------------------------------------------------------------------------------
* The reply must start ``HTTP/<digits>.<digits><space>``; otherwise Close.
* ``http``: the raw bytes from the status line up to, not including, the ``\\n`` of the blank
  line that ends the header (so a CRLF server's banner ends ``...\\r\\n\\r``).
* ``http.server``: the value of every ``Server:`` field (name at the start of the line, case
  insensitive; leading blanks skipped; ``\\r`` dropped), concatenated.
* ``title``: in the body, after each ``<title`` (any case) skip to ``>``, then take the text up
  to the next ``<``.
* ``html``: the body, only with ``--capture html``.
* When a ``Content-Length`` body has fully arrived (and we are not capturing more), the parser is
  done and closes instead of waiting for a keep-alive server to time out.

State kept between segments: a partial header line (``LINE_MAX``), five bytes of ``<title``
look-behind, and counters.
"""

from __future__ import annotations

import re

from .base import LINE_MAX, Action, BannerConfig, Close, Parser

__all__ = ["HttpParser", "build_http_probe", "DEFAULT_USER_AGENT"]

DEFAULT_USER_AGENT = "masscan/1.3 (https://github.com/robertdavidgraham/masscan)"

_STATUS_OK = re.compile(rb"HTTP/\d*\.\d*\s", re.IGNORECASE)
_STATUS_PREFIX = re.compile(rb"(?:h|ht|htt|http|http/\d*|http/\d*\.\d*)", re.IGNORECASE)
_TITLE = re.compile(rb"<title", re.IGNORECASE)
_CONTENT_LENGTH = re.compile(rb"content-length:[ \t]*(\d{1,15})[ \t\r]*$", re.IGNORECASE)
_TITLE_LOOKBEHIND = 5


# ----------------------------------------------------------------------------------- the probe

def _replace_or_add(fields: list[list[str]], name: str, value: str) -> None:
    low = name.lower()
    for f in fields:
        if f[0].lower() == low:
            f[0], f[1] = name, value
            return
    fields.append([name, value])


def _add_before_same(fields: list[list[str]], name: str, value: str) -> None:
    low = name.lower()
    for k, f in enumerate(fields):
        if f[0].lower() == low:
            fields.insert(k, [name, value])
            return
    fields.append([name, value])


def build_http_probe(cfg: BannerConfig) -> bytes:
    """The HTTP request bytes for ``cfg`` (see the module docstring for the editing order)."""
    fields: list[list[str]] = [["User-Agent", DEFAULT_USER_AGENT], ["Accept", "*/*"]]
    body = b""
    if cfg.http_payload is not None:
        body = cfg.http_payload.encode("utf-8")
        _replace_or_add(fields, "Content-Length", str(len(body)))
    if cfg.http_user_agent is not None:
        _replace_or_add(fields, "User-Agent", cfg.http_user_agent)
    if cfg.http_host is not None:
        _replace_or_add(fields, "Host", cfg.http_host)
    method = cfg.http_method or "GET"
    url = cfg.http_url or "/"
    version = cfg.http_version or "HTTP/1.0"
    for name, value in cfg.http_headers:
        _replace_or_add(fields, name.strip().rstrip(":").strip(), value)
    for cookie in cfg.http_cookies:
        _add_before_same(fields, "Cookie", cookie)
    for name in cfg.http_remove:
        low = name.strip().rstrip(":").strip().lower()
        fields = [f for f in fields if f[0].lower() != low]
    head = f"{method} {url} {version}\r\n" + "".join(f"{n}: {v}\r\n" for n, v in fields) + "\r\n"
    return head.encode("utf-8") + body


# ---------------------------------------------------------------------------------- the parser

_HEAD, _BODY = 0, 1
_SEEK, _TAG, _TEXT = 0, 1, 2


class HttpParser(Parser):
    """Response parser: ``http``, ``http.server``, ``title`` (and ``html`` with --capture html)."""

    name = "http"
    APPS = ("http", "http.server", "title", "html")
    __slots__ = ("_phase", "_status_ok", "_status", "_line_partial", "_first_line",
                 "_content_length", "_body_seen", "_title_state", "_title_tail", "_capture_html")

    def __init__(self, cfg: BannerConfig) -> None:
        super().__init__(cfg)
        self._phase = _HEAD
        self._status_ok = False
        self._status = b""               # first bytes held back until the status line is checked
        self._line_partial = b""       # unfinished header line (capped)
        self._first_line = True
        self._content_length: int | None = None
        self._body_seen = 0
        self._title_state = _SEEK
        self._title_tail = b""
        self._capture_html = "html" in cfg.capture

    def hello(self) -> bytes:
        return self.cfg.http_probe

    # -- header -----------------------------------------------------------------------------
    def _header_line(self, line: bytes) -> bool:
        """Handle one complete header line; True when it is the blank line ending the header."""
        if self._first_line:
            self._first_line = False
            return False
        stripped = line.replace(b"\r", b"")
        if not stripped:
            return True
        low = stripped[:7].lower()
        if low == b"server:":
            self._add("http.server", stripped[7:].lstrip(b" \t\x0b\x0c"))
        elif low[:1] == b"c":
            m = _CONTENT_LENGTH.match(stripped)
            if m:
                self._content_length = int(m.group(1))
        return False

    def _feed_head(self, data: bytes) -> tuple[list[Action], bytes | None]:
        """Consume header bytes; returns (actions, the body bytes of this segment or None)."""
        if not self._status_ok:
            # Hold the first bytes back until the status prefix is known to be HTTP, so that a
            # non-HTTP reply ends the same way however it is split.
            held = self._status + data
            if _STATUS_OK.match(held, 0, 16):
                self._status_ok = True
                self._status = b""
                data = held
            elif len(held) < 16 and _STATUS_PREFIX.fullmatch(held):
                self._status = held
                return [], None
            else:
                return self._finish(Close()), None
        pos = 0
        n = len(data)
        while pos < n:
            nl = data.find(b"\n", pos)
            if nl < 0:
                if len(self._line_partial) < LINE_MAX:
                    self._line_partial = (self._line_partial + data[pos:])[:LINE_MAX]
                break
            line = (self._line_partial + data[pos:nl])[:LINE_MAX] if self._line_partial \
                else data[pos:nl]
            self._line_partial = b""
            if self._header_line(line):
                self._add("http", data[:nl])
                return [], data[nl + 1:]
            pos = nl + 1
        self._add("http", data)
        return [], None

    # -- body -------------------------------------------------------------------------------
    def _feed_body(self, data: bytes) -> list[Action]:
        if self._content_length is not None:
            data = data[:max(0, self._content_length - self._body_seen)]
        if self._capture_html:
            self._add("html", data)
        self._scan_titles(data)
        self._body_seen += len(data)
        if self._content_length is not None and self._body_seen >= self._content_length:
            return self._finish(Close())
        return []

    def _scan_titles(self, data: bytes) -> None:
        i, n = 0, len(data)
        while i < n:
            st = self._title_state
            if st == _SEEK:
                tail = self._title_tail
                hay = tail + data[i:] if tail else data[i:]
                m = _TITLE.search(hay)
                if m is None:
                    self._title_tail = hay[-_TITLE_LOOKBEHIND:]
                    return
                i += m.end() - len(tail)
                self._title_tail = b""
                self._title_state = _TAG
            elif st == _TAG:
                j = data.find(b">", i)
                if j < 0:
                    return
                i = j + 1
                self._title_state = _TEXT
            else:
                j = data.find(b"<", i)
                if j < 0:
                    self._add("title", data[i:])
                    return
                self._add("title", data[i:j])
                i = j + 1
                self._title_state = _SEEK

    def _feed(self, data: bytes, now: float) -> list[Action]:
        if self._phase == _HEAD:
            actions, body = self._feed_head(data)
            if actions or body is None:
                return actions
            self._phase = _BODY
            data = body
            if not data and self._content_length != 0:
                return []
        return self._feed_body(data)
