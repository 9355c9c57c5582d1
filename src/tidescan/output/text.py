"""Banner escaping and time stamps exactly as masscan prints them.

Escaping (`normalize_string` / `normalize_json_string` in masscan): a byte is kept if it is
printable ASCII (0x20..0x7e) and not one of `< > & \\ " '`; every other byte becomes `\\xHH`
(list, XML, grepable, interactive) or `\\u00HH` (JSON, NDJSON), lower-case hex.  So every output
is plain ASCII and needs no further quoting in XML attributes or JSON strings.

Truncation is a property of masscan's fixed output buffer of `size` bytes, and it has a quirk we
copy: a kept byte is appended while the text is shorter than `size - 2`, an escape only while it
is shorter than `size - 5` (`\\x`) or `size - 7` (`\\u`); a skipped escape does not stop later,
shorter items from being appended.  masscan 1.3.2 (Debian) uses 4096 for the text formats and
65536 for JSON/NDJSON (HEAD raised the text buffer to 8192); we match 1.3.2, the version users have.
Banners shorter than the limit (nearly all) take a fast `str.translate` path.
"""

from __future__ import annotations

import time

__all__ = ["escape_x", "escape_u", "TEXT_BANNER_BUFFER", "JSON_BANNER_BUFFER", "ctime_c", "local_datetime"]

TEXT_BANNER_BUFFER = 4096
JSON_BANNER_BUFFER = 65536

_SPECIAL = set(b"<>&\\\"'")
_KEEP = [0x20 <= b <= 0x7E and b not in _SPECIAL for b in range(256)]
_X_TABLE = {b: f"\\x{b:02x}" for b in range(256) if not _KEEP[b]}
_U_TABLE = {b: f"\\u00{b:02x}" for b in range(256) if not _KEEP[b]}


def _escape(data: bytes, size: int, table: dict[int, str], esc_len: int) -> str:
    text = data.decode("latin-1").translate(table)
    if len(text) <= size - 2:
        return text  # nothing was cut: every append happened below the limits
    # Slow path: replay masscan's buffer arithmetic byte by byte.
    out: list[str] = []
    offset = 0
    for b in data:
        if _KEEP[b]:
            if offset + 2 < size:
                out.append(chr(b))
                offset += 1
        elif offset + esc_len + 1 < size:
            out.append(table[b])
            offset += esc_len
    return "".join(out)


def escape_x(data: bytes, size: int = TEXT_BANNER_BUFFER) -> str:
    """Banner text for list/XML/grepable/interactive: `\\xHH` escapes, cut like masscan's buffer."""
    return _escape(data, size, _X_TABLE, 4)


def escape_u(data: bytes, size: int = JSON_BANNER_BUFFER) -> str:
    """Banner text for JSON/NDJSON: `\\u00HH` escapes, cut like masscan's buffer."""
    return _escape(data, size, _U_TABLE, 6)


_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def ctime_c(t: float) -> str:
    """`strftime("%c", gmtime(t))` in the C locale: `Tue Nov 14 22:13:20 2023` (day space-padded)."""
    tm = time.gmtime(t)
    return (f"{_DAYS[tm.tm_wday]} {_MONTHS[tm.tm_mon - 1]} {tm.tm_mday:2d} "
            f"{tm.tm_hour:02d}:{tm.tm_min:02d}:{tm.tm_sec:02d} {tm.tm_year}")


def local_datetime(t: float, gmt: bool = False) -> str:
    """`%Y-%m-%d %H:%M:%S` in local time (or UTC), as in XML's `<finished timestr=...>`."""
    tm = time.gmtime(t) if gmt else time.localtime(t)
    return (f"{tm.tm_year:04d}-{tm.tm_mon:02d}-{tm.tm_mday:02d} "
            f"{tm.tm_hour:02d}:{tm.tm_min:02d}:{tm.tm_sec:02d}")
