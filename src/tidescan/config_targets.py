"""From the target texts of a `ScanConfig` to the `TargetSet` the scan walks.

Why separate from parsing: the config keeps targets as the texts the user gave (so the echo
writes them back verbatim); turning them into NumPy interval lists is done once, here, when the
scan (or ``-sL``, ``--echo-cidr``, ``--readscan`` filtering) needs them:

1. ranges and ``-iL`` files are merged into one IPv4 and one IPv6 `RangeList`;
2. ``--exclude`` and ``--excludefile`` are merged the same way and subtracted;
3. the port lists are merged (each with the protocol it was given under), plus ``--top-ports``
   (TCP unless only other scan types were asked for; UDP after ``-sU``), ``--ping`` (ICMP echo)
   and ``--arp``; ``--exclude-ports`` is subtracted;
4. `tidescan.targets.check_size` applies masscan's two guards (more than 1e9 IPv4 addresses
   without any exclude; more than 63 bits of index space).

Errors name the option (``--range: ... at column 5``) or the file (``FILE:LINE:COL``).
"""

from __future__ import annotations

import ipaddress

from tidescan.config_model import ScanConfig
from tidescan.errors import ParseError, UsageError
from tidescan.ipfmt import format_ipv6
from tidescan.targets import Range6List, RangeList, TargetSet, check_size, parse_target_file, \
    parse_targets

__all__ = ["build_targets", "top_ports_protocols", "cidr_text"]


def _located(option: str, e: ParseError) -> UsageError:
    at = f" at column {e.column}" if e.column else ""
    return UsageError(f"{option}: {e.message}{at}")


def _addresses(texts: list[str], files: list[str], option: str, file_option: str
               ) -> tuple[RangeList, Range6List]:
    v4, v6 = RangeList(), Range6List()
    for text in texts:
        try:
            a, b = parse_targets(text)
        except ParseError as e:
            raise _located(option, e) from None
        v4, v6 = v4.merge(a), v6.merge(b)
    for path in files:
        try:
            a, b = parse_target_file(path)
        except UsageError as e:
            raise UsageError(f"{file_option}: {e}") from None
        v4, v6 = v4.merge(a), v6.merge(b)
    return v4, v6


def top_ports_protocols(cfg: ScanConfig) -> list[str]:
    """Which protocols ``--top-ports`` adds: TCP (unless only -sU/-sZ were given), UDP after -sU."""
    protos = []
    if cfg.syn_scan or not (cfg.udp_scan or cfg.sctp_scan):
        protos.append("tcp")
    if cfg.udp_scan:
        protos.append("udp")
    return protos


def _ports(cfg: ScanConfig):  # type: ignore[no-untyped-def]
    from tidescan import ports as P

    keys = {"tcp": "--ports", "udp": "--udp-ports", "sctp": "--sctp-ports", "oproto": "--oprotos"}
    result = P.PortList()
    for proto, text in cfg.ports:
        try:
            result = result.merge(P.parse_ports(text, proto))
        except ParseError as e:
            raise _located(keys[proto], e) from None
    if cfg.top_ports:
        for proto in top_ports_protocols(cfg):
            result = result.merge(P.top_ports(cfg.top_ports, proto))
    if cfg.ping:
        result = P.add_ping(result)
    if cfg.arp:
        result = P.add_arp(result)
    for text in cfg.exclude_ports:
        try:
            result = result.exclude(P.parse_ports(text))
        except ParseError as e:
            raise _located("--exclude-ports", e) from None
    return result


def build_targets(cfg: ScanConfig) -> TargetSet:
    """Ranges minus excludes, ports minus exclude-ports, size-checked (see the module doc)."""
    v4, v6 = _addresses(cfg.ranges, cfg.include_files, "--range", "--includefile")
    x4, x6 = _addresses(cfg.excludes, cfg.exclude_files, "--exclude", "--excludefile")
    ts = TargetSet(v4.exclude(x4), v6.exclude(x6), _ports(cfg))
    check_size(ts, has_exclude=bool(cfg.excludes or cfg.exclude_files))
    return ts


def cidr_text(cfg: ScanConfig) -> str:
    """``--echo-cidr``: the targets after excludes as CIDR blocks, one per line."""
    ts = build_targets(cfg)
    lines: list[str] = []
    for a, b in zip(ts.ipv4.starts.tolist(), ts.ipv4.ends.tolist()):
        for net in ipaddress.summarize_address_range(ipaddress.IPv4Address(a),
                                                     ipaddress.IPv4Address(b)):
            lines.append(str(net))
    for a, b in zip(ts.ipv6.starts.tolist(), ts.ipv6.ends.tolist()):
        for net in ipaddress.summarize_address_range(ipaddress.IPv6Address(a),
                                                     ipaddress.IPv6Address(b)):
            lines.append(f"{format_ipv6(int(net.network_address))}/{net.prefixlen}")
    return "".join(line + "\n" for line in lines)
