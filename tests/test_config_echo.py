"""--echo, --echo-all and paused.conf: the echo must round-trip exactly (parse(echo(cfg)) == cfg).

The property test generates command lines from every option row (hypothesis), parses them,
echoes the config, and re-reads the echo.  The masscan tests run Debian's masscan 1.3.2 with
``--echo`` (it prints and exits while parsing its command line, before touching any network; we
also put it in an empty network namespace when we can) and parse its output with our table.
"""

from __future__ import annotations

import atexit
import base64
import os
import shutil
import string
import subprocess
import tempfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tidescan.config import (
    ScanConfig, parse_args, parse_config_file, parse_config_text, resume_text,
)
from tidescan.config_model import CAPTURE_TYPES
from tidescan.config_table import SECTIONS, rows

# -- files the generated command lines may name --------------------------------------------------

_DIR = tempfile.mkdtemp(prefix="ts-config-test-")
atexit.register(shutil.rmtree, _DIR, True)
FILES = []
for _i, _body in enumerate((b"10.0.0.0/24\n# c\n10.0.9.0/30\n", b"fd00::/120,10.1.0.1\n",
                            b"\x16\x03\x01hello", b"GET / HTTP/1.0\r\n\r\n")):
    _p = os.path.join(_DIR, f"file {_i}.txt")  # a space in the name on purpose
    with open(_p, "wb") as _f:
        _f.write(_body)
    FILES.append(_p)
TARGET_FILES, PAYLOAD_FILES = FILES[:2], FILES[2:]

# -- strategies: one per option, each yielding argv pieces ---------------------------------------

_SAFE = string.ascii_letters + string.digits
_TEXT = _SAFE + " -_/.:=#,;()+*!?@&%$'\""


def text(min_size: int = 1, alphabet: str = _TEXT) -> st.SearchStrategy[str]:
    return st.text(alphabet=alphabet, min_size=min_size, max_size=20).map(str.strip).filter(
        lambda s: bool(s) and not s.startswith("-"))


def word(alphabet: str = _SAFE) -> st.SearchStrategy[str]:
    return st.text(alphabet=alphabet, min_size=1, max_size=12).filter(
        lambda s: not s.startswith("-"))


def opt(name: str, values: st.SearchStrategy[str]) -> st.SearchStrategy[list[str]]:
    """``--name value`` or ``--name=value``."""
    return st.tuples(st.booleans(), values).map(
        lambda t: [f"{name}={t[1]}"] if t[0] or t[1].startswith("-") else [name, t[1]])


def flag(name: str) -> st.SearchStrategy[list[str]]:
    return st.sampled_from([[name], [f"{name}=true"], [f"{name}=false"], [f"{name}=yes"],
                            [f"{name}=0"]])


def nic(name: str, values: st.SearchStrategy[str]) -> st.SearchStrategy[list[str]]:
    return st.tuples(st.sampled_from(["", "[0]", "[1]", "[3]", "[7]"]), values).map(
        lambda t: [f"{name}{t[0]}", t[1]])


ipv4 = st.integers(0, 2**32 - 1).map(lambda n: ".".join(str((n >> s) & 255) for s in (24, 16, 8, 0)))
mac = st.tuples(st.binary(min_size=6, max_size=6), st.sampled_from(["-", ":"])).map(
    lambda t: t[1].join(f"{x:02x}" for x in t[0]))
PORTS = ["80", "80,443", "U:53,80", "1-1024", "-", "S:7", "O:47", "I:0", "8000-", "T:22,U:53-55",
         "22 25"]
TARGETS = ["10.0.0.0/24", "10.1.2.3", "10.0.0.1-10.0.0.9", "fd00::/120", "[fd00::1]",
           "10.0.0.0/30, 10.0.1.0/30", "fd00::1-fd00::9", "::1"]


@st.composite
def source_ip(draw: st.DrawFn) -> str:
    if draw(st.booleans()):
        return f"fd00::{draw(st.integers(0, 0xFFFF)):x}"
    bits = draw(st.integers(0, 4))
    base = draw(st.integers(0, 2**32 - 1)) & ~((1 << bits) - 1)
    a = ".".join(str((base >> s) & 255) for s in (24, 16, 8, 0))
    if bits == 0:
        return a
    last = base + (1 << bits) - 1
    return a + "-" + ".".join(str((last >> s) & 255) for s in (24, 16, 8, 0))


@st.composite
def source_port(draw: st.DrawFn) -> str:
    bits = draw(st.integers(0, 4))
    first = draw(st.integers(0, 65535 >> bits)) << bits
    return str(first) if bits == 0 else f"{first}-{first + (1 << bits) - 1}"


floats = st.one_of(st.integers(1, 10**7).map(str),
                   st.floats(1e-3, 1e8, allow_nan=False, allow_infinity=False).map(repr))
b64 = st.binary(min_size=1, max_size=40).map(lambda b: base64.b64encode(b).decode())

OPTIONS: list[st.SearchStrategy[list[str]]] = [
    # targets
    st.tuples(st.sampled_from(["-p", "--ports", "--tcp-ports", "--udp-ports", "--sctp-ports"]),
              st.sampled_from(PORTS)).map(list),
    opt("--oprotos", st.sampled_from(["47", "1-5", "O:6,17"])),
    opt("--exclude-ports", st.sampled_from(["22", "U:53", "1-10"])),
    st.sampled_from([["--top-ports"], ["--top-ports", "10"], ["--top-ports=false"],
                     ["--top-ports=0"]]),
    flag("--ping"), flag("--arp"),
    st.sampled_from(TARGETS).map(lambda t: [t] if t[0].isdigit() or t[0] in ":[" else
                                 ["--range", t]),
    opt("--exclude", st.sampled_from(TARGETS)),
    st.sampled_from(TARGET_FILES).map(lambda f: ["-iL", f]),
    opt("--includefile", st.sampled_from(TARGET_FILES)),
    opt("--excludefile", st.sampled_from(TARGET_FILES)),
    st.sampled_from([["-sS"], ["-sU"], ["-sZ"], ["-sO"], ["-sL"], ["-sSU"], ["--udp-scan=false"]]),
    # timing
    opt("--seed", st.integers(0, 2**64 - 1).map(str)),
    opt("--rate", floats),
    st.integers(1, 50).flatmap(lambda y: st.integers(1, y).map(lambda x: ["--shard", f"{x}/{y}"])),
    opt("--retries", st.integers(0, 999).map(str)),
    opt("--retry-interval", floats),
    opt("--wait", st.one_of(st.integers(0, 10**6).map(str), st.just("forever"))),
    opt("--senders", st.one_of(st.integers(1, 64).map(str), st.just("auto"))),
    opt("--connection-timeout", st.integers(0, 3600).map(str)),
    opt("--hello-timeout", st.integers(0, 60).map(str)),
    flag("--infinite"), flag("--offline"), flag("--dry-run"), flag("--lab"), flag("--noreset"),
    flag("--sendq"), flag("--pfring"),
    opt("--resume-index", st.integers(0, 2**40).map(str)),
    opt("--resume-count", st.integers(0, 2**40).map(str)),
    opt("--blackrock-rounds", st.integers(1, 255).map(str)),
    # adapter
    nic("--adapter", word(_SAFE + ".:")), nic("--adapter-ip", source_ip()),
    nic("--source-port", source_port()), nic("--adapter-mac", mac), nic("--router-mac", mac),
    nic("--router-mac-ipv4", mac), nic("--router-mac-ipv6", mac), nic("--router-ip", ipv4),
    nic("--vlan", st.integers(0, 4095).map(str)),
    opt("--ttl", st.integers(1, 255).map(str)),
    st.sampled_from([["--tcp-mss"], ["--tcp-mss", "1400"], ["--tcp-mss=false"], ["--tcp-mss", "0"],
                     ["--tcp-wscale"], ["--tcp-wscale", "0"], ["--tcp-wscale=off"],
                     ["--tcp-tsecho"], ["--tcp-tsecho", "12345"], ["--tcp-tsecho=no"]]),
    flag("--tcp-sackok"), flag("--badsum"), opt("--bpf", text()),
    opt("--data-length", st.integers(0, 1459).map(str)),
    opt("--min-packet", st.integers(0, 65535).map(str)),
    # banners
    flag("--banners"), flag("--nobanners"), flag("--rawudp"), flag("--heartbleed"),
    flag("--ticketbleed"),
    opt("--vuln", st.sampled_from(["heartbleed", "ticketbleed", "poodle", "sslv3"])),
    opt("--capture", st.sampled_from(CAPTURE_TYPES)),
    opt("--nocapture", st.sampled_from(CAPTURE_TYPES)),
    opt("--hello", st.sampled_from(["ssl", "http", "smbv1"])),
    st.tuples(st.integers(0, 65535), b64).map(lambda t: [f"--hello-string[{t[0]}]", t[1]]),
    st.tuples(st.integers(0, 65535), st.sampled_from(PAYLOAD_FILES)).map(
        lambda t: [f"--hello-file[{t[0]}]", t[1]]),
    opt("--http-method", word(_SAFE + "-_")),
    opt("--http-url", word(_SAFE + "/?=&%.")),
    opt("--http-version", st.sampled_from(["HTTP/1.0", "HTTP/1.1", "HTTP/2"])),
    opt("--http-host", word(_SAFE + ".-:")),
    opt("--http-user-agent", text()),
    st.tuples(word(_SAFE + "-"), text(min_size=0) | st.just("")).map(
        lambda t: ["--http-header", f"{t[0]}:{t[1]}"]),
    st.tuples(word(_SAFE + "-"), text()).map(lambda t: [f"--http-header[{t[0]}]", t[1]]),
    opt("--http-cookie", text()), opt("--http-payload", text()),
    opt("--http-field-remove", st.sampled_from(["Accept", "User-Agent"])),
    opt("--nmap-payloads", st.sampled_from(PAYLOAD_FILES)),
    opt("--pcap-payloads", st.sampled_from(PAYLOAD_FILES)),
    opt("--nmap-service-probes", st.sampled_from(PAYLOAD_FILES)),
    opt("--script", st.sampled_from(PAYLOAD_FILES)),
    opt("--banner-types", st.sampled_from(["http", "ssh", "X509", "title", "http.server"])),
    # output
    st.tuples(st.sampled_from(["-oX", "-oJ", "-oD", "-oG", "-oL", "-oB", "-oU", "-oH"]),
              st.one_of(text(), st.just("-"))).map(list),
    opt("--output-format", st.sampled_from(["xml", "json", "ndjson", "grepable", "greppable",
                                            "list", "binary", "unicornscan", "hostonly", "certs",
                                            "none", "interactive"])),
    opt("--output-filename", text()),
    opt("--redis", st.tuples(ipv4, st.integers(1, 65535)).map(lambda t: f"{t[0]}:{t[1]}")),
    opt("--redis-pwd", text()),
    flag("--output-append"), flag("--append-output"),
    opt("--show", st.sampled_from(["open", "closed", "all", "open,closed"])),
    opt("--noshow", st.sampled_from(["open", "closed", "all"])), flag("--open"),
    opt("--rotate", st.sampled_from(["3600", "hourly", "5min", "daily", "1w", "0"])),
    opt("--rotate-dir", st.sampled_from(["/tmp", "/tmp/", "out dir", "/"])),
    opt("--rotate-offset", st.sampled_from(["0", "5min", "-5min", "2h"])),
    opt("--rotate-size", st.sampled_from(["1000", "10k", "1m", "2g"])),
    opt("--stylesheet", text()), flag("--webxml"), flag("--no-stylesheet"),
    flag("--interactive"), flag("--nointeractive"), flag("--status"), flag("--nostatus"),
    flag("--ndjson-status"), flag("--reason"), flag("--packet-trace"),
    st.lists(st.sampled_from(PAYLOAD_FILES), min_size=1, max_size=2).map(
        lambda fs: ["--readscan", *fs, "--reason"]),  # --readscan eats args up to a '-'...
    opt("--pcap", text()), opt("--datadir", text()),
]

command_lines = st.lists(st.one_of(OPTIONS), max_size=25).map(lambda parts: sum(parts, []))


def roundtrip(cfg: ScanConfig, all: bool) -> ScanConfig:  # noqa: A002
    return parse_config_text(cfg.echo(all=all), path="<echo>")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(command_lines)
def test_echo_round_trips_exactly(argv: list[str]) -> None:
    cfg = parse_args(argv)
    text = cfg.echo()
    again = parse_config_text(text, path="<echo>")
    assert again == cfg, (argv, text)
    assert again.echo() == text                       # the echo is a fixed point
    assert roundtrip(cfg, all=True) == cfg            # --echo-all too


@settings(max_examples=100, deadline=None)
@given(command_lines, st.integers(0, 2**63))
def test_resume_file_round_trips(argv: list[str], index: int) -> None:
    cfg = parse_args(argv)
    if cfg.seed is None:
        cfg.seed = 12345  # the scan resolves the seed before it can pause
    text = resume_text(cfg, index)
    assert text.startswith("# resume information\n")
    resumed = parse_config_text(text)
    expected = ScanConfig(**{**cfg.__dict__, "resume_index": index})
    assert resumed == expected


def test_default_echo_is_masscan_shaped() -> None:
    assert ScanConfig().echo() == (
        "# SCAN: RATE, TIMING, ORDER\nrate = 100\nshard = 1/1\n\n"
        "# TARGET SELECTION (IP, PORTS, EXCLUDES)\n")


def test_echo_value_forms() -> None:
    cfg = parse_args(["-p80,U:53-55", "--ping", "10.0.0.0/24", "--exclude", "10.0.0.5",
                      "--adapter-mac", "02:00:00:00:00:01", "--rate", "0.5", "--ttl", "64",
                      "--connection-timeout", "9", "--pcap", "p.pcap", "-g", "61000",
                      "--nocapture", "cert", "--nocapture", "servername", "-oJ", "x.json",
                      "--wait", "forever"])
    text = cfg.echo()
    for line in ("ports = 80,U:53-55", "range = 10.0.0.0/24", "exclude = 10.0.0.5",
                 "adapter-mac = 02-00-00-00-00-01", "rate = 0.5", "ttl = 64",
                 "connection-timeout = 9", "pcap = p.pcap", "ping = true", "adapter-port = 61000",
                 "nocapture = cert", "output-format = json", "output-filename = x.json",
                 "wait = forever"):
        assert f"\n{line}\n" in text, line
    assert text.count("nocapture") == 1  # masscan #559: duplicated nocapture lines
    assert text.index("# TARGET SELECTION") > text.index("adapter-mac")


def test_echo_all_lists_every_setting_row() -> None:
    text = ScanConfig().echo(all=True)
    keys = {line.lstrip("# ").split(" =")[0].split("[")[0] for line in text.splitlines()
            if " =" in line}
    setting_rows = {p.name for p in rows() if p.echo is None and not p.flags & 128 and p.field}
    assert setting_rows <= keys, setting_rows - keys
    assert [line for line in text.splitlines() if line.startswith("# ") and "=" not in line] == [
        header for sec, header, _ in SECTIONS if sec != "misc"]


def test_resume_needs_the_seed() -> None:
    with pytest.raises(ValueError):
        resume_text(ScanConfig(), 5)


def test_resume_saves_what_masscan_forgot(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """masscan §5: excludes, ttl, connection-timeout, pcap, ping/arp, adapter-port were lost."""
    argv = ["-p80", "10.0.0.0/16", "--exclude", "10.0.1.0/24", "--excludefile", TARGET_FILES[0],
            "--ttl", "33", "--connection-timeout", "7", "--pcap", "rx.pcap", "--ping", "--arp",
            "--source-port", "61000-61003", "--seed", "42", "-oB", "scan.bin", "-oD", "x.ndjson"]
    cfg = parse_args(argv)
    path = tmp_path / "paused.conf"
    path.write_text(resume_text(cfg, 123456))
    resumed = parse_args(["--resume", str(path)])
    assert resumed.resume_index == 123456 and resumed.output_append
    for field in ("excludes", "exclude_files", "ttl", "connection_timeout", "pcap", "ping", "arp",
                  "adapter_port", "seed", "outputs", "ranges", "ports"):
        assert getattr(resumed, field) == getattr(cfg, field), field
    assert resumed.targets() == cfg.targets()


# -- masscan's own files --------------------------------------------------------------------------

PAUSED_HEAD = """
# resume information
resume-index = 15
seed = 7
rate = 5         
shard = 1/1
banners = true
offline = true
nocapture = servername
nocapture = servername

output-filename = x.json
output-format = json

adapter-ip = 10.255.255.1
adapter-mac = 02-00-00-00-00-01
router-mac-ipv4 = 02-00-00-00-00-02
router-mac-ipv6 = 02-00-00-00-00-02
adapter-port = 61000
# TARGET SELECTION (IP, PORTS, EXCLUDES)
ports = 80,443
range = 10.0.0.0/24
"""


def test_masscan_head_paused_conf_parses() -> None:
    cfg = parse_config_text(PAUSED_HEAD)
    assert (cfg.resume_index, cfg.seed, cfg.rate, cfg.shard) == (15, 7, 5.0, (1, 1))
    assert cfg.banners and cfg.offline and cfg.capture == {"cert"}
    assert cfg.outputs == [("json", "x.json")]  # filename first, then its format
    assert cfg.adapter_ip == (0x0AFFFF01, 0x0AFFFF01) and cfg.adapter_port == (61000, 61000)
    assert cfg.router_mac == cfg.router_mac_ipv6 == bytes.fromhex("020000000002")
    assert cfg.ports == [("tcp", "80,443")] and cfg.ranges == ["10.0.0.0/24"]
    assert parse_config_text(cfg.echo()) == cfg


MASSCAN_ARGS = [
    "-p80,443,U:53", "--range", "10.0.0.0/24,fd00::/120", "--exclude", "10.0.0.5",
    "--rate", "1000", "--seed", "5", "--shard", "2/3", "--retries", "2", "--banners",
    "--hello-string[80]", "aGVsbG8=", "-oJ", "x.json", "--adapter-ip", "10.0.0.1",
    "--adapter-mac", "02:00:00:00:00:01", "--router-mac", "02:00:00:00:00:02", "--ping",
    "--http-user-agent", "foo", "--capture", "html", "--rotate", "hourly", "--rotate-size", "1m",
    "--pcap", "x.pcap", "-e", "eth0", "--resume-count", "5", "--resume-index", "7",
    "--hello-timeout", "3", "--noreset", "--hello", "http", "--router-ip", "10.0.0.254",
    "--http-header[X-A]", "b", "--append-output", "--rotate-dir", "/tmp/", "--min-packet", "64",
]


def run_masscan_echo(args: list[str]) -> str:
    masscan = shutil.which("masscan") or "/usr/bin/masscan"
    if not os.path.exists(masscan):
        pytest.fail("Debian's masscan (/usr/bin/masscan) is required for this test")
    cmd = [masscan, *args]
    # --echo makes masscan print and exit while parsing, before any network activity; with
    # root we also run it in a fresh, empty network namespace so nothing could leave anyway.
    if os.geteuid() == 0 and shutil.which("unshare"):
        cmd = ["unshare", "--net", *cmd]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=20, cwd=_DIR)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.mark.parametrize("echo", ["--echo", "--echo-all"])
def test_debian_masscan_echo_parses_with_our_table(echo: str) -> None:
    text = run_masscan_echo([*MASSCAN_ARGS, echo])
    assert "# TARGET SELECTION (IP, PORTS, EXCLUDES)" in text and "rate = 1000" in text
    theirs = parse_config_text(text, path="masscan-echo")
    ours = parse_args(MASSCAN_ARGS)
    # masscan writes the ranges after subtracting the excludes and folds --ping into I:0:
    # the resulting target sets must be identical.
    assert theirs.targets() == ours.targets()
    for field in ("seed", "rate", "shard", "retries", "banners", "hello_strings", "outputs",
                  "output_append", "adapter", "adapter_ip", "adapter_mac", "router_mac",
                  "router_mac_ipv6", "router_ip", "capture", "rotate", "rotate_size", "rotate_dir",
                  "pcap", "resume_count", "resume_index", "hello_timeout", "noreset", "hello",
                  "http_user_agent", "http_headers", "min_packet"):
        assert getattr(theirs, field) == getattr(ours, field), field


def test_debian_masscan_reads_our_echo(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The masscan-compatible subset of our echo is a config file masscan 1.3.2 accepts."""
    cfg = parse_args(["-p80,443", "10.0.0.0/24", "--rate", "1000", "--seed", "9", "--banners",
                      "--adapter-mac", "02:00:00:00:00:01", "--retries", "1"])
    conf = tmp_path / "ours.conf"
    conf.write_text(cfg.echo())
    text = run_masscan_echo(["-c", str(conf), "--echo"])
    back = parse_config_text(text)
    for field in ("rate", "seed", "banners", "adapter_mac", "retries"):
        assert getattr(back, field) == getattr(cfg, field), field
    assert back.targets() == cfg.targets()


def test_parse_config_file_reads_paths(tmp_path) -> None:  # type: ignore[no-untyped-def]
    f = tmp_path / "p.conf"
    f.write_text(PAUSED_HEAD)
    assert parse_config_file(str(f)) == parse_config_text(PAUSED_HEAD)
