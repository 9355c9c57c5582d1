"""The command line and config files through the one parameter table (tidescan.config).

Table-driven: every parsing rule of masscan's main-conf.c that the brief lists, every alias of
reference §1 mapping to its canonical row, the short forms, the error messages (option names,
argument numbers, file:line:column) and the nmap refusals.
"""

from __future__ import annotations

import builtins
import os

import pytest

from tidescan.config import ScanConfig, lookup, parse_args, parse_config_file, parse_config_text
from tidescan.config_table import rows, short_lookup
from tidescan.errors import UsageError
from tidescan.nmap_refusals import NMAP_OPTIONS


def err(argv: list[str]) -> str:
    with pytest.raises(UsageError) as ei:
        parse_args(argv)
    return str(ei.value)


# -- every alias of reference §1 maps to its canonical row ----------------------------------------

ALIASES = {
    "range": ["ranges", "ip", "ipv4", "dst-ip", "dest-ip", "destination-ip", "target-ip"],
    "ports": ["port", "dst-port", "dest-port", "destination-port", "target-port"],
    "tcp-ports": ["tcp-port"], "udp-ports": ["udp-port"], "oprotos": ["oproto"],
    "exclude": ["exclude-range", "exclude-ranges", "exclude-ip", "exclude-ipv4"],
    "excludefile": ["exclude-file", "exclude_file", "EXCLUDEFILE"],
    "exclude-ports": ["exclude-port"], "includefile": ["include-file"],
    "top-ports": ["top-port"], "ping": ["ping-sweep"], "arpscan": ["arp"],
    "rate": ["max-rate"], "retries": ["retry", "max-retries", "max-retry"], "wait": [],
    "connection-timeout": ["tcp-timeout"], "hello-timeout": [], "infinite": [],
    "resume-count": [], "resume-index": [], "blackrock-rounds": [], "sendq": [], "pfring": [],
    "adapter": ["if", "interface"],
    "adapter-ip": ["source-ip", "source-address", "spoof-ip", "spoof-address", "src-ip"],
    "adapter-port": ["source-port", "sourceport", "src-port"],
    "adapter-mac": ["spoof-mac", "source-mac", "src-mac"],
    "router-mac": ["router", "dest-mac", "destination-mac", "dst-mac", "target-mac"],
    "router-mac-ipv4": ["router-ipv4"], "router-mac-ipv6": ["router-ipv6"], "router-ip": [],
    "vlan": ["adapter-vlan"], "ttl": [], "tcp-mss": [], "tcp-wscale": [], "tcp-tsecho": [],
    "tcp-sackok": [], "iflist": [], "debug": [], "bpf": [], "badsum": [], "data-length": [],
    "min-packet": ["min-pkt"], "seed": [], "shard": ["shards"], "resume": [],
    "randomize-hosts": [], "banners": ["banner"], "nobanners": ["nobanner"], "rawudp": [],
    "hello-string": [], "hello-file": ["hello-filename"], "hello": [], "capture": [],
    "nocapture": ["no-capture"], "heartbleed": [], "ticketbleed": [], "vuln": [],
    "http-user-agent": ["http-useragent"], "http-host": [], "http-method": [],
    "http-url": ["http-uri"], "http-version": [], "http-header": ["http-field"],
    "http-cookie": [], "http-payload": [], "http-field-remove": [],
    "nmap-payloads": ["nmap-payload"], "pcap-payloads": ["pcap-payload"],
    "nmap-service-probes": ["nmap-service-probe"], "script": [],
    "output-format": [], "output-filename": ["output-file"],
    "output-append": ["append-output"], "open": ["open-only", "output-show-open"],
    "show": ["output-show", "output-status"], "noshow": ["output-noshow"],
    "rotate": ["output-rotate", "rotate-output", "rotate-time"],
    "rotate-offset": ["output-rotate-offset"], "rotate-size": ["rotate-filesize",
                                                               "output-rotate-filesize"],
    "rotate-dir": ["output-rotate-dir", "rotate-directory"], "stylesheet": [], "webxml": [],
    "no-stylesheet": [], "redis": [], "redis-pwd": [], "interactive": [], "nointeractive": [],
    "status": [], "nostatus": [], "ndjson-status": [], "reason": [], "readscan": [],
    "banner-types": ["banner-type", "banner-app", "banner-apps"],
    "pcap": ["pcap-filename"], "packet-trace": ["trace-packet"],
    "echo": [], "echo-all": [], "echo-cidr": [], "readrange": ["readranges", "read-range"],
    "selftest": ["self-test", "regress"], "benchmark": [],
    "offline": ["notransmit", "nosend", "dry-run"], "nmap": [], "version": [], "help": [],
    "debug-tcp": [], "test": [], "datadir": [], "nobacktrace": ["backtrace"],
    "conf": ["config"],
    # tidescan's own rows
    "lab": [], "senders": [], "retry-interval": [], "noreset": [],
}


@pytest.mark.parametrize("canonical", sorted(ALIASES))
def test_every_alias_maps_to_its_row(canonical: str) -> None:
    assert lookup(canonical) is not None, canonical
    assert lookup(canonical).name == canonical
    for alias in ALIASES[canonical]:
        p = lookup(alias)
        assert p is not None and p.name == canonical, (alias, p and p.name)
        # masscan's EQUALS: case and '-', '_', '.' do not matter
        assert lookup(alias.upper().replace("-", "_")) is p
        assert lookup("." + alias.replace("-", ".")) is p


SHORTS = {"-p": "ports", "-iL": "includefile", "-e": "adapter", "-i": "adapter",
          "-S": "adapter-ip", "-g": "adapter-port", "-c": "conf", "-oX": "oX", "-oJ": "oJ",
          "-oD": "oD", "-oG": "oG", "-oL": "oL", "-oB": "oB", "-oU": "oU", "-oH": "oH",
          "-oR": "redis", "-sS": "syn-scan", "-sU": "udp-scan", "-sZ": "sctp-scan",
          "-sO": "oproto-scan", "-sL": "list-scan", "-V": "version", "-h": "help",
          "-W": "iflist"}


@pytest.mark.parametrize("short", sorted(SHORTS))
def test_short_forms_map_to_rows(short: str) -> None:
    p = short_lookup(short)
    assert p is not None and p.name == SHORTS[short]


def test_table_rows_have_help_and_unique_names() -> None:
    seen = set()
    for p in rows():
        assert p.help, p.name
        assert p.name not in seen
        seen.add(p.name)
    assert len(seen) >= 130


# -- value forms ----------------------------------------------------------------------------------

@pytest.mark.parametrize("argv", [
    ["--rate", "5"], ["--rate=5"], ["--rate:5"], ["--RATE", "5"], ["--Max_Rate=5"],
    ["--max.rate", "5"], ["--rate", " 5 "],
])
def test_name_value_forms(argv: list[str]) -> None:
    assert parse_args(argv).rate == 5.0


@pytest.mark.parametrize("word,value", [
    ("1", True), ("0", False), ("true", True), ("false", False), ("yes", True), ("no", False),
    ("on", True), ("off", False), ("enable", True), ("disable", False), ("enabled", True),
    ("disabled", False), ("TRUE", True), ("Off", False), ("", True),
])
def test_boolean_words(word: str, value: bool) -> None:
    assert parse_args([f"--banners={word}"]).banners is value
    assert parse_args([f"--banners:{word}"]).banners is value
    assert parse_config_text(f"banners = {word}\n").banners is value


def test_boolean_takes_no_value_and_rejects_other_words() -> None:
    cfg = parse_args(["--banners", "10.0.0.1"])  # the next argument stays a target
    assert cfg.banners and cfg.ranges == ["10.0.0.1"]
    assert "--banners: expected a boolean" in err(["--banners=maybe"])


@pytest.mark.parametrize("argv,mss,ranges", [
    (["--tcp-mss", "1400", "10.0.0.1"], 1400, ["10.0.0.1"]),
    (["--tcp-mss", "10.0.0.1"], 1460, ["10.0.0.1"]),       # not an integer: not consumed
    (["--tcp-mss", "false", "10.0.0.1"], None, ["10.0.0.1"]),  # boolean word: consumed
    (["--tcp-mss", "yes"], 1460, []),
    (["--tcp-mss"], 1460, []),
    (["--tcp-mss=0"], None, []),
    (["--tcp-mss", "0"], None, []),
])
def test_numable(argv: list[str], mss: int | None, ranges: list[str]) -> None:
    cfg = parse_args(argv)
    assert cfg.tcp_mss == mss and cfg.ranges == ranges


@pytest.mark.parametrize("argv,top", [
    (["--top-ports"], 100), (["--top-ports", "10"], 10), (["--top-ports", "10", "10.0.0.1"], 10),
    (["--top-ports", "10.0.0.1"], 100), (["--top-ports", "off"], None), (["--top-port=25"], 25),
])
def test_top_ports_optional_number(argv: list[str], top: int | None) -> None:
    assert parse_args(argv).top_ports == top


def test_tcp_wscale_and_tsecho() -> None:
    assert parse_args(["--tcp-wscale"]).tcp_wscale == 3
    assert parse_args(["--tcp-wscale", "0"]).tcp_wscale == 0
    assert parse_args(["--tcp-tsecho", "77"]).tcp_tsecho == 77
    assert parse_args(["--tcp-sackok"]).tcp_sackok is True
    assert "--tcp-wscale: expected a number" in err(["--tcp-wscale=15"])


@pytest.mark.parametrize("arg", ["10.0.0.1", "10.0.0.0/8", "::1", "[fd00::1]", "1.2.3.4-1.2.3.9"])
def test_bare_targets(arg: str) -> None:
    assert parse_args([arg]).ranges == [arg]


def test_bare_non_target_is_an_error() -> None:
    assert err(["-p80", "foo"]) == (
        "unknown command-line parameter 'foo' (argument 2); did you want '--foo'?")
    assert "[fd00::1]" in err(["fd00::1"])


def test_double_dash_ends_options() -> None:
    assert parse_args(["--", "fd00::1", "10.0.0.1"]).ranges == ["fd00::1", "10.0.0.1"]


@pytest.mark.parametrize("argv,attr,value", [
    (["-p80"], "ports", [("tcp", "80")]),
    (["-p", "80"], "ports", [("tcp", "80")]),
    (["-p", "-"], "ports", [("tcp", "-")]),
    (["-p", "U:53,80"], "ports", [("tcp", "U:53,80")]),
    (["-eeth0"], "adapter", "eth0"),
    (["-e", "eth0"], "adapter", "eth0"),
    (["-i", "eth1"], "adapter", "eth1"),
    (["-ieth1"], "adapter", "eth1"),
    (["-S", "10.0.0.7"], "adapter_ip", (0x0A000007, 0x0A000007)),
    (["-S10.0.0.0/30"], "adapter_ip", (0x0A000000, 0x0A000003)),
    (["-S", "fd00::7"], "adapter_ipv6", 0xFD000000000000000000000000000007),
    (["-g", "61000"], "adapter_port", (61000, 61000)),
    (["-g40000-40015"], "adapter_port", (40000, 40015)),
    (["-oX", "a.xml"], "outputs", [("xml", "a.xml")]),
    (["-oJ", "-"], "outputs", [("json", "-")]),
    (["-oD", "a", "-oG", "b", "-oL", "c", "-oB", "d", "-oU", "e", "-oH", "f"], "outputs",
     [("ndjson", "a"), ("grepable", "b"), ("list", "c"), ("binary", "d"), ("unicornscan", "e"),
      ("hostonly", "f")]),
    (["-oR", "10.0.0.9"], "outputs", [("redis", "10.0.0.9:6379")]),
    (["-sS"], "syn_scan", True), (["-sU"], "udp_scan", True), (["-sZ"], "sctp_scan", True),
    (["-sO"], "oproto_scan", True), (["-sL"], "list_scan", True), (["-sY"], "sctp_scan", True),
    (["-V"], "version", True), (["-h"], "help", True), (["-?"], "help", True),
    (["--help"], "help", True), (["--nmap"], "nmap_help", True), (["-W"], "iflist", True),
    (["-v"], "verbosity", 1), (["-vvv"], "verbosity", 3), (["-v", "-vv"], "verbosity", 3),
    (["-dd"], "debug_level", 2),
])
def test_short_forms(argv: list[str], attr: str, value: object) -> None:
    assert getattr(parse_args(argv), attr) == value


def test_combined_scan_types() -> None:
    cfg = parse_args(["-sSU"])
    assert cfg.syn_scan and cfg.udp_scan


def test_includefile_short(tmp_path) -> None:  # type: ignore[no-untyped-def]
    f = tmp_path / "t.txt"
    f.write_text("10.0.0.0/24\n")
    assert parse_args(["-iL", str(f)]).include_files == [str(f)]


def test_protocol_in_force_travels_with_the_port_list() -> None:
    # masscan 1.3.2: `-sU -p80` is U:80, `-p80 -sU` is TCP 80, -sS does not switch back.
    assert parse_args(["-sU", "-p80"]).ports == [("udp", "80")]
    assert parse_args(["-p80", "-sU"]).ports == [("tcp", "80")]
    assert parse_args(["-sU", "-sS", "-p80"]).ports == [("udp", "80")]
    assert parse_args(["-sZ", "-p80"]).ports == [("sctp", "80")]
    assert parse_args(["-sU", "--tcp-ports", "80"]).ports == [("tcp", "80")]
    assert parse_args(["--udp-ports", "53", "--oprotos", "47"]).ports == [
        ("udp", "53"), ("oproto", "47")]


def test_multiple_port_lists_accumulate() -> None:
    assert parse_args(["-p", "80", "-p", "443"]).ports == [("tcp", "80"), ("tcp", "443")]


@pytest.mark.parametrize("argv,idx,field,value", [
    (["--adapter[1]", "eth1"], 1, "adapter", "eth1"),
    (["--adapter[0]", "eth0"], 0, "adapter", "eth0"),
    (["--adapter-ip[2]=10.0.0.2"], 2, "adapter_ip", (0x0A000002, 0x0A000002)),
    (["--router-mac[7]", "00:11:22:33:44:55"], 7, "router_mac", bytes.fromhex("001122334455")),
    (["--vlan[3]", "12"], 3, "vlan", 12),
])
def test_nic_indexes(argv: list[str], idx: int, field: str, value: object) -> None:
    cfg = parse_args(argv)
    assert getattr(cfg.nic(idx), field) == value
    if idx:
        assert cfg.nic_count == idx + 1 and getattr(cfg, field) is None


def test_router_mac_sets_both_families() -> None:
    cfg = parse_args(["--router-mac", "02-00-00-00-00-02", "--router-mac-ipv6", "02:00:00:00:00:03"])
    assert cfg.router_mac == bytes.fromhex("020000000002")
    assert cfg.router_mac_ipv6 == bytes.fromhex("020000000003")


def test_readscan_takes_every_file_up_to_the_next_option(tmp_path) -> None:  # type: ignore[no-untyped-def]
    files = [tmp_path / n for n in ("a.bin", "b.bin")]
    for f in files:
        f.write_bytes(b"x")
    cfg = parse_args(["--readscan", str(files[0]), str(files[1]), "-oX", "out.xml"])
    assert cfg.readscan == [str(f) for f in files] and cfg.outputs == [("xml", "out.xml")]
    assert "--readscan: missing file name" in err(["--readscan", "--open"])
    assert "cannot read" in err(["--readscan", str(tmp_path / "missing")])


# -- outputs -------------------------------------------------------------------------------------

@pytest.mark.parametrize("argv,outputs", [
    (["-oX", "a", "-oJ", "b", "-oX", "c"], [("xml", "a"), ("json", "b"), ("xml", "c")]),
    (["--output-format", "json", "--output-filename", "a"], [("json", "a")]),
    (["--output-format", "json", "--output-filename", "a", "--output-file", "b"],
     [("json", "a"), ("json", "b")]),
    (["--output-filename", "a"], [("xml", "a")]),          # masscan: XML by default
    (["--output-filename", "a", "--output-format", "ndjson"], [("ndjson", "a")]),  # paused.conf
    (["--output-format", "list"], [("list", "-")]),          # no file: stdout
    (["--output-format", "greppable", "--output-filename", "g"], [("grepable", "g")]),
    (["--output-format", "redis", "--output-filename", "10.0.0.1:7000"],
     [("redis", "10.0.0.1:7000")]),
    (["--redis", "10.0.0.1"], [("redis", "10.0.0.1:6379")]),
])
def test_outputs(argv: list[str], outputs: list[tuple[str, str]]) -> None:
    assert parse_args(argv).outputs == outputs


def test_output_errors() -> None:
    assert "-oX: missing value" in err(["-oX"])
    assert "-oX: missing value (the next argument, '--open', is an option" in err(["-oX", "--open"])
    assert "unknown output format 'foo'" in err(["--output-format", "foo"])
    assert "--redis: bad IPv4 address" in err(["--redis", "x"])


@pytest.mark.parametrize("argv,show", [
    ([], {"open"}), (["--show", "closed"], {"open", "closed"}), (["--show", "all"],
                                                                 {"open", "closed"}),
    (["--show", "closed", "--open"], {"open"}), (["--noshow", "open"], set()),
    (["--show", "all", "--noshow", "closed"], {"open"}), (["--output-status", "close"],
                                                          {"open", "closed"}),
    (["--open-only"], {"open"}),
])
def test_show(argv: list[str], show: set[str]) -> None:
    assert parse_args(argv).show == show


# -- banners and probes -------------------------------------------------------------------------

def test_hello_string_base64() -> None:
    assert parse_args(["--hello-string[80]", "aGVsbG8="]).hello_strings == {80: b"hello"}
    assert parse_args(["--hello-string[80]=aGVsbG8"]).hello_strings == {80: b"hello"}  # no pad
    assert parse_args(["--hello-string[443]:R0VUIC8="]).hello_strings == {443: b"GET /"}
    assert err(["--hello-string[80]", "aGV*bG8="]) == (
        "--hello-string[80]: not base64: unexpected '*' at column 4")
    assert "needs a port number in brackets" in err(["--hello-string", "aGk="])
    assert "needs a port number in brackets" in err(["--hello-string[70000]", "aGk="])


def test_hello_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    ok = tmp_path / "ok.bin"
    ok.write_bytes(b"\x00\x01hello\xff" * 100)
    assert parse_args([f"--hello-file[81]={ok}"]).hello_strings == {81: ok.read_bytes()}
    limit = tmp_path / "limit.bin"
    limit.write_bytes(b"A" * 16384)
    assert parse_args(["--hello-filename[8080]", str(limit)]).hello_strings[8080] == b"A" * 16384
    big = tmp_path / "big.bin"
    big.write_bytes(b"A" * 16385)
    assert "is 16385 bytes; a hello file holds at most 16384 bytes" in err(
        ["--hello-file[80]", str(big)])
    empty = tmp_path / "empty.bin"
    empty.write_bytes(b"")
    assert "is empty" in err(["--hello-file[80]", str(empty)])
    assert "No such file" in err(["--hello-file[80]", str(tmp_path / "none")])
    # saved as hello-string
    cfg = parse_args(["--hello-file[81]", str(ok)])
    assert "hello-string[81] = " in cfg.echo() and "hello-file" not in cfg.echo()


def test_http_options() -> None:
    cfg = parse_args([
        "--http-method", "POST", "--http-url", "/x", "--http-version", "HTTP/1.1",
        "--http-host", "example.com", "--http-user-agent", "foo/1.0 (bar)",
        "--http-header", "X-Test:1", "--http-header[X-Other]", "two words",
        "--http-field", "Y: z", "--http-cookie", "a=b", "--http-cookie", "c=d",
        "--http-payload", "hello=1", "--http-field-remove", "Accept"])
    assert (cfg.http_method, cfg.http_url, cfg.http_version, cfg.http_host) == (
        "POST", "/x", "HTTP/1.1", "example.com")
    assert cfg.http_user_agent == "foo/1.0 (bar)"
    assert cfg.http_headers == [("X-Test", "1"), ("X-Other", "two words"), ("Y", "z")]
    assert cfg.http_cookies == ["a=b", "c=d"] and cfg.http_payload == "hello=1"
    assert cfg.http_remove == ["Accept"]
    assert "expected Name:value" in err(["--http-header", "novalue"])
    assert "bad header name" in err(["--http-header", "Bad Name:1"])
    assert "bad HTTP method" in err(["--http-method", "G T"])


def test_implications_follow_masscan() -> None:
    cfg = parse_args(["--heartbleed"])
    assert cfg.banners and cfg.heartbleed and cfg.capture == {"heartbleed"}
    cfg = parse_args(["--vuln", "ticketbleed"])
    assert cfg.ticketbleed and cfg.banners and "cert" not in cfg.capture
    cfg = parse_args(["--vuln", "sslv3"])
    assert cfg.vuln == "poodle" and cfg.banners and "cert" not in cfg.capture
    assert parse_args(["--rawudp"]).banners
    assert not parse_args(["--banners", "--nobanners"]).banners
    cfg = parse_args(["--capture", "html,servername", "--nocapture", "cert"])
    assert cfg.capture == {"html", "servername"}
    assert "unknown capture type 'foo'" in err(["--capture", "foo"])
    assert "only one --vuln check" in err(["--vuln", "poodle", "--vuln", "ntp-monlist"])


def test_stylesheet_forms() -> None:
    assert parse_args(["--webxml"]).stylesheet == "http://nmap.org/svn/docs/nmap.xsl"
    assert parse_args(["--stylesheet", "x.xsl", "--no-stylesheet"]).stylesheet is None


# -- validation errors name the option (and the column) -------------------------------------------

@pytest.mark.parametrize("argv,message", [
    (["--ports", "99999"], "--ports: port 99999 out of range (max 65535 for 'T:') at column 1"),
    (["-p", "80,99999"], "-p: port 99999 out of range (max 65535 for 'T:') at column 4"),
    (["-p", "80,x"], "-p: bad port: unexpected 'x' in 'x' at column 4"),
    (["-p", ""], "-p: empty value"),
    (["--adapter-ip="], "--adapter-ip: empty value"),
    (["--rate", "0"], "--rate: a number must be greater than 0, got '0'"),
    (["--rate", "fast"], "--rate: expected a number, got 'fast' at column 1"),
    (["--retries", "1000"], "--retries: expected a number of retries less than 1000, got 1000"),
    (["--ttl", "256"], "--ttl: expected a TTL from 1 to 255, got 256"),
    (["--shard", "3/2"], "--shard: shard 3/2: x must not exceed y; it goes like 1/4 2/4 3/4 4/4 "
                         "at column 1"),
    (["--shard", "0/2"], "--shard: shard index can't be zero; it goes like 1/4 2/4 3/4 4/4 at "
                         "column 1"),
    (["--shard", "1-2"], "--shard: expected x/y (like 1/4 2/4 3/4 4/4), got '1-2'"),
    (["--seed", "x"], "--seed: expected a seed (0 to 2^64-1, or 'time'), got 'x' at column 1"),
    (["--source-ip", "10.0.0.1-10.0.0.3"],
     "--source-ip: the source range holds 3 addresses; it must be a power of two (1, 2, 4, ...)"),
    (["-g", "40000-40002"],
     "-g: the source port range holds 3 ports; it must be a power of two (1, 2, 4, ...)"),
    (["--adapter-mac", "02:00:00:00:00"],
     "--adapter-mac: bad MAC address '02:00:00:00:00': only 5 of 6 octets at column 15"),
    (["--router-ip", "10.0.0.256"], "--router-ip: bad IPv4 address '10.0.0.256': '256' is not "
                                    "0..255 at column 8"),
    (["--range", "10.0.0.1/33"], "--range: bad CIDR prefix /33: must be 0-32 at column 10"),
    (["--exclude", "10.0.0.300"], "--exclude: "),
    (["--rotate", "5x"], "--rotate: unknown time unit 'x' in '5x' (use s, m(in), h(our), d(ay), "
                         "w(eek)) at column 2"),
    (["--rotate-offset", "daily"], "--rotate-offset: 'daily' is a day or more; the value must be "
                                   "less than 1 day"),
    (["--rotate-size", "5q"], "--rotate-size: unknown size unit in '5q' (use k, m, g, t, p or "
                              "e) at column 2"),
    (["--show", "host"], "--show: unknown show type 'host' (expected one of: all, closed, open)"),
    (["--wait", "soon"], "--wait: expected a number of seconds (or 'forever'), got 'soon' at "
                         "column 1"),
    (["--vlan", "4096"], "--vlan: expected a VLAN id less than 4096, got 4096"),
    (["--rate"], "--rate: missing value (argument 1 is the last one)"),
    (["--max-retries", "--echo"], "--max-retries: missing value (the next argument, '--echo', is "
                                  "an option; write --max-retries=--echo if that is really the "
                                  "value)"),
    (["--rate[2]", "5"], "--rate[2]: takes no [index]"),
    (["--adapter[8]", "eth8"], "--adapter[8]: the adapter index must be 0 to 7, e.g. adapter[1]"),
    (["-p80", "--foo", "1"], "unknown option '--foo' (argument 2); try --help, or --nmap for the "
                             "nmap-compatible options"),
    (["-x"], "unknown option '-x' (argument 1); try --help, or --nmap for the nmap-compatible "
             "options"),
    (["--"+"bad=opt=x", "1"], "unknown option '--bad' (argument 1)"),
    (["-c", "/nonexistent/x.conf"], "-c: cannot read config file '/nonexistent/x.conf': No such "
                                    "file or directory"),
    (["--includefile", "/nonexistent/t.txt"], "--includefile: cannot read "
                                              "'/nonexistent/t.txt': No such file or directory"),
])
def test_error_messages(argv: list[str], message: str) -> None:
    assert err(argv).startswith(message)


def test_errors_are_one_line_usage_errors_never_tracebacks() -> None:
    for argv in (["--hello-string[x]", "aGk="], ["--adapter-ip", ""], ["-p", ""], ["--seed="],
                 ["--http-header[]", "x"], ["--output-filename="], ["--range=[fd00::1"],
                 ["--adapter[x]", "eth0"], ["--tcp-mss=abc"], ["--conf="]):
        message = err(argv)
        assert "\n" not in message and message


# -- nmap refusals ------------------------------------------------------------------------------

@pytest.mark.parametrize("argv,message", [
    (["-A"], "nmap(-A): unsupported: this tool only does SYN scans; use --banners"),
    (["-O"], "nmap(-O): unsupported, OS detection is too complex (argument 1)"),
    (["-sV"], "nmap(-sV): version detection is unlikely to be supported; use --banners"),
    (["-p80", "-T4"], "nmap(-T4): unsupported, we do timing WAY different than nmap; use --rate "
                      "PACKETS/SECOND instead (argument 2)"),
    (["-T0"], "nmap(-T0)"), (["-T5"], "nmap(-T5)"), (["-Tinsane"], "nmap(-Tinsane)"),
    (["--min-rate", "1000"], "nmap(min-rate): unsupported, we go as fast as --rate allows; use "
                             "--rate instead (argument 1)"),
    (["--scan-delay", "1"], "nmap(scan-delay): unsupported: we do timing VASTLY differently; "
                            "use --rate"),
    (["-oA", "x"], "nmap(-oA): unsupported output format; write -oB FILE and convert it later"),
    (["-oN", "x"], "nmap(-oN): unsupported output format; use -oL"),
    (["-oS", "x"], "nmap(-oS): unsupported output format"),
    (["-iR", "10"], "nmap(-iR): random targets are unsupported"),
    (["-PS80"], "nmap(-PS80): host discovery options are unsupported"),
    (["-PE"], "nmap(-PE)"),
    (["-sn"], "nmap(-sn): ping-sweeps are not a scan type here; use --ping"),
    (["-sSV"], "nmap(-sV)"),
    (["-sA"], "nmap(-sA): ACK scan not yet supported"),
    (["-F"], "nmap(-F): unsupported, no slow/fast mode; use --top-ports 100"),
    (["-r"], "nmap(-r)"), (["-R"], "nmap(-R)"), (["-b"], "nmap(-b)"), (["-f"], "nmap(-f)"),
    (["--host-timeout", "5"], "nmap(host-timeout)"), (["--mtu", "8"], "nmap(mtu)"),
    (["--max-rtt-timeout", "5"], "nmap(max-rtt-timeout)"), (["--traceroute"], "nmap(traceroute)"),
    (["--json-status"], "nmap(json-status): unsupported; use --ndjson-status"),
    (["--send-ip"], "nmap(send-ip)"), (["--version-light"], "nmap(version-light)"),
])
def test_nmap_refusals(argv: list[str], message: str) -> None:
    assert err(argv).startswith(message)


def test_nmap_table_entries_all_refuse_or_are_accepted() -> None:
    for o in NMAP_OPTIONS:
        typed = o.spelling.rstrip("*") + ("4" if o.spelling.endswith("*") else "")
        argv = [typed, "1"] if typed.startswith("--") else [typed]
        if o.action == "refuse":
            assert err(argv).startswith(f"nmap({typed.lstrip('-') if typed.startswith('--') else typed})")
        else:
            parse_args(argv[:1])


def test_nmap_accepted_and_warned() -> None:
    cfg = parse_args(["-Pn", "-n", "-6", "-p80", "10.0.0.1"])
    assert cfg.warnings == [] and cfg.ranges == ["10.0.0.1"]
    cfg = parse_args(["-sT", "-p80"])
    assert cfg.syn_scan and cfg.warnings == [
        "nmap(-sT): connect() is too synchronous for cool kids; doing a SYN scan (-sS) anyway, "
        "ignoring -sT"]
    assert parse_args(["--send-eth"]).warnings == [
        "nmap(send-eth): unnecessary, we always do --send-eth"]


def test_shard_without_seed_warns() -> None:
    assert "without --seed" in parse_args(["--shard", "2/4"]).warnings[0]
    assert parse_args(["--shard", "2/4", "--seed", "9"]).warnings == []


# -- config files ---------------------------------------------------------------------------------

CONF = """\
# a comment
; another comment
   # indented comment
-p = 9999
this line has no equals sign
rate = 5000
  Ports =  80,443
exclude_ports = 443
banners
hello-string[80] = aGVsbG8=
http-header[X-A] = one = two
output-format = json
output-filename = out.json
"""


def test_config_file_rules(tmp_path) -> None:  # type: ignore[no-untyped-def]
    cfg = parse_config_text(CONF)
    assert cfg.rate == 5000 and cfg.ports == [("tcp", "80,443")]
    assert cfg.exclude_ports == ["443"] and not cfg.banners  # "banners" has no '=': ignored
    assert cfg.hello_strings == {80: b"hello"}
    assert cfg.http_headers == [("X-A", "one = two")]
    assert cfg.outputs == [("json", "out.json")]
    f = tmp_path / "x.conf"
    f.write_bytes(CONF.replace("\n", "\r\n").encode())
    assert parse_config_file(str(f)) == cfg


def test_config_empty_values() -> None:
    cfg = parse_config_text("banners =\nports = \nrange =\npcap = \nadapter =\n")
    assert cfg.banners and cfg.ports == [] and cfg.ranges == [] and cfg.pcap is None
    assert cfg == parse_config_text("banners = true\n")


def test_dash_c_applies_where_it_appears(tmp_path) -> None:  # type: ignore[no-untyped-def]
    f = tmp_path / "a.conf"
    f.write_text("rate = 7\nports = 22\n")
    assert parse_args(["--rate", "5", "-c", str(f)]).rate == 7
    assert parse_args(["-c", str(f), "--rate", "5"]).rate == 5
    assert parse_args([f"-c{f}"]).rate == 7
    cfg = parse_args(["-p80", "--conf", str(f), "-p443"])
    assert cfg.ports == [("tcp", "80"), ("tcp", "22"), ("tcp", "443")]
    assert cfg.config_files == [str(f)]
    # -sU before -c makes the file's `ports` lines UDP, as masscan
    assert parse_args(["-sU", "--config", str(f)]).ports == [("udp", "22")]


def test_nested_config_files_and_loops(tmp_path) -> None:  # type: ignore[no-untyped-def]
    inner = tmp_path / "inner.conf"
    inner.write_text("wait = 3\n")
    outer = tmp_path / "outer.conf"
    outer.write_text(f"rate = 9\nconf = {inner}\n")
    cfg = parse_args(["-c", str(outer)])
    assert (cfg.rate, cfg.wait) == (9, 3)
    loop = tmp_path / "loop.conf"
    loop.write_text(f"config = {loop}\n")
    assert "more than 8 levels deep" in err(["-c", str(loop)])


@pytest.mark.parametrize("text,message", [
    ("rate = 5\nports = 80,99999\n", "f.conf:2:12: ports: port 99999 out of range"),
    ("  ports=   80,x\n", "f.conf:1:15: ports: bad port: unexpected 'x'"),
    ("foo = bar\n", "f.conf:1:1: unknown config option: foo=bar"),
    ("\n\n   foo-bar[3] = 1\n", "f.conf:3:4: unknown config option: foo-bar[3]=1"),
    ("rate = abc\n", "f.conf:1:8: rate: expected a number, got 'abc'"),
    ("shard = 2/1\n", "f.conf:1:9: shard: shard 2/1: x must not exceed y"),
    ("hello-string = aGk=\n", "f.conf:1:1: hello-string: needs a port number in brackets"),
    ("banners = maybe\n", "f.conf:1:11: banners: expected a boolean"),
    ("min-rate = 5\n", "f.conf:1:1: nmap(min-rate): unsupported, we go as fast as --rate allows; "
                       "use --rate instead"),
    ("conf = /nonexistent.conf\n", "f.conf:1:8: conf: cannot read config file"),
    ("range = 10.0.0.0/8,10.1.2\n", "f.conf:1:"),
])
def test_config_file_errors(text: str, message: str) -> None:
    with pytest.raises(UsageError) as ei:
        parse_config_text(text, path="f.conf")
    assert str(ei.value).startswith(message), str(ei.value)


def test_errors_in_included_files_name_that_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "bad.conf"
    bad.write_text("# ok\nttl = 999\n")
    assert err(["-p80", "-c", str(bad)]).startswith(f"{bad}:2:7: ttl: expected a TTL")


def test_masscan_system_config_is_not_read(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    opened: list[str] = []
    real_open = builtins.open

    def spy(file, *a, **k):  # type: ignore[no-untyped-def]
        opened.append(os.fspath(file) if not isinstance(file, int) else "")
        return real_open(file, *a, **k)

    monkeypatch.setattr(builtins, "open", spy)
    cfg = parse_args(["-p80", "10.0.0.1", "--readscan" if False else "--rate", "9"])
    assert not any("masscan" in f for f in opened)
    assert cfg.config_files == []


# -- resume ---------------------------------------------------------------------------------------

def test_resume_reads_the_file_and_appends(tmp_path) -> None:  # type: ignore[no-untyped-def]
    f = tmp_path / "paused.conf"
    f.write_text("resume-index = 15\nseed = 7\nrate = 5\nports = 80\nrange = 10.0.0.0/24\n"
                 "output-filename = x.json\noutput-format = json\n")
    cfg = parse_args(["--resume", str(f)])
    assert (cfg.resume_index, cfg.seed, cfg.rate, cfg.output_append) == (15, 7, 5.0, True)
    assert cfg.outputs == [("json", "x.json")]
    assert parse_args(["--resume", str(f), "--rate", "50"]).rate == 50
    assert parse_args(["--resume", str(f)]) != ScanConfig()


def test_operations_are_not_settings() -> None:
    cfg = parse_args(["--echo", "--version", "-vv", "--iflist", "--selftest"])
    assert cfg == ScanConfig()
    assert cfg.echo_mode == "echo" and cfg.version and cfg.verbosity == 2
    assert parse_args(["--echo-all"]).echo_mode == "all"
    assert parse_args(["--echo-cidr"]).echo_mode == "cidr"
    assert parse_args(["--debug", "if"]).debug_if
    assert parse_args(["--test", "csv"]).test_csv


# -- robustness: whatever the input, a config or one UsageError -----------------------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_SPELLINGS = sorted({f"--{a}" for p in rows() for a in (p.name, *p.aliases)}
                    | {s for p in rows() for s in p.shorts}
                    | {o.spelling.rstrip("*") for o in NMAP_OPTIONS})
_TOKENS = st.one_of(
    st.sampled_from(_SPELLINGS),
    st.sampled_from(_SPELLINGS).flatmap(lambda s: st.text(max_size=8).map(lambda v: f"{s}={v}")),
    st.sampled_from(["80", "10.0.0.1", "U:53", "fd00::1", "[::1]", "-", "true", "1/2", "aGk=",
                     "02:00:00:00:00:01", "eth0", "", "[", "]", "=", ":", "--"]),
    st.text(max_size=12),
)


def _only_usage_errors(fn, *args) -> None:  # type: ignore[no-untyped-def]
    try:
        fn(*args)
    except UsageError as e:
        assert str(e) and "\n" not in str(e)


@settings(max_examples=400, deadline=None)
@given(st.lists(_TOKENS, max_size=8))
def test_any_command_line_gives_a_config_or_one_usage_error(argv: list[str]) -> None:
    if any(a.startswith(("-c", "--conf", "--config", "--resume", "--readscan", "--hello-file",
                         "--hello-filename", "-iL", "--include", "--exclude-file",
                         "--excludefile", "--nmap-", "--pcap-payload", "--script"))
           for a in argv):
        argv = [a for a in argv if not a.startswith("-")]  # no reading of arbitrary files
    _only_usage_errors(parse_args, argv)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([p.name for p in rows() if not p.flags & 128]
                                          + ["foo", "min-rate", "hello-string[80]",
                                             "adapter[9]", "http-header[X]"]),
                          st.text(max_size=12)), max_size=8))
def test_any_config_text_gives_a_config_or_one_usage_error(lines: list[tuple[str, str]]) -> None:
    text = "\n".join(f"{k} = {v}" for k, v in lines
                     if k not in ("includefile", "excludefile", "hello-file", "readscan",
                                  "nmap-payloads", "pcap-payloads", "nmap-service-probes",
                                  "script"))
    _only_usage_errors(parse_config_text, text)
