"""Banner types ("app protos"): the names we use, the ids masscan stores, and the names it prints.

masscan stores a banner's type as a 16-bit id in `-oB` files, and the numbering changed after
1.3.2: HEAD (commit 7b3b59c) inserted `X509CA` at 16, which shifted every id after it.  Both write
the same `masscan/1.1` file header, so the id table is a reader option, not something a file says.

We name banner types by a *key* (`Record.app`), unique per type, and translate at the edges:

- `app_id(key, table)` / `app_key(id, table)` convert for the binary format;
- `app_display(key)` is what text outputs print (masscan's `masscan_app_to_string`).  Keys and
  display names are equal except where masscan prints one name for two ids:
  `none` (id 0) and `unknown` (id 1, "heur") both print `unknown`; `ssh1` prints `ssh`;
  `vnc-old` (HEAD id 23) prints `vnc`;
- `parse_app_name(text)` reads `--banner-types` values (masscan's `masscan_string_to_app`
  names, case-insensitive here).

Table `"1.3.2"` (the default, what Debian's masscan writes and reads) is masscan 1.3.2's numbering,
extended with the types 1.3.2 never had at their HEAD ids (32 minecraft, 34 vnc-info, 35 isakmp,
36 error; 1.3.2 never assigned ids above 30, so this is unambiguous).  `X509CA` does not exist in
1.3.2 (all certificates were `X509` then), so it is written as 15 under that table.
Ids not in a table read as key `(N)`, which prints as masscan does and writes back as N.
"""

from __future__ import annotations

__all__ = ["TABLES", "APP_KEYS", "app_id", "app_key", "app_display", "parse_app_name"]

_COMMON = {
    0: "none", 1: "unknown", 2: "ssh1", 3: "ssh", 4: "http", 5: "ftp", 6: "dns-ver", 7: "snmp",
    8: "nbtstat", 9: "ssl", 10: "smb", 11: "smtp", 12: "pop", 13: "imap", 14: "zeroaccess",
    15: "X509",
}

_IDS_132: dict[int, str] = {
    **_COMMON,
    16: "title", 17: "html", 18: "ntp", 19: "vuln", 20: "heartbleed", 21: "ticketbleed", 22: "vnc",
    23: "safe", 24: "memcached", 25: "scripting", 26: "versioning", 27: "coap", 28: "telnet",
    29: "rdp", 30: "http.server",
    # HEAD-only types at their HEAD ids (never used by 1.3.2):
    32: "minecraft", 34: "vnc-info", 35: "isakmp", 36: "error",
}

# Banner types masscan has no id for, at ids far above masscan's: masscan prints them as `(N)`,
# tidescan reads them back by name.  Shared by both tables.
_TIDESCAN: dict[int, str] = {64: "redis"}
_IDS_132.update(_TIDESCAN)

_IDS_HEAD: dict[int, str] = {
    **_COMMON,
    16: "X509CA", 17: "title", 18: "html", 19: "ntp", 20: "vuln", 21: "heartbleed",
    22: "ticketbleed", 23: "vnc-old", 24: "safe", 25: "memcached", 26: "scripting",
    27: "versioning", 28: "coap", 29: "telnet", 30: "rdp", 31: "http.server", 32: "minecraft",
    33: "vnc", 34: "vnc-info", 35: "isakmp", 36: "error", **_TIDESCAN,
}

TABLES: dict[str, dict[int, str]] = {"1.3.2": _IDS_132, "head": _IDS_HEAD}

_KEY_TO_ID: dict[str, dict[str, int]] = {
    "1.3.2": {**{k: i for i, k in _IDS_132.items()}, "X509CA": 15, "vnc-old": 22},
    "head": {k: i for i, k in _IDS_HEAD.items()},
}

APP_KEYS: frozenset[str] = frozenset(_IDS_HEAD.values())

_DISPLAY = {"none": "unknown", "ssh1": "ssh", "vnc-old": "vnc"}

_ALIASES = {
    "heur": "unknown", "ssh2": "ssh", "x509": "X509", "x509ca": "X509CA", "vnc-old": "vnc-old",
}
_BY_LOWER = {k.lower(): k for k in APP_KEYS}


def _table(table: str) -> str:
    if table not in TABLES:
        raise ValueError(f"unknown app-id table {table!r} (choose '1.3.2' or 'head')")
    return table


def app_key(app_id: int, table: str = "1.3.2") -> str:
    """Binary-file id -> key (`(N)` for ids the table does not know)."""
    key = TABLES[_table(table)].get(app_id)
    return key if key is not None else f"({app_id})"


def app_id(key: str, table: str = "1.3.2") -> int:
    """Key -> binary-file id.  `(N)` -> N.  A key no table knows is written as 1 (`unknown`)."""
    n = _KEY_TO_ID[_table(table)].get(key)
    if n is not None:
        return n
    if key.startswith("(") and key.endswith(")") and key[1:-1].isdigit():
        return int(key[1:-1]) & 0xFFFF
    return 1


def app_display(key: str) -> str:
    """What masscan prints for this banner type."""
    return _DISPLAY.get(key, key)


def parse_app_name(text: str) -> str:
    """A `--banner-types` name (`ssh`, `x509`, `http.server`, `heur`...) -> key; ValueError if unknown."""
    low = text.strip().lower()
    key = _ALIASES.get(low) or _BY_LOWER.get(low)
    if key is None:
        raise ValueError(f"unknown banner type {text!r}; known: {', '.join(sorted(APP_KEYS))}")
    return key
