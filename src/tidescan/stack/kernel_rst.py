"""Will the host kernel reset our banner connections?  Detect it at start, say how to fix it.

Why (masscan's most-reported problem, reference masscan.md §7 "Kernel interference", issue #133):
a banner scan sends SYNs from a raw socket, so when a SYN-ACK comes back the *kernel* also sees
it, finds no socket that asked for it, and answers with a RST, which kills the connection our
user-mode stack is completing.  It happens exactly when

1. the scan's source address is one the OS owns (the caller knows: `Identity.owned_by_os`), and
2. nothing stops inbound TCP to the scan's source port(s) before the kernel's TCP layer: no
   DROP rule in iptables (`iptables-save`) or nftables (`nft list ruleset`).

The fixes (README "Banner checking"; docs/banners.md): drop the source port in the firewall and
pin the scan to it (`iptables -A INPUT -p tcp --dport 61000 -j DROP` + `--source-port 61000`,
or the nft equivalent), or scan from a spare address of the local network (`--source-ip`): we
answer ARP for it, and the kernel, which does not own it, never answers for it.

How the rules are read.  Parsing is pure (`iptables_drops`, `nft_drops` take the tools' text), so
tests feed it rule sets; `read_firewall()` runs the tools when they exist.  Each *base* chain a
packet meets on the way in (iptables: INPUT/PREROUTING of every table; nftables: chains hooked at
ingress/prerouting/input) is evaluated in order for "a TCP segment to our IP and port":

* a DROP rule whose only conditions are understood (protocol tcp, destination port covering the
  port, destination address covering ours, input interface) drops it: **covered**;
* an ACCEPT (or REJECT, which resets the peer) that *might* match (any condition we do not
  understand counts as "might") ends that chain: not covered by it;
* a rule with conditions we do not understand ending in DROP proves nothing: skipped;
* unconditional jumps/gotos are followed; the chain policy (DROP) applies at the end.

The port range is covered when every port of it is covered by some base chain (one base chain
dropping is enough: the others cannot undo a drop).  A conntrack match on ESTABLISHED/RELATED
alone never matches our traffic (our frames bypass netfilter, so conntrack never sees both
directions: the SYN-ACK is INVALID, the server's later segments are NEW), so the usual
"accept established, drop the rest" firewall counts as dropping; any other conntrack state
match is "not understood".  The evaluator is deliberately conservative: when unsure it warns.
"""

from __future__ import annotations

import ipaddress
import re
import shlex
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["Firewall", "read_firewall", "iptables_drops", "nft_drops", "kernel_rst_warning",
           "check_kernel_rst", "fix_commands", "read_ephemeral_range"]

Interval = tuple[int, int]


@dataclass(frozen=True)
class Firewall:
    """The tools' output (None: tool missing or not readable, e.g. not root)."""

    nft: str | None = None
    iptables: str | None = None
    ip6tables: str | None = None


def _run_tool(argv: list[str], run: Callable[..., Any]) -> str | None:
    if shutil.which(argv[0]) is None:
        return None
    try:
        proc = run(argv, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return proc.stdout if proc.returncode == 0 else None


def read_firewall(run: Callable[..., Any] = subprocess.run) -> Firewall:
    """Run `nft list ruleset`, `iptables-save`, `ip6tables-save` (those that exist)."""
    return Firewall(_run_tool(["nft", "list", "ruleset"], run),
                    _run_tool(["iptables-save"], run), _run_tool(["ip6tables-save"], run))


def read_ephemeral_range(path: str = "/proc/sys/net/ipv4/ip_local_port_range") -> Interval | None:
    try:
        with open(path) as f:
            lo, hi = f.read().split()[:2]
        return int(lo), int(hi)
    except (OSError, ValueError):
        return None


# ------------------------------------------------------------------------------------ intervals

def _covers(intervals: list[Interval], lo: int, hi: int) -> bool:
    """Do the intervals cover every port of [lo, hi]?"""
    need = lo
    for a, b in sorted(intervals):
        if a > need:
            return False
        need = max(need, b + 1)
        if need > hi:
            return True
    return need > hi


def _in_net(addr: str, ip: str | None) -> bool:
    if ip is None:
        return False
    try:
        return ipaddress.ip_address(ip) in ipaddress.ip_network(addr, strict=False)
    except ValueError:
        return False


def _only_established(states: str) -> bool:
    """A conntrack match on ESTABLISHED/RELATED only.  Never true for our banner traffic: our
    frames leave through AF_PACKET, past netfilter, so conntrack sees only the server's side
    (a SYN-ACK with no SYN is INVALID, later segments are picked up as NEW)."""
    names = {x.strip().lower() for x in states.strip("{} ").split(",") if x.strip()}
    return bool(names) and names <= {"established", "related"}


# ------------------------------------------------------------------------------------ evaluation

# A rule, reduced: what it does and whether it surely / possibly matches our packet, per port range.
@dataclass
class _Rule:
    verdict: str                 # "drop", "accept", "reject", "jump:<chain>", "goto:<chain>", "return", ""
    ports: list[Interval] | None  # destination ports it is limited to (None: any)
    understood: bool             # every condition understood (and satisfied by our packet)
    excluded: bool = False       # a condition certainly excludes our packet (other proto/address)


def _evaluate(chains: dict[str, list[_Rule]], policies: dict[str, str], start: str,
              lo: int, hi: int) -> list[Interval]:
    """Port intervals of [lo, hi] that base chain `start` surely drops."""
    dropped: list[Interval] = []
    # ports still undecided: we track per port range by a simple list of open intervals
    open_ranges: list[Interval] = [(lo, hi)]

    def clip(ranges: list[Interval], ports: list[Interval] | None) -> tuple[list[Interval], list[Interval]]:
        """Split ranges into (inside ports, outside ports)."""
        if ports is None:
            return ranges, []
        inside, outside = [], []
        for a, b in ranges:
            cur = a
            for p, q in sorted(ports):
                if q < cur or p > b:
                    continue
                if p > cur:
                    outside.append((cur, p - 1))
                s, e = max(cur, p), min(b, q)
                inside.append((s, e))
                cur = e + 1
                if cur > b:
                    break
            if cur <= b:
                outside.append((cur, b))
        return inside, outside

    def walk(chain: str, ranges: list[Interval], depth: int) -> list[Interval]:
        """Evaluate; return the ranges that fall off the end of the chain (undecided)."""
        if depth > 8:
            return []                       # too deep: treat as accepted (not covered)
        for rule in chains.get(chain, []):
            if not ranges:
                return []
            if rule.excluded:
                continue
            inside, outside = clip(ranges, rule.ports)
            if not inside:
                continue
            v = rule.verdict
            if v == "drop":
                if rule.understood:
                    dropped.extend(inside)
                    ranges = outside
                continue
            if v in ("accept", "reject"):
                ranges = outside            # might match: these ports are lost to us
                continue
            if v == "return":
                if rule.understood:
                    return ranges           # (inside and outside both return: conservative)
                continue
            if v.startswith(("jump:", "goto:")):
                target = v.split(":", 1)[1]
                if rule.understood:
                    rest = walk(target, inside, depth + 1)
                    if v.startswith("goto:"):
                        rest = []           # a goto does not come back (fell off = policy)
                    ranges = outside + rest
                else:
                    # conditional jump: the sub-chain's accepts may apply, its drops may not
                    ranges = _subtract(ranges, _accept_ranges(chains, target, inside, depth + 1))
                continue
        return ranges

    rest = walk(start, open_ranges, 0)
    if policies.get(start, "accept") == "drop":
        dropped.extend(rest)
    return dropped


def _subtract(ranges: list[Interval], lost: list[Interval]) -> list[Interval]:
    out = []
    for a, b in ranges:
        cur = [(a, b)]
        for p, q in lost:
            nxt = []
            for s, e in cur:
                if q < s or p > e:
                    nxt.append((s, e))
                    continue
                if s < p:
                    nxt.append((s, p - 1))
                if e > q:
                    nxt.append((q + 1, e))
            cur = nxt
        out.extend(cur)
    return out


def _accept_ranges(chains: dict[str, list[_Rule]], chain: str, ranges: list[Interval],
                   depth: int) -> list[Interval]:
    """Ports an accept/reject of `chain` (or below) might apply to."""
    if depth > 8:
        return ranges
    lost: list[Interval] = []
    for rule in chains.get(chain, []):
        if rule.excluded:
            continue
        if rule.verdict in ("accept", "reject"):
            lost.extend(ranges if rule.ports is None else
                        [(max(a, p), min(b, q)) for a, b in ranges for p, q in rule.ports
                         if p <= b and q >= a])
        elif rule.verdict.startswith(("jump:", "goto:")):
            lost.extend(_accept_ranges(chains, rule.verdict.split(":", 1)[1], ranges, depth + 1))
    return lost


# ------------------------------------------------------------------------------------ iptables

def _ipt_ports(spec: str) -> list[Interval] | None:
    out = []
    for part in spec.split(","):
        a, _, b = part.partition(":")
        try:
            lo = int(a) if a else 0
            hi = int(b) if b else (65535 if _ else lo)
        except ValueError:
            return None
        out.append((lo, hi))
    return out


def _ipt_rule(tokens: list[str], ip: str | None) -> tuple[str, _Rule]:
    chain = tokens[1]
    verdict, ports, understood, excluded = "", None, True, False
    i = 2
    while i < len(tokens):
        t = tokens[i]
        arg = tokens[i + 1] if i + 1 < len(tokens) else ""
        if t == "!":
            understood = False
            i += 1
            continue
        if t in ("-p", "--protocol"):
            if arg.lower() not in ("tcp", "6", "all"):
                excluded = True
            i += 2
        elif t in ("-m", "--match"):
            if arg not in ("tcp", "multiport", "comment", "conntrack", "state"):
                understood = False
            i += 2
        elif t in ("--ctstate", "--state"):
            if _only_established(arg):
                excluded = True
            else:
                understood = False
            i += 2
        elif t == "--comment":
            i += 2
        elif t in ("--dport", "--destination-port", "--dports", "--destination-ports"):
            ports = _ipt_ports(arg)
            if ports is None:
                understood = False
            i += 2
        elif t in ("-d", "--destination"):
            if ip is None:
                understood = False
            elif not _in_net(arg, ip):
                excluded = True
            i += 2
        elif t in ("-i", "--in-interface"):
            i += 2                          # an interface rule may well be ours: accept it
        elif t in ("-j", "--jump", "-g", "--goto"):
            v = arg.upper()
            if v in ("DROP", "ACCEPT", "REJECT", "RETURN"):
                verdict = {"DROP": "drop", "ACCEPT": "accept", "REJECT": "reject",
                           "RETURN": "return"}[v]
            elif v in ("LOG", "NFLOG", "MARK", "CONNMARK", "CT", "NOTRACK", "TRACE", "AUDIT"):
                verdict = ""                # non-terminal targets
            else:
                verdict = ("goto:" if t in ("-g", "--goto") else "jump:") + arg
            i += 2
            break                           # target options follow (e.g. --reject-with)
        else:
            understood = False
            i += 2 if (i + 1 < len(tokens) and not tokens[i + 1].startswith("-")) else 1
    return chain, _Rule(verdict, ports, understood, excluded)


def iptables_drops(text: str, lo: int, hi: int, ip: str | None = None) -> bool:
    """Does this `iptables-save` (or `ip6tables-save`) output drop inbound TCP to every port of
    [lo, hi] (to address `ip`) before the kernel's TCP layer sees it?"""
    dropped: list[Interval] = []
    table: str | None = None
    chains: dict[str, list[_Rule]] = {}
    policies: dict[str, str] = {}

    def flush() -> None:
        if table is None:
            return
        for base in ("PREROUTING", "INPUT"):
            if base in chains or base in policies:
                dropped.extend(_evaluate(chains, policies, base, lo, hi))

    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("*"):
            flush()
            table, chains, policies = line[1:], {}, {}
        elif line == "COMMIT":
            flush()
            table = None
        elif line.startswith(":"):
            parts = line[1:].split()
            if len(parts) >= 2:
                policies[parts[0]] = parts[1].lower()
                chains.setdefault(parts[0], [])
        elif line.startswith("-A "):
            try:
                tokens = shlex.split(line)
            except ValueError:
                continue
            if len(tokens) >= 2:
                chain, rule = _ipt_rule(tokens, ip)
                chains.setdefault(chain, []).append(rule)
    flush()
    return _covers(dropped, lo, hi)


# ------------------------------------------------------------------------------------ nftables

_NFT_COUNTER = re.compile(r"\bcounter( packets \d+ bytes \d+)?")
_NFT_COMMENT = re.compile(r'\bcomment "[^"]*"')


def _nft_ports(spec: str) -> list[Interval] | None:
    spec = spec.strip().strip("{}").strip()
    out = []
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        a, _, b = part.partition("-")
        try:
            out.append((int(a), int(b) if b else int(a)))
        except ValueError:
            return None
    return out or None


def _nft_rule(line: str, family: str, version: int, ip: str | None) -> _Rule:
    s = _NFT_COMMENT.sub("", _NFT_COUNTER.sub("", line)).strip()
    verdict = ""
    m = re.search(r"\b(drop|accept|reject(?: with .*)?|return|(?:jump|goto) (\S+))\s*$", s)
    if m:
        word = m.group(1).split()[0]
        verdict = {"drop": "drop", "accept": "accept", "reject": "reject", "return": "return"}.get(word, "")
        if word in ("jump", "goto"):
            verdict = f"{word}:{m.group(2)}"
        s = s[:m.start()].strip()
    ports: list[Interval] | None = None
    understood, excluded = True, False
    if (family == "ip" and version == 6) or (family == "ip6" and version == 4):
        excluded = True
    # consume known conditions
    pm = re.search(r"\btcp dport (!= )?(\{[^}]*\}|\S+)", s)
    if pm:
        if pm.group(1):
            understood = False
        else:
            ports = _nft_ports(pm.group(2))
            if ports is None:
                understood = False
        s = (s[:pm.start()] + s[pm.end():]).strip()
    for pat in (r"\bmeta l4proto (tcp|6)\b", r"\bip protocol (tcp|6)\b", r"\bip6 nexthdr (tcp|6)\b",
                r'\biifname (!= )?("[^"]*"|\S+)', r'\biif (!= )?("[^"]*"|\S+)'):
        s = re.sub(pat, "", s).strip()
    cm = re.search(r"\bct state (\S+)", s)
    if cm:
        if _only_established(cm.group(1)):
            excluded = True
        else:
            understood = False
        s = (s[:cm.start()] + s[cm.end():]).strip()
    am = re.search(r"\bip6? daddr (!= )?(\S+)", s)
    if am:
        if am.group(1) or ip is None:
            understood = False
        elif not _in_net(am.group(2), ip):
            excluded = True
        s = (s[:am.start()] + s[am.end():]).strip()
    if re.search(r"\b(udp|sctp|icmp|icmpv6|dccp)\b", s) and "tcp" not in s:
        excluded = True
    if s:
        understood = False                  # anything else (ct state, saddr, marks, ...)
    return _Rule(verdict, ports, understood, excluded)


def nft_drops(text: str, lo: int, hi: int, ip: str | None = None, version: int = 4) -> bool:
    """Does this `nft list ruleset` output drop inbound TCP to every port of [lo, hi]?"""
    tables: list[tuple[str, dict[str, list[_Rule]], dict[str, str], list[str]]] = []
    family = ""
    chains: dict[str, list[_Rule]] = {}
    policies: dict[str, str] = {}
    bases: list[str] = []
    chain: str | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        m = re.match(r"table (\w+) (\S+) \{", line)
        if m:
            family, chains, policies, bases = m.group(1), {}, {}, []
            tables.append((family, chains, policies, bases))
            continue
        m = re.match(r"chain (\S+) \{", line)
        if m:
            chain = m.group(1)
            chains[chain] = []
            continue
        if chain is None:
            continue
        if line.startswith("type "):
            hook = re.search(r"\bhook (\w+)", line)
            if hook and hook.group(1) in ("ingress", "prerouting", "input"):
                bases.append(chain)
            pol = re.search(r"\bpolicy (\w+)", line)
            if pol:
                policies[chain] = pol.group(1)
            continue
        if line == "}":
            chain = None
            continue
        if line.startswith(("set ", "map ", "elements", "flags", "comment")):
            continue
        chains[chain].append(_nft_rule(line, family, version, ip))
    dropped: list[Interval] = []
    for fam, chs, pols, bs in tables:
        if fam in ("arp", "bridge") or (fam == "ip" and version == 6) or (fam == "ip6" and version == 4):
            continue
        for b in bs:
            dropped.extend(_evaluate(chs, pols, b, lo, hi))
    return _covers(dropped, lo, hi)


# ------------------------------------------------------------------------------------ the warning

def fix_commands(port_first: int, port_last: int, version: int = 4) -> list[str]:
    """The commands that make the kernel drop inbound TCP to our source ports."""
    ipt = "ip6tables" if version == 6 else "iptables"
    ipt_ports = str(port_first) if port_first == port_last else f"{port_first}:{port_last}"
    nft_ports = str(port_first) if port_first == port_last else f"{port_first}-{port_last}"
    return [
        f"{ipt} -A INPUT -p tcp --dport {ipt_ports} -j DROP",
        "nft add table inet tidescan && nft add chain inet tidescan input "
        "'{ type filter hook input priority 0; policy accept; }' && "
        f"nft add rule inet tidescan input tcp dport {nft_ports} drop",
    ]


def kernel_rst_warning(*, owned_by_os: bool, src_ip: str, port_first: int, port_last: int,
                       firewall: Firewall, ephemeral: Interval | None = None) -> str | None:
    """The warning to print before a banner scan, or None when the kernel will not interfere."""
    if not owned_by_os:
        return None
    version = ipaddress.ip_address(src_ip).version
    ipt_text = firewall.ip6tables if version == 6 else firewall.iptables
    covered = ((ipt_text is not None and iptables_drops(ipt_text, port_first, port_last, src_ip))
               or (firewall.nft is not None
                   and nft_drops(firewall.nft, port_first, port_last, src_ip, version)))
    if covered:
        return None
    ports = str(port_first) if port_first == port_last else f"{port_first}-{port_last}"
    ipt_cmd, nft_cmd = fix_commands(port_first, port_last, version)
    unread = ipt_text is None and firewall.nft is None
    lines = [
        f"warning: --banners from {src_ip}, an address this host owns: its kernel will answer the "
        f"SYN-ACKs with RSTs (it never opened those connections) and kill the banner grabs.",
        ("  (the firewall rules could not be read: run as root, or check them yourself)" if unread
         else f"  (no firewall rule drops inbound TCP to port {ports})"),
        "  fix it with one of:",
        f"    {ipt_cmd}",
        f"    {nft_cmd}",
        f"  and keep --source-port {ports} on every scan, so the rule matches the port we use;",
        "  or scan from a spare address of the local network that no host uses "
        "(tidescan answers its ARP): --source-ip <unused address>",
    ]
    if ephemeral and not (port_last < ephemeral[0] or port_first > ephemeral[1]):
        lines.append(f"  note: port {ports} is inside the kernel's ephemeral range "
                     f"{ephemeral[0]}-{ephemeral[1]} (ip_local_port_range): pick one outside it")
    return "\n".join(lines)


def check_kernel_rst(identity: Any, run: Callable[..., Any] = subprocess.run,
                     version: int = 4) -> str | None:
    """`kernel_rst_warning` for a scan `Identity` (reads the firewall and the ephemeral range)."""
    if version == 6:
        if identity.src_ip6 is None:
            return None
        src = str(ipaddress.IPv6Address(identity.src_ip6))
    else:
        src = str(ipaddress.IPv4Address(identity.src_ip_first))
    return kernel_rst_warning(owned_by_os=bool(identity.owned_by_os), src_ip=src,
                              port_first=identity.src_port_first, port_last=identity.src_port_last,
                              firewall=read_firewall(run), ephemeral=read_ephemeral_range())
