"""Rows of the parameter table: resume, rate/timing/order, adapter/source/router, operations.

Covers masscan.md §1b (rate, retries, wait...), §1c (adapter, source, router, packet shaping,
``adapter[N]`` for up to 8 NICs), §1d (seed, shard, resume) and §1g (echo, help, selftest...),
plus tidescan's own ``--lab``, ``--senders``, ``--retry-interval``.

Per-NIC rows (`F.NIC`) write to ``cfg`` for adapter 0 and to ``cfg.nics[N]`` for ``name[N]``.
``--source-ip`` takes either an IPv4 address/range (a power-of-two size, masscan's rule) or one
IPv6 address, kept in two attributes so that both families can have a source at once.
``--router-mac`` sets the next hop for both families, ``--router-mac-ipv4``/``-ipv6`` one each
(masscan HEAD's split); the echo writes ``router-mac`` when both are equal.

Operations (`F.OP`: ``--echo``, ``--help``, ``--version``, ``-c``, ``--resume``...) say what to do
this run; they are never written to an echo or paused.conf.
"""

from __future__ import annotations

from tidescan.config_model import NicConfig, ScanConfig
from tidescan.config_table import NO_ECHO, Ctx, F, Param, nic_target, register
from tidescan.config_values import (
    fmt_float, fmt_ipv4, fmt_ipv4_range, fmt_ipv6, fmt_port_range, fmt_shard, fmt_wait,
    parse_float, parse_int, parse_ipv4, parse_line_text, parse_port_range, parse_seed,
    parse_shard, parse_source_ip, parse_wait,
)
from tidescan.errors import ParseError
from tidescan.ipfmt import format_mac, parse_mac

__all__: list[str] = []


def _int(lo: int, hi: int, what: str = "a number"):  # type: ignore[no-untyped-def]
    return lambda text: parse_int(text, lo, hi, what)


def _count_or_none(text: str) -> int | None:
    """``--resume-count N``: 0 means no limit (masscan saves it only when nonzero)."""
    return parse_int(text, 0, 2**64 - 1, "a count") or None


def _senders(text: str) -> int | None:
    if text.lower() == "auto":
        return None
    return parse_int(text, 1, 256, "a number of transmit processes (or 'auto')")


def _iface(text: str) -> str:
    parse_line_text(text, "interface name")
    for i, c in enumerate(text):
        if c.isspace():
            raise ParseError(f"bad interface name {text!r}: whitespace", i + 1)
    return text


# -- TCP option rows: masscan's F_NUMABLE (`--tcp-mss`, `--tcp-mss 1400`, `--tcp-mss false`) --

def _numable(field: str, on: int, lo: int, hi: int,  # type: ignore[no-untyped-def]
             zero_is_off: bool = False):
    def setter(ctx: Ctx, p: Param, index: str | None, value: str | None) -> None:
        from tidescan.config_values import parse_bool

        if value is None or value == "":
            v: int | None = on
        elif value.isascii() and value.isdigit():
            v = parse_int(value, lo, hi)
            if zero_is_off and v == 0:
                v = None
        else:
            v = on if parse_bool(value) else None
        setattr(ctx.cfg, field, v)

    return setter


def _fmt_numable(value: int | None) -> str:
    return "false" if value is None else str(value)


def _echo_numable(cfg: ScanConfig, p: Param, all: bool) -> list[str]:  # noqa: A002
    value = getattr(cfg, p.field or "")
    default = getattr(ScanConfig(), p.field or "")
    if value != default or all:
        return [f"{p.name} = {_fmt_numable(value)}"]
    return []


# -- per-NIC rows with two attributes -------------------------------------------------------------

def _nic_objs(cfg: ScanConfig) -> list[tuple[str, ScanConfig | NicConfig]]:
    return [("", cfg)] + [(f"[{n}]", cfg.nics[n]) for n in sorted(cfg.nics)]


def _set_source_ip(ctx: Ctx, p: Param, index: str | None, value: str | None) -> None:
    target = nic_target(ctx.cfg, p, index)
    if not value:
        target.adapter_ip = target.adapter_ipv6 = None
        return
    family, addr = parse_source_ip(value)
    if family == "v4":
        target.adapter_ip = addr  # type: ignore[assignment]
    else:
        target.adapter_ipv6 = addr  # type: ignore[assignment]


def _echo_source_ip(cfg: ScanConfig, p: Param, all: bool) -> list[str]:  # noqa: A002
    out: list[str] = []
    for suffix, obj in _nic_objs(cfg):
        if obj.adapter_ip is not None:
            out.append(f"adapter-ip{suffix} = {fmt_ipv4_range(obj.adapter_ip)}")
        if obj.adapter_ipv6 is not None:
            out.append(f"adapter-ip{suffix} = {fmt_ipv6(obj.adapter_ipv6)}")
    if all and cfg.adapter_ip is None and cfg.adapter_ipv6 is None:
        out.append("# adapter-ip = ")
    return out


def _set_router_mac(ctx: Ctx, p: Param, index: str | None, value: str | None) -> None:
    target = nic_target(ctx.cfg, p, index)
    mac = parse_mac(value) if value else None
    target.router_mac = target.router_mac_ipv6 = mac


def _echo_router_mac(cfg: ScanConfig, p: Param, all: bool) -> list[str]:  # noqa: A002
    out: list[str] = []
    for suffix, obj in _nic_objs(cfg):
        v4, v6 = obj.router_mac, obj.router_mac_ipv6
        if v4 is not None and v4 == v6:
            out.append(f"router-mac{suffix} = {format_mac(v4)}")
            continue
        if v4 is not None:
            out.append(f"router-mac-ipv4{suffix} = {format_mac(v4)}")
        if v6 is not None:
            out.append(f"router-mac-ipv6{suffix} = {format_mac(v6)}")
    if all and cfg.router_mac is None and cfg.router_mac_ipv6 is None:
        out.append("# router-mac = ")
    return out


# -- operations -------------------------------------------------------------------------------------

def _set_echo_mode(mode: str):  # type: ignore[no-untyped-def]
    def setter(ctx: Ctx, p: Param, index: str | None, value: str | None) -> None:
        from tidescan.config_values import parse_bool

        if value is None or parse_bool(value):
            ctx.cfg.echo_mode = mode

    return setter


def _set_conf(ctx: Ctx, p: Param, index: str | None, value: str | None) -> None:
    if not value:
        raise ParseError("missing file name", 0)
    assert ctx.read_file is not None
    ctx.read_file(ctx, value)


def _set_resume(ctx: Ctx, p: Param, index: str | None, value: str | None) -> None:
    """``--resume FILE``: read FILE as a config file, then append to the outputs (masscan)."""
    _set_conf(ctx, p, index, value)
    ctx.cfg.output_append = True


def _set_debug(ctx: Ctx, p: Param, index: str | None, value: str | None) -> None:
    if (value or "").lower() != "if":
        raise ParseError(f"unknown debug mode {value!r} (only 'if': test the interface)", 1)
    ctx.cfg.debug_if = True


def _set_test(on: bool):  # type: ignore[no-untyped-def]
    def setter(ctx: Ctx, p: Param, index: str | None, value: str | None) -> None:
        if (value or "").lower() != "csv":
            raise ParseError(f"unknown test {value!r} (only 'csv')", 1)
        ctx.cfg.test_csv = on

    return setter


def _set_nothing(ctx: Ctx, p: Param, index: str | None, value: str | None) -> None:
    """Accepted for masscan compatibility, with no effect."""
    if value not in (None, ""):
        from tidescan.config_values import parse_bool

        parse_bool(value)


def _set_count(field: str):  # type: ignore[no-untyped-def]
    def setter(ctx: Ctx, p: Param, index: str | None, value: str | None) -> None:
        setattr(ctx.cfg, field, parse_int(value or "", 0, 100, "a level"))

    return setter


R, S, A, M = "resume", "scan", "adapter", "misc"
_MAC = "MAC"

register(
    # -- resume ----------------------------------------------------------------------------------
    Param("resume-index", "start at this index of the shuffled scan (paused.conf sets it)", R,
          field="resume_index", parse=_int(0, 2**64 - 1, "an index"), metavar="N"),
    Param("resume-count", "stop after this many indexes (0: no limit)", R,
          field="resume_count", parse=_count_or_none, metavar="N"),

    # -- rate, timing, order ---------------------------------------------------------------------
    Param("seed", "seed of the shuffle and the SYN cookies (a number, or 'time'); every shard "
          "of a scan needs the same seed; default: random", S, field="seed", parse=parse_seed,
          metavar="N|time"),
    Param("rate", "packets per second, all transmit processes together (decimals allowed)", S,
          aliases=("max-rate",), flags=F.ALWAYS, field="rate", parse=parse_float, fmt=fmt_float,
          metavar="PPS"),
    Param("shard", "scan only shard x of y (1 <= x <= y); give every shard the same --seed and "
          "--rate", S, aliases=("shards",), flags=F.ALWAYS, field="shard", parse=parse_shard,
          fmt=fmt_shard, metavar="x/y"),
    Param("retries", "send each probe this many more times, --retry-interval apart (< 1000)", S,
          aliases=("retry", "max-retries", "max-retry"), field="retries",
          parse=_int(0, 999, "a number of retries"), metavar="N"),
    Param("retry-interval", "seconds between the sends of one probe when --retries > 0", S,
          field="retry_interval", parse=lambda t: parse_float(t, "a number of seconds", False),
          fmt=fmt_float, metavar="SECS"),
    Param("wait", "seconds to keep receiving after the last probe ('forever' allowed)", S,
          field="wait", parse=parse_wait, fmt=fmt_wait, metavar="SECS"),
    Param("senders", "number of transmit processes (default: auto)", S, field="senders",
          parse=_senders, metavar="N|auto"),
    Param("infinite", "repeat the scan forever, seed+1 each pass", S, flags=F.BOOL,
          field="infinite"),
    Param("blackrock-rounds", "Feistel rounds of the shuffle (default 14)", S,
          field="blackrock_rounds", parse=_int(1, 255, "a number of rounds"), metavar="N"),
    Param("offline", "do everything but send packets", S,
          aliases=("notransmit", "nosend", "dry-run"), flags=F.BOOL, field="offline"),
    Param("lab", "scan tidescan's built-in lab (network namespaces it creates) instead of the "
          "network", S, flags=F.BOOL, field="lab"),
    Param("noreset", "do not answer SYN-ACKs with a RST", S, flags=F.BOOL, field="noreset"),
    Param("sendq", "Windows send queue (accepted, no effect here)", S, aliases=("sendqueue",),
          flags=F.BOOL, field="sendq"),
    Param("pfring", "PF_RING driver (accepted, no effect here)", S, flags=F.BOOL,
          field="pfring"),
    Param("randomize-hosts", "accepted for nmap compatibility: targets are always shuffled", S,
          flags=F.BOOL | F.OP, set=_set_nothing),

    # -- adapter, source, router -------------------------------------------------------------------
    Param("adapter", "network interface to send from (default: the one of the default route); "
          "adapter[N] = ... configures up to 8 NICs", A, aliases=("if", "interface"),
          shorts=("-e", "-i"), flags=F.NIC, field="adapter", parse=_iface, metavar="IFACE"),
    Param("adapter-ip", "source IPv4 address, or a range whose size is a power of two; or one "
          "IPv6 source address (default: the interface's)", A,
          aliases=("source-ip", "source-address", "spoof-ip", "spoof-address", "src-ip"),
          shorts=("-S",), flags=F.NIC, field="adapter_ip", set=_set_source_ip,
          echo=_echo_source_ip, metavar="IP"),
    Param("adapter-port", "source port, or a range whose size is a power of two (firewall it "
          "for --banners)", A, aliases=("source-port", "src-port"), shorts=("-g",),
          flags=F.NIC, field="adapter_port", parse=parse_port_range, fmt=fmt_port_range,
          metavar="PORT[-PORT]"),
    Param("adapter-mac", "source MAC address (default: the interface's)", A,
          aliases=("spoof-mac", "source-mac", "src-mac"), flags=F.NIC, field="adapter_mac",
          parse=parse_mac, fmt=format_mac, metavar=_MAC),
    Param("router-mac", "next-hop MAC for IPv4 and IPv6 (default: ARP/ND for the gateway)", A,
          aliases=("router", "dest-mac", "destination-mac", "dst-mac", "target-mac"),
          flags=F.NIC, field="router_mac", set=_set_router_mac, echo=_echo_router_mac,
          metavar=_MAC),
    Param("router-mac-ipv4", "next-hop MAC for IPv4 only", A, aliases=("router-ipv4",),
          flags=F.NIC, field="router_mac", parse=parse_mac, echo=NO_ECHO, metavar=_MAC),
    Param("router-mac-ipv6", "next-hop MAC for IPv6 only", A, aliases=("router-ipv6",),
          flags=F.NIC, field="router_mac_ipv6", parse=parse_mac, echo=NO_ECHO, metavar=_MAC),
    Param("router-ip", "gateway IPv4 address to ARP for (default: the default route's)", A,
          flags=F.NIC, field="router_ip", parse=parse_ipv4, fmt=fmt_ipv4, metavar="IP"),
    Param("vlan", "802.1Q VLAN id to tag frames with", A, aliases=("adapter-vlan",),
          flags=F.NIC, field="vlan", parse=_int(0, 4095, "a VLAN id"), metavar="ID"),
    Param("ttl", "IP TTL / hop limit of probes (default 255)", A, field="ttl",
          parse=_int(1, 255, "a TTL"), metavar="N"),
    Param("tcp-mss", "MSS option of the SYN: a value, true (1460) or false (no option); "
          "default 1460", A, flags=F.NUMABLE, field="tcp_mss",
          set=_numable("tcp_mss", 1460, 0, 65535, zero_is_off=True), echo=_echo_numable,
          metavar="[N|bool]"),
    Param("tcp-wscale", "window-scale option of the SYN: a shift 0-14, true (3) or false", A,
          flags=F.NUMABLE, field="tcp_wscale", set=_numable("tcp_wscale", 3, 0, 14),
          echo=_echo_numable, metavar="[N|bool]"),
    Param("tcp-tsecho", "timestamp option of the SYN with this echo value (true: 0) or false", A,
          flags=F.NUMABLE, field="tcp_tsecho", set=_numable("tcp_tsecho", 0, 0, 2**32 - 1),
          echo=_echo_numable, metavar="[N|bool]"),
    Param("tcp-sackok", "SACK-permitted option in the SYN", A, flags=F.BOOL, field="tcp_sackok"),
    Param("bpf", "extra BPF filter (accepted, no effect, as masscan)", A, field="bpf",
          parse=parse_line_text, metavar="FILTER"),
    Param("badsum", "bad checksums (accepted, no effect, as masscan)", A, flags=F.BOOL,
          field="badsum"),
    Param("data-length", "nmap's padding (accepted, no effect, as masscan)", A,
          field="data_length", parse=_int(0, 1459, "a length"), metavar="N"),
    Param("min-packet", "minimum frame size (accepted, no effect, as masscan; default 60)", A,
          aliases=("min-pkt",), field="min_packet", parse=_int(0, 65535, "a size"),
          metavar="N"),

    # -- operations ----------------------------------------------------------------------------------
    Param("conf", "read options from FILE (one 'name = value' per line) where -c appears", M,
          aliases=("config",), shorts=("-c",), flags=F.OP, set=_set_conf, metavar="FILE"),
    Param("resume", "resume a paused scan: read FILE (paused.conf) and append to the outputs", M,
          flags=F.OP, set=_set_resume, metavar="FILE"),
    Param("echo", "print the settings that differ from the defaults as a config file, then "
          "exit", M, flags=F.BOOL | F.OP, set=_set_echo_mode("echo")),
    Param("echo-all", "print every setting as a config file, then exit", M,
          flags=F.BOOL | F.OP, set=_set_echo_mode("all")),
    Param("echo-cidr", "print the targets (minus excludes) as CIDR blocks, then exit", M,
          flags=F.BOOL | F.OP, set=_set_echo_mode("cidr")),
    Param("selftest", "run the built-in regression tests", M, aliases=("regress", "self-test"),
          flags=F.BOOL | F.OP, field="selftest"),
    Param("benchmark", "run the built-in benchmarks", M, flags=F.BOOL | F.OP, field="benchmark"),
    Param("version", "print the version", M, shorts=("-V",), flags=F.BOOL | F.OP,
          field="version"),
    Param("help", "print this help", M, shorts=("-h", "-?"), flags=F.BOOL | F.OP, field="help"),
    Param("nmap", "print the nmap-compatible options", M, flags=F.BOOL | F.OP,
          field="nmap_help"),
    Param("iflist", "list the interfaces and routes", M, shorts=("-W",), flags=F.BOOL | F.OP,
          field="iflist"),
    Param("readrange", "print the target ranges and exit", M,
          aliases=("readranges", "read-range", "read-ranges"), flags=F.BOOL | F.OP,
          field="readrange"),
    Param("debug", "'--debug if': test the interface (send/receive) and exit", M, flags=F.OP,
          set=_set_debug, metavar="if"),
    Param("debug-tcp", "trace the banner TCP stack", M, flags=F.BOOL | F.OP, field="debug_tcp"),
    Param("test", "'--test csv': print the test results as CSV", M, flags=F.OP,
          set=_set_test(True), metavar="csv"),
    Param("notest", "undo --test csv", M, flags=F.OP, set=_set_test(False), metavar="csv"),
    Param("nobacktrace", "accepted for masscan compatibility, no effect", M,
          aliases=("backtrace",), flags=F.BOOL | F.OP, set=_set_nothing),
    Param("verbosity", "-v, -vv...: more messages", M, shorts=("-v",), flags=F.OP,
          set=_set_count("verbosity"), metavar="N"),
    Param("debug-level", "-d, -dd...: debugging messages", M, shorts=("-d",), flags=F.OP,
          set=_set_count("debug_level"), metavar="N"),
)
