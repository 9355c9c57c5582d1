"""`tidescan --banners` against the lab's real servers: every expected banner, in every output format,
and at least everything Debian's masscan 1.3.2 finds on the same lab.

The lab (`Lab(banner_servers=True)`, lab_banner_servers.py) runs nginx (HTTP, TLS 1.2, TLS 1.3
only), OpenSSH, vsftpd (AUTH TLS), inetutils telnetd, aiosmtpd (STARTTLS), TigerVNC, redis and
memcached, and knows the banners a correct scan reports (`banner_truth()`; test_lab_banners.py
checks that truth with other clients).  One tidescan run writes -oJ, -oX, -oL, -oD and -oB at once;
each file must hold exactly the truth's banners (same (ip, port, type) set, each once, each text
matching) and the servers' ports as open.  Then masscan scans the same servers from another spare
address (it answers that address's ARP itself) and tidescan must have found every (ip, port, type)
that masscan found.
"""

from __future__ import annotations

import ipaddress
import json
import re
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from tidescan import lab_banner_servers as bs
from tidescan.lab import Lab
from tidescan.lab_plan import int_to_ip
from tidescan.output.binary import read_binary

Banner = tuple[str, int, str, bytes]       # (ip, port, app, text)
PORTS = ",".join(str(p) for p in sorted({s.port for s in bs.SERVICES}))
FORMATS = {"J": "scan.json", "X": "scan.xml", "L": "scan.list", "D": "scan.ndjson",
           "B": "scan.bin"}


def _unescape_x(text: str) -> bytes:
    """masscan's `\\xHH` escaping undone (every other character is printable ASCII)."""
    return re.sub(r"\\x([0-9a-f]{2})", lambda m: chr(int(m.group(1), 16)),
                  text).encode("latin-1")


def read_banners(fmt: str, path: Path) -> tuple[list[Banner], set[tuple[str, int]]]:
    """(banner records, open (ip, port) pairs) of one output file."""
    banners: list[Banner] = []
    opened: set[tuple[str, int]] = set()
    if fmt == "J":
        for entry in json.loads(path.read_text()):
            port = entry["ports"][0]
            if "service" in port:
                svc = port["service"]
                banners.append((entry["ip"], port["port"], svc["name"],
                                svc["banner"].encode("latin-1")))
            elif port.get("status") == "open":
                opened.add((entry["ip"], port["port"]))
    elif fmt == "D":
        for line in path.read_text().splitlines():
            if not line.strip():
                continue
            rec = json.loads(line)
            if rec.get("rec_type") == "banner":
                banners.append((rec["ip"], rec["port"], rec["data"]["service_name"],
                                rec["data"]["banner"].encode("latin-1")))
            elif rec.get("status") == "open" or rec.get("rec_type") == "status":
                opened.add((rec["ip"], rec["port"]))
    elif fmt == "X":
        for host in ET.parse(path).getroot().iter("host"):
            addr = host.find("address")
            for port in host.iter("port"):
                assert addr is not None
                svc = port.find("service")
                state = port.find("state")
                key = (addr.get("addr", ""), int(port.get("portid", "0")))
                if svc is not None:
                    banners.append((*key, svc.get("name", ""), _unescape_x(svc.get("banner", ""))))
                elif state is not None and state.get("state") == "open":
                    opened.add(key)
    elif fmt == "L":
        for line in path.read_text().splitlines():
            if line.startswith("banner "):
                _, _, port, ip, _, app, text = line.split(" ", 6)
                banners.append((ip, int(port), app, _unescape_x(text)))
            elif line.startswith("open tcp "):
                _, _, port, ip = line.split(" ")[:4]
                opened.add((ip, int(port)))
    else:
        for rec in read_binary(str(path)):
            key = (int_to_ip(rec.ip), rec.port)
            if rec.kind == "banner":
                banners.append((*key, rec.app, rec.banner))
            elif rec.status == "open":
                opened.add(key)
    return banners, opened


def compare(lab: Lab, banners: list[Banner], fmt: str = "J") -> list[str]:
    """Differences between reported banners and the truth (empty: exactly the truth).

    -oB writes masscan 1.3.2's type ids, which have none for `X509CA`: a CA certificate is
    written (and read back) as one more `X509` record, in chain order, as masscan 1.3.2 does.
    """
    want: dict[tuple[str, int, str], list[bs.BannerTruth]] = {}
    for t in lab.banner_truth():
        app = "X509" if fmt == "B" and t.app == "X509CA" else t.app
        want.setdefault((t.ip, t.port, app), []).append(t)
    got: dict[tuple[str, int, str], list[bytes]] = {}
    for ip, port, app, text in banners:
        got.setdefault((ip, port, app), []).append(text)
    problems = [f"missing {k}" for k in want if k not in got]
    problems += [f"unexpected {k}" for k in got if k not in want]
    for key, texts in got.items():
        truths = want.get(key, [])
        if truths and len(texts) != len(truths):
            problems.append(f"{key} reported {len(texts)} times, expected {len(truths)}")
        elif truths and not all(t.matches(x) for t, x in zip(truths, texts)):
            problems += [f"{key}: {x[:300]!r} != {t.expected!r}"
                         for t, x in zip(truths, texts) if not t.matches(x)]
    return problems


@pytest.fixture(scope="module")
def blab() -> Iterator[Lab]:
    with Lab(size=24, banner_servers=True) as lab:
        yield lab


@pytest.fixture(scope="module")
def tidescan_files(blab: Lab, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("banners")
    files = {fmt: out / name for fmt, name in FORMATS.items()}
    argv = [sys.executable, "-m", "tidescan", bs.BANNER_RANGE, "-p", PORTS, "--banners",
            "--source-ip", blab.spare_ip, "--adapter", blab.scan_if, "--rate", "5000",
            "--wait", "4", "--nostatus"]
    for fmt, path in files.items():
        argv += [f"-o{fmt}", str(path)]
    proc = blab.run_scanner(argv, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return files


@pytest.mark.lab
@pytest.mark.parametrize("fmt", list(FORMATS))
def test_tidescan_reports_every_banner(blab: Lab, tidescan_files: dict[str, Path],
                                       fmt: str) -> None:
    banners, opened = read_banners(fmt, tidescan_files[fmt])
    assert compare(blab, banners, fmt) == []
    assert opened == {(s.ip, s.port) for s in bs.SERVICES}


@pytest.mark.lab
def test_masscan_finds_nothing_we_miss(blab: Lab, tidescan_files: dict[str, Path],
                                       tmp_path: Path) -> None:
    """Debian's masscan 1.3.2 on the same servers: tidescan found every (ip, port, type) it did.

    masscan runs its timers only when a frame arrives, so the lab keeps it awake with pings
    (`keep_scanner_awake`); it uses another spare address of the link, whose ARP it answers.
    """
    masscan_ip = str(ipaddress.ip_network(blab.spare_cidr)[1])
    path = tmp_path / "masscan.bin"
    argv = ["masscan", bs.BANNER_RANGE, "-p", PORTS, "--banners", "--source-ip", masscan_ip,
            "--adapter", blab.scan_if, "--router-mac", blab.gateway_mac, "--rate", "5000",
            "--wait", "4", "-oB", str(path)]
    with blab.keep_scanner_awake():
        proc = blab.run_scanner(argv, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    theirs, their_open = read_banners("B", path)
    ours, _ = read_banners("B", tidescan_files["B"])
    assert their_open == {(s.ip, s.port) for s in bs.SERVICES}
    their_keys = {(ip, port, app) for ip, port, app, _ in theirs}
    our_keys = {(ip, port, app) for ip, port, app, _ in ours}
    assert len(their_keys) >= 8, theirs        # the comparison is not vacuous
    assert their_keys <= our_keys, their_keys - our_keys
    truth = {(t.ip, t.port, t.app): t for t in blab.banner_truth()}
    lines = []
    for ip, port, app, text in sorted(theirs):
        t = truth.get((ip, port, app))
        verdict = "= truth" if t is not None and t.matches(text) else "differs"
        lines.append(f"  {ip}:{port} {app:<10} {verdict}: {text[:90]!r}")
    print(f"\nmasscan 1.3.2: {len(their_keys)} (ip, port, type), tidescan: {len(our_keys)} "
          f"(-oB merges X509CA into X509; truth {len(truth)}); masscan's:\n" + "\n".join(lines))
