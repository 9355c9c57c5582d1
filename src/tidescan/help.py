"""``--help`` and ``--nmap``: the option reference, generated from the parameter table.

Why generated: the table (`tidescan.config_table`) is the only list of options, so the help can
never describe an option that does not exist or miss one that does.  Each row prints its
spellings (short forms first, then the canonical long name and its metavar), its help line, its
default when it has a meaningful one, and its other accepted names.

``--nmap`` prints the nmap-compatible subset, in nmap's own section order (as masscan's
``--nmap`` does), followed by the nmap options that are refused and what to use instead.
"""

from __future__ import annotations

import textwrap

from tidescan import __version__
from tidescan.config_model import ScanConfig
from tidescan.config_table import F, SECTIONS, Param, rows
from tidescan.config_values import fmt_float
from tidescan.nmap_refusals import NMAP_OPTIONS

__all__ = ["help_text", "usage_text", "nmap_help_text", "nmap_text", "version_text"]

_WIDTH = 79
_DEFAULTS = ScanConfig()

_INTRO = """\
tidescan {version}: a fast, stateless port scanner with masscan's options (and
nmap's where they make sense).

usage: tidescan [options] -p PORTS TARGETS...
  tidescan -p80,443 10.0.0.0/8 --rate 100000 -oJ out.json
  tidescan -p22 --banners 192.168.0.0/16 -oX out.xml -oD out.ndjson
  tidescan -c scan.conf          (lines of 'name = value', as --echo prints)
  tidescan --resume paused.conf  (continue a scan stopped with Ctrl-C)

Options take --name value, --name=value or --name:value; names ignore case and
'-', '_', '.' (--excludefile = --exclude-file).  Flags accept =true/false.
A bare argument starting with a digit, ':' or '[' is a target.  In a config
file write 'name = value' per line; lines starting with '#' are ignored.
"""


def version_text() -> str:
    return f"tidescan version {__version__} (masscan-compatible options)\n"


def usage_text() -> str:
    """The short text for ``-h`` and for a command line without targets."""
    return _INTRO.format(version=__version__) + "\nRun 'tidescan --help' for every option, " \
        "'tidescan --nmap' for the nmap-compatible ones.\n"


def _spellings(p: Param) -> str:
    long = f"--{p.name}"
    if p.flags & F.INDEX:
        long += "[PORT]"
    elif p.flags & F.NIC:
        long += "[N]"
    elif p.flags & F.KEY:
        long += "[NAME]"
    if p.metavar and not p.flags & F.BOOL:
        long += f" {p.metavar}"
    shorts = list(p.shorts)
    if p.name.startswith("o") and len(p.name) == 2:  # -oX FILE rows have no useful long form
        return f"{p.shorts[0]} {p.metavar}"
    return ", ".join([*shorts, long])


def _default(p: Param) -> str:
    if p.field is None or p.flags & (F.OP | F.BOOL | F.LIST) or "default" in p.help:
        return ""
    value = getattr(_DEFAULTS, p.field, None)
    if value is None or value == "" or value == 0 and p.field != "retries":
        return ""
    if isinstance(value, float):
        return f" (default {fmt_float(value)})"
    if isinstance(value, tuple) and p.fmt is not str:
        return f" (default {p.fmt(value)})"
    if isinstance(value, (int, str)):
        return f" (default {value})"
    return ""


def _row(p: Param) -> list[str]:
    lines = ["  " + _spellings(p)]
    text = p.help + _default(p)
    others = [a for a in p.aliases if not (len(a) == 2 and a[0] == "o")]
    if others:
        text += " [also: " + ", ".join(f"--{a}" for a in others) + "]"
    lines += textwrap.wrap(text, _WIDTH, initial_indent="      ", subsequent_indent="      ",
                           break_on_hyphens=False)
    return lines


def help_text() -> str:
    """The full option reference (``--help``)."""
    out = [_INTRO.format(version=__version__)]
    table = rows()
    for section, _header, title in SECTIONS:
        members = [p for p in table if p.section == section]
        if not members:
            continue
        out.append(f"{title}:")
        for p in members:
            out += _row(p)
        out.append("")
    out.append("nmap options that are not supported are refused with a hint; see --nmap.")
    return "\n".join(out) + "\n"


_NMAP_SECTIONS = (
    ("TARGET SPECIFICATION", "Pass IPv4/IPv6 addresses, CIDR networks or ranges (not nmap's "
     "10.0.0.1-9 style): 10.0.0.0/8, 192.168.0.1, 10.0.0.1-10.0.0.254, fd00::/120",
     ("-iL", "--exclude", "--excludefile", "--randomize-hosts")),
    ("HOST DISCOVERY", "", ("-Pn", "-n", "--ping", "--arp")),
    ("SCAN TECHNIQUES", "", ("-sS", "-sU", "-sZ", "-sO", "-sL")),
    ("PORT SPECIFICATION AND SCAN ORDER", "", ("-p", "--top-ports", "--exclude-ports")),
    ("SERVICE/VERSION DETECTION", "", ("--banners",)),
    ("TIMING AND PERFORMANCE", "", ("--max-rate", "--max-retries", "--connection-timeout")),
    ("FIREWALL/IDS EVASION AND SPOOFING", "", ("-S", "-e", "-g", "--ttl", "--spoof-mac",
                                               "--data-length", "--badsum")),
    ("OUTPUT", "", ("-oX", "-oJ", "-oD", "-oG", "-oL", "-oB", "-oU", "-oH", "-v", "-d", "--open",
                    "--reason", "--packet-trace", "--iflist", "--append-output", "--resume",
                    "--stylesheet", "--webxml", "--no-stylesheet")),
    ("MISC", "", ("-V", "-h")),
)
_NMAP_NOTES = {
    "-Pn": "Treat all hosts as online (always)", "-n": "Never do DNS resolution (always)",
    "--randomize-hosts": "Randomize the order of hosts (always)",
}


def _find(spelling: str) -> Param | None:
    from tidescan.config_table import lookup, short_lookup

    if spelling.startswith("--"):
        return lookup(spelling[2:])
    return short_lookup(spelling)


def nmap_help_text() -> str:
    """The nmap-compatible options (``--nmap``) and the refused ones with their replacements."""
    out = [f"tidescan {__version__}: the nmap options it understands",
           "Usage: tidescan [Options] -p{Target-Ports} {Target-IP-Ranges}"]
    for title, note, spellings in _NMAP_SECTIONS:
        out.append(f"{title}:")
        if note:
            out += textwrap.wrap(note, _WIDTH, initial_indent="  ", subsequent_indent="  ")
        for s in spellings:
            p = _find(s)
            text = _NMAP_NOTES.get(s) or (p.help if p is not None else "")
            meta = f" {p.metavar}" if p is not None and p.metavar and not p.flags & F.BOOL \
                and not s.startswith("-s") else ""
            out += textwrap.wrap(f"{s}{meta}: {text}", _WIDTH, initial_indent="  ",
                                 subsequent_indent="      ")
    out.append("REFUSED (with what to use instead):")
    for o in NMAP_OPTIONS:
        if o.action == "refuse":
            out += textwrap.wrap(o.message(o.spelling.rstrip("*")), _WIDTH, initial_indent="  ",
                                 subsequent_indent="      ")
    out.append("EXAMPLES:")
    out.append("  tidescan -v -sS 192.168.0.0/16 10.0.0.0/8 -p 80")
    out.append("  tidescan 10.0.0.0/8 -p80 --banners -oB internet.scan")
    out.append("  tidescan --open --banners --readscan internet.scan -oG internet_scan.grepable")
    return "\n".join(out) + "\n"


nmap_text = nmap_help_text  # the name tidescan.cli uses
