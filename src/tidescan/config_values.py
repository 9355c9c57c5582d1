"""Value parsers and formatters for configuration options: text in, typed value out, and back.

Why this exists: one option value travels three ways -- typed on the command line, read from a
`-c` / `--resume` file, and written back by `--echo` / paused.conf -- so every kind of value has
exactly one parser and one formatter, and ``parse(format(v)) == v`` holds for every value a parser
can return.  That identity is what makes the resume file lossless (tests check it with hypothesis).

Parsers take the value text (already stripped) and raise `ParseError(message, column)` with a
1-based column inside the value; they never know which option or file the text came from (the
config layer adds that).  The accepted spellings follow masscan's `main-conf.c` where masscan has
one (boolean words, ``forever``, ``hourly``/``5min`` durations, ``1m`` sizes, ``time`` seeds), but
we are strict where masscan silently reads garbage as 0 or "true".
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re

from tidescan.errors import ParseError

__all__ = [
    "BOOL_TRUE", "BOOL_FALSE", "INT_MAX", "is_bool_word", "is_integer", "parse_bool", "fmt_bool",
    "parse_int", "parse_float", "fmt_float", "parse_seed", "parse_shard", "fmt_shard",
    "parse_wait", "fmt_wait", "parse_duration", "parse_size", "parse_ipv4", "fmt_ipv4",
    "parse_ipv4_range", "fmt_ipv4_range", "parse_source_ip", "parse_ipv6", "fmt_ipv6",
    "parse_port_range", "fmt_port_range", "parse_base64", "fmt_base64", "parse_choice",
    "parse_token", "parse_line_text", "parse_redis", "is_power_of_two",
]

BOOL_TRUE = frozenset({"1", "true", "yes", "on", "enable", "enabled"})
BOOL_FALSE = frozenset({"0", "false", "no", "off", "disable", "disabled"})
INT_MAX = 2**31 - 1  # masscan's `--wait forever`
_U64_MAX = 2**64 - 1


def is_bool_word(text: str) -> bool:
    """True for the boolean spellings masscan accepts (not for the empty string)."""
    t = text.strip().lower()
    return t in BOOL_TRUE or t in BOOL_FALSE


def is_integer(text: str) -> bool:
    """True if `text` is a non-empty run of ASCII digits (masscan's `isInteger`)."""
    return text.isascii() and text.isdigit()


def parse_bool(text: str) -> bool:
    """``1/0 true/false yes/no on/off enable(d)/disable(d)``; empty means true."""
    t = text.strip().lower()
    if t == "" or t in BOOL_TRUE:
        return True
    if t in BOOL_FALSE:
        return False
    raise ParseError(
        f"expected a boolean (true/false, yes/no, on/off, 1/0, enabled/disabled), got {text!r}", 0
    )


def fmt_bool(value: bool) -> str:
    return "true" if value else "false"


def _digits(text: str, what: str) -> int:
    """A non-negative decimal integer; the column of the first non-digit on error."""
    if text == "":
        raise ParseError(f"expected {what}, got nothing", 1)
    for i, c in enumerate(text):
        if not ("0" <= c <= "9"):
            raise ParseError(f"expected {what}, got {text!r}", i + 1)
    return int(text)


def parse_int(text: str, lo: int = 0, hi: int = _U64_MAX, what: str = "a number") -> int:
    """A decimal integer in ``lo..hi`` (inclusive)."""
    n = _digits(text, what)
    if n < lo or n > hi:
        if lo == 0:
            raise ParseError(f"expected {what} less than {hi + 1}, got {n}", 0)
        raise ParseError(f"expected {what} from {lo} to {hi}, got {n}", 0)
    return n


_FLOAT_RE = re.compile(r"[0-9]+(\.[0-9]*)?([eE][+-]?[0-9]+)?|\.[0-9]+([eE][+-]?[0-9]+)?")


def parse_float(text: str, what: str = "a number", positive: bool = True) -> float:
    """A finite decimal number (``100``, ``0.5``, ``1e6``); must be > 0 when `positive`."""
    if not _FLOAT_RE.fullmatch(text):
        bad = next((i for i, c in enumerate(text) if c not in "0123456789.eE+-"), 0)
        raise ParseError(f"expected {what}, got {text!r}", bad + 1)
    value = float(text)
    if value == float("inf"):
        raise ParseError(f"{what} {text!r} is too large", 0)
    if positive and value <= 0:
        raise ParseError(f"{what} must be greater than 0, got {text!r}", 0)
    return value


def fmt_float(value: float) -> str:
    """Shortest text that parses back to the same float (`100`, not `100.0`)."""
    if value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    return repr(value)


def parse_seed(text: str) -> int:
    """``--seed N`` (0..2^64-1) or ``--seed time`` (the current Unix time, as masscan)."""
    if text.lower() == "time":
        import time

        return int(time.time())
    return parse_int(text, 0, _U64_MAX, "a seed (0 to 2^64-1, or 'time')")


_SHARD_RE = re.compile(r"\s*([0-9]+)\s*/\s*([0-9]+)\s*")


def parse_shard(text: str) -> tuple[int, int]:
    """``x/y`` with ``1 <= x <= y``: this is shard x of y."""
    m = _SHARD_RE.fullmatch(text)
    if m is None:
        raise ParseError(f"expected x/y (like 1/4 2/4 3/4 4/4), got {text!r}", 0)
    x, y = int(m.group(1)), int(m.group(2))
    if x < 1:
        raise ParseError("shard index can't be zero; it goes like 1/4 2/4 3/4 4/4", m.start(1) + 1)
    if x > y:
        raise ParseError(f"shard {x}/{y}: x must not exceed y; it goes like 1/4 2/4 3/4 4/4",
                         m.start(1) + 1)
    return x, y


def fmt_shard(value: tuple[int, int]) -> str:
    return f"{value[0]}/{value[1]}"


def parse_wait(text: str) -> int:
    """Seconds, or ``forever`` (= INT_MAX, as masscan)."""
    if text.lower() == "forever":
        return INT_MAX
    return parse_int(text, 0, INT_MAX, "a number of seconds (or 'forever')")


def fmt_wait(value: int) -> str:
    return "forever" if value == INT_MAX else str(value)


_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DAY = 86400


def parse_duration(text: str, *, below_one_day: bool = False, allow_negative: bool = False) -> int:
    """masscan's `parseTime`: ``3600``, ``5min``, ``hourly``, ``2h``, ``daily``, ``week``.

    Digits, then optional punctuation/space, then a unit named by its first letter (s, m, h, d,
    w); a bare unit word means one of it.  With `below_one_day` (``--rotate-offset``) the value
    must be under a day; with `allow_negative` a leading ``-`` means "that long before midnight"
    (``24h - value``), as masscan.
    """
    s = text
    negative = False
    if allow_negative:
        while s.startswith("-"):
            negative = True
            s = s[1:]
    offset = len(text) - len(s)
    i = 0
    while i < len(s) and "0" <= s[i] <= "9":
        i += 1
    num = int(s[:i]) if i else 0
    j = i
    while j < len(s) and (s[j] in " \t" or (not s[j].isalnum() and s[j].isprintable())):
        j += 1
    if j >= len(s):
        if i == 0:
            raise ParseError(f"expected a duration like 3600, 5min, hourly, got {text!r}", 0)
        value = num
    else:
        unit = s[j].lower()
        if unit not in _UNIT_SECONDS:
            raise ParseError(
                f"unknown time unit {s[j]!r} in {text!r} (use s, m(in), h(our), d(ay), w(eek))",
                offset + j + 1,
            )
        if i == 0:
            num = 1
        value = num * _UNIT_SECONDS[unit]
    if below_one_day and value >= _DAY:
        raise ParseError(f"{text!r} is a day or more; the value must be less than 1 day", 0)
    if negative:
        value = _DAY - value
    return value


_SIZE_UNITS = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50, "e": 1 << 60}


def parse_size(text: str) -> int:
    """masscan's `parseSize`: bytes with an optional k/m/g/t/p/e suffix (powers of 1024)."""
    i = 0
    while i < len(text) and "0" <= text[i] <= "9":
        i += 1
    num = int(text[:i]) if i else 0
    j = i
    while j < len(text) and text[j] in " \t":
        j += 1
    if j >= len(text):
        if i == 0:
            raise ParseError(f"expected a size like 1000000, 100k, 10m, 1g, got {text!r}", 0)
        return num
    unit = text[j].lower()
    if unit not in _SIZE_UNITS or not text[j:].isalpha():
        raise ParseError(f"unknown size unit in {text!r} (use k, m, g, t, p or e)", j + 1)
    if i == 0:
        num = 1
    return num * _SIZE_UNITS[unit]


def parse_ipv4(text: str) -> int:
    """Dotted-quad IPv4 -> integer (host order value)."""
    parts = text.split(".")
    pos = 0
    value = 0
    if len(parts) != 4:
        raise ParseError(f"bad IPv4 address {text!r}: expected four numbers a.b.c.d", 0)
    for part in parts:
        if not is_integer(part) or len(part) > 3 or int(part) > 255:
            bad = next((k for k, c in enumerate(part) if not c.isdigit()), 0)
            raise ParseError(f"bad IPv4 address {text!r}: {part!r} is not 0..255", pos + bad + 1)
        value = (value << 8) | int(part)
        pos += len(part) + 1
    return value


def fmt_ipv4(value: int) -> str:
    return ".".join(str((value >> s) & 0xFF) for s in (24, 16, 8, 0))


def parse_ipv4_range(text: str) -> tuple[int, int]:
    """``a.b.c.d``, ``a.b.c.d-e.f.g.h`` or ``a.b.c.d/N`` -> inclusive (first, last)."""
    if "/" in text:
        addr, _, bits = text.partition("/")
        first = parse_ipv4(addr.strip())
        n = parse_int(bits.strip(), 0, 32, "a prefix length") if bits.strip() else -1
        if n < 0:
            raise ParseError(f"missing prefix length after '/' in {text!r}", len(addr) + 2)
        mask = (0xFFFFFFFF << (32 - n)) & 0xFFFFFFFF
        return first & mask, (first & mask) | (~mask & 0xFFFFFFFF)
    if "-" in text:
        a, _, b = text.partition("-")
        first = parse_ipv4(a.strip())
        try:
            last = parse_ipv4(b.strip())
        except ParseError as e:
            raise ParseError(e.message, len(a) + 1 + e.column) from None
        if last < first:
            raise ParseError(f"reversed range {text!r}", 0)
        return first, last
    v = parse_ipv4(text)
    return v, v


def fmt_ipv4_range(value: tuple[int, int]) -> str:
    first, last = value
    if first == last:
        return fmt_ipv4(first)
    return f"{fmt_ipv4(first)}-{fmt_ipv4(last)}"


def parse_ipv6(text: str) -> int:
    """One IPv6 address (optionally in brackets) -> 128-bit integer."""
    t = text[1:-1] if text.startswith("[") and text.endswith("]") else text
    try:
        return int(ipaddress.IPv6Address(t))
    except ValueError:
        raise ParseError(f"bad IPv6 address {text!r}", 0) from None


def fmt_ipv6(value: int) -> str:
    return str(ipaddress.IPv6Address(value))


def is_power_of_two(n: int) -> bool:
    return n > 0 and n & (n - 1) == 0


def parse_source_ip(text: str) -> tuple[str, object]:
    """``--source-ip``: an IPv4 address or range whose size is a power of two, or one IPv6.

    Returns ``("v4", (first, last))`` or ``("v6", int)``.
    """
    if ":" in text:
        t = text.strip("[]")
        if "-" in t or "/" in t:
            raise ParseError("an IPv6 source must be a single address, not a range", 0)
        return "v6", parse_ipv6(text)
    first, last = parse_ipv4_range(text)
    size = last - first + 1
    if not is_power_of_two(size):
        raise ParseError(
            f"the source range holds {size} addresses; it must be a power of two (1, 2, 4, ...)", 0
        )
    return "v4", (first, last)


def parse_port_range(text: str) -> tuple[int, int]:
    """``--source-port``: one port ``N`` or one range ``N-M`` whose size is a power of two."""
    a, dash, b = text.partition("-")
    first = parse_int(a.strip(), 0, 65535, "a port number")
    if dash:
        try:
            last = parse_int(b.strip(), 0, 65535, "a port number")
        except ParseError as e:
            raise ParseError(e.message, len(a) + 1 + e.column) from None
    else:
        last = first
    if last < first:
        raise ParseError(f"reversed port range {text!r}", 0)
    size = last - first + 1
    if not is_power_of_two(size):
        raise ParseError(
            f"the source port range holds {size} ports; it must be a power of two (1, 2, 4, ...)", 0
        )
    return first, last


def fmt_port_range(value: tuple[int, int]) -> str:
    return str(value[0]) if value[0] == value[1] else f"{value[0]}-{value[1]}"


_B64_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=")


def parse_base64(text: str) -> bytes:
    """Standard base64 (padding optional); the column of the first character that is not base64."""
    for i, c in enumerate(text):
        if c not in _B64_CHARS:
            raise ParseError(f"not base64: unexpected {c!r}", i + 1)
    body = text.rstrip("=")
    if "=" in body:
        raise ParseError("not base64: '=' inside the text", body.index("=") + 1)
    if len(body) % 4 == 1:
        raise ParseError("not base64: truncated (length is 1 more than a multiple of 4)", len(body))
    try:
        data = base64.b64decode(body + "=" * (-len(body) % 4), validate=True)
    except binascii.Error as e:
        raise ParseError(f"not base64: {e}", 0) from None
    if not data:
        raise ParseError("empty payload", 0)
    return data


def fmt_base64(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


def parse_choice(text: str, choices: dict[str, str], what: str) -> str:
    """Case-insensitive choice; `choices` maps accepted spellings (lower case) to the stored value."""
    key = text.strip().lower()
    if key in choices:
        return choices[key]
    names = ", ".join(sorted(set(choices.values())))
    raise ParseError(f"unknown {what} {text!r} (expected one of: {names})", 0)


_TOKEN_RE = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


def parse_token(text: str, what: str) -> str:
    """An HTTP token (method, header name): RFC 9110 tchar characters only."""
    if not text:
        raise ParseError(f"empty {what}", 1)
    m = _TOKEN_RE.match(text)
    end = m.end() if m else 0
    if end != len(text):
        raise ParseError(f"bad {what} {text!r}: {text[end]!r} is not allowed", end + 1)
    return text


def parse_line_text(text: str, what: str = "value") -> str:
    """Free text that must fit on one config-file line: no control characters (CR, LF, NUL...)."""
    for i, c in enumerate(text):
        if ord(c) < 0x20 and c != "\t" or c == "\x7f":
            raise ParseError(f"{what} contains a control character ({c!r})", i + 1)
    return text


def parse_redis(text: str) -> str:
    """``IP[:PORT]`` (IPv4, default port 6379) -> normalized ``ip:port``."""
    addr, colon, port = text.partition(":")
    ip = parse_ipv4(addr.strip())
    p = 6379
    if colon:
        try:
            p = parse_int(port.strip(), 1, 65535, "a port number")
        except ParseError as e:
            raise ParseError(e.message, len(addr) + 1 + e.column) from None
    return f"{fmt_ipv4(ip)}:{p}"
