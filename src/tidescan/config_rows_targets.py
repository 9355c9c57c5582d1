"""Rows of the parameter table: targets, ports, excludes and scan types (masscan.md §1a).

Why the values are kept as text: the echo must write back exactly what was asked (masscan #110:
paused.conf lost the excludes because it saved ``range`` minus excludes).  Each text is still
parsed when it is given, so a typo fails at once with its column; `ScanConfig.targets()` parses
them again into the NumPy range lists the scan uses.

Ports carry the protocol in force when they were given: ``-sU -p 53`` is UDP 53 and
``-p 53 -sU`` is TCP 53, exactly as masscan 1.3.2 behaves.  The echo writes them back with an
explicit key per protocol (``ports`` for TCP, ``udp-ports``, ``sctp-ports``, ``oprotos``) and the
scan-type rows last, so re-reading the echo gives the same pairs.
"""

from __future__ import annotations

from tidescan.config_model import ScanConfig, default_proto_for
from tidescan.config_table import NO_ECHO, Ctx, F, Param, register
from tidescan.config_values import parse_bool, parse_int
from tidescan.errors import ParseError

__all__: list[str] = []

S = "targets"
_PORT_KEYS = {"tcp": "ports", "udp": "udp-ports", "sctp": "sctp-ports", "oproto": "oprotos"}


def check_targets_text(text: str) -> str:
    """Parse a target list now (for its error column); the text itself is what we keep."""
    from tidescan.targets import parse_targets

    parse_targets(text)
    return text


def check_ports_text(text: str, proto: str = "tcp") -> str:
    from tidescan.ports import parse_ports

    parse_ports(text, proto)
    return text


def check_readable(path: str) -> str:
    """A file we will read later must be readable now (fail before any packet is sent)."""
    try:
        with open(path, "rb"):
            pass
    except OSError as e:
        raise ParseError(f"cannot read {path!r}: {e.strerror or e}", 0) from None
    return path


def _set_ports(proto: str | None):  # type: ignore[no-untyped-def]
    def setter(ctx: Ctx, p: Param, index: str | None, value: str | None) -> None:
        text = value or ""
        if text == "":
            if ctx.from_file:  # masscan's `--echo-all` writes `ports = ` when there are none
                return
            raise ParseError("empty port list", 0)
        kind = proto or default_proto_for(ctx.cfg)
        check_ports_text(text, kind)
        ctx.cfg.ports.append((kind, text))

    return setter


def _echo_ports(cfg: ScanConfig, p: Param, all: bool) -> list[str]:  # noqa: A002
    lines = [f"{_PORT_KEYS[proto]} = {text}" for proto, text in cfg.ports]
    if not lines and all:
        lines.append("# ports = ")
    return lines


def _set_top_ports(ctx: Ctx, p: Param, index: str | None, value: str | None) -> None:
    from tidescan.ports import DEFAULT_TOP_PORTS

    if value is None or value == "":
        ctx.cfg.top_ports = DEFAULT_TOP_PORTS
    elif value.isascii() and value.isdigit():
        ctx.cfg.top_ports = parse_int(value, 0, 1_000_000, "a number of ports") or None
    else:
        ctx.cfg.top_ports = DEFAULT_TOP_PORTS if parse_bool(value) else None


register(
    Param("ports", "ports to scan, e.g. 80,443,8000-8100,U:53,S:7,O:47; '-' is 1-65535; a "
          "T:/U:/S:/O:/I: prefix switches the protocol for the rest of the list (after -sU "
          "the default is UDP)", S,
          aliases=("port", "dst-port", "dest-port", "destination-port", "target-port"),
          shorts=("-p",), flags=F.LIST, field="ports", set=_set_ports(None), echo=_echo_ports,
          metavar="PORTS"),
    Param("tcp-ports", "TCP ports (the list's default protocol is TCP whatever -sU says)", S,
          aliases=("tcp-port",), flags=F.LIST, field="ports", set=_set_ports("tcp"),
          echo=NO_ECHO, metavar="PORTS"),
    Param("udp-ports", "UDP ports (U: is implied)", S, aliases=("udp-port",), flags=F.LIST,
          field="ports", set=_set_ports("udp"), echo=NO_ECHO, metavar="PORTS"),
    Param("sctp-ports", "SCTP ports (S: is implied)", S, aliases=("sctp-port",), flags=F.LIST,
          field="ports", set=_set_ports("sctp"), echo=NO_ECHO, metavar="PORTS"),
    Param("oprotos", "other IP protocols to probe, 0-255 (O: is implied)", S,
          aliases=("oproto",), flags=F.LIST, field="ports", set=_set_ports("oproto"),
          echo=NO_ECHO, metavar="PROTOS"),
    Param("top-ports", "add the N most often open ports (nmap's ranking; default N = 100) for "
          "TCP, and for UDP after -sU", S, aliases=("top-port",), flags=F.NUMABLE,
          field="top_ports", set=_set_top_ports, metavar="[N]"),
    Param("ping", "also send an ICMP echo request to every target", S,
          aliases=("ping-sweep",), flags=F.BOOL, field="ping"),
    Param("arpscan", "ARP scan of the local network (replies are reported as 'up')", S,
          aliases=("arp",), flags=F.BOOL, field="arp"),
    Param("range", "targets: IPv4 10.0.0.1, 10.0.0.0/8, 10.0.0.1-10.0.0.9; IPv6 fd00::1, "
          "[fd00::1], fd00::/120, fd00::1-fd00::9; several separated by commas or spaces. "
          "A bare argument starting with a digit, ':' or '[' is a range", S,
          aliases=("ranges", "ip", "ipv4", "dst-ip", "dest-ip", "destination-ip", "target-ip"),
          flags=F.LIST, field="ranges", parse=check_targets_text, metavar="TARGETS"),
    Param("includefile", "read targets from FILE ('#' comments; ranges separated by spaces, "
          "commas or newlines)", S, aliases=("include-file",), shorts=("-iL",), flags=F.LIST,
          field="include_files", parse=check_readable, metavar="FILE"),
    Param("exclude", "never scan these targets (same syntax as ranges)", S,
          aliases=("exclude-range", "exclude-ranges", "exclude-ip", "exclude-ipv4"),
          flags=F.LIST, field="excludes", parse=check_targets_text, metavar="TARGETS"),
    Param("excludefile", "never scan the targets listed in FILE", S, aliases=("exclude-file",),
          flags=F.LIST, field="exclude_files", parse=check_readable, metavar="FILE"),
    Param("exclude-ports", "never scan these ports (same syntax as --ports)", S,
          aliases=("exclude-port",), flags=F.LIST, field="exclude_ports",
          parse=check_ports_text, metavar="PORTS"),
    # Scan types come after the port lists so that re-reading an echo does not change the
    # default protocol of the lists written above them.
    Param("syn-scan", "TCP SYN scan (the default)", S, aliases=("tcp-scan",), shorts=("-sS",),
          flags=F.BOOL, field="syn_scan"),
    Param("udp-scan", "UDP scan: port lists given after it default to UDP; --top-ports adds "
          "UDP ports", S, shorts=("-sU",), flags=F.BOOL, field="udp_scan"),
    Param("sctp-scan", "SCTP INIT scan: port lists given after it default to SCTP", S,
          shorts=("-sZ", "-sY"), flags=F.BOOL, field="sctp_scan"),
    Param("oproto-scan", "other-IP-protocol scan (give the protocols with --oprotos or O:)", S,
          shorts=("-sO",), flags=F.BOOL, field="oproto_scan"),
    Param("list-scan", "list scan: print the targets in scan order and send nothing", S,
          shorts=("-sL",), flags=F.BOOL, field="list_scan"),
)
