"""Classic BPF programs, written in Python, so the kernel drops what is not ours before we see it.

Why this module exists: a scanner's receive socket sits on a busy interface.  Every frame the
kernel copies into our ring costs time in the kernel and in NumPy triage, and most frames on a real
link are not replies to us.  A classic BPF program attached with SO_ATTACH_FILTER runs in the
kernel for every frame and returns how many bytes to keep (0 = drop), so frames that are not for our
source address(es) and source port range never reach user space.  libpcap would compile such a
program from a tcpdump expression; we have no libpcap and must not run tcpdump at run time, so the
programs are assembled here.

Theory of operation:

* An instruction is the kernel's `struct sock_filter` as a tuple `(code, jt, jf, k)`.  `Asm` is a
  tiny assembler with symbolic labels for the conditional jumps (the kernel wants forward offsets
  of at most 255 instructions; `Asm.assemble()` resolves labels and refuses anything it cannot
  encode).
* `scanner_filter()` is the scanner's program: ARP whose target is one of our IPv4 addresses,
  ICMP/ICMPv6 to us (echo replies, unreachables; plus ICMPv6 to the solicited-node multicast group
  so neighbour solicitations for our address arrive), and TCP/UDP/SCTP to one of our addresses with
  a destination port in our source-port range (IPv4 non-first fragments are dropped: they carry no
  ports).  Smaller programs (`arp_reply_filter`, `na_filter`, `ethertype_filter`) serve the ARP/ND
  resolver and the tests.
* `run()` is a reference interpreter with the kernel's semantics (out-of-bounds load = drop).  It
  is for tests and for `--packet-trace` style debugging, never for the hot path; the tests check the
  programs here against a plain-Python predicate (hypothesis), against libpcap's own compilation of
  the equivalent tcpdump expression, and against the kernel itself across a veth pair.
* `attach()` installs a program on a socket.  Accepting instructions return `ACCEPT` (256 KiB,
  tcpdump's default); `RxRing` rewrites non-zero returns to its snap length.

VLAN-tagged frames whose tag the driver did not strip are dropped by these programs (the offsets
assume a plain Ethernet header), as are IPv6 packets with extension headers before TCP/UDP.
"""

from __future__ import annotations

import ctypes
import socket
from collections.abc import Sequence

from . import linux

Insn = tuple[int, int, int, int]

# instruction classes, sizes, modes, operations (linux/bpf_common.h)
LD, LDX, ST, STX, ALU, JMP, RET, MISC = 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07
W, H, B = 0x00, 0x08, 0x10
IMM, ABS, IND, MEM, LEN, MSH = 0x00, 0x20, 0x40, 0x60, 0x80, 0xA0
ADD, SUB, MUL, DIV, OR, AND, LSH, RSH, NEG, MOD, XOR = (
    0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x80, 0x90, 0xA0)
JA, JEQ, JGT, JGE, JSET = 0x00, 0x10, 0x20, 0x30, 0x40
K, X = 0x00, 0x08
RET_A = 0x10
TAX, TXA = 0x00, 0x80

ACCEPT = 0x40000  # bytes to keep when a program accepts (tcpdump's default snap length)
MAX_INSNS = 4096  # BPF_MAXINSNS

ETH_P_IP, ETH_P_ARP, ETH_P_IPV6 = linux.ETH_P_IP, linux.ETH_P_ARP, linux.ETH_P_IPV6
IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMPV6, IPPROTO_SCTP = 1, 6, 17, 58, 132

_Target = str | None  # a label name, or None for "the next instruction"


class Asm:
    """A classic-BPF assembler with symbolic forward labels.

    Each emitting method appends one instruction; conditional jumps take `jt`/`jf` as label names
    (None = fall through).  `assemble()` returns the kernel-ready list of `(code, jt, jf, k)`.
    """

    def __init__(self) -> None:
        self._insns: list[tuple[int, _Target, _Target, int]] = []
        self._labels: dict[str, int] = {}
        self._ja: dict[int, str] = {}  # index of a `ja` -> its target label
        self._fresh = 0

    def fresh(self, stem: str = "L") -> str:
        """A new unique label name (not yet placed)."""
        self._fresh += 1
        return f"{stem}{self._fresh}"

    def label(self, name: str) -> None:
        if name in self._labels:
            raise ValueError(f"BPF label {name!r} placed twice")
        self._labels[name] = len(self._insns)

    def emit(self, code: int, k: int = 0, jt: _Target = None, jf: _Target = None) -> None:
        self._insns.append((code, jt, jf, k & 0xFFFFFFFF))

    # loads
    def ld(self, size: int, offset: int) -> None:
        """A = packet[offset] (size W/H/B, network byte order)."""
        self.emit(LD | size | ABS, offset)

    def ld_ind(self, size: int, offset: int) -> None:
        """A = packet[X + offset]."""
        self.emit(LD | size | IND, offset)

    def ld_imm(self, k: int) -> None:
        self.emit(LD | W | IMM, k)

    def ld_len(self) -> None:
        self.emit(LD | W | LEN)

    def ldx_msh(self, offset: int) -> None:
        """X = 4 * (packet[offset] & 0x0f): the IPv4 header length."""
        self.emit(LDX | B | MSH, offset)

    def alu(self, op: int, k: int) -> None:
        self.emit(ALU | op | K, k)

    # jumps
    def jeq(self, k: int, jt: _Target, jf: _Target = None) -> None:
        self.emit(JMP | JEQ | K, k, jt, jf)

    def jgt(self, k: int, jt: _Target, jf: _Target = None) -> None:
        self.emit(JMP | JGT | K, k, jt, jf)

    def jge(self, k: int, jt: _Target, jf: _Target = None) -> None:
        self.emit(JMP | JGE | K, k, jt, jf)

    def jset(self, k: int, jt: _Target, jf: _Target = None) -> None:
        self.emit(JMP | JSET | K, k, jt, jf)

    def ja(self, target: str) -> None:
        """Unconditional jump (32-bit offset)."""
        self._ja[len(self._insns)] = target
        self._insns.append((JMP | JA, None, None, 0))

    def ret(self, k: int) -> None:
        self.emit(RET | K, k)

    def assemble(self) -> list[Insn]:
        """Resolve labels; raise ValueError if a jump is backwards, too far, or to nowhere."""
        out: list[Insn] = []
        for i, (code, jt, jf, k) in enumerate(self._insns):
            if i in self._ja:
                k = self._offset(i, self._ja[i], limit=0xFFFFFFFF)
                out.append((code, 0, 0, k))
                continue
            out.append((code, self._offset(i, jt), self._offset(i, jf), k))
        validate(out)
        return out

    def _offset(self, i: int, target: _Target, limit: int = 255) -> int:
        if target is None:
            return 0
        if target not in self._labels:
            raise ValueError(f"BPF label {target!r} used but never placed")
        off = self._labels[target] - (i + 1)
        if not 0 <= off <= limit:
            raise ValueError(f"BPF jump from {i} to {target!r} spans {off} instructions (limit {limit}); "
                             "too many address ranges for one filter")
        return off


def validate(prog: Sequence[Insn]) -> None:
    """Check what the kernel's sk_chk_filter checks that matters here; raise ValueError."""
    n = len(prog)
    if not 0 < n <= MAX_INSNS:
        raise ValueError(f"BPF program has {n} instructions (1..{MAX_INSNS} allowed)")
    for i, (code, jt, jf, k) in enumerate(prog):
        if code & 0x07 == JMP:
            if code == JMP | JA:
                if i + 1 + k >= n:
                    raise ValueError(f"BPF instruction {i}: jump out of program")
            elif i + 1 + max(jt, jf) >= n:
                raise ValueError(f"BPF instruction {i}: jump out of program")
    if prog[-1][0] & 0x07 != RET:
        raise ValueError("BPF program must end with a return")


# ------------------------------------------------------------------------------------------------
# reference interpreter (tests, debugging)

def run(prog: Sequence[Insn], pkt: bytes) -> int:
    """Run `prog` on `pkt` with the kernel's semantics; return the number of bytes to keep."""
    a = x = 0
    mem = [0] * 16
    pc = 0
    n = len(pkt)
    while True:
        code, jt, jf, k = prog[pc]
        pc += 1
        cls = code & 0x07
        if cls in (LD, LDX):
            mode = code & 0xE0
            size = code & 0x18
            if mode == IMM:
                val = k
            elif mode == LEN:
                val = n
            elif mode == MEM:
                val = mem[k & 15]
            elif mode == MSH:
                if k >= n:
                    return 0
                val = (pkt[k] & 0x0F) * 4
            else:
                off = k if mode == ABS else x + k
                if k >= 0x80000000:
                    raise ValueError("ancillary BPF loads are not interpreted")
                width = {W: 4, H: 2, B: 1}[size]
                if off + width > n:
                    return 0
                val = int.from_bytes(pkt[off:off + width], "big")
            if cls == LD:
                a = val
            else:
                x = val
        elif cls == ST:
            mem[k & 15] = a
        elif cls == STX:
            mem[k & 15] = x
        elif cls == ALU:
            op = code & 0xF0
            v = x if code & X else k
            if op == ADD:
                a = a + v
            elif op == SUB:
                a = a - v
            elif op == MUL:
                a = a * v
            elif op == DIV:
                if v == 0:
                    return 0
                a = a // v
            elif op == MOD:
                if v == 0:
                    return 0
                a = a % v
            elif op == OR:
                a = a | v
            elif op == AND:
                a = a & v
            elif op == XOR:
                a = a ^ v
            elif op == LSH:
                a = a << (v & 31)
            elif op == RSH:
                a = a >> (v & 31)
            elif op == NEG:
                a = -a
            a &= 0xFFFFFFFF
        elif cls == JMP:
            op = code & 0xF0
            if op == JA:
                pc += k
                continue
            v = x if code & X else k
            if op == JEQ:
                cond = a == v
            elif op == JGT:
                cond = a > v
            elif op == JGE:
                cond = a >= v
            else:
                cond = bool(a & v)
            pc += jt if cond else jf
        elif cls == RET:
            return a if code & RET_A else k
        else:  # MISC
            if code & 0xF8 == TXA:
                a = x
            else:
                x = a


def parse_dd(text: str) -> list[Insn]:
    """Parse `tcpdump -dd` output (`{ 0x28, 0, 0, 0x0000000c },` lines) into instructions."""
    prog = []
    for line in text.splitlines():
        line = line.strip().strip("{},")
        if not line:
            continue
        code, jt, jf, k = (int(t.strip().rstrip("}").strip(), 0) for t in line.split(","))
        prog.append((code, jt, jf, k))
    return prog


# ------------------------------------------------------------------------------------------------
# attaching

def attach(sock: socket.socket, prog: Sequence[Insn], lock: bool = False) -> None:
    """Attach `prog` to `sock` (SO_ATTACH_FILTER); `lock` forbids later changes (SO_LOCK_FILTER)."""
    validate(prog)
    buf = (ctypes.c_uint8 * (linux.SOCK_FILTER.size * len(prog)))()
    for i, insn in enumerate(prog):
        linux.SOCK_FILTER.pack_into(buf, i * linux.SOCK_FILTER.size, *insn)
    fprog = linux.SOCK_FPROG.pack(len(prog), ctypes.addressof(buf))
    sock.setsockopt(linux.SOL_SOCKET, linux.SO_ATTACH_FILTER, fprog)
    if lock:
        sock.setsockopt(linux.SOL_SOCKET, linux.SO_LOCK_FILTER, 1)


def with_snaplen(prog: Sequence[Insn], snaplen: int) -> list[Insn]:
    """The same program with every accepting `ret #k` (k > 0) lowered to at most `snaplen`."""
    return [(c, jt, jf, min(k, snaplen)) if c == RET | K and k else (c, jt, jf, k)
            for c, jt, jf, k in prog]


# ------------------------------------------------------------------------------------------------
# building blocks

def _in_ranges(asm: Asm, ranges: Sequence[tuple[int, int]], yes: str, no: str) -> None:
    """With A loaded: jump to `yes` if lo <= A <= hi for some range, else to `no`."""
    if not ranges:
        asm.ja(no)
        return
    for i, (lo, hi) in enumerate(ranges):
        if not 0 <= lo <= hi <= 0xFFFFFFFF:
            raise ValueError(f"bad range {lo:#x}-{hi:#x}")
        nxt = no if i == len(ranges) - 1 else asm.fresh("r")
        if lo == hi:
            asm.jeq(lo, yes, nxt)
        elif lo == 0:
            asm.jgt(hi, nxt, yes)
        else:
            upper = asm.fresh("u")
            asm.jge(lo, upper, nxt)
            asm.label(upper)
            asm.jgt(hi, nxt, yes)
        if nxt != no:
            asm.label(nxt)


def _ipv6_prefix(asm: Asm, offset: int, value: int, prefixlen: int, yes: str, no: str) -> None:
    """Jump to `yes` if the 128-bit address at `offset` is in value/prefixlen, else `no`."""
    words = []
    for i in range(4):
        bits = max(0, min(32, prefixlen - 32 * i))
        if bits:
            mask = (0xFFFFFFFF << (32 - bits)) & 0xFFFFFFFF
            words.append((offset + 4 * i, mask, (value >> (96 - 32 * i)) & mask))
    if not words:
        asm.ja(yes)
        return
    for j, (off, mask, want) in enumerate(words):
        asm.ld(W, off)
        if mask != 0xFFFFFFFF:
            asm.alu(AND, mask)
        asm.jeq(want, yes if j == len(words) - 1 else None, no)


def _prefix_of(src: int | tuple[int, int]) -> tuple[int, int]:
    """(base, prefixlen) for an IPv6 address or an aligned power-of-two range (lo, hi)."""
    if isinstance(src, int):
        return src, 128
    lo, hi = src
    size = hi - lo + 1
    if size <= 0 or size & (size - 1) or lo % size:
        raise ValueError("an IPv6 source range must be an aligned power-of-two block (a prefix)")
    return lo, 128 - (size.bit_length() - 1)


def _port_in(asm: Asm, port_lo: int, port_hi: int, yes: str, no: str) -> None:
    if not 0 <= port_lo <= port_hi <= 0xFFFF:
        raise ValueError(f"bad port range {port_lo}-{port_hi}")
    _in_ranges(asm, [(port_lo, port_hi)], yes, no)


# ------------------------------------------------------------------------------------------------
# the programs

def scanner_filter(src_ips_v4: Sequence[tuple[int, int]], src_ipv6: int | tuple[int, int] | None,
                   port_lo: int, port_hi: int, *, drop_rst: bool = False) -> list[Insn]:
    """The scanner's receive filter.

    `drop_rst`: also drop TCP segments with RST set, in the kernel.  A scan that shows only open
    ports and grabs no banners has no use for them, and when targets answer they are ~97 % of
    what arrives (docs/benchmarks.md): the ring never copies them.

    Accepts: ARP whose target protocol address is one of ours; IPv4 to one of `src_ips_v4`
    (inclusive (lo, hi) ranges) that is ICMP, or TCP/UDP/SCTP to a port in [port_lo, port_hi]
    (first fragments only); IPv6 to `src_ipv6` (an address, or an aligned (lo, hi) block) that is
    ICMPv6, or TCP/UDP/SCTP to a port in range; ICMPv6 to a solicited-node multicast group
    (ff02::1:ffXX:XXXX, where neighbour solicitations for our address arrive).  Drops the rest.
    """
    asm = Asm()
    asm.ld(H, 12)
    asm.jeq(ETH_P_IP, "v4")
    asm.jeq(ETH_P_IPV6, "v6")
    asm.jeq(ETH_P_ARP, "arp", "drop")

    asm.label("v4")
    asm.ld(W, 30)
    _in_ranges(asm, src_ips_v4, "v4_to_us", "drop")
    asm.label("v4_to_us")
    asm.ld(B, 23)
    asm.jeq(IPPROTO_ICMP, "accept")
    asm.jeq(IPPROTO_TCP, "v4_tcp" if drop_rst else "v4_l4")
    asm.jeq(IPPROTO_UDP, "v4_l4")
    asm.jeq(IPPROTO_SCTP, "v4_l4", "drop")
    if drop_rst:
        asm.label("v4_tcp")
        asm.ldx_msh(14)
        asm.ld_ind(B, 27)           # TCP flags: Ethernet 14 + IP header (x) + 13
        asm.jset(0x04, "drop", "v4_l4")
    asm.label("v4_l4")
    asm.ld(H, 20)
    asm.jset(0x1FFF, "drop")
    asm.ldx_msh(14)
    asm.ld_ind(H, 16)
    _port_in(asm, port_lo, port_hi, "accept", "drop")

    asm.label("v6")
    if src_ipv6 is None:
        asm.ja("v6_mcast")
    else:
        base, plen = _prefix_of(src_ipv6)
        _ipv6_prefix(asm, 38, base, plen, "v6_to_us", "v6_mcast")
        asm.label("v6_to_us")
        asm.ld(B, 20)
        asm.jeq(IPPROTO_ICMPV6, "accept")
        asm.jeq(IPPROTO_TCP, "v6_tcp" if drop_rst else "v6_l4")
        asm.jeq(IPPROTO_UDP, "v6_l4")
        asm.jeq(IPPROTO_SCTP, "v6_l4", "drop")
        if drop_rst:
            asm.label("v6_tcp")
            asm.ld(B, 67)           # TCP flags: Ethernet 14 + IPv6 40 + 13
            asm.jset(0x04, "drop", "v6_l4")
        asm.label("v6_l4")
        asm.ld(H, 56)
        _port_in(asm, port_lo, port_hi, "accept", "drop")
    asm.label("v6_mcast")
    if src_ipv6 is None:
        asm.ja("drop")
    else:
        _ipv6_prefix(asm, 38, 0xFF020000_00000000_00000001_FF000000, 104, "v6_mcast_icmp", "drop")
        asm.label("v6_mcast_icmp")
        asm.ld(B, 20)
        asm.jeq(IPPROTO_ICMPV6, "accept", "drop")

    asm.label("arp")
    asm.ld(W, 38)
    _in_ranges(asm, src_ips_v4, "accept", "drop")

    asm.label("accept")
    asm.ret(ACCEPT)
    asm.label("drop")
    asm.ret(0)
    return asm.assemble()


def arp_reply_filter(sender_ip: int, target_ip: int | None = None) -> list[Insn]:
    """ARP replies (op 2) from `sender_ip`, optionally only those addressed to `target_ip`."""
    asm = Asm()
    asm.ld(H, 12)
    asm.jeq(ETH_P_ARP, None, "drop")
    asm.ld(H, 20)
    asm.jeq(2, None, "drop")
    asm.ld(W, 28)
    asm.jeq(sender_ip, "sender_ok" if target_ip is not None else "accept", "drop")
    if target_ip is not None:
        asm.label("sender_ok")
        asm.ld(W, 38)
        asm.jeq(target_ip, "accept", "drop")
    asm.label("accept")
    asm.ret(ACCEPT)
    asm.label("drop")
    asm.ret(0)
    return asm.assemble()


def na_filter(target_ip6: int) -> list[Insn]:
    """ICMPv6 neighbour advertisements (type 136, no extension headers) for `target_ip6`."""
    asm = Asm()
    asm.ld(H, 12)
    asm.jeq(ETH_P_IPV6, None, "drop")
    asm.ld(B, 20)
    asm.jeq(IPPROTO_ICMPV6, None, "drop")
    asm.ld(B, 54)
    asm.jeq(136, None, "drop")
    _ipv6_prefix(asm, 62, target_ip6, 128, "accept", "drop")
    asm.label("accept")
    asm.ret(ACCEPT)
    asm.label("drop")
    asm.ret(0)
    return asm.assemble()


def ethertype_filter(*ethertypes: int) -> list[Insn]:
    """Frames whose (untagged) ethertype is one of `ethertypes`."""
    asm = Asm()
    asm.ld(H, 12)
    for i, et in enumerate(ethertypes):
        asm.jeq(et, "accept", "drop" if i == len(ethertypes) - 1 else None)
    if not ethertypes:
        asm.ja("drop")
    asm.label("accept")
    asm.ret(ACCEPT)
    asm.label("drop")
    asm.ret(0)
    return asm.assemble()


def accept_all() -> list[Insn]:
    return [(RET | K, 0, 0, ACCEPT)]


def drop_all() -> list[Insn]:
    return [(RET | K, 0, 0, 0)]
