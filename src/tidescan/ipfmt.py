"""Address text forms exactly as masscan prints them.

Why not `ipaddress`: masscan's IPv6 formatter differs from RFC 5952 and every output format
(list, JSON, XML, grepable...) carries its text, so byte-for-byte parity with masscan needs
masscan's rule, not Python's:

- the **first** run of all-zero 16-bit groups is compressed to `::`, even a run of one group
  (`2001:db8:0:1:0:0:0:1` -> `2001:db8::1:0:0:0:1`, where RFC 5952 gives `2001:db8:0:1::1`);
- later zero groups print as `0`;
- there is never a dotted-quad tail (`::ffff:a00`, not `::ffff:0.0.10.0`).

The result is always a valid IPv6 literal (it parses back to the same address), only not the
canonical one.  MAC addresses print as `00-11-22-aa-bb-cc` (masscan's `macaddress_fmt`);
`parse_mac` accepts `-` or `:` separators.
"""

from __future__ import annotations

import socket
import struct

from tidescan.errors import ParseError

__all__ = ["format_ipv4", "format_ipv6", "format_ip", "format_mac", "parse_mac"]


_U32 = struct.Struct(">I")
_H8 = struct.Struct(">8H")
_M64 = (1 << 64) - 1
_Q2 = struct.Struct(">QQ")

# "%x:%x::%x" style templates for every (first zero group, first non-zero group after it).
_TEMPLATES = {(i, j): ":".join(["%x"] * i) + "::" + ":".join(["%x"] * (8 - j))
              for i in range(8) for j in range(i + 1, 9)}
_NO_ZERO = ":".join(["%x"] * 8)


def format_ipv4(ip: int) -> str:
    """`0x0A000001` -> `"10.0.0.1"`."""
    return socket.inet_ntoa(_U32.pack(ip & 0xFFFFFFFF))


def format_ipv6(ip: int) -> str:
    """128-bit integer -> masscan's text form (first zero run compressed, see module doc)."""
    g = _H8.unpack(_Q2.pack(ip >> 64 & _M64, ip & _M64))
    if 0 not in g:
        return _NO_ZERO % g
    i = g.index(0)
    j = i + 1
    while j < 8 and g[j] == 0:
        j += 1
    return _TEMPLATES[i, j] % (g[:i] + g[j:])


def format_ip(ip: int, version: int) -> str:
    """Format `ip` as IPv4 (`version == 4`) or IPv6 text."""
    return format_ipv6(ip) if version == 6 else format_ipv4(ip)


def format_mac(mac: bytes) -> str:
    """6 bytes -> `00-11-22-aa-bb-cc`."""
    if len(mac) != 6:
        raise ValueError(f"a MAC address has 6 bytes, not {len(mac)}")
    return "-".join(f"{b:02x}" for b in mac)


_HEX = frozenset("0123456789abcdefABCDEF")


def parse_mac(text: str) -> bytes:
    """`00-11-22-aa-bb-cc` or `00:11:22:AA:BB:CC` -> 6 bytes.

    Each octet is one or two hex digits; separators are `-` or `:`.  Errors raise `ParseError`
    whose `column` (1-based) points at the offending character.
    """
    out = bytearray()
    i, n = 0, len(text)
    while True:
        start = i
        while i < n and text[i] in _HEX and i - start < 2:
            i += 1
        if i == start:
            raise ParseError(f"bad MAC address {text!r}: expected a hex digit", i + 1)
        out.append(int(text[start:i], 16))
        if len(out) == 6:
            if i != n:
                raise ParseError(f"bad MAC address {text!r}: unexpected {text[i]!r} after 6 octets", i + 1)
            return bytes(out)
        if i >= n:
            raise ParseError(f"bad MAC address {text!r}: only {len(out)} of 6 octets", i + 1)
        if text[i] not in "-:":
            raise ParseError(f"bad MAC address {text!r}: expected '-' or ':', got {text[i]!r}", i + 1)
        i += 1
