"""Live scans beyond TCP/IPv4 in the built-in lab: UDP, ICMP echo, ARP, IPv6 SYN and ping, mixed.

Each test runs the real `tidescan` command inside the lab's scanner namespace and compares every
reported record with the lab's truth, exactly (no tolerance): a missing or an extra record fails.
One lab (a /24 plus its IPv6 twin fd00:112::/120, seed 3) serves the whole module; its truth:

* TCP 21,22,80,443,8080: 128 open, 1032 closed, 120 filtered per family;
* UDP 53,161,1000,11211: 96 open (stand-in DNS/SNMP/memcached on 32 hosts each), 832 closed (ICMP
  port-unreachable), 96 filtered (16 drop hosts silent, 8 icmp hosts answering admin-prohibited);
* ping: 240 of 256 hosts up per family (all but the drop hosts);
* ARP on the scanner's link 10.200.0.0/24: exactly the gateway, with its MAC.
"""

from __future__ import annotations

import ipaddress
import json
import subprocess
from pathlib import Path

import dpkt
import numpy as np
import pytest

from scanlab import scan, tidescan_cmd
from tidescan.ipfmt import format_ipv6
from tidescan.lab import Lab
from tidescan.lab_plan import ip_to_int
from tidescan.output.binary import read_binary
from tidescan.packets.layout import mac_bytes
from tidescan.packets.triage import parse_frames
from tidescan.probes.base import OPEN, UDP_BASE, Ours
from tidescan.probes.udp import UdpProbe

pytestmark = pytest.mark.lab

TCP_PORTS = (21, 22, 80, 443, 8080)
UDP_PORTS = (53, 161, 1000, 11211)
SOURCE_PORT = 40000
Result = tuple[str, str, int, int]   # (status, proto, ip, port)


@pytest.fixture(scope="module")
def lab():  # type: ignore[no-untyped-def]
    with Lab(size=24, seed=3, ipv6=True) as lab:
        yield lab


def _ip(text: str) -> int:
    return int(ipaddress.ip_address(text))


def read_list(path: Path) -> list[Result]:
    """Every record of a -oL file; IPv6 text must be masscan's form (`tidescan.ipfmt`)."""
    out = []
    for line in path.read_text().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        status, proto, port, ip, _ts = line.split()
        if ":" in ip:
            assert ip == format_ipv6(_ip(ip)), ip
        out.append((status, proto, _ip(ip), int(port)))
    return out


def read_json(path: Path) -> list[Result]:
    out = []
    for rec in json.loads(path.read_text()):
        assert len(rec["ports"]) == 1
        p = rec["ports"][0]
        if ":" in rec["ip"]:
            assert rec["ip"] == format_ipv6(_ip(rec["ip"]))
        out.append((p["status"], p["proto"], _ip(rec["ip"]), p["port"]))
    return out


def expected(lab: Lab, proto: str, ports: tuple[int, ...], version: int) -> list[Result]:
    """What a perfect scan reports with --show open,closed (filtered: nothing)."""
    return sorted((state, proto, ip, port) for (ip, port), state in lab.truth(ports, proto, version).items()
                  if state != "filtered")


def pings(lab: Lab, version: int) -> list[Result]:
    hosts = lab.hosts_up(version)
    return sorted(("open", "icmp", int(ip), 0) for ip in (hosts.tolist() if version == 4 else hosts))


def run_ok(lab: Lab, args: list[str]) -> subprocess.CompletedProcess[str]:
    proc = scan(lab, args)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    return proc


def received_frames(pcap: Path) -> tuple[np.ndarray, np.ndarray]:
    with open(pcap, "rb") as fh:
        frames = [bytes(buf) for _ts, buf in dpkt.pcap.Reader(fh)]
    width = max(128, max(len(f) for f in frames))
    arr = np.zeros((len(frames), width), dtype=np.uint8)
    for i, f in enumerate(frames):
        arr[i, :len(f)] = np.frombuffer(f, np.uint8)
    return arr, np.array([len(f) for f in frames], dtype=np.uint32)


# ---------------------------------------------------------------------------------------------


def test_udp_scan_open_and_closed_exactly(lab: Lab, tmp_path: Path) -> None:
    out, pcap = tmp_path / "udp.txt", tmp_path / "rx.pcap"
    run_ok(lab, [lab.target_range, "-sU", "-p", ",".join(map(str, UDP_PORTS)), "--rate", "20000",
                 "--wait", "1", "--seed", "7", "--source-port", str(SOURCE_PORT),
                 "--show", "open,closed", "-oL", str(out), "--pcap", str(pcap)])
    got = read_list(out)
    want = expected(lab, "udp", UDP_PORTS, 4)
    assert sorted(got) == want          # also: no duplicates, nothing from a filtered host
    assert lab.counts(UDP_PORTS, "udp") == {"open": 96, "closed": 832, "filtered": 96}
    assert {p for s, _, _, p in got if s == "open"} == {53, 161, 11211}

    # Every "open" came from a stand-in that echoed the cookie masscan hides in its payload (DNS
    # id, SNMP request-id, memcached request id): the probes carry it where the protocol wants it.
    frames, lengths = received_frames(pcap)
    parsed = parse_frames(frames, lengths)
    ours = Ours(ip_to_int(lab.scan_ip), ip_to_int(lab.scan_ip), None, SOURCE_PORT, SOURCE_PORT)
    replies = UdpProbe(lab.scan_mac, lab.gateway_mac).classify(parsed, 7, ours)
    opened = replies.status == OPEN
    assert int(opened.sum()) == 96 and replies.verified[opened].all()
    assert set((replies.port[opened] - UDP_BASE).tolist()) == {53, 161, 11211}


def test_ping_finds_exactly_the_hosts_up(lab: Lab, tmp_path: Path) -> None:
    out = tmp_path / "ping.json"
    run_ok(lab, [lab.target_range, "--ping", "--rate", "20000", "--wait", "1", "-oJ", str(out)])
    got = read_json(out)
    assert sorted(got) == pings(lab, 4)
    assert len(got) == 240


def test_arp_scan_finds_only_the_gateway_and_its_mac(lab: Lab, tmp_path: Path) -> None:
    out = tmp_path / "arp.bin"
    with lab.capture(bpf="arp", snaplen=64) as cap:
        run_ok(lab, ["10.200.0.0/24", "--arp", "--rate", "5000", "--wait", "1", "-oB", str(out)])
    records = list(read_binary(out))
    truth = lab.arp_truth()
    assert [(r.status, r.proto, r.ip, r.port, r.mac) for r in records] == \
        [("up", "arp", ip, 0, mac_bytes(mac)) for ip, mac in truth.items()]
    # The probes were broadcast requests for every address of the link.
    asked = set()
    for frame in cap.frames():
        arp = dpkt.ethernet.Ethernet(frame).data
        if isinstance(arp, dpkt.arp.ARP) and arp.op == dpkt.arp.ARP_OP_REQUEST:
            asked.add(int.from_bytes(arp.tpa, "big"))
    lo = ip_to_int("10.200.0.0")
    assert asked == set(range(lo, lo + 256))
    # The binary file reads back into masscan's interactive line, MAC included.
    shown = subprocess.run(tidescan_cmd("--readscan", str(out)), capture_output=True, text=True,
                           timeout=60)
    assert shown.returncode == 0, shown.stderr
    assert f"Discovered up port 0/arp on {lab.gateway_ip} ({lab.gateway_mac})" in shown.stdout


def test_ipv6_syn_scan_goes_to_the_ipv6_router_and_matches_truth(lab: Lab, tmp_path: Path) -> None:
    # The IPv4 router MAC is wrong on purpose: IPv6 frames must use --router-mac-ipv6.
    out, binf = tmp_path / "v6.txt", tmp_path / "v6.bin"
    run_ok(lab, ["--range", lab.target_range6, "-p", lab.ports_text, "--rate", "20000", "--wait", "1",
                 "--router-mac", "02:00:00:00:00:99", "--router-mac-ipv6", lab.gateway_mac,
                 "--show", "open,closed", "-oL", str(out), "-oB", str(binf)])
    got = read_list(out)
    assert sorted(got) == expected(lab, "tcp", TCP_PORTS, 6)
    assert lab.counts(TCP_PORTS, "tcp", 6) == {"open": 128, "closed": 1032, "filtered": 120}
    records = list(read_binary(binf))
    assert {r.ip_version for r in records} == {6}
    assert sorted((r.status, r.proto, r.ip, r.port) for r in records) == sorted(got)
    assert {r.reason for r in records if r.status == "open"} == {0x12}      # syn-ack


def test_ipv6_ping_finds_exactly_the_hosts_up(lab: Lab, tmp_path: Path) -> None:
    out = tmp_path / "ping6.txt"
    run_ok(lab, ["--range", lab.target_range6, "--ping", "--rate", "20000", "--wait", "1",
                 "-oL", str(out)])
    got = read_list(out)
    assert sorted(got) == pings(lab, 6)
    assert len(got) == 240


def test_mixed_ipv4_ipv6_tcp_udp_ping_in_one_scan(lab: Lab, tmp_path: Path) -> None:
    # Both families, three kinds, every probe sent twice (--retries 1): each result exactly once.
    out, pcap = tmp_path / "mixed.json", tmp_path / "rx.pcap"
    ports = ",".join(map(str, TCP_PORTS)) + ",U:" + ",".join(map(str, UDP_PORTS))
    run_ok(lab, [lab.target_range, "--range", lab.target_range6, "-p", ports, "--ping",
                 "--retries", "1", "--rate", "30000", "--wait", "1", "--seed", "8",
                 "--source-port", str(SOURCE_PORT), "--show", "open,closed", "-oJ", str(out),
                 "--pcap", str(pcap)])
    want = sorted(expected(lab, "tcp", TCP_PORTS, 4) + expected(lab, "tcp", TCP_PORTS, 6)
                  + expected(lab, "udp", UDP_PORTS, 4) + expected(lab, "udp", UDP_PORTS, 6)
                  + pings(lab, 4) + pings(lab, 6))
    got = read_json(out)
    assert sorted(got) == want
    assert len(want) == 2 * (1160 + 928 + 240)
    # The IPv6 UDP probes carry masscan's cookies too: every stand-in answer echoes one.
    frames, lengths = received_frames(pcap)
    ours = Ours(ip_to_int(lab.scan_ip), ip_to_int(lab.scan_ip), _ip(lab.scan_ip6 or ""),
                SOURCE_PORT, SOURCE_PORT)
    replies = UdpProbe(lab.scan_mac, lab.gateway_mac).classify(parse_frames(frames, lengths), 8, ours)
    opened = replies.status == OPEN
    assert replies.verified[opened].all()
    assert int((opened & replies.is_v6).sum()) == int((opened & ~replies.is_v6).sum()) == 2 * 96


def test_ipv6_spoofed_source_answers_nd_and_resets_every_synack(lab: Lab, tmp_path: Path) -> None:
    # fd00:200::3 belongs to nobody: tidescan answers the target's neighbour solicitation for it,
    # and (no kernel owns it to do so) sends the RST after each SYN-ACK itself, as masscan does.
    spoof = "fd00:200::3"
    out = tmp_path / "spoof6.txt"
    with lab.capture(bpf="ip6 and tcp", snaplen=96) as cap:
        run_ok(lab, ["--range", lab.target_range6, "-p", lab.ports_text, "--rate", "20000",
                     "--wait", "1", "--source-ip", spoof, "-oL", str(out)])
    want_open = lab.open_set(TCP_PORTS, "tcp", 6)
    assert {(ip, port) for _, _, ip, port in read_list(out)} == want_open
    synacks, resets = set(), set()
    me = _ip(spoof)
    for frame in cap.frames():
        ip6 = dpkt.ethernet.Ethernet(frame).data
        tcp = ip6.data
        src, dst = int.from_bytes(ip6.src, "big"), int.from_bytes(ip6.dst, "big")
        if dst == me and tcp.flags == dpkt.tcp.TH_SYN | dpkt.tcp.TH_ACK:
            synacks.add((src, tcp.sport, tcp.dport, tcp.ack))
        elif src == me and tcp.flags == dpkt.tcp.TH_RST:
            resets.add((dst, tcp.dport, tcp.sport, tcp.seq))
    assert {(ip, port) for ip, port, _, _ in synacks} == want_open
    assert resets == synacks      # one RST per SYN-ACK, seq = the SYN-ACK's ack
    neigh = lab.run_target(["ip", "-6", "neigh", "show", spoof]).stdout
    assert lab.scan_mac in neigh.lower()
