"""The built-in lab: its truth (pure, no root), and that the real network matches it (lab tests).

The truth is checked two ways: internally (the matrix, the dict, `state_of` and the nft ruleset all
agree, for any seed and size) and against real tools in real namespaces (nmap -sS, plain TCP
connects, a raw SYN burst whose answers are counted on both veth ends and captured with tcpdump).
"""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
import textwrap
import time
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tidescan import lab as labmod
from tidescan import lab_listeners, netns
from tidescan.errors import EnvironmentProblem
from tidescan.lab import (CLOSED, DROP, FILTERED, ICMP_REJECT, NORMAL, OPEN, RST_REJECT, Lab,
                          LabPlan, default_lab_scan_argv)
from tidescan.lab_plan import int_to_ip, ip_to_int

# ---------------------------------------------------------------------------------------------
# The plan and its truth (no root needed)
# ---------------------------------------------------------------------------------------------


def test_default_plan_numbers() -> None:
    plan = LabPlan()
    assert plan.target_range == "10.112.0.0/20"
    assert (plan.lo, plan.hi) == (ip_to_int("10.112.0.0"), ip_to_int("10.112.15.255"))
    c = plan.counts()
    # 4 sparse listen ports x 32 hosts open; 16 drop + 8 icmp hosts x 5 ports filtered.
    assert c == {"open": 128, "filtered": 120, "closed": 4096 * 5 - 128 - 120}
    assert len(plan.filtered_hosts()) == 24
    assert len(plan.hosts_up()) == 4096 - 16


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), size=st.integers(24, 28),
       ports=st.lists(st.integers(0, 65535), min_size=1, max_size=6, unique=True),
       dense=st.booleans())
def test_truth_views_agree(seed: int, size: int, ports: list[int], dense: bool) -> None:
    ports = sorted(set(ports) | {22, 80})
    plan = LabPlan(size=size, ports=ports, seed=seed, open_per_port=3, drop_hosts=2,
                   icmp_hosts=2, rst_hosts=2, dense_ports=(80,) if dense else ())
    m = plan.truth_matrix()
    d = plan.truth()
    assert m.shape == (plan.n_hosts, len(ports)) and len(d) == m.size
    for (ip, port), name in d.items():
        assert plan.state_of(ip, port) == name
        assert name == ("closed", "open", "filtered")[m[ip - plan.lo, ports.index(port)]]
    assert plan.open_set() == {k for k, v in d.items() if v == "open"}
    # Roles: open only on normal hosts; drop/icmp rows filtered; rst rows closed.
    roles = plan.host_role
    assert np.all(m[roles == DROP] == FILTERED) and np.all(m[roles == ICMP_REJECT] == FILTERED)
    assert np.all(m[roles == RST_REJECT] == CLOSED)
    assert np.all(roles[np.nonzero(m == OPEN)[0]] == NORMAL)
    j80 = ports.index(80)
    assert int((m[:, j80] == OPEN).sum()) == (int((roles == NORMAL).sum()) if dense else 3)
    assert int((m[:, ports.index(22)] == OPEN).sum()) == 3
    # The same seed gives the same lab; the plan is a pure function of its parameters.
    again = LabPlan(size=size, ports=ports, seed=seed, open_per_port=3, drop_hosts=2,
                    icmp_hosts=2, rst_hosts=2, dense_ports=(80,) if dense else ())
    assert np.array_equal(again.truth_matrix(), m)


def test_seed_changes_the_lab_and_sink_filters_everything() -> None:
    a, b = LabPlan(seed=1), LabPlan(seed=2)
    assert a.open_set() != b.open_set()
    sink = LabPlan(sink=True)
    assert sink.counts() == {"open": 0, "closed": 0, "filtered": 4096 * 5}
    assert len(sink.hosts_up()) == 0


def test_big_truth_is_vectorized() -> None:
    plan = LabPlan(size=16, ports=range(1, 101), listen={21: "ftp", 22: "ssh", 80: "http"},
                   dense_ports=(21, 22, 80), open_per_port=0, drop_hosts=0, icmp_hosts=0,
                   rst_hosts=0)
    t0 = time.perf_counter()
    m = plan.truth_matrix()
    opened = plan.open_array()
    elapsed = time.perf_counter() - t0
    assert m.shape == (65536, 100) and opened.shape == (3 * 65536, 2)
    assert elapsed < 1.0, elapsed
    assert set(np.unique(opened[:, 1]).tolist()) == {21, 22, 80}


def test_nft_ruleset_names_exactly_the_planned_hosts() -> None:
    plan = LabPlan()
    rules = plan.nft_ruleset("veth0")

    def elements(setname: str) -> set[str]:
        m = re.search(r"set " + setname + r" \{[^{}]*elements = \{([^}]*)\}", rules)
        assert m, setname
        return {e.strip() for e in m.group(1).split(",")}

    def ips(role: int) -> set[str]:
        return {int_to_ip(a) for a in plan.hosts_with_role(role).tolist()}

    assert elements("drop_hosts") == ips(DROP)
    assert elements("icmp_hosts") == ips(ICMP_REJECT)
    assert elements("rst_hosts") == ips(RST_REJECT)
    assert elements("open_pairs") == {f"{int_to_ip(a)} . {p}" for a, p in plan.open_set()}
    assert not re.search(r"\bct ", rules)  # stateless: conntrack must never see scan traffic
    assert 'device "veth0"' in rules


def test_small_ranges_scale_the_roles_and_ports_compress() -> None:
    plan = LabPlan(size=28)
    assert (plan.drop_hosts, plan.icmp_hosts, plan.rst_hosts, plan.open_per_port) == (1, 0, 0, 3)
    assert plan.counts()["open"] == 4 * 3
    assert LabPlan(ports=[*range(1, 101), 443, 8080, 8081]).ports_text == "1-100,443,8080,8081"


def test_plan_rejects_bad_parameters() -> None:
    with pytest.raises(ValueError, match="between 12 and 30"):
        LabPlan(size=8)
    with pytest.raises(ValueError, match="outside 0..65535"):
        LabPlan(ports=[70000])
    with pytest.raises(ValueError, match="no listener"):
        LabPlan(dense_ports=[8080])
    with pytest.raises(ValueError, match="do not fit"):
        LabPlan(size=30, drop_hosts=5)
    with pytest.raises(ValueError, match="too many for a dict"):
        LabPlan(size=16, ports=range(100)).truth()


def test_banners_are_pure_and_name_the_endpoint() -> None:
    assert lab_listeners.banner_for("ssh", "10.112.0.5", 22) == b"SSH-2.0-tidescan_lab_10.112.0.5_22\r\n"
    http = lab_listeners.banner_for("http", "10.112.0.5", 80)
    head, body = http.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.0 200 OK") and b"<title>tidescan lab 10.112.0.5:80</title>" in body
    assert f"Content-Length: {len(body)}".encode() in head
    assert lab_listeners.banner_for("silent", "10.112.0.5", 443) == b""
    with pytest.raises(ValueError):
        lab_listeners.banner_for("gopher", "10.112.0.5", 70)


def test_cli_truth_and_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert labmod.main(["truth", "--size", "24", "--list"]) == 0
    out = capsys.readouterr().out
    assert "range    10.112.0.0/24 (256 addresses" in out
    plan = LabPlan(size=24)
    assert out.count("\nopen ") == len(plan.open_set())
    assert labmod.main(["truth", "--ports", "80,x"]) == 1
    err = capsys.readouterr().err
    assert err.strip() == "tidescan-lab: --ports: bad port 'x' at column 4"
    assert labmod.main(["truth", "--dense", "8080"]) == 0  # a dense port gets a listener


def test_default_scan_argv() -> None:
    lab = Lab(size=24)
    argv = default_lab_scan_argv(lab)
    assert argv[:3] == ["-p", "21,22,80,443,8080", "10.112.0.0/24"]
    assert argv[argv.index("--adapter") + 1] == lab.scan_if


# ---------------------------------------------------------------------------------------------
# The real lab (root, namespaces)
# ---------------------------------------------------------------------------------------------


def _gone(pid: int) -> bool:
    """True when `pid` no longer runs (absent or a zombie nobody reaped yet)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def _ours() -> list[str]:
    return [n for n in netns.list_namespaces() if n.startswith(netns.unique_prefix())]


@pytest.mark.lab
def test_layout_isolation_and_timing() -> None:
    t0 = time.perf_counter()
    with Lab() as lab:
        up = time.perf_counter() - t0
        assert lab.scan_ns == f"{netns.unique_prefix()}scan" and lab.tgt_ns.startswith("ts-")
        assert len(lab.scan_if) <= 15 and len(lab.tgt_if) <= 15
        assert set(_ours()) == {lab.scan_ns, lab.tgt_ns}
        # The scanner's only route out is the default via the target namespace...
        routes = lab.run_scanner(["ip", "-4", "route"]).stdout.splitlines()
        assert routes[0].startswith(f"default via {lab.gateway_ip} dev {lab.scan_if}")
        assert len(routes) == 2 and routes[1].startswith("10.200.0.0/24")
        # ...which has no interface but lo and the veth, and does not forward.
        links = lab.run_target(["ip", "-o", "link"]).stdout
        assert sorted(re.findall(r"^\d+: ([^:@]+)", links, re.M)) == sorted(["lo", lab.tgt_if])
        assert lab.run_target(["sysctl", "-n", "net.ipv4.ip_forward"]).stdout.strip() == "0"
        assert lab.run_target(["sysctl", "-n", "net.ipv4.tcp_syncookies"]).stdout.strip() == "2"
        assert lab.run_target(["sysctl", "-n", "net.core.somaxconn"]).stdout.strip() == "65535"
        ss = lab.run_target(["ss", "-ltnH"]).stdout
        assert sorted(int(line.split()[3].rsplit(":", 1)[1]) for line in ss.splitlines()) == \
            [21, 22, 80, 443]
        assert all(line.split()[2] == "65535" for line in ss.splitlines())  # listen backlog
        mac = lab.run_scanner(["cat", f"/sys/class/net/{lab.scan_if}/address"]).stdout.strip()
        assert mac == lab.scan_mac
        listener = lab._listener
        assert listener is not None and lab.listener_alive()
        t1 = time.perf_counter()
    down = time.perf_counter() - t1
    print(f"\nlab start-up {up * 1000:.0f} ms (internal {lab.startup_seconds * 1000:.0f} ms), "
          f"tear-down {down * 1000:.0f} ms")
    assert up < 2.0 and down < 2.0
    assert _ours() == [] and _gone(listener.pid)


@pytest.mark.lab
def test_nmap_syn_scan_agrees_with_truth() -> None:
    with Lab() as lab:
        # 16 hosts covering every role, the range's first and last address, and open pairs.
        hosts = [int(lab.hosts_with_role(r)[k]) for r in (DROP, ICMP_REJECT, RST_REJECT)
                 for k in (0, 1)]
        opened = sorted({ip for ip, _ in lab.open_set()})
        hosts += opened[:8] + list(lab.target_bounds)
        assert len(set(hosts)) == 16
        r = lab.run_scanner(["nmap", "-sS", "-Pn", "-n", "-T5", "--reason", "--max-retries", "2",
                             "--initial-rtt-timeout", "100ms", "--max-rtt-timeout", "300ms",
                             "-p", lab.ports_text, "-oX", "-", *map(int_to_ip, hosts)])
        assert r.returncode == 0, r.stderr
        seen: dict[tuple[int, int], tuple[str, str]] = {}
        for h in ET.fromstring(r.stdout).iter("host"):
            ip = ip_to_int(h.find("address").get("addr"))  # type: ignore[union-attr]
            assert h.find("ports/extraports") is None
            for p in h.iter("port"):
                st_ = p.find("state")
                seen[(ip, int(p.get("portid")))] = (st_.get("state"), st_.get("reason"))  # type: ignore
        expected = {(ip, port): lab.state_of(ip, port) for ip in hosts for port in lab.ports}
        assert {k: v[0] for k, v in seen.items()} == expected
        n_open = sum(v == "open" for v in expected.values())
        assert n_open >= 8 and sum(v == "filtered" for v in expected.values()) == 4 * 5
        # The firewall roles are real: drop -> silence, icmp -> port-unreachable, rst -> reset.
        for ip in hosts[:2]:
            assert {seen[(ip, p)][1] for p in lab.ports} == {"no-response"}
        for ip in hosts[2:4]:
            assert {seen[(ip, p)][1] for p in lab.ports} == {"port-unreach"}
        for ip in hosts[4:6]:
            assert {seen[(ip, p)][1] for p in lab.ports} == {"reset"}


@pytest.mark.lab
def test_tcp_connect_open_closed_filtered_and_ping() -> None:
    with Lab() as lab:
        by_port: dict[int, int] = {}
        for ip, port in sorted(lab.open_set()):
            by_port.setdefault(port, ip)
        closed = next(ip for ip in range(lab.target_bounds[0], lab.target_bounds[1])
                      if lab.state_of(ip, 22) == "closed")
        dropped = int(lab.hosts_with_role(DROP)[0])
        with lab.entered_scanner():
            socks = {name: socket.socket() for name in ("ssh", "ftp", "http", "closed", "drop")}
        try:
            for name in ("ssh", "ftp", "http"):
                port = {"ssh": 22, "ftp": 21, "http": 80}[name]
                ip = int_to_ip(by_port[port])
                s = socks[name]
                s.settimeout(5)
                s.connect((ip, port))
                if name == "http":
                    s.sendall(b"GET / HTTP/1.0\r\n\r\n")
                data = b""
                while chunk := s.recv(4096):
                    data += chunk
                assert data == lab.banner_of(ip, port)
            socks["closed"].settimeout(5)
            with pytest.raises(ConnectionRefusedError):
                socks["closed"].connect((int_to_ip(closed), 22))
            socks["drop"].settimeout(0.5)
            with pytest.raises(TimeoutError):
                socks["drop"].connect((int_to_ip(dropped), 22))
        finally:
            for s in socks.values():
                s.close()
        icmp = int_to_ip(int(lab.hosts_with_role(ICMP_REJECT)[0]))
        assert lab.run_scanner(["ping", "-c", "1", "-W", "2", icmp]).returncode == 0
        assert lab.run_scanner(["ping", "-c", "1", "-W", "0.3", int_to_ip(dropped)]).returncode != 0


def _csum(words: np.ndarray) -> np.ndarray:
    """Internet checksum of rows of 16-bit words (uint32 array (n, k))."""
    s = words.sum(axis=1, dtype=np.uint64)
    while np.any(s >> 16):
        s = (s & 0xFFFF) + (s >> 16)
    return (~s & 0xFFFF).astype(np.uint16)


def _syn_frames(lab: Lab, ips: np.ndarray, ports: np.ndarray) -> np.ndarray:
    """Ethernet/IPv4/TCP SYN frames (n, 54) from the scanner to (ips, ports), built with NumPy."""
    n = ips.size
    f = np.zeros((n, 54), dtype=np.uint8)
    f[:, 0:6] = np.frombuffer(bytes.fromhex(lab.gateway_mac.replace(":", "")), np.uint8)
    f[:, 6:12] = np.frombuffer(bytes.fromhex(lab.scan_mac.replace(":", "")), np.uint8)
    f[:, 12:14] = (0x08, 0x00)
    src = ip_to_int(lab.scan_ip)
    sport = (40000 + np.arange(n) % 20000).astype(np.uint32)
    seq = np.arange(n, dtype=np.uint32) * 7919
    ip = f[:, 14:34]
    ip[:, 0], ip[:, 3], ip[:, 8], ip[:, 9] = 0x45, 40, 64, 6
    for off, val in ((12, np.full(n, src, np.uint32)), (16, ips.astype(np.uint32))):
        ip[:, off:off + 4] = val.astype(">u4").view(np.uint8).reshape(n, 4)
    ip[:, 10:12] = _csum(ip.reshape(n, 10, 2).astype(np.uint32) @ np.array([256, 1], np.uint32)
                         )[:, None].astype(">u2").view(np.uint8)
    tcp = f[:, 34:54]
    tcp[:, 0:2] = sport.astype(">u2").view(np.uint8).reshape(n, 2)
    tcp[:, 2:4] = ports.astype(">u2").view(np.uint8).reshape(n, 2)
    tcp[:, 4:8] = seq.astype(">u4").view(np.uint8).reshape(n, 4)
    tcp[:, 12], tcp[:, 13], tcp[:, 14] = 0x50, 0x02, 0x04  # header length 20, SYN, window 1024
    pseudo = np.concatenate([ip[:, 12:20], np.tile(np.array([0, 6, 0, 20], np.uint8), (n, 1)), tcp],
                            axis=1)
    words = pseudo.reshape(n, -1, 2).astype(np.uint32) @ np.array([256, 1], np.uint32)
    tcp[:, 16:18] = _csum(words)[:, None].astype(">u2").view(np.uint8)
    return f


@pytest.mark.lab
def test_syn_burst_every_probe_answered_exactly_as_truth() -> None:
    """A raw SYN to every (ip, port) of a /20 x 5 ports, as fast as Python sends them.

    Every non-filtered probe gets exactly one answer (counted on both veth ends), every SYN-ACK
    comes from an open pair of the truth (tcpdump on the target), none is lost at this rate.
    """
    with Lab(size=20, dense_ports=(80,)) as lab:
        plan = lab.plan
        ips = np.repeat(plan.host_ips(), len(lab.ports))
        ports = np.tile(np.asarray(lab.ports, np.uint32), plan.n_hosts)
        frames = _syn_frames(lab, ips, ports)
        counts = lab.counts()
        icmp_answers = len(lab.hosts_with_role(ICMP_REJECT)) * len(lab.ports)
        expected = counts["open"] + counts["closed"] + icmp_answers
        with lab.entered_scanner():
            tx = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
        tx.bind((lab.scan_if, 0))
        bpf = f"src net {lab.target_range}"  # every answer, nothing the scanner sent
        try:
            before_t, before_s = lab.target_counters(), lab.scanner_counters()
            with lab.capture(bpf=bpf, snaplen=64) as cap:
                t0 = time.perf_counter()
                for row in frames:
                    while True:
                        try:
                            tx.send(row.data)
                            break
                        except BlockingIOError:  # pragma: no cover - rare
                            time.sleep(0.0001)
                sent_s = time.perf_counter() - t0
                deadline, last = time.monotonic() + 10, -1
                while time.monotonic() < deadline:
                    got = lab.scanner_counters()["rx_packets"] - before_s["rx_packets"]
                    if got >= expected and got == last:
                        break
                    last = got
                    time.sleep(0.2)
        finally:
            tx.close()
        after_t, after_s = lab.target_counters(), lab.scanner_counters()
        print(f"\nsent {len(frames)} SYNs in {sent_s * 1000:.0f} ms "
              f"({len(frames) / sent_s / 1000:.0f} k/s); answers {expected} "
              f"({counts['open']} SYN-ACK)")
        # Counters on both veth ends: every answer left the target and reached the scanner
        # (the slack is for ARP: the scanner's kernel resolves the gateway to RST the SYN-ACKs).
        assert after_t["rx_packets"] - before_t["rx_packets"] >= len(frames)
        assert 0 <= after_t["tx_packets"] - before_t["tx_packets"] - expected <= 2
        assert after_s["rx_packets"] - before_s["rx_packets"] == \
            after_t["tx_packets"] - before_t["tx_packets"]
        assert after_t["tx_dropped"] == after_s["tx_dropped"] == 0
        # The capture classifies each answer: exactly the truth, each pair once.
        assert cap.kernel_drops == 0 and cap.complete
        synack, rst, icmp = [], [], []
        for fr in cap.frames():
            src = int.from_bytes(fr[26:30], "big")
            if fr[23] == 1:
                icmp.append(src)
                continue
            pair = (src, int.from_bytes(fr[34:36], "big"))
            (synack if fr[47] == 0x12 else rst).append(pair)
            assert fr[47] in (0x12, 0x14)
        closed = {k for k, v in lab.truth().items() if v == "closed"}
        assert len(synack) == len(set(synack)) and set(synack) == lab.open_set()
        assert len(rst) == len(set(rst)) and set(rst) == closed
        assert sorted(set(icmp)) == lab.hosts_with_role(ICMP_REJECT).tolist()
        assert len(icmp) == icmp_answers


@pytest.mark.lab
def test_sink_answers_nothing_but_the_router_still_does() -> None:
    with Lab(size=24, sink=True) as lab:
        assert lab.counts()["filtered"] == 256 * len(lab.ports)
        ips = np.repeat(lab.plan.host_ips(), len(lab.ports))
        frames = _syn_frames(lab, ips, np.tile(np.asarray(lab.ports, np.uint32), 256))
        with lab.entered_scanner():
            tx = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
        try:
            tx.bind((lab.scan_if, 0))
            before = lab.target_counters()
            for row in frames:
                tx.send(row.data)
            time.sleep(0.3)
            after = lab.target_counters()
        finally:
            tx.close()
        assert after["rx_packets"] - before["rx_packets"] == len(frames)
        assert after["tx_packets"] - before["tx_packets"] == 0
        assert lab.run_scanner(["ping", "-c", "1", "-W", "2", lab.gateway_ip]).returncode == 0


@pytest.mark.lab
def test_capture_sees_exactly_what_was_sent() -> None:
    with Lab(size=24) as lab:
        targets = [int_to_ip(lab.target_bounds[0] + k) for k in (3, 5, 7)]
        targets = [t for t in targets if lab.state_of(t, 8080) == "closed"]
        with lab.capture(bpf="ip") as cap:
            for t in targets:
                with lab.entered_scanner():
                    s = socket.socket()
                try:
                    s.settimeout(3)
                    with pytest.raises(ConnectionRefusedError):
                        s.connect((t, 8080))
                finally:
                    s.close()
        dsts = {int_to_ip(d) for d in cap.ipv4_destinations().tolist()}
        assert dsts == set(targets) | {lab.scan_ip}  # SYNs out, RSTs back
        assert cap.kernel_drops == 0 and cap.complete and cap.captured == len(cap.frames())


@pytest.mark.lab
def test_cleanup_after_exception_and_of_scanner_processes() -> None:
    lab = Lab(size=24)
    with pytest.raises(RuntimeError, match="boom"):
        with lab:
            sleeper = lab.popen_scanner(["sleep", "60"])
            listener = lab._listener
            assert listener is not None
            raise RuntimeError("boom")
    assert _ours() == []
    assert sleeper.poll() is not None and _gone(listener.pid)
    with pytest.raises(RuntimeError, match="not up"):
        lab.run_scanner(["true"])


_BUILDER = textwrap.dedent("""
    import sys, time
    from tidescan.lab import Lab
    with Lab(size=24) as lab:
        print(lab.scan_ns, lab.tgt_ns, lab._listener.pid, flush=True)
        time.sleep(60)
""")


def _start_builder() -> tuple[subprocess.Popen[str], list[str], int]:
    proc = subprocess.Popen([sys.executable, "-c", _BUILDER], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    scan_ns, tgt_ns, listener = proc.stdout.readline().split()
    assert set(netns.list_namespaces()) >= {scan_ns, tgt_ns}
    return proc, [scan_ns, tgt_ns], int(listener)


@pytest.mark.lab
def test_sigterm_cleans_up() -> None:
    proc, names, listener = _start_builder()
    try:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 128 + signal.SIGTERM
    finally:
        proc.kill()
    assert not set(names) & set(netns.list_namespaces())
    assert _gone(listener)


@pytest.mark.lab
def test_sigkill_leftovers_removed_by_next_lab() -> None:
    proc, names, listener = _start_builder()
    proc.kill()
    proc.wait(timeout=10)
    assert set(netns.list_namespaces()) >= set(names)  # nothing could run: stale
    deadline = time.monotonic() + 5
    while not _gone(listener) and time.monotonic() < deadline:  # PR_SET_PDEATHSIG
        time.sleep(0.05)
    assert _gone(listener)
    with Lab(size=24):
        assert not set(names) & set(netns.list_namespaces())


@pytest.mark.lab
def test_two_labs_in_one_process() -> None:
    a, b = Lab(size=24), Lab(size=24)
    assert a.scan_ns == b.scan_ns  # names are settled when a lab starts
    with a, b:
        assert len({a.scan_ns, a.tgt_ns, b.scan_ns, b.tgt_ns}) == 4
        assert a.scan_if != b.scan_if and a.scan_mac != b.scan_mac
        assert set(_ours()) == {a.scan_ns, a.tgt_ns, b.scan_ns, b.tgt_ns}
        for lab in (a, b):  # each is a working lab of its own
            r = lab.run_scanner(["ping", "-c", "1", "-W", "2", lab.gateway_ip])
            assert r.returncode == 0
    assert _ours() == []


@pytest.mark.lab
def test_responder_hook() -> None:
    """tidescanned behind the target router answers every port of its range.

    When the responder module is absent the option fails cleanly (one clear error, nothing left).
    """
    import importlib.util
    if importlib.util.find_spec(labmod.RESPONDER_MODULE) is None:
        with pytest.raises(EnvironmentProblem, match="tidescanned"):
            with Lab(size=24, with_responder=True):
                pass
        assert _ours() == []
        return
    with Lab(size=24, with_responder=True) as lab:
        assert lab.responder_range == "10.113.0.0/24"
        lo = lab.responder_bounds[0]
        r = lab.run_scanner(["nmap", "-sS", "-Pn", "-n", "-T5", "-p", "22,80,8080,40000",
                             "-oX", "-", int_to_ip(lo + 1), int_to_ip(lo + 200)])
        states = [p.find("state").get("state")  # type: ignore[union-attr]
                  for p in ET.fromstring(r.stdout).iter("port")]
        assert states == ["open"] * 8
        # ...and the target range is unchanged by it.
        assert lab.run_target(["sysctl", "-n", "net.ipv4.ip_forward"]).stdout.strip() == "1"
    assert _ours() == []


@pytest.mark.lab
def test_cli_up_prints_and_tears_down_on_sigint() -> None:
    proc = subprocess.Popen([sys.executable, "-m", "tidescan.lab", "up", "--size", "24"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    lines = []
    try:
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("  sudo ip netns exec") and "nmap" in line:
                break
        text = "".join(lines)
        assert "tidescan lab is up" in text and "10.112.0.0/24" in text
        ns = re.search(r"namespace (ts-\d+-scan)", text)
        assert ns and ns.group(1) in netns.list_namespaces()
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=10)
    finally:
        proc.kill()
    assert proc.returncode == 0 and "lab removed" in rest
    assert ns.group(1) not in netns.list_namespaces()
