"""Classic BPF programs: assembler, interpreter, the scanner's filter against three judges.

1. a plain-Python statement of what the scanner wants (hypothesis over crafted frames);
2. libpcap's own compilation (`tcpdump -dd`) of the equivalent tcpdump expression, run through
   our interpreter on the same frames (and the interpreter checked on libpcap programs);
3. the kernel: the filter attached to a real ring across a veth pair must deliver exactly the
   frames the predicate accepts.
"""

from __future__ import annotations

import ipaddress
import shutil
import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from wire_helpers import ETH_OTHER, Spec, as_batch, craft, drain, frames_of, ring_in, sender_in, tag_of

from tidescan import netns
from tidescan.wire import bpf

V4_LO, V4_HI = 0x0AC70000, 0x0AC700FF  # 10.199.0.0/24
V6_US = int(ipaddress.IPv6Address("fd00:199::1"))
SOLICITED = int(ipaddress.IPv6Address("ff02::1:ff00:1"))
PORT_LO, PORT_HI = 40000, 40100
MAC_B = bytes.fromhex("02aabbccdd02")
MAC_A = bytes.fromhex("02aabbccdd01")

TCPDUMP_EXPR = (
    f"(arp and arp[24:4] >= {V4_LO} and arp[24:4] <= {V4_HI})"
    f" or (ip and dst net 10.199.0.0/24 and (ip[9] = 1 or (ip[6:2] & 0x1fff = 0 and"
    f" (tcp dst portrange {PORT_LO}-{PORT_HI} or udp dst portrange {PORT_LO}-{PORT_HI}"
    f" or sctp dst portrange {PORT_LO}-{PORT_HI}))))"
    f" or (ip6 and ip6 dst host fd00:199::1 and (ip6[6] = 58 or ((ip6[6] = 6 or ip6[6] = 17"
    f" or ip6[6] = 132) and ip6[42:2] >= {PORT_LO} and ip6[42:2] <= {PORT_HI})))"
    f" or (ip6 and ip6 dst net ff02::1:ff00:0/104 and ip6[6] = 58)"
)


def scanner_prog() -> list[bpf.Insn]:
    return bpf.scanner_filter([(V4_LO, V4_HI)], V6_US, PORT_LO, PORT_HI)


def wanted(s: Spec) -> bool:
    """The scanner filter's contract, in plain Python."""
    def full_enough(need: int) -> bool:
        return s.truncate is None or s.truncate >= need

    if s.ethertype == 0x0806:
        return full_enough(42) and V4_LO <= s.arp_tpa <= V4_HI
    if s.ethertype == 0x0800:
        if not full_enough(34) or not V4_LO <= s.dst4 <= V4_HI:
            return False
        if s.proto == 1:
            return True
        if s.proto in (6, 17, 132) and s.frag & 0x1FFF == 0:
            return full_enough(14 + 4 * s.ihl + 4) and PORT_LO <= s.dport <= PORT_HI
        return False
    if s.ethertype == 0x86DD:
        if not full_enough(54):
            return False
        if s.dst6 == V6_US:
            if s.proto == 58:
                return True
            return s.proto in (6, 17, 132) and full_enough(58) and PORT_LO <= s.dport <= PORT_HI
        return s.dst6 >> 24 == SOLICITED >> 24 and s.proto == 58
    return False


def edge(lo: int, hi: int, top: int = 0xFFFFFFFF) -> st.SearchStrategy[int]:
    return st.sampled_from([lo - 1, lo, lo + 1, hi - 1, hi, hi + 1, 0, top, (lo * 3) % top])


ports = edge(PORT_LO, PORT_HI, 0xFFFF)


specs = st.one_of(
    st.builds(Spec, ethertype=st.just(0x0800), dst4=edge(V4_LO, V4_HI),
              proto=st.sampled_from([1, 2, 6, 17, 58, 132]), dport=ports,
              frag=st.sampled_from([0, 0x4000, 0x2000, 1, 0x2001]), ihl=st.integers(5, 15),
              truncate=st.none() | st.integers(20, 60)),
    st.builds(Spec, ethertype=st.just(0x86DD),
              dst6=st.sampled_from([V6_US, V6_US + 1, V6_US - 1, SOLICITED, SOLICITED | 0xABCDEF,
                                    SOLICITED ^ (1 << 24), 0]),
              proto=st.sampled_from([1, 6, 17, 58, 132, 0]), dport=ports,
              truncate=st.none() | st.integers(40, 70)),
    st.builds(Spec, ethertype=st.just(0x0806), arp_tpa=edge(V4_LO, V4_HI),
              truncate=st.none() | st.integers(30, 45)),
    st.builds(Spec, ethertype=st.sampled_from([ETH_OTHER, 0x8100, 0x0805, 0x86DC])),
)


@settings(max_examples=600, deadline=None)
@given(specs)
def test_scanner_filter_matches_the_predicate(spec: Spec) -> None:
    frame = craft(spec, 7, MAC_B, MAC_A)
    assert (bpf.run(scanner_prog(), frame) != 0) == wanted(spec)


@pytest.fixture(scope="module")
def libpcap_prog() -> list[bpf.Insn]:
    if shutil.which("tcpdump") is None:
        pytest.fail("tcpdump is needed to cross-check the BPF programs")
    out = subprocess.run(["tcpdump", "-y", "EN10MB", "-dd", TCPDUMP_EXPR], capture_output=True,
                         text=True, check=True)
    return bpf.parse_dd(out.stdout)


@settings(max_examples=600, deadline=None)
@given(spec=specs)
def test_scanner_filter_agrees_with_libpcap(libpcap_prog: list[bpf.Insn], spec: Spec) -> None:
    frame = craft(spec, 7, MAC_B, MAC_A)
    assert (bpf.run(libpcap_prog, frame) != 0) == (bpf.run(scanner_prog(), frame) != 0)


def test_interpreter_runs_libpcap_programs() -> None:
    """The interpreter itself, on programs libpcap compiled (ALU, MSH, indirect loads)."""
    out = subprocess.run(["tcpdump", "-y", "EN10MB", "-dd", "tcp[13] & 2 != 0 and len > 50"],
                         capture_output=True, text=True, check=True)
    prog = bpf.parse_dd(out.stdout)
    syn = craft(Spec(0x0800, dst4=V4_LO, proto=6, dport=80, ihl=6), 1, MAC_B, MAC_A)
    syn = bytearray(syn)
    syn[14 + 24 + 13] = 0x02  # SYN flag, after a 24-byte IPv4 header
    assert bpf.run(prog, bytes(syn)) > 0
    syn[14 + 24 + 13] = 0x10
    assert bpf.run(prog, bytes(syn)) == 0


def test_snaplen_rewrites_accepting_returns_only() -> None:
    prog = bpf.with_snaplen(scanner_prog(), 96)
    rets = [k for code, _, _, k in prog if code == bpf.RET | bpf.K]
    assert set(rets) == {0, 96}


def test_assembler_resolves_labels_and_refuses_bad_jumps() -> None:
    asm = bpf.Asm()
    asm.ld(bpf.H, 12)
    asm.jeq(0x0800, "yes", "no")
    asm.label("yes")
    asm.ret(1)
    asm.label("no")
    asm.ret(0)
    assert asm.assemble() == [(0x28, 0, 0, 12), (0x15, 0, 1, 0x0800), (0x06, 0, 0, 1), (0x06, 0, 0, 0)]

    far = bpf.Asm()
    far.jeq(1, "end")
    for _ in range(300):
        far.ld(bpf.B, 0)
    far.label("end")
    far.ret(0)
    with pytest.raises(ValueError, match="spans 300"):
        far.assemble()

    missing = bpf.Asm()
    missing.jeq(1, "nowhere")
    missing.ret(0)
    with pytest.raises(ValueError, match="never placed"):
        missing.assemble()
    with pytest.raises(ValueError, match="must end with a return"):
        bpf.validate([(0x28, 0, 0, 12)])
    with pytest.raises(ValueError, match="prefix"):
        bpf.scanner_filter([], (5, 10), 1, 2)


def test_many_ranges_and_no_ranges() -> None:
    ranges = [(0x0A000000 + 256 * i, 0x0A000000 + 256 * i + 9) for i in range(40)]
    prog = bpf.scanner_filter(ranges, None, 1000, 1000)
    for lo, hi in ranges[::7]:
        for ip, ok in ((lo, True), (hi, True), (hi + 1, False), (lo - 1, False)):
            frame = craft(Spec(0x0800, dst4=ip, proto=6, dport=1000), 0, MAC_B, MAC_A)
            assert (bpf.run(prog, frame) != 0) == ok
    nothing = bpf.scanner_filter([], None, 1, 65535)
    for spec in (Spec(0x0800, dst4=V4_LO, proto=1), Spec(0x0806, arp_tpa=V4_LO),
                 Spec(0x86DD, dst6=SOLICITED, proto=58)):
        assert bpf.run(nothing, craft(spec, 0, MAC_B, MAC_A)) == 0


def test_small_filters() -> None:
    arp = bpf.arp_reply_filter(V4_LO + 2, V4_LO + 1)
    reply = bytearray(craft(Spec(0x0806, arp_tpa=V4_LO + 1), 0, MAC_B, MAC_A))
    reply[20:22] = b"\x00\x02"
    reply[28:32] = (V4_LO + 2).to_bytes(4, "big")
    assert bpf.run(arp, bytes(reply)) > 0
    reply[28:32] = (V4_LO + 3).to_bytes(4, "big")
    assert bpf.run(arp, bytes(reply)) == 0
    assert bpf.run(bpf.ethertype_filter(ETH_OTHER), craft(Spec(ETH_OTHER), 0, MAC_B, MAC_A)) > 0
    assert bpf.run(bpf.ethertype_filter(0x0800), craft(Spec(ETH_OTHER), 0, MAC_B, MAC_A)) == 0


def lab_specs() -> list[Spec]:
    """A fixed spread of frames over every branch of the filter."""
    out = []
    for dst in (V4_LO - 1, V4_LO, V4_LO + 2, V4_HI, V4_HI + 1):
        for proto in (1, 6, 17, 132, 2):
            for dport in (PORT_LO - 1, PORT_LO, PORT_HI, PORT_HI + 1):
                out.append(Spec(0x0800, dst4=dst, proto=proto, dport=dport))
        out.append(Spec(0x0800, dst4=dst, proto=6, dport=PORT_LO, frag=5))
        out.append(Spec(0x0800, dst4=dst, proto=17, dport=PORT_HI, ihl=7))
        out.append(Spec(0x0806, arp_tpa=dst))
    for dst6 in (V6_US, V6_US + 1, SOLICITED | 0x123456):
        for proto in (58, 6, 17, 0):
            for dport in (PORT_LO - 1, PORT_LO, PORT_HI + 1):
                out.append(Spec(0x86DD, dst6=dst6, proto=proto, dport=dport))
    out.append(Spec(ETH_OTHER))
    return out


@pytest.mark.lab
def test_kernel_applies_the_scanner_filter(veth_pair: netns.VethPair) -> None:
    mac_a, mac_b = veth_pair.mac("a"), veth_pair.mac("b")
    specs_ = lab_specs()
    frames = [craft(s, i, mac_b, mac_a) for i, s in enumerate(specs_)]
    want = {i for i, s in enumerate(specs_) if wanted(s)}
    assert 20 < len(want) < len(specs_) - 20
    with ring_in(veth_pair.b, veth_pair.b_if, bpf=scanner_prog(), block_size=1 << 16,
                 block_count=8) as ring, sender_in(veth_pair.a, veth_pair.a_if) as tx:
        buf, lens = as_batch(frames)
        assert tx.send(buf, lens) == len(frames)
        got = [t for t in map(tag_of, frames_of(drain(ring))) if t is not None]
    assert sorted(got) == sorted(want)


def test_scanner_filter_drop_rst_drops_only_rsts() -> None:
    """`drop_rst=True` drops TCP RSTs (v4 with IP options too, and v6) and keeps everything else."""
    from scapy.layers.inet import IP, TCP, UDP, ICMP
    from scapy.layers.inet6 import IPv6
    from scapy.layers.l2 import Ether

    from tidescan.wire.bpf import run, scanner_filter

    me4, me6 = "10.0.0.9", "fd00::9"
    keep = scanner_filter([(0x0A000009, 0x0A000009)], 0xFD00 << 112 | 9, 61000, 61000)
    drop = scanner_filter([(0x0A000009, 0x0A000009)], 0xFD00 << 112 | 9, 61000, 61000, drop_rst=True)
    eth = Ether(dst="02:00:00:00:00:01", src="02:00:00:00:00:02")
    frames = {
        "rst4": (eth / IP(src="10.1.1.1", dst=me4) / TCP(sport=80, dport=61000, flags="RA"), False),
        "rst4opt": (eth / IP(src="10.1.1.1", dst=me4, options=b"\x01\x01\x01\x00") /
                    TCP(sport=80, dport=61000, flags="R"), False),
        "rst6": (eth / IPv6(src="fd00::1", dst=me6) / TCP(sport=80, dport=61000, flags="RA"), False),
        "synack4": (eth / IP(src="10.1.1.1", dst=me4) / TCP(sport=80, dport=61000, flags="SA"), True),
        "synack6": (eth / IPv6(src="fd00::1", dst=me6) / TCP(sport=80, dport=61000, flags="SA"), True),
        "data4": (eth / IP(src="10.1.1.1", dst=me4) / TCP(sport=80, dport=61000, flags="PA") / b"x", True),
        "udp4": (eth / IP(src="10.1.1.1", dst=me4) / UDP(sport=53, dport=61000), True),
        "icmp4": (eth / IP(src="10.1.1.1", dst=me4) / ICMP(type=0), True),
    }
    for name, (pkt, kept) in frames.items():
        raw = bytes(pkt)
        assert run(keep, raw) > 0, name
        assert (run(drop, raw) > 0) == kept, name
