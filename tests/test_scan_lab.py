"""Live scans of the built-in lab: the scanner must find exactly the lab's truth.

Each test builds a fresh lab (namespaces made and removed by the test), runs the real `tidescan`
command inside the scanner namespace, and compares what it reports with what the lab knows.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from scanlab import read_json, read_list, scan, tidescan_cmd, truth_sets
from tidescan.lab import Lab
from tidescan.lab_plan import ip_to_int

pytestmark = pytest.mark.lab


@pytest.fixture
def lab():  # type: ignore[no-untyped-def]
    with Lab(size=20, seed=3) as lab:
        yield lab


@pytest.mark.parametrize("rate", [3000, 300000])
def test_scan_finds_exactly_the_truth(lab: Lab, tmp_path: Path, rate: int) -> None:
    out = tmp_path / "scan.txt"
    proc = scan(lab, [lab.target_range, "-p", lab.ports_text, "--rate", str(rate), "--wait", "2",
                      "--seed", "11", "--show", "open,closed", "-oL", str(out)])
    assert proc.returncode == 0, proc.stderr
    opened, closed = read_list(out)
    t_open, t_closed = truth_sets(lab)
    assert opened == t_open
    assert closed == t_closed
    filtered = {ip_to_int(x) if isinstance(x, str) else int(x) for x in lab.filtered_hosts()}
    assert not {ip for ip, _ in opened | closed} & filtered


def test_shards_union_is_the_full_scan(lab: Lab, tmp_path: Path) -> None:
    found: list[set[tuple[int, int]]] = []
    for k in (1, 2, 3):
        out = tmp_path / f"shard{k}.txt"
        proc = scan(lab, [lab.target_range, "-p", lab.ports_text, "--rate", "100000", "--wait", "1",
                          "--seed", "99", "--shard", f"{k}/3", "-oL", str(out)])
        assert proc.returncode == 0, proc.stderr
        found.append(read_list(out)[0])
    t_open, _ = truth_sets(lab)
    assert found[0] | found[1] | found[2] == t_open
    assert not (found[0] & found[1]) and not (found[1] & found[2]) and not (found[0] & found[2])


@pytest.mark.parametrize("shard", [None, "2/3"])
def test_sigint_then_resume_finds_everything(lab: Lab, tmp_path: Path, shard: str | None) -> None:
    first = tmp_path / "first.json"
    # A shard of 2/3 is ~6,800 probes: at 2,500 pps it still sends when the SIGINT comes at 1.5 s
    # (start-up is ~0.3 s), so the interruption always lands mid-scan.
    args = [lab.target_range, "-p", lab.ports_text, "--rate", "2500", "--wait", "1", "--seed", "5",
            "-oJ", str(first), "--adapter", lab.scan_if, "--nostatus"]
    if shard:
        args += ["--shard", shard]
    proc = lab.popen_scanner(tidescan_cmd(*args), cwd=tmp_path, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    time.sleep(1.5)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "paused.conf" in err
    records = read_json(first)  # valid JSON after Ctrl-C, with what was found
    paused = (tmp_path / "paused.conf").read_text()
    assert "resume-index" in paused

    second = tmp_path / "second.json"
    proc2 = lab.run_scanner(tidescan_cmd("--resume", "paused.conf", "-oJ", str(second), "--nostatus"),
                            timeout=120, cwd=tmp_path)
    assert proc2.returncode == 0, proc2.stderr
    records += read_json(second)
    found = {(ip_to_int(r["ip"]), p["port"]) for r in records for p in r["ports"] if p["status"] == "open"}
    t_open, _ = truth_sets(lab)
    if shard:
        # The resumed shard, together with a full run of the other shards, covers everything.
        for k in ("1/3", "3/3"):
            if k == shard:
                continue
            out = tmp_path / f"other{k[0]}.txt"
            p = scan(lab, [lab.target_range, "-p", lab.ports_text, "--rate", "100000", "--wait", "1",
                           "--seed", "5", "--shard", k, "-oL", str(out)])
            assert p.returncode == 0, p.stderr
            found |= read_list(out)[0]
    assert found == t_open


def test_exclude_sends_nothing_to_excluded(lab: Lab, tmp_path: Path) -> None:
    lo, hi = lab.target_bounds
    excl_lo, excl_hi = lo + 256, lo + 511  # 10.112.1.0/24
    out = tmp_path / "x.txt"
    with lab.capture(bpf="tcp[tcpflags] & tcp-syn != 0 and not tcp[tcpflags] & tcp-ack != 0") as cap:
        proc = scan(lab, [lab.target_range, "-p", lab.ports_text, "--rate", "50000", "--wait", "1",
                          "--exclude", "10.112.1.0/24", "-oL", str(out)])
    assert proc.returncode == 0, proc.stderr
    dst = cap.ipv4_destinations()
    assert len(dst) > 10000  # the capture saw the scan
    assert not ((dst >= excl_lo) & (dst <= excl_hi)).any()
    opened, _ = read_list(out)
    t_open, _ = truth_sets(lab)
    assert opened == {(ip, p) for ip, p in t_open if not excl_lo <= ip <= excl_hi}


def test_spoofed_source_ip_answers_arp_and_finds_everything(lab: Lab, tmp_path: Path) -> None:
    out = tmp_path / "spoof.txt"
    proc = scan(lab, [lab.target_range, "-p", lab.ports_text, "--rate", "50000", "--wait", "2",
                      "--source-ip", lab.spare_ip, "-oL", str(out)])
    assert proc.returncode == 0, proc.stderr
    opened, _ = read_list(out)
    assert opened == truth_sets(lab)[0]
    # The target learned the spare address from our ARP reply.
    neigh = lab.run_target(["ip", "neigh", "show", lab.spare_ip], capture_output=True, text=True).stdout
    assert lab.scan_mac.lower() in neigh.lower()


def test_router_mac_is_found_by_our_arp_and_timeout_is_clear(lab: Lab, tmp_path: Path) -> None:
    # No --router-mac: our own ARP for the gateway; a trace shows the frames went to its MAC.
    pcap = tmp_path / "rx.pcap"
    proc = scan(lab, ["10.112.0.1", "-p", "22", "--wait", "1", "--pcap", str(pcap)])
    assert proc.returncode == 0, proc.stderr
    # An unused router address: a clear one-line error naming the option that fixes it.
    proc = scan(lab, ["10.112.0.1", "-p", "22", "--router-ip", "10.200.0.99", "--wait", "0"])
    assert proc.returncode == 1
    assert "--router-mac" in proc.stderr and "Traceback" not in proc.stderr


def test_nmap_agrees_on_a_small_part_of_the_lab(lab: Lab, tmp_path: Path) -> None:
    lo, _ = lab.target_bounds
    # 16 hosts chosen to include open, closed, rst-reject and filtered hosts.
    part = "10.112.0.0/28"
    out = tmp_path / "ours.txt"
    proc = scan(lab, [part, "-p", lab.ports_text, "--rate", "5000", "--wait", "2", "--show", "open,closed",
                      "-oL", str(out)])
    assert proc.returncode == 0, proc.stderr
    ours_open, ours_closed = read_list(out)
    xml = tmp_path / "nmap.xml"
    nm = lab.run_scanner(["nmap", "-sS", "-n", "-Pn", "--max-retries", "1", "-T5", "-p", lab.ports_text, part,
                          "-oX", str(xml)], timeout=180)
    assert nm.returncode == 0, nm.stderr
    from libnmap.parser import NmapParser
    report = NmapParser.parse_fromfile(str(xml))
    n_open, n_closed = set(), set()
    for host in report.hosts:
        for port, proto in host.get_ports():
            state = host.get_service(port, proto).state
            pair = (ip_to_int(host.address), port)
            if state == "open":
                n_open.add(pair)
            elif state == "closed":
                n_closed.add(pair)
    assert ours_open == n_open
    assert ours_closed == n_closed


def test_bad_environment_gives_clear_errors(lab: Lab) -> None:
    missing = lab.run_scanner(tidescan_cmd("10.112.0.1", "-p", "22", "--adapter", "nosuch0"), timeout=60)
    assert missing.returncode == 1 and "nosuch0" in missing.stderr and "Traceback" not in missing.stderr
    # Without the privilege: root, but CAP_NET_RAW/CAP_NET_ADMIN removed from the bounding set.
    proc = lab.run_scanner(["setpriv", "--bounding-set=-net_raw,-net_admin", "--inh-caps=-net_raw,-net_admin",
                            *tidescan_cmd("10.112.0.1", "-p", "22", "--adapter", lab.scan_if)], timeout=60)
    assert proc.returncode == 1 and "CAP_NET_RAW" in proc.stderr and "Traceback" not in proc.stderr
    # No default route: remove it inside the scanner namespace.
    lab.run_scanner(["ip", "route", "del", "default"])
    noroute = lab.run_scanner(tidescan_cmd("10.112.0.1", "-p", "22", "--nostatus"), timeout=60)
    assert noroute.returncode == 1 and "route" in noroute.stderr and "Traceback" not in noroute.stderr


def test_tidescan_finds_every_port_open_on_tidescanned(tmp_path: Path) -> None:
    """tidescanned answers SYN on any port: a scan of its addresses finds every port open."""
    with Lab(size=24, seed=4, with_responder=True) as lab:
        out = tmp_path / "rsp.txt"
        ports = "1,22,80,443,3389,8080,31337,65535"
        proc = scan(lab, [lab.responder_range, "-p", ports, "--rate", "20000", "--wait", "2", "-oL", str(out)])
        assert proc.returncode == 0, proc.stderr
        opened, closed = read_list(out)
        lo, hi = lab.responder_bounds
        want = {(ip, int(p)) for ip in range(lo, hi + 1) for p in ports.split(",")}
        assert opened == want
        assert not closed


def test_second_sigint_exits_at_once_with_valid_outputs(lab: Lab, tmp_path: Path) -> None:
    out_json, out_xml = tmp_path / "a.json", tmp_path / "a.xml"
    args = [lab.target_range, "-p", lab.ports_text, "--rate", "3000", "--wait", "30", "--seed", "8",
            "-oJ", str(out_json), "-oX", str(out_xml), "--adapter", lab.scan_if, "--nostatus"]
    proc = lab.popen_scanner(tidescan_cmd(*args), cwd=tmp_path, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    time.sleep(1.5)
    proc.send_signal(signal.SIGINT)
    time.sleep(1.5)
    assert proc.poll() is None  # first ^C: still receiving for --wait (30 s)
    t0 = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert time.monotonic() - t0 < 3.0
    assert proc.returncode == 0, err
    records = read_json(out_json)
    assert records, "results found before ^C are kept"
    from libnmap.parser import NmapParser
    report = NmapParser.parse_fromfile(str(out_xml))
    assert len(report.hosts) == len({r["ip"] for r in records if any(p["status"] == "open" for p in r["ports"])})
    assert (tmp_path / "paused.conf").exists()


def test_banners_from_tidescanned_through_the_user_mode_stack(tmp_path: Path) -> None:
    """--banners: our stack completes the handshake, sends hellos, and reports what answers."""
    with Lab(size=24, seed=4, with_responder=True) as lab:
        out = tmp_path / "b.json"
        ip = "10.113.0.7"
        proc = scan(lab, [ip, "-p21,80,443", "--banners", "--source-ip", lab.spare_ip, "--wait", "5",
                          "-oJ", str(out)])
        assert proc.returncode == 0, proc.stderr
        banners = {(p["port"], p["service"]["name"]): p["service"]["banner"]
                   for r in read_json(out) for p in r["ports"] if "service" in p}
        assert banners[(21, "ftp")].startswith("220 ")
        assert banners[(80, "http.server")]
        assert banners[(80, "title")] == "401 Authorization Required"
        assert banners[(443, "ssl")].startswith("TLS/1.2 cipher:0x")
        assert (443, "X509") in banners
