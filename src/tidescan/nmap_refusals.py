"""nmap options that tidescan (like masscan) refuses, ignores or turns into a warning.

Why a table: masscan users type nmap habits (``-T4``, ``-sV``, ``--min-rate``, ``-oA``) and
masscan answers each with a specific ``nmap(...)`` message instead of "unknown option"
(`main-conf.c`).  We keep those answers as data, add the hint a user needs next ("use --rate
instead"), and include the few masscan-specific refusals (``--json-status``).

Actions:

- ``refuse``: a `UsageError` ``nmap(-T4): unsupported, we do timing WAY different than nmap;
  use --rate PPS instead``;
- ``warn``: accepted with a warning in ``cfg.warnings`` (``-sT`` does a SYN scan anyway);
- ``ignore``: accepted silently because it is already our behaviour (``-Pn``, ``-n``, ``-6``).

Spellings: single-dash entries match exactly, or by prefix when they end in ``*`` (``-T*``
covers ``-T0`` .. ``-T5`` and ``-Tinsane``); long entries match masscan-style (case and ``-_.``
ignored) and also apply in config files.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["NmapOption", "NMAP_OPTIONS", "lookup_short", "lookup_long"]


@dataclass(frozen=True)
class NmapOption:
    spelling: str
    action: str  # "refuse" | "warn" | "ignore"
    why: str = ""
    hint: str = ""

    def message(self, typed: str) -> str:
        """masscan's ``nmap(-X): why`` plus our hint."""
        label = typed if typed.startswith("-") and not typed.startswith("--") else \
            typed.lstrip("-")
        text = f"nmap({label}): {self.why}" if self.why else f"nmap({label})"
        return f"{text}; {self.hint}" if self.hint else text


_TIMING = "use --rate PACKETS/SECOND instead"
_BANNERS = "use --banners to grab service banners"
_NO_RTT = "unsupported: we are asynchronous, so no timeouts, no RTT tracking"
_OS = "OS detection is unsupported"

NMAP_OPTIONS: tuple[NmapOption, ...] = (
    # -- single dash ---------------------------------------------------------------------------
    NmapOption("-A", "refuse", "unsupported: this tool only does SYN scans", _BANNERS),
    NmapOption("-O", "refuse", "unsupported, OS detection is too complex"),
    NmapOption("-sV", "refuse", "version detection is unlikely to be supported", _BANNERS),
    NmapOption("-sC", "refuse", "unsupported: there are no NSE scripts", _BANNERS),
    NmapOption("-sA", "refuse", "ACK scan not yet supported", "use -sS"),
    NmapOption("-sF", "refuse", "FIN scan not yet supported", "use -sS"),
    NmapOption("-sI", "refuse", "Zombie scans will never be supported"),
    NmapOption("-sM", "refuse", "Maimon scan not yet supported", "use -sS"),
    NmapOption("-sN", "refuse", "NULL scan not yet supported", "use -sS"),
    NmapOption("-sX", "refuse", "Xmas scan not yet supported", "use -sS"),
    NmapOption("-sW", "refuse", "Windows scan not yet supported", "use -sS"),
    NmapOption("-sR", "refuse", "RPC scan unsupported"),
    NmapOption("-sn", "refuse", "ping-sweeps are not a scan type here",
               "use --ping (ICMP echo) with no ports, or --arp on a local network"),
    NmapOption("-sP", "refuse", "ping-sweeps are not a scan type here",
               "use --ping (ICMP echo) with no ports, or --arp on a local network"),
    NmapOption("-sT", "warn", "connect() is too synchronous for cool kids; "
               "doing a SYN scan (-sS) anyway, ignoring -sT"),
    NmapOption("-b", "refuse", "FTP bounce scans will never be supported"),
    NmapOption("-f", "refuse", "fragmentation not yet supported"),
    NmapOption("-F", "refuse", "unsupported, no slow/fast mode", "use --top-ports 100"),
    NmapOption("-r", "refuse", "randomization is our raison d'etre: targets are always shuffled"),
    NmapOption("-R", "refuse", "unsupported: this code never does DNS lookups"),
    NmapOption("-T*", "refuse", "unsupported, we do timing WAY different than nmap", _TIMING),
    NmapOption("-Pn", "ignore", "hosts are always treated as online"),
    NmapOption("-P*", "refuse", "host discovery options are unsupported (hosts are never "
               "pinged first)", "use --ping to add an ICMP echo probe, or --arp for an ARP scan"),
    NmapOption("-n", "ignore", "DNS resolution is never done"),
    NmapOption("-6", "ignore", "IPv6 targets are always accepted"),
    NmapOption("-oA", "refuse", "unsupported output format",
               "write -oB FILE and convert it later with --readscan FILE -oX/-oJ/-oG ..."),
    NmapOption("-oN", "refuse", "unsupported output format", "use -oL (list) or -oG (grepable)"),
    NmapOption("-oS", "refuse", "unsupported output format", "use -oL (list)"),
    NmapOption("-iR", "refuse", "random targets are unsupported",
               "give the ranges to scan, e.g. 0.0.0.0/0 with an --excludefile"),
    NmapOption("-D*", "refuse", "decoys are unsupported", "use --source-ip for a spare address"),
    # -- long ------------------------------------------------------------------------------------
    NmapOption("--min-rate", "refuse", "unsupported, we go as fast as --rate allows",
               "use --rate instead"),
    NmapOption("--scan-delay", "refuse", "unsupported: we do timing VASTLY differently",
               _TIMING),
    NmapOption("--max-scan-delay", "refuse", "unsupported: we do timing VASTLY differently",
               _TIMING),
    NmapOption("--host-timeout", "refuse", "unsupported: this is an asynchronous tool, so no "
               "timeouts", "use --wait SECS for how long to wait for late replies"),
    NmapOption("--min-hostgroup", "refuse", "unsupported: we randomize all the groups!"),
    NmapOption("--max-hostgroup", "refuse", "unsupported: we randomize all the groups!"),
    NmapOption("--min-parallelism", "refuse", "unsupported: everything is in parallel",
               _TIMING),
    NmapOption("--max-parallelism", "refuse", "unsupported: everything is in parallel",
               _TIMING),
    NmapOption("--min-rtt-timeout", "refuse", _NO_RTT, "use --wait SECS"),
    NmapOption("--max-rtt-timeout", "refuse", _NO_RTT, "use --wait SECS"),
    NmapOption("--initial-rtt-timeout", "refuse", _NO_RTT, "use --wait SECS"),
    NmapOption("--mtu", "refuse", "fragmentation not yet supported"),
    NmapOption("--osscan-limit", "refuse", _OS),
    NmapOption("--osscan-guess", "refuse", _OS),
    NmapOption("--fuzzy", "refuse", _OS),
    NmapOption("--max-os-tries", "refuse", _OS),
    NmapOption("--privileged", "refuse", "unsupported",
               "raw sockets always need root or CAP_NET_RAW"),
    NmapOption("--unprivileged", "refuse", "unsupported",
               "raw sockets always need root or CAP_NET_RAW"),
    NmapOption("--port-ratio", "refuse", "unsupported", "use --top-ports N"),
    NmapOption("--dns-servers", "refuse", "unsupported: DNS lookups are too synchronous"),
    NmapOption("--system-dns", "refuse", "DNS lookups will never be supported by this code"),
    NmapOption("--traceroute", "refuse", "unsupported"),
    NmapOption("--version-intensity", "refuse", "unsupported", _BANNERS),
    NmapOption("--version-light", "refuse", "unsupported", _BANNERS),
    NmapOption("--version-all", "refuse", "unsupported", _BANNERS),
    NmapOption("--version-trace", "refuse", "unsupported", _BANNERS),
    NmapOption("--allports", "refuse", "unsupported", _BANNERS),
    NmapOption("--ip-options", "refuse", "unsupported: maybe soon"),
    NmapOption("--log-errors", "refuse", "unsupported: maybe soon"),
    NmapOption("--scanflags", "refuse", "TCP scan flags not yet supported"),
    NmapOption("--send-ip", "refuse", "unsupported, we only do --send-eth"),
    NmapOption("--send-eth", "warn", "unnecessary, we always do --send-eth"),
    NmapOption("--release-memory", "warn", "this is our default option"),
    NmapOption("--script-args", "refuse", "unsupported: there are no NSE scripts", _BANNERS),
    NmapOption("--script-trace", "refuse", "unsupported: there are no NSE scripts"),
    NmapOption("--script-updatedb", "refuse", "unsupported: there are no NSE scripts"),
    NmapOption("--data", "refuse", "unsupported",
               "use --hello-string[PORT] BASE64 (TCP) or --nmap-payloads FILE (UDP)"),
    NmapOption("--data-string", "refuse", "unsupported",
               "use --hello-string[PORT] BASE64 (TCP) or --nmap-payloads FILE (UDP)"),
    NmapOption("--defeat-rst-ratelimit", "refuse", "unsupported: replies are never waited for"),
    NmapOption("--defeat-icmp-ratelimit", "refuse", "unsupported: replies are never waited for"),
    NmapOption("--proxies", "refuse", "unsupported: probes are raw packets"),
    NmapOption("--servicedb", "refuse", "unsupported"),
    NmapOption("--versiondb", "refuse", "unsupported"),
    NmapOption("--nsock-engine", "refuse", "unsupported"),
    NmapOption("--json-status", "refuse", "unsupported", "use --ndjson-status"),
)


def _norm(name: str) -> str:
    return "".join(c for c in name.lower() if c not in "-_.")


_SHORT_EXACT = {o.spelling: o for o in NMAP_OPTIONS
                if not o.spelling.startswith("--") and not o.spelling.endswith("*")}
_SHORT_PREFIX = [o for o in NMAP_OPTIONS if o.spelling.endswith("*")]
_LONG = {_norm(o.spelling): o for o in NMAP_OPTIONS if o.spelling.startswith("--")}


def lookup_short(arg: str) -> NmapOption | None:
    """The entry for a single-dash argument (``-T4``, ``-sV``, ``-Pn``), or None."""
    if arg in _SHORT_EXACT:
        return _SHORT_EXACT[arg]
    for o in _SHORT_PREFIX:
        if arg.startswith(o.spelling[:-1]):
            return o
    return None


def lookup_long(name: str) -> NmapOption | None:
    """The entry for a long option or config-file name (``min-rate``, ``--min_rate``), or None."""
    return _LONG.get(_norm(name))
