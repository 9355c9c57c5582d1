"""`ScanConfig`: every setting of one scan, as typed attributes named after the options.

Why a plain dataclass: the parameter table (`tidescan.config_table`) is the only code that knows
option names, spellings and text forms; everything downstream (transmit loop, receive loop,
output writers) reads typed attributes from this object and never sees a string option.  The
attribute names are the canonical option names with underscores (``--retry-interval`` ->
``retry_interval``).

Equality is the resume contract: two configs are ``==`` when they describe the same scan.  Fields
that describe *what the program does this time* rather than the scan (``--echo``, ``--help``,
``--version``, ``--iflist``, ``-v``, warnings) are excluded from comparison (``compare=False``)
and never written to an echo or paused.conf.  Everything else round-trips:
``parse_config_text(cfg.echo()) == cfg``.

Targets are kept as the texts the user gave (ranges, files, excludes, ports); `targets()` turns
them into a `TargetSet` on demand, so a config is cheap to build and to compare, and the echo can
write back exactly what was asked.  Ports are stored as ``(default_protocol, text)`` pairs
because ``-sU -p 53`` means UDP 53: the protocol in force when the list was given travels with it.

Adapter settings exist per NIC (masscan's ``adapter[N]``, N = 0..7).  NIC 0 lives directly on
the config (``cfg.adapter``, ``cfg.adapter_ip``...), NICs 1..7 in ``cfg.nics[N]`` as `NicConfig`
objects with the same attribute names.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tidescan.targets import TargetSet

__all__ = ["ScanConfig", "NicConfig", "NIC_FIELDS", "DEFAULT_CAPTURE", "CAPTURE_TYPES",
           "MAX_NICS", "default_proto_for"]

CAPTURE_TYPES = ("cert", "servername", "html", "heartbleed", "ticketbleed")
DEFAULT_CAPTURE = frozenset({"cert"})
MAX_NICS = 8

# Per-NIC attributes (same names on ScanConfig for NIC 0 and on NicConfig for NICs 1..7).
NIC_FIELDS = ("adapter", "adapter_ip", "adapter_ipv6", "adapter_port", "adapter_mac",
              "router_mac", "router_mac_ipv6", "router_ip", "vlan")


@dataclass
class NicConfig:
    """Settings of one additional adapter (``adapter[N]``, N >= 1); None = auto-detect."""

    adapter: str | None = None
    adapter_ip: tuple[int, int] | None = None      # IPv4 source range (first, last), inclusive
    adapter_ipv6: int | None = None                # IPv6 source address
    adapter_port: tuple[int, int] | None = None    # source port range (first, last)
    adapter_mac: bytes | None = None
    router_mac: bytes | None = None                # next hop for IPv4
    router_mac_ipv6: bytes | None = None           # next hop for IPv6
    router_ip: int | None = None
    vlan: int | None = None

    def is_empty(self) -> bool:
        return all(getattr(self, f) is None for f in NIC_FIELDS)


def _op() -> object:
    """A field that is not part of the scan (not compared, never echoed)."""
    return field(default=False, compare=False)


@dataclass
class ScanConfig:
    """All settings of a scan; defaults are tidescan's (masscan's where masscan has one)."""

    # -- targets: texts as given (see `targets()`) --------------------------------------------
    ranges: list[str] = field(default_factory=list)
    include_files: list[str] = field(default_factory=list)
    excludes: list[str] = field(default_factory=list)
    exclude_files: list[str] = field(default_factory=list)
    ports: list[tuple[str, str]] = field(default_factory=list)   # (default proto, text)
    exclude_ports: list[str] = field(default_factory=list)
    top_ports: int | None = None
    ping: bool = False
    arp: bool = False
    syn_scan: bool = False       # -sS
    udp_scan: bool = False       # -sU: later port lists default to UDP; top ports include UDP
    sctp_scan: bool = False      # -sZ
    oproto_scan: bool = False    # -sO
    list_scan: bool = False      # -sL: print the targets in scan order, send nothing

    # -- rate, timing, order --------------------------------------------------------------------
    rate: float = 100.0
    retries: int = 0
    retry_interval: float = 1.0
    wait: int = 10
    senders: int | None = None   # transmit processes; None = auto
    connection_timeout: int = 30
    hello_timeout: int = 2
    infinite: bool = False
    seed: int | None = None      # None (or 0) = pick one at start
    shard: tuple[int, int] = (1, 1)
    resume_index: int = 0
    resume_count: int | None = None
    blackrock_rounds: int = 14
    offline: bool = False
    lab: bool = False
    noreset: bool = False
    sendq: bool = False          # accepted for masscan compatibility (Windows); no effect
    pfring: bool = False         # accepted for masscan compatibility; no effect

    # -- adapter, source, router (NIC 0; NICs 1..7 in `nics`) -----------------------------------
    adapter: str | None = None
    adapter_ip: tuple[int, int] | None = None
    adapter_ipv6: int | None = None
    adapter_port: tuple[int, int] | None = None
    adapter_mac: bytes | None = None
    router_mac: bytes | None = None
    router_mac_ipv6: bytes | None = None
    router_ip: int | None = None
    vlan: int | None = None
    nics: dict[int, NicConfig] = field(default_factory=dict)
    ttl: int = 255
    tcp_mss: int | None = 1460   # None = no MSS option in the SYN
    tcp_wscale: int | None = None
    tcp_tsecho: int | None = None
    tcp_sackok: bool = False
    bpf: str | None = None       # accepted, no effect (masscan)
    badsum: bool = False         # accepted, no effect (masscan)
    data_length: int | None = None  # accepted, no effect (masscan)
    min_packet: int = 60         # accepted, no effect (masscan)

    # -- banners and probes ---------------------------------------------------------------------
    banners: bool = False
    rawudp: bool = False
    hello: str | None = None                     # ssl | http | smbv1
    hello_strings: dict[int, bytes] = field(default_factory=dict)
    capture: set[str] = field(default_factory=lambda: set(DEFAULT_CAPTURE))
    heartbleed: bool = False
    ticketbleed: bool = False
    vuln: str | None = None                      # poodle | ntp-monlist
    http_method: str | None = None
    http_url: str | None = None
    http_version: str | None = None
    http_host: str | None = None
    http_user_agent: str | None = None
    http_headers: list[tuple[str, str]] = field(default_factory=list)
    http_cookies: list[str] = field(default_factory=list)
    http_payload: str | None = None
    http_remove: list[str] = field(default_factory=list)
    nmap_payloads: str | None = None
    pcap_payloads: str | None = None
    nmap_service_probes: str | None = None
    script: str | None = None
    banner_types: list[str] = field(default_factory=list)

    # -- output -----------------------------------------------------------------------------------
    outputs: list[tuple[str, str]] = field(default_factory=list)  # (format, filename); "-" = stdout
    output_append: bool = False
    show: set[str] = field(default_factory=lambda: {"open"})
    rotate: int = 0
    rotate_dir: str = "."
    rotate_offset: int = 0
    rotate_size: int = 0
    stylesheet: str | None = None
    redis_pwd: str | None = None
    interactive: bool = False
    status: bool = True
    ndjson_status: bool = False
    reason: bool = False
    readscan: list[str] = field(default_factory=list)
    pcap: str | None = None
    packet_trace: bool = False
    datadir: str | None = None

    # -- what to do this time (not compared, never echoed) -----------------------------------------
    echo_mode: str | None = field(default=None, compare=False)  # None | "echo" | "all" | "cidr"
    selftest: bool = _op()  # type: ignore[assignment]
    benchmark: bool = _op()  # type: ignore[assignment]
    version: bool = _op()  # type: ignore[assignment]
    help: bool = _op()  # type: ignore[assignment]
    nmap_help: bool = _op()  # type: ignore[assignment]
    iflist: bool = _op()  # type: ignore[assignment]
    readrange: bool = _op()  # type: ignore[assignment]
    debug_if: bool = _op()  # type: ignore[assignment]
    debug_tcp: bool = _op()  # type: ignore[assignment]
    test_csv: bool = _op()  # type: ignore[assignment]
    verbosity: int = field(default=0, compare=False)
    debug_level: int = field(default=0, compare=False)
    warnings: list[str] = field(default_factory=list, compare=False)
    config_files: list[str] = field(default_factory=list, compare=False)

    # -- behaviour ----------------------------------------------------------------------------------
    def echo(self, all: bool = False) -> str:  # noqa: A002 - masscan's --echo-all
        """The config file that reproduces this config (`--echo`; `all=True` for `--echo-all`).

        `--echo` writes the settings that differ from the defaults, `--echo-all` every setting
        (unset optional ones as comments).  Either way ``parse_config_text(text) == self``.
        """
        from tidescan.config_echo import echo_text

        return echo_text(self, all=all)

    def targets(self) -> TargetSet:
        """Ranges minus excludes and ports minus exclude-ports, as a `TargetSet` (size-checked)."""
        from tidescan.config_targets import build_targets

        return build_targets(self)

    def nic(self, index: int) -> ScanConfig | NicConfig:
        """The object holding NIC `index`'s settings (this config for 0)."""
        return self if index == 0 else self.nics.get(index, NicConfig())

    @property
    def nic_count(self) -> int:
        """Number of adapters configured (at least 1)."""
        return 1 + max(self.nics, default=0)

    def setting_names(self) -> list[str]:
        """Attribute names that are part of the scan (compared and echoed)."""
        return [f.name for f in fields(self) if f.compare]


def default_proto_for(cfg: ScanConfig) -> str:
    """Protocol of a port list given now: UDP after -sU, SCTP after -sZ, else TCP (masscan)."""
    if cfg.udp_scan:
        return "udp"
    if cfg.sctp_scan:
        return "sctp"
    return "tcp"
