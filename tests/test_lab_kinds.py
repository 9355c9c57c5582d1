"""The lab beyond TCP/IPv4: UDP truth and stand-ins, IPv6 range and roles (pure and live).

Pure tests check that every view of the UDP and IPv6 truth agrees (matrix, dict, `state_of`, the
nft ruleset) and that the UDP stand-ins answer masscan's payloads as the real services do (parsed
with dpkt and scapy, not with our own code).  Live tests check the built IPv6 lab (quiet, closed,
every address owned) and hold its truth against nmap, an independent scanner, over UDP and IPv6.
"""

from __future__ import annotations

import ipaddress
import re
import time
import xml.etree.ElementTree as ET

import dpkt
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tidescan import lab_listeners
from tidescan.lab import CLOSED, DROP, FILTERED, ICMP_REJECT, NORMAL, OPEN, RST_REJECT, Lab, LabPlan
from tidescan.lab_plan import int_to_ip, int_to_ip6
from tidescan.probes.udp_payloads import PAYLOADS

UDP_PORTS = [53, 161, 1000, 11211]

# ---------------------------------------------------------------------------------------------
# Truth (pure)
# ---------------------------------------------------------------------------------------------


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), size=st.integers(24, 28), v6bits=st.integers(0, 4),
       extra=st.lists(st.integers(1, 65535), max_size=3))
def test_udp_and_ipv6_truth_views_agree(seed: int, size: int, v6bits: int, extra: list[int]) -> None:
    ports = sorted(set(UDP_PORTS) | set(extra))
    kw = dict(size=size, seed=seed, open_per_port=3, udp_open_per_port=2, drop_hosts=2,
              icmp_hosts=2, rst_hosts=2)
    plan = LabPlan(**kw, ipv6=True, ipv6_size=128 - (32 - size) + v6bits)  # type: ignore[arg-type]
    m = plan.truth_matrix(ports, "udp")
    d = plan.truth(ports, "udp")
    assert m.shape == (plan.n_hosts, len(ports)) and len(d) == m.size
    for (ip, port), name in d.items():
        assert plan.state_of(ip, port, "udp") == name
        assert name == ("closed", "open", "filtered")[m[ip - plan.lo, ports.index(port)]]
    roles = plan.host_role
    assert np.all(m[(roles == DROP) | (roles == ICMP_REJECT)] == FILTERED)
    assert np.all(m[roles == RST_REJECT] == CLOSED)
    assert np.all(roles[np.nonzero(m == OPEN)[0]] == NORMAL)
    for j, port in enumerate(ports):  # 2 hosts per stand-in port, none elsewhere
        assert int((m[:, j] == OPEN).sum()) == (2 if port in plan.udp_listen else 0)
    assert plan.open_set(ports, "udp") == {k for k, v in d.items() if v == "open"}
    # IPv6 host i is IPv4 host i, for both protocols.
    assert plan.n_hosts6 == 1 << (32 - size - v6bits)
    for proto, plist in (("udp", ports), ("tcp", list(plan.ports))):
        m6 = plan.truth_matrix(plist, proto, 6)
        assert np.array_equal(m6, plan.truth_matrix(plist, proto)[:plan.n_hosts6])
        d6 = plan.truth(plist, proto, 6)
        assert {(ip - plan.lo6, p) for ip in (plan.lo6, plan.hi6) for p in plist
                if d6[(ip, p)] != plan.state_of(plan.lo + ip - plan.lo6, p, proto)} == set()
    # The UDP services change no TCP truth of a seed.
    bare = LabPlan(**kw, udp_listen={})  # type: ignore[arg-type]
    assert np.array_equal(bare.truth_matrix(), plan.truth_matrix())
    assert plan.hosts_up(6) == [plan.lo6 + int(i) for i in np.flatnonzero(roles[:plan.n_hosts6] != DROP)]


def test_default_udp_and_ipv6_numbers() -> None:
    plan = LabPlan()
    assert plan.counts(None, "udp") == {"open": 96, "filtered": 96, "closed": 4096 * 4 - 192}
    assert plan.target_range6 is None and plan.host_ip6s() == []
    v6 = LabPlan(size=24, seed=3, ipv6=True)
    assert v6.target_range6 == "fd00:112::/120" and len(v6.host_ip6s()) == 256
    assert v6.counts(None, "tcp", 6) == v6.counts()
    assert v6.state_of(int(ipaddress.IPv6Address("fd00:112::5")), 22) == v6.state_of(v6.lo + 5, 22)
    with pytest.raises(ValueError, match="not in the lab range"):
        v6.state_of(int(ipaddress.IPv6Address("fd00:112::1:0")), 22)


def test_nft_ruleset_realizes_udp_and_ipv6_roles() -> None:
    plan = LabPlan(size=24, seed=3, ipv6=True)
    rules = plan.nft_ruleset("veth0")

    def elements(setname: str) -> set[str]:
        m = re.search(r"set " + setname + r" \{[^{}]*elements = \{([^}]*)\}", rules)
        assert m, setname
        return {e.strip() for e in m.group(1).split(",")}

    for role, name in ((DROP, "drop_hosts"), (ICMP_REJECT, "icmp_hosts"), (RST_REJECT, "rst_hosts")):
        assert elements(name + "6") == {int_to_ip6(a) for a in plan.hosts_with_role(role, 6)}
    assert elements("open_pairs6") == {f"{int_to_ip6(a)} . {p}" for a, p in plan.open_set(None, "tcp", 6)}
    assert elements("udp_open_pairs") == {f"{int_to_ip(a)} . {p}" for a, p in plan.open_set(None, "udp")}
    assert elements("udp_open_pairs6") == \
        {f"{int_to_ip6(a)} . {p}" for a, p in plan.open_set(None, "udp", 6)}
    assert elements("udp_ports") == {"53", "161", "11211"}
    assert "ip daddr @icmp_hosts meta l4proto udp reject with icmp type admin-prohibited" in rules
    assert "ip6 daddr @icmp_hosts6 meta l4proto udp reject with icmpv6 type admin-prohibited" in rules
    assert not re.search(r"\bct ", rules)
    assert "table ip6" not in LabPlan().nft_ruleset("veth0")


def test_plan_rejects_bad_udp_and_ipv6_parameters() -> None:
    with pytest.raises(ValueError, match="unknown kind"):
        LabPlan(udp_listen={53: "bind9"})
    with pytest.raises(ValueError, match="UDP port 70000"):
        LabPlan(udp_listen={70000: "dns"})
    with pytest.raises(ValueError, match="ipv6_size /100"):
        LabPlan(ipv6=True, ipv6_size=100)
    with pytest.raises(ValueError, match="no larger than the IPv4 range"):
        LabPlan(size=28, ipv6=True, ipv6_size=120)
    with pytest.raises(ValueError, match="udp_open_per_port"):
        LabPlan(size=28, udp_open_per_port=16)
    with pytest.raises(ValueError, match="proto"):
        LabPlan().truth_matrix([53], "sctp")


# ---------------------------------------------------------------------------------------------
# UDP stand-ins (pure): masscan's payload in, what the real service would say out
# ---------------------------------------------------------------------------------------------


def _with_cookie(port: int, value: int) -> tuple[bytes, int]:
    r = PAYLOADS[port]
    c = r.cookie
    assert c is not None
    v = value & c.mask
    data = r.data[:c.offset] + v.to_bytes(c.width, "big") + r.data[c.offset + c.width:]
    return data, v


def test_dns_stand_in_answers_version_bind_with_the_query_id() -> None:
    req, cookie = _with_cookie(53, 0x9227)
    ans = lab_listeners.udp_answer("dns", req, "10.112.0.9", 53)
    assert ans is not None
    msg = dpkt.dns.DNS(ans)
    assert msg.id == cookie and msg.qr == dpkt.dns.DNS_R and msg.rcode == dpkt.dns.DNS_RCODE_NOERR
    assert [(q.name, q.type, q.cls) for q in msg.qd] == [("version.bind", dpkt.dns.DNS_TXT, 3)]
    assert [(a.type, a.text) for a in msg.an] == [(dpkt.dns.DNS_TXT, ["tidescan lab DNS 10.112.0.9"])]
    status = bytes.fromhex("1234 1000 0000 0000 0000 0000")  # opcode 2 (server status request)
    assert lab_listeners.udp_answer("dns", status, "x", 53) == bytes.fromhex("1234 9004 0000 0000 0000 0000")
    assert lab_listeners.udp_answer("dns", ans, "x", 53) is None      # a response: no answer
    assert lab_listeners.udp_answer("dns", b"\x00" * 5, "x", 53) is None


def test_snmp_stand_in_answers_get_with_the_request_id() -> None:
    from scapy.layers.snmp import SNMP

    req, cookie = _with_cookie(161, 0x789A8D3B)
    ans = lab_listeners.udp_answer("snmp", req, "fd00:112::7", 161)
    assert ans is not None
    resp, sent = SNMP(ans), SNMP(req)
    assert resp.version.val == 0 and resp.community.val == b"public"
    assert resp.PDU.__class__.__name__ == "SNMPresponse" and resp.PDU.id.val == cookie
    assert [vb.oid.val for vb in resp.PDU.varbindlist] == [vb.oid.val for vb in sent.PDU.varbindlist]
    assert {vb.value.val for vb in resp.PDU.varbindlist} == {b"tidescan lab SNMP fd00:112::7"}
    # The request-id sits where tidescan's UDP classifier looks for masscan's cookie.
    offsets = PAYLOADS[161].cookie.replies_at()  # type: ignore[union-attr]
    assert any(ans[o:o + 4] == cookie.to_bytes(4, "big") for o in offsets)
    # SNMPv3 (nmap's probe): the Report of an agent that does not know the manager's engine.
    def tlv(tag: int, value: bytes) -> bytes:
        return bytes([tag, len(value)]) + value

    empty = tlv(0x04, b"")
    v3 = tlv(0x30, tlv(0x02, b"\x03")                                      # msgVersion 3
             + tlv(0x30, tlv(0x02, b"\x4a\x69") + tlv(0x02, b"\x00\xff\xe3")  # msgID, maxSize
                   + tlv(0x04, b"\x04") + tlv(0x02, b"\x03"))             # reportable, USM
             + tlv(0x04, tlv(0x30, empty + tlv(0x02, b"\x00") + tlv(0x02, b"\x00") + empty * 3))
             + tlv(0x30, empty + empty + tlv(0xA0, tlv(0x02, b"\x37\xf0") + tlv(0x02, b"\x00")
                                           + tlv(0x02, b"\x00") + tlv(0x30, b""))))
    rep = lab_listeners.udp_answer("snmp", v3, "x", 161)
    assert rep is not None and rep[:2] == b"\x30" + bytes([len(rep) - 2])
    assert rep[2:5] == b"\x02\x01\x03" and b"\x02\x02\x4a\x69" in rep and b"\xa8" in rep
    assert b"\x02\x02\x37\xf0" in rep and lab_listeners.USM_UNKNOWN_ENGINE_IDS in rep
    assert lab_listeners.udp_answer("snmp", b"\x30\x03\x02\x01", "x", 161) is None


def test_memcached_stand_in_keeps_the_frame_header_id() -> None:
    req, cookie = _with_cookie(11211, 0xE3C0)
    ans = lab_listeners.udp_answer("memcached", req, "10.112.0.1", 11211)
    assert ans is not None
    assert ans[:8] == cookie.to_bytes(2, "big") + b"\x00\x00\x00\x01\x00\x00"
    assert ans[8:].startswith(b"STAT pid ") and ans.endswith(b"END\r\n")
    assert lab_listeners.udp_answer("memcached", b"\x00\x01", "x", 11211) is None
    with pytest.raises(ValueError):
        lab_listeners.udp_answer("tftp", b"", "x", 69)


# ---------------------------------------------------------------------------------------------
# The live IPv6 + UDP lab
# ---------------------------------------------------------------------------------------------


def _nmap_states(xml: str) -> dict[tuple[int, int], str]:
    out = {}
    for h in ET.fromstring(xml).iter("host"):
        ip = int(ipaddress.ip_address(h.find("address").get("addr")))  # type: ignore[union-attr]
        for p in h.iter("port"):
            out[(ip, int(p.get("portid")))] = p.find("state").get("state")  # type: ignore
    return out


@pytest.mark.lab
def test_ipv6_lab_layout_is_closed_quiet_and_owns_every_address() -> None:
    with Lab(size=24, seed=3, ipv6=True) as lab:
        assert lab.target_range6 == "fd00:112::/120" and lab.scan_ip6 == "fd00:200::2"
        routes = lab.run_scanner(["ip", "-6", "route"]).stdout.splitlines()
        assert len(routes) == 2
        assert routes[0].startswith(f"fd00:200::/64 dev {lab.scan_if}")
        assert routes[1].startswith(f"default via fd00:200::1 dev {lab.scan_if}")
        for run in (lab.run_scanner, lab.run_target):
            assert "fe80" not in run(["ip", "-6", "addr"]).stdout          # no link-local, no DAD
            assert run(["sysctl", "-n", "net.ipv6.conf.all.accept_ra"]).stdout.strip() == "0"
        lo = lab.run_target(["ip", "-6", "-o", "addr", "show", "dev", "lo"]).stdout
        owned = {int(ipaddress.IPv6Address(a)) for a in re.findall(r"inet6 (fd00:112::[0-9a-f]*)/128", lo)}
        assert owned == set(lab.plan.host_ip6s())
        assert lab.run_target(["sysctl", "-n", "net.ipv6.conf.all.forwarding"]).stdout.strip() == "0"
        tcp = lab.run_target(["ss", "-ltnH"]).stdout
        udp = lab.run_target(["ss", "-lunH"]).stdout
        assert sorted(re.findall(r"\[::\]:(\d+)", tcp), key=int) == ["21", "22", "80", "443"]
        assert sorted(re.findall(r"\[::\]:(\d+)", udp), key=int) == ["53", "161", "11211"]
        assert sorted(re.findall(r"0\.0\.0\.0:(\d+)", udp), key=int) == ["53", "161", "11211"]
        # Idle, the wire carries no router solicitation/advertisement or neighbour discovery.
        with lab.capture(bpf="ip6") as cap:
            time.sleep(1.5)
        icmp6_types = [f[62] if f[20] == 0 else f[54] if f[20] == 58 else -f[20] for f in cap.frames()]
        assert set(icmp6_types) <= {143}, icmp6_types   # at most a late MLDv2 report of link-up
        # ping6: up hosts answer, drop hosts do not.
        up = int_to_ip6(lab.hosts_up(6)[0])
        drop = int_to_ip6(lab.hosts_with_role(DROP, 6)[0])
        assert lab.run_scanner(["ping", "-6", "-c", "1", "-W", "1", up]).returncode == 0
        assert lab.run_scanner(["ping", "-6", "-c", "1", "-W", "1", drop]).returncode != 0


@pytest.mark.lab
def test_nmap_agrees_with_udp_and_ipv6_truth() -> None:
    with Lab(size=24, seed=3, ipv6=True) as lab:
        # Hosts of every role, and for each stand-in a host where it is open.
        idx = [int(lab.hosts_with_role(r)[k]) - lab.plan.lo for r in (DROP, ICMP_REJECT, RST_REJECT)
               for k in (0, 1)]
        idx += [min(ip for ip, _ in lab.open_set([p], "udp")) - lab.plan.lo for p in (53, 161, 11211)]
        idx += [min(ip for ip, _ in lab.open_set([p], "tcp")) - lab.plan.lo for p in (21, 22, 80)]
        v4 = [int_to_ip(lab.plan.lo + i) for i in idx]
        v6 = [int_to_ip6(lab.plan.lo6 + i) for i in idx]
        common = ["-Pn", "-n", "-T5", "--max-retries", "1", "-oX", "-"]
        # nmap says "open|filtered" where nothing answers (drop hosts): our "filtered".
        for family, hosts in ((["-4"], v4), (["-6"], v6)):
            udp = lab.run_scanner(["nmap", *family, "-sU", *common, "-p", ",".join(map(str, UDP_PORTS)),
                                   *hosts], timeout=180)
            assert udp.returncode == 0, udp.stderr
            seen = {k: ("filtered" if v == "open|filtered" else v)
                    for k, v in _nmap_states(udp.stdout).items()}
            want = {(int(ipaddress.ip_address(h)), p): lab.state_of(h, p, "udp")
                    for h in hosts for p in UDP_PORTS}
            assert seen == want
            assert {"open", "closed", "filtered"} <= set(want.values())
        syn = lab.run_scanner(["nmap", "-6", "-sS", *common, "-p", lab.ports_text, *v6], timeout=180)
        assert syn.returncode == 0, syn.stderr
        want = {(int(ipaddress.ip_address(h)), p): lab.state_of(h, p) for h in v6 for p in lab.ports}
        assert _nmap_states(syn.stdout) == want
        assert {"open", "closed", "filtered"} <= set(want.values())
