"""What the responder answers for: its MAC, its addresses, the sources it ignores.

Why this exists: the command line and the tests build the same immutable `ResponderConfig`, and
the parsing rules of masscanned's address files live in one place:

- one address per line; only the text before the first TAB or space is read (masscanned's rule,
  so files with trailing comments or columns work); blank lines and lines starting with `#` are
  skipped; tidescanned also accepts CIDR blocks (expanded; at most 65,536 addresses in all);
- the self-IP set is the union of `--self-ip-file` and `--self-ip-list`; an **empty set means
  "answer for every address"** (masscanned's semantics, also for an empty file);
- unlike masscanned (which silently skips bad lines and ignores unreadable files), a bad line or an
  unreadable file is a `UsageError` naming `file:line:column`, so a typo never turns a responder for
  two addresses into a responder for every address.

Addresses are stored as integers (IPv4 32-bit, IPv6 128-bit) in frozensets for O(1) lookups.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from tidescan.errors import ParseError, UsageError

DEFAULT_MAC = bytes.fromhex("c0ffeec0ffee")
MAX_EXPANDED = 65536


def parse_mac(text: str) -> bytes:
    """`aa:bb:cc:dd:ee:ff` (or `-` separators, or 12 hex digits) -> 6 bytes; ParseError otherwise."""
    t = text.strip()
    parts = t.replace("-", ":").split(":") if (":" in t or "-" in t) else [t[i:i + 2] for i in range(0, len(t), 2)]
    if len(parts) != 6 or any(len(p) not in (1, 2) for p in parts):
        raise ParseError(f"bad MAC address {text!r} (expected six hex bytes like 52:54:00:12:34:56)", 1)
    try:
        return bytes(int(p, 16) for p in parts)
    except ValueError:
        raise ParseError(f"bad MAC address {text!r} (not hexadecimal)", 1) from None


def format_mac(mac: bytes) -> str:
    return ":".join(f"{b:02x}" for b in mac)


def _parse_one(token: str) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """One address or CIDR block -> addresses; raises ValueError with a short reason."""
    if "/" in token:
        net = ipaddress.ip_network(token, strict=False)
        if net.num_addresses > MAX_EXPANDED:
            raise ValueError(f"block {token} has {net.num_addresses} addresses (max {MAX_EXPANDED})")
        return list(net)
    return [ipaddress.ip_address(token)]


@dataclass(frozen=True)
class AddressSet:
    """IPv4 and IPv6 addresses as integer sets."""

    v4: frozenset[int] = frozenset()
    v6: frozenset[int] = frozenset()

    @property
    def empty(self) -> bool:
        return not self.v4 and not self.v6

    def __len__(self) -> int:
        return len(self.v4) + len(self.v6)

    def union(self, other: AddressSet) -> AddressSet:
        return AddressSet(self.v4 | other.v4, self.v6 | other.v6)

    @classmethod
    def of(cls, addresses: Iterable[str]) -> AddressSet:
        """Build from address strings (used by tests); raises ValueError on a bad one."""
        v4: set[int] = set()
        v6: set[int] = set()
        for a in addresses:
            for ip in _parse_one(a):
                (v4 if ip.version == 4 else v6).add(int(ip))
        return cls(frozenset(v4), frozenset(v6))


def parse_address_list(text: str, option: str) -> AddressSet:
    """Comma-separated inline list (`--self-ip-list 10.0.0.1,fd00::1`)."""
    out = AddressSet()
    col = 1
    for tok in text.split(","):
        stripped = tok.strip()
        if stripped:
            try:
                out = out.union(AddressSet.of([stripped]))
            except ValueError as e:
                raise UsageError(f"{option}: column {col + tok.index(stripped)}: "
                                 f"bad address {stripped!r}: {e}") from None
        col += len(tok) + 1
    if len(out) > MAX_EXPANDED:
        raise UsageError(f"{option}: more than {MAX_EXPANDED} addresses")
    return out


def parse_address_file(path: str, option: str) -> AddressSet:
    """An address file (see module docstring); UsageError names `path:line:column`."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise UsageError(f"{option} {path}: cannot read: {e.strerror or e}") from None
    v4: set[int] = set()
    v6: set[int] = set()
    for lineno, bline in enumerate(raw.splitlines(), 1):
        try:
            line = bline.decode("utf-8")
        except UnicodeDecodeError as e:
            raise UsageError(f"{path}:{lineno}:{e.start + 1}: not UTF-8 text") from None
        stripped = line.lstrip()
        if not stripped or stripped.startswith("#"):
            continue
        token = stripped.split(None, 1)[0]
        column = len(line) - len(stripped) + 1
        try:
            for ip in _parse_one(token):
                (v4 if ip.version == 4 else v6).add(int(ip))
        except ValueError as e:
            raise UsageError(f"{path}:{lineno}:{column}: bad address {token!r}: {e}") from None
        if len(v4) + len(v6) > MAX_EXPANDED:
            raise UsageError(f"{path}:{lineno}: more than {MAX_EXPANDED} addresses")
    return AddressSet(frozenset(v4), frozenset(v6))


@dataclass(frozen=True)
class ResponderConfig:
    """Everything the sans-IO core needs to know; immutable.

    `tls_identity` is the (certificate DER, private key) pair used by the TLS answer; `None`
    means "generate one on first use" (the CLI generates it at start).
    """

    mac: bytes = DEFAULT_MAC
    self_ips: AddressSet = AddressSet()
    deny_ips: AddressSet = AddressSet()
    synack_key: tuple[int, int] = (0, 0)
    greetings: bool = True
    tls: bool = True
    max_tcbs: int = 65536
    tls_identity: Any = field(default=None, compare=False)

    @property
    def handle_all(self) -> bool:
        """True when no self-IP was given: answer for every destination."""
        return self.self_ips.empty

    def handles_v4(self, ip: int) -> bool:
        return self.self_ips.empty or ip in self.self_ips.v4

    def handles_v6(self, ip: int) -> bool:
        return self.self_ips.empty or ip in self.self_ips.v6
