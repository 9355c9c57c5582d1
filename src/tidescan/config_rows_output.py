"""Rows of the parameter table: banners and probes (masscan.md §1e) and output (§1f).

Options that imply others follow masscan: ``--heartbleed``/``--ticketbleed``/``--vuln poodle``
turn banners on and stop capturing certificates, ``--rawudp`` turns banners on.  Those rows
come *before* ``banners`` and ``capture`` in the table, and the echo writes ``banners`` and the
capture list explicitly whenever an implying option is set, so re-reading an echo reproduces the
final state whatever order the user typed.

Outputs: tidescan allows several at once (masscan keeps one).  Every ``-oX F``/``-oJ F``/...
adds a ``(format, filename)`` pair; ``--output-format X`` sets the format of the filenames given
after it, and ``--output-filename F`` adds F with the latest format (XML when none was given,
like masscan -- and a later ``--output-format`` fixes such a defaulted pair, which is the order
masscan writes in paused.conf).  A format never followed by a filename means stdout (``-``).
The echo writes each pair as ``output-format = X`` / ``output-filename = F``.
"""

from __future__ import annotations

import os

from tidescan.config_model import CAPTURE_TYPES, DEFAULT_CAPTURE, ScanConfig
from tidescan.config_table import NO_ECHO, Ctx, F, Param, register
from tidescan.config_values import (
    fmt_base64, parse_base64, parse_bool, parse_choice, parse_duration, parse_int,
    parse_line_text, parse_redis, parse_size, parse_token,
)
from tidescan.config_rows_targets import check_readable
from tidescan.errors import ParseError

__all__ = ["OUTPUT_FORMATS", "OUTPUT_LETTERS", "HELLO_FILE_MAX"]

HELLO_FILE_MAX = 16384
NMAP_XSL = "http://nmap.org/svn/docs/nmap.xsl"

OUTPUT_FORMATS = {
    "xml": "xml", "json": "json", "ndjson": "ndjson", "grepable": "grepable",
    "greppable": "grepable", "list": "list", "binary": "binary", "unicornscan": "unicornscan",
    "certs": "certs", "hostonly": "hostonly", "redis": "redis", "none": "none",
    "interactive": "interactive", "unknown(0)": "interactive",
}
OUTPUT_LETTERS = {"X": "xml", "J": "json", "D": "ndjson", "G": "grepable", "L": "list",
                  "B": "binary", "U": "unicornscan", "H": "hostonly"}


def _text(what: str):  # type: ignore[no-untyped-def]
    return lambda t: parse_line_text(t, what)


def _nospace(what: str):  # type: ignore[no-untyped-def]
    def parse(text: str) -> str:
        parse_line_text(text, what)
        for i, c in enumerate(text):
            if c.isspace():
                raise ParseError(f"{what} may not contain whitespace", i + 1)
        return text

    return parse


# -- implications (masscan's --heartbleed, --ticketbleed, --vuln, --rawudp) ----------------------

def _implied_banners(cfg: ScanConfig) -> bool:
    return cfg.rawudp or cfg.heartbleed or cfg.ticketbleed or cfg.vuln == "poodle"


def _ssl_check(field: str):  # type: ignore[no-untyped-def]
    def setter(ctx: Ctx, p: Param, index: str | None, value: str | None) -> None:
        on = True if value is None else parse_bool(value)
        setattr(ctx.cfg, field, on)
        if on:
            ctx.cfg.capture.discard("cert")
            ctx.cfg.capture.add(field)
            ctx.cfg.banners = True

    return setter


_VULNS = {"heartbleed": "heartbleed", "ticketbleed": "ticketbleed", "poodle": "poodle",
          "sslv3": "poodle", "ntp-monlist": "ntp-monlist", "ntpmonlist": "ntp-monlist"}


def _set_vuln(ctx: Ctx, p: Param, index: str | None, value: str | None) -> None:
    name = parse_choice(value or "", _VULNS, "vulnerability check")
    if name in ("heartbleed", "ticketbleed"):
        _ssl_check(name)(ctx, p, index, None)
        return
    if ctx.cfg.vuln not in (None, name):
        raise ParseError(f"only one --vuln check at a time ({ctx.cfg.vuln!r} is already set)", 1)
    ctx.cfg.vuln = name
    if name == "poodle":
        ctx.cfg.capture.discard("cert")
        ctx.cfg.banners = True


def _set_rawudp(ctx: Ctx, p: Param, index: str | None, value: str | None) -> None:
    ctx.cfg.rawudp = True if value is None else parse_bool(value)
    if ctx.cfg.rawudp:
        ctx.cfg.banners = True


def _echo_banners(cfg: ScanConfig, p: Param, all: bool) -> list[str]:  # noqa: A002
    if cfg.banners or all or _implied_banners(cfg):
        return [f"banners = {'true' if cfg.banners else 'false'}"]
    return []


def _set_nobanners(ctx: Ctx, p: Param, index: str | None, value: str | None) -> None:
    ctx.cfg.banners = not (True if value is None else parse_bool(value))


# -- capture / nocapture ---------------------------------------------------------------------------

_CAPTURE = {t: t for t in CAPTURE_TYPES}


def _set_capture(on: bool):  # type: ignore[no-untyped-def]
    def setter(ctx: Ctx, p: Param, index: str | None, value: str | None) -> None:
        pos = 0
        for item in (value or "").split(","):
            try:
                kind = parse_choice(item, _CAPTURE, "capture type")
            except ParseError as e:
                raise ParseError(e.message, pos + 1) from None
            (ctx.cfg.capture.add if on else ctx.cfg.capture.discard)(kind)
            pos += len(item) + 1

    return setter


def _echo_capture(cfg: ScanConfig, p: Param, all: bool) -> list[str]:  # noqa: A002
    explicit = all or cfg.heartbleed or cfg.ticketbleed or cfg.vuln == "poodle"
    out = []
    for kind in CAPTURE_TYPES:
        on = kind in cfg.capture
        if explicit or on != (kind in DEFAULT_CAPTURE):
            out.append(f"{'capture' if on else 'nocapture'} = {kind}")
    return out


# -- hello strings ---------------------------------------------------------------------------------

def _set_hello_string(ctx: Ctx, p: Param, index: str | None, value: str | None) -> None:
    ctx.cfg.hello_strings[int(index or 0)] = parse_base64(value or "")


def _set_hello_file(ctx: Ctx, p: Param, index: str | None, value: str | None) -> None:
    path = value or ""
    try:
        size = os.path.getsize(path)
        if size > HELLO_FILE_MAX:
            raise ParseError(f"{path!r} is {size} bytes; a hello file holds at most "
                             f"{HELLO_FILE_MAX} bytes", 0)
        with open(path, "rb") as f:
            data = f.read(HELLO_FILE_MAX + 1)
    except OSError as e:
        raise ParseError(f"cannot read {path!r}: {e.strerror or e}", 0) from None
    if not data:
        raise ParseError(f"{path!r} is empty", 0)
    if len(data) > HELLO_FILE_MAX:
        raise ParseError(f"{path!r} holds more than {HELLO_FILE_MAX} bytes", 0)
    ctx.cfg.hello_strings[int(index or 0)] = data


def _echo_hello_strings(cfg: ScanConfig, p: Param, all: bool) -> list[str]:  # noqa: A002
    out = [f"hello-string[{port}] = {fmt_base64(data)}"
           for port, data in sorted(cfg.hello_strings.items())]
    if not out and all:
        out.append("# hello-string[PORT] = ")
    return out


# -- HTTP probe ------------------------------------------------------------------------------------

def _set_http_header(ctx: Ctx, p: Param, index: str | None, value: str | None) -> None:
    text = value or ""
    if index:
        name, val = index, text
    else:
        name, colon, val = text.partition(":")
        if not colon:
            raise ParseError("expected Name:value (or --http-header[Name] value)", len(text) + 1)
        name, val = name.strip(), val.strip()
    parse_token(name, "header name")
    parse_line_text(val, "header value")
    ctx.cfg.http_headers.append((name, val))


def _echo_http_headers(cfg: ScanConfig, p: Param, all: bool) -> list[str]:  # noqa: A002
    out = [f"http-header[{name}] = {val}" for name, val in cfg.http_headers]
    if not out and all:
        out.append("# http-header[NAME] = ")
    return out


# -- outputs ---------------------------------------------------------------------------------------

def _out_name(ctx: Ctx, value: str | None) -> str | None:
    if not value:
        if ctx.from_file:  # masscan's older echo writes `output-filename = ` when there is none
            return None
        raise ParseError("missing file name", 0)
    return parse_line_text(value, "file name")


def _add_output(ctx: Ctx, fmt: str, name: str) -> None:
    if fmt == "redis":
        name = parse_redis(name)
    ctx.cfg.outputs.append((fmt, name))


def _set_output_format(ctx: Ctx, p: Param, index: str | None, value: str | None) -> None:
    fmt = parse_choice(value or "", OUTPUT_FORMATS, "output format")
    ctx.latest_format = fmt
    if ctx.defaulted:  # `--output-filename F --output-format X` (masscan's paused.conf order)
        for i in ctx.defaulted:
            ctx.cfg.outputs[i] = (fmt, ctx.cfg.outputs[i][1])
        ctx.defaulted.clear()
        ctx.format_unused = False
    else:
        ctx.format_unused = True


def _set_output_filename(ctx: Ctx, p: Param, index: str | None, value: str | None) -> None:
    name = _out_name(ctx, value)
    if name is None:
        return
    if ctx.latest_format is None:
        _add_output(ctx, "xml", name)
        ctx.defaulted.append(len(ctx.cfg.outputs) - 1)
    else:
        _add_output(ctx, ctx.latest_format, name)
    ctx.format_unused = False


def _set_output_letter(fmt: str):  # type: ignore[no-untyped-def]
    def setter(ctx: Ctx, p: Param, index: str | None, value: str | None) -> None:
        name = _out_name(ctx, value)
        if name is not None:
            _add_output(ctx, fmt, name)

    return setter


def _echo_outputs(cfg: ScanConfig, p: Param, all: bool) -> list[str]:  # noqa: A002
    out: list[str] = []
    for fmt, name in cfg.outputs:
        out += [f"output-format = {fmt}", f"output-filename = {name}"]
    if not out and all:
        out.append("# output-format = interactive")
    return out


# -- show / noshow / open ----------------------------------------------------------------------------

_SHOW = {"open": "open", "closed": "closed", "close": "closed", "all": "all"}


def _set_show(on: bool):  # type: ignore[no-untyped-def]
    def setter(ctx: Ctx, p: Param, index: str | None, value: str | None) -> None:
        pos = 0
        for item in (value or "").split(","):
            if item.strip():
                try:
                    kind = parse_choice(item, _SHOW, "show type")
                except ParseError as e:
                    raise ParseError(e.message, pos + 1) from None
                kinds = ("open", "closed") if kind == "all" else (kind,)
                for k in kinds:
                    (ctx.cfg.show.add if on else ctx.cfg.show.discard)(k)
            pos += len(item) + 1

    return setter


def _echo_show(cfg: ScanConfig, p: Param, all: bool) -> list[str]:  # noqa: A002
    if cfg.show == {"open"} and not all:
        return []
    return [f"{'show' if k in cfg.show else 'noshow'} = {k}" for k in ("open", "closed")]


def _set_open_only(ctx: Ctx, p: Param, index: str | None, value: str | None) -> None:
    if value is None or parse_bool(value):
        ctx.cfg.show = {"open"}


def _set_const(field: str, const: object):  # type: ignore[no-untyped-def]
    def setter(ctx: Ctx, p: Param, index: str | None, value: str | None) -> None:
        if value is None or parse_bool(value):
            setattr(ctx.cfg, field, const)

    return setter


def _set_negated(field: str):  # type: ignore[no-untyped-def]
    def setter(ctx: Ctx, p: Param, index: str | None, value: str | None) -> None:
        setattr(ctx.cfg, field, not (True if value is None else parse_bool(value)))

    return setter


def _rotate_dir(text: str) -> str:
    parse_line_text(text, "directory")
    stripped = text.rstrip("/")
    return stripped or "/"


B, O = "banners", "output"

register(
    # -- banners (implying rows first: see the module docstring) -----------------------------------
    Param("heartbleed", "check for Heartbleed (turns on banners; captures the leak instead of "
          "the certificate)", B, flags=F.BOOL, field="heartbleed", set=_ssl_check("heartbleed")),
    Param("ticketbleed", "check for Ticketbleed (turns on banners)", B, flags=F.BOOL,
          field="ticketbleed", set=_ssl_check("ticketbleed")),
    Param("vuln", "vulnerability check: heartbleed, ticketbleed, poodle (sslv3), ntp-monlist", B,
          field="vuln", set=_set_vuln, metavar="NAME"),
    Param("rawudp", "also report raw UDP payloads (turns on banners)", B, flags=F.BOOL,
          field="rawudp", set=_set_rawudp),
    Param("banners", "grab banners with tidescan's own TCP stack (see the firewall recipe in "
          "the docs)", B, aliases=("banner",), flags=F.BOOL, field="banners",
          echo=_echo_banners),
    Param("nobanners", "do not grab banners", B, aliases=("nobanner",), flags=F.BOOL,
          field="banners", set=_set_nobanners, echo=NO_ECHO),
    Param("capture", "also capture: cert (default), servername, html, heartbleed, ticketbleed", B,
          field="capture", set=_set_capture(True), echo=_echo_capture, metavar="TYPE"),
    Param("nocapture", "do not capture: cert, servername, html, heartbleed, ticketbleed", B,
          aliases=("no-capture",), field="capture", set=_set_capture(False), echo=NO_ECHO,
          metavar="TYPE"),
    Param("hello", "force a probe on every port: ssl, http; or smbv1 (SMB hello version 1)", B,
          field="hello", parse=lambda t: parse_choice(t, {"ssl": "ssl", "http": "http",
                                                         "smbv1": "smbv1"}, "hello type"),
          metavar="ssl|http|smbv1"),
    Param("hello-string", "send these (base64-encoded) bytes to PORT after connecting",
          B, flags=F.INDEX, field="hello_strings", set=_set_hello_string,
          echo=_echo_hello_strings, metavar="BASE64"),
    Param("hello-file", f"send FILE's bytes (at most {HELLO_FILE_MAX}) to PORT; saved as "
          "hello-string", B, aliases=("hello-filename",), flags=F.INDEX,
          field="hello_strings", set=_set_hello_file, echo=NO_ECHO, metavar="FILE"),
    Param("hello-timeout", "seconds to wait for a server's banner before sending our hello "
          "(default 2)", B, field="hello_timeout",
          parse=lambda t: parse_int(t, 0, 3600, "a number of seconds"), metavar="SECS"),
    Param("connection-timeout", "maximum lifetime of a banner TCP connection in seconds "
          "(default 30; 0 means 30)", B, aliases=("tcp-timeout",), field="connection_timeout",
          parse=lambda t: parse_int(t, 0, 86400, "a number of seconds") or 30, metavar="SECS"),
    Param("http-method", "method of the HTTP probe (default GET)", B, field="http_method",
          parse=lambda t: parse_token(t, "HTTP method"), metavar="METHOD"),
    Param("http-url", "URL path of the HTTP probe (default /)", B, aliases=("http-uri",),
          field="http_url", parse=_nospace("URL"), metavar="PATH"),
    Param("http-version", "version of the HTTP probe (default HTTP/1.0)", B,
          field="http_version", parse=_nospace("HTTP version"), metavar="VERSION"),
    Param("http-host", "Host header of the HTTP probe (default: none)", B, field="http_host",
          parse=_nospace("host"), metavar="HOST"),
    Param("http-user-agent", "User-Agent of the HTTP probe", B, aliases=("http-useragent",),
          field="http_user_agent", parse=_text("user agent"), metavar="TEXT"),
    Param("http-header", "add a header to the HTTP probe: Name:value, or http-header[Name] value "
          "(repeatable)", B, aliases=("http-field",), flags=F.KEY, field="http_headers",
          set=_set_http_header, echo=_echo_http_headers, metavar="NAME:VALUE"),
    Param("http-cookie", "add a Cookie header to the HTTP probe (repeatable)", B,
          flags=F.LIST, field="http_cookies", parse=_text("cookie"), metavar="COOKIE"),
    Param("http-payload", "body of the HTTP probe (adds Content-Length)", B,
          field="http_payload", parse=_text("payload"), metavar="TEXT"),
    Param("http-field-remove", "remove a default header (User-Agent, Accept) from the HTTP "
          "probe (repeatable)", B, flags=F.LIST, field="http_remove",
          parse=lambda t: parse_token(t, "header name"), metavar="NAME"),
    Param("nmap-payloads", "UDP payloads from a file in nmap-payloads format", B,
          aliases=("nmap-payload",), field="nmap_payloads", parse=check_readable,
          metavar="FILE"),
    Param("pcap-payloads", "UDP payloads from the packets of a pcap file", B,
          aliases=("pcap-payload",), field="pcap_payloads", parse=check_readable,
          metavar="FILE"),
    Param("nmap-service-probes", "nmap-service-probes file (parsed, as masscan; not used yet)", B,
          aliases=("nmap-service-probe",), field="nmap_service_probes", parse=check_readable,
          metavar="FILE"),
    Param("script", "masscan's Lua script hook (accepted and saved; not supported yet)", B,
          field="script", parse=check_readable, metavar="FILE"),
    Param("banner-types", "with --readscan: keep only banners of these types (repeatable)", B,
          aliases=("banner-type", "banner-app", "banner-apps"), flags=F.LIST,
          field="banner_types", parse=lambda t: _app_name(t), metavar="TYPE"),

    # -- output --------------------------------------------------------------------------------------
    Param("output-format", "format of the --output-filename given after it: xml, json, ndjson, "
          "grepable, list, binary, unicornscan, hostonly, certs, redis, none, interactive", O,
          field="outputs", set=_set_output_format, echo=_echo_outputs, metavar="FORMAT"),
    Param("output-filename", "write results to FILE ('-' is stdout); repeatable, XML unless "
          "--output-format says otherwise", O, aliases=("output-file",), field="outputs",
          set=_set_output_filename, echo=NO_ECHO, metavar="FILE"),
    *(Param(f"o{letter}", f"write {fmt} results to FILE ('-' is stdout; repeatable, any mix)",
            O, shorts=(f"-o{letter}",), field="outputs", set=_set_output_letter(fmt),
            echo=NO_ECHO, metavar="FILE")
      for letter, fmt in OUTPUT_LETTERS.items()),
    Param("redis", "send results to a Redis server IP[:PORT] (default port 6379)", O,
          aliases=("oR",), shorts=("-oR",), field="outputs", set=_set_output_letter("redis"),
          echo=NO_ECHO, metavar="IP[:PORT]"),
    Param("redis-pwd", "password for --redis", O, field="redis_pwd", parse=_text("password"),
          metavar="PASSWORD"),
    Param("output-append", "append to the output files instead of overwriting them", O,
          aliases=("append-output",), flags=F.BOOL, field="output_append"),
    Param("show", "also show: open, closed, all (default: open)", O,
          aliases=("output-show", "output-status"), field="show", set=_set_show(True),
          echo=_echo_show, metavar="open,closed"),
    Param("noshow", "do not show: open, closed, all", O, aliases=("output-noshow",),
          field="show", set=_set_show(False), echo=NO_ECHO, metavar="open,closed"),
    Param("open", "show open ports only", O, aliases=("open-only", "output-show-open"),
          flags=F.BOOL, field="show", set=_set_open_only, echo=NO_ECHO),
    Param("rotate", "start a new output file every interval: 3600, hourly, 5min, daily", O,
          aliases=("output-rotate", "rotate-output", "rotate-time"), field="rotate",
          parse=parse_duration, metavar="TIME"),
    Param("rotate-dir", "move rotated files to this directory (default .)", O,
          aliases=("output-rotate-dir", "rotate-directory"), field="rotate_dir",
          parse=_rotate_dir, metavar="DIR"),
    Param("rotate-offset", "shift the rotation times (less than a day; -5min = 5 minutes "
          "before)", O, aliases=("output-rotate-offset",), field="rotate_offset",
          parse=lambda t: parse_duration(t, below_one_day=True, allow_negative=True),
          metavar="TIME"),
    Param("rotate-size", "rotate when a file reaches this size (k/m/g suffixes = 1024^n)", O,
          aliases=("output-rotate-filesize", "rotate-filesize"), field="rotate_size",
          parse=parse_size, metavar="SIZE"),
    Param("stylesheet", "XSL stylesheet URL for XML output", O, field="stylesheet",
          parse=_text("stylesheet"), metavar="URL"),
    Param("webxml", f"use nmap's stylesheet ({NMAP_XSL})", O, flags=F.BOOL,
          field="stylesheet", set=_set_const("stylesheet", NMAP_XSL), echo=NO_ECHO),
    Param("no-stylesheet", "no stylesheet in XML output", O, flags=F.BOOL, field="stylesheet",
          set=_set_const("stylesheet", None), echo=NO_ECHO),
    Param("interactive", "also print results on the terminal when writing files", O,
          flags=F.BOOL, field="interactive"),
    Param("nointeractive", "undo --interactive", O, flags=F.BOOL, field="interactive",
          set=_set_negated("interactive"), echo=NO_ECHO),
    Param("status", "print the status line (default)", O, flags=F.BOOL, field="status"),
    Param("nostatus", "no status line", O, flags=F.BOOL, field="status",
          set=_set_negated("status"), echo=NO_ECHO),
    Param("ndjson-status", "print the status as NDJSON lines", O, flags=F.BOOL,
          field="ndjson_status"),
    Param("reason", "report the reason (TCP flags) of each result", O, flags=F.BOOL,
          field="reason"),
    Param("readscan", "convert binary scan files (-oB) to the chosen outputs instead of "
          "scanning; filters: --range, --ports, --banner-types", O, flags=F.MULTI | F.LIST,
          field="readscan", parse=check_readable, metavar="FILE..."),
    Param("pcap", "save the received TCP frames to a pcap file", O, aliases=("pcap-filename",),
          field="pcap", parse=_text("file name"), metavar="FILE"),
    Param("packet-trace", "print every packet sent and received", O, aliases=("trace-packet",),
          flags=F.BOOL, field="packet_trace"),
    Param("datadir", "directory of data files", O, field="datadir", parse=_text("directory"),
          metavar="DIR"),
)


def _app_name(text: str) -> str:
    from tidescan.output.apps import parse_app_name

    try:
        return parse_app_name(text)
    except ValueError as e:
        raise ParseError(str(e), 1) from None
