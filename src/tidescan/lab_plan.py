"""What the lab is and what a perfect scan of it must find: addresses, host roles and the truth.

Why this module exists: a scanner test is only as good as its ground truth.  The lab's truth is not
*observed* (that would make the lab test itself with the tool under test); it is *decided* here,
from a seed, before anything is built, and `tidescan.lab` then makes the kernel behave exactly so:

* Every address of the target range (`10.112.0.0/<size>`) is local to the target namespace's
  kernel, which answers a SYN on a port nobody listens on with a RST: **closed** is the default.
* Listeners (one `0.0.0.0:PORT` socket per listen port, real servers) make ports **open**.  A
  *dense* listen port is open on every ordinary host of the range; a *sparse* listen port is open
  only on `open_per_port` chosen hosts: an nftables rule answers a SYN to any other host on that
  port with a TCP RST, exactly what the kernel sends for a closed port.
* Firewalled hosts, each chosen from the seed:
  - *drop* hosts: every packet to them is dropped at the veth's ingress -> **filtered** (no answer,
    not even ICMP echo);
  - *icmp* hosts: TCP and UDP are rejected with ICMP port-unreachable -> **filtered** (a SYN gets no
    SYN-ACK and no RST; nmap calls an ICMP unreachable "filtered" too); they still answer ping;
  - *rst* hosts: TCP is rejected with a RST -> **closed** on every port, even listen ports.
* `sink=True` drops everything sent to the range (benchmark scenario "TX to a sink"): all filtered.

Truth for a /16 x 100 ports is 6.5 M (ip, port) entries, so it is kept compact and vectorized:
`truth_matrix(ports)` is a `(hosts, ports)` uint8 array of `CLOSED`/`OPEN`/`FILTERED` codes built
with NumPy; `open_array(ports)` lists the (usually few) open pairs; `truth(ports)` is the plain
`{(ip, port): "open"|"closed"|"filtered"}` dict, meant for small labs and small port lists.

The same plan writes the nftables ruleset (`nft_ruleset()`), so rules and truth cannot drift apart.
No root is needed here: truth can be printed and tested without building anything.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

CLOSED, OPEN, FILTERED = 0, 1, 2
STATE_NAMES = ("closed", "open", "filtered")

# Host roles (values of `LabPlan.host_role`).
NORMAL, DROP, ICMP_REJECT, RST_REJECT = 0, 1, 2, 3
ROLE_NAMES = ("normal", "drop", "icmp-reject", "rst-reject")

LINK_NET = "10.200.0.0/24"      # scanner <-> target link
GATEWAY_IP = "10.200.0.1"       # target side of the veth: the scanner's only router
SCANNER_IP = "10.200.0.2"       # scanner side of the veth
SPARE_IP = "10.200.0.3"         # on the scanner's link, owned by nobody (for --source-ip tests)
SPARE_CIDR = "10.200.0.16/28"   # a power-of-two block on the link, owned by nobody
RANGE_BASE = "10.112.0.0"       # start of the target range (aligned for sizes /12../30)
RESPONDER_RANGE = "10.113.0.0/24"  # tidescanned's addresses (with_responder=True)
RESPONDER_LINK = "10.201.0.1/30"   # target namespace's address toward the responder

TRUTH_DICT_LIMIT = 2_000_000  # (ip, port) entries truth() will put in a dict

DEFAULT_PORTS: tuple[int, ...] = (21, 22, 80, 443, 8080)
# port -> server kind (see lab_listeners.KINDS); 8080 has no listener: closed everywhere.
DEFAULT_LISTEN: Mapping[int, str] = {21: "ftp", 22: "ssh", 80: "http", 443: "silent"}


def ip_to_int(text: str) -> int:
    return int(ipaddress.IPv4Address(text))


def int_to_ip(value: int) -> str:
    return str(ipaddress.IPv4Address(int(value)))


def format_ports(ports: Iterable[int]) -> str:
    """`[1, 2, 3, 21, 22, 80]` -> `"1-3,21,22,80"` (sorted, no duplicates; runs of 3+ as ranges)."""
    runs: list[list[int]] = []
    for p in sorted(set(ports)):
        if runs and runs[-1][1] == p - 1:
            runs[-1][1] = p
        else:
            runs.append([p, p])
    parts: list[str] = []
    for a, b in runs:
        parts += [f"{a}-{b}"] if b - a >= 2 else [str(p) for p in range(a, b + 1)]
    return ",".join(parts)


def _check_ports(ports: Iterable[int], what: str) -> tuple[int, ...]:
    out = tuple(int(p) for p in ports)
    for p in out:
        if not 0 <= p <= 65535:
            raise ValueError(f"{what}: TCP port {p} outside 0..65535")
    return out


@dataclass
class LabPlan:
    """The lab's design, decided from the seed before anything is built (see the module docstring).

    `size` is the prefix length of the target range (20 -> 4096 addresses, 16 -> 65536).
    `ports` are the ports the lab suggests scanning; `listen` maps listen ports to server kinds;
    `dense_ports` (a subset of the listen ports) are open on every ordinary host, the other listen
    ports on `open_per_port` hosts each.  `drop_hosts`, `icmp_hosts`, `rst_hosts` are how many
    hosts get each firewall role.  Counts left at None scale with the range: 16 drop, 8 icmp and
    8 rst hosts and 32 open hosts per sparse port, fewer when the range is too small for that.
    """

    size: int = 20
    ports: Sequence[int] = DEFAULT_PORTS
    seed: int = 1
    listen: Mapping[int, str] = field(default_factory=lambda: dict(DEFAULT_LISTEN))
    dense_ports: Sequence[int] = ()
    open_per_port: int | None = None
    drop_hosts: int | None = None
    icmp_hosts: int | None = None
    rst_hosts: int | None = None
    sink: bool = False

    def __post_init__(self) -> None:
        if not 12 <= self.size <= 30:
            raise ValueError(f"lab size /{self.size}: choose a prefix length between 12 and 30")
        self.ports = _check_ports(self.ports, "ports")
        self.listen = {int(p): str(k) for p, k in self.listen.items()}
        _check_ports(self.listen, "listen")
        self.dense_ports = _check_ports(self.dense_ports, "dense_ports")
        missing = set(self.dense_ports) - set(self.listen)
        if missing:
            raise ValueError(f"dense_ports {sorted(missing)} have no listener (add them to listen)")
        self.lo = ip_to_int(RANGE_BASE)
        self.n_hosts = n = 1 << (32 - self.size)
        self.hi = self.lo + self.n_hosts - 1
        if self.drop_hosts is None:
            self.drop_hosts = min(16, n // 16)
        if self.icmp_hosts is None:
            self.icmp_hosts = min(8, n // 32)
        if self.rst_hosts is None:
            self.rst_hosts = min(8, n // 32)
        if self.open_per_port is None:
            normal = n - self.drop_hosts - self.icmp_hosts - self.rst_hosts
            self.open_per_port = max(0, min(32, normal // 4))
        firewalled = self.drop_hosts + self.icmp_hosts + self.rst_hosts
        if min(self.drop_hosts, self.icmp_hosts, self.rst_hosts, self.open_per_port) < 0:
            raise ValueError("host counts must not be negative")
        if firewalled > self.n_hosts:
            raise ValueError(f"{firewalled} firewalled hosts do not fit in /{self.size}")
        normal = self.n_hosts - firewalled
        if self.open_per_port > normal:
            raise ValueError(f"open_per_port={self.open_per_port} exceeds the {normal} ordinary hosts")
        self._decide()

    # -- the decisions -------------------------------------------------------------------------

    def _decide(self) -> None:
        """Assign host roles and sparse open hosts from the seed (vectorized, deterministic)."""
        rng = np.random.default_rng(self.seed)
        order = rng.permutation(self.n_hosts)
        role = np.zeros(self.n_hosts, dtype=np.uint8)
        a = self.drop_hosts
        b = a + self.icmp_hosts
        c = b + self.rst_hosts
        role[order[:a]] = DROP
        role[order[a:b]] = ICMP_REJECT
        role[order[b:c]] = RST_REJECT
        self.host_role = role
        normal_idx = np.sort(order[c:])
        self.sparse_ports = tuple(sorted(p for p in self.listen if p not in self.dense_ports))
        # For each sparse port: a sorted array of host indexes where it is open.
        self.sparse_open: dict[int, np.ndarray] = {}
        for port in self.sparse_ports:
            pick = rng.choice(normal_idx.size, size=self.open_per_port, replace=False)
            self.sparse_open[port] = np.sort(normal_idx[pick]).astype(np.int64)

    # -- addresses -----------------------------------------------------------------------------

    @property
    def target_range(self) -> str:
        return f"{RANGE_BASE}/{self.size}"

    @property
    def ports_text(self) -> str:
        """The ports as a `-p` value, runs compressed (`1-100,443`)."""
        return format_ports(self.ports)

    def host_ips(self) -> np.ndarray:
        """All addresses of the range, as uint32 (index i is `lo + i`)."""
        return (self.lo + np.arange(self.n_hosts, dtype=np.uint64)).astype(np.uint32)

    def hosts_with_role(self, role: int) -> np.ndarray:
        """Addresses (uint32) whose firewall role is `role` (NORMAL, DROP, ICMP_REJECT, RST_REJECT)."""
        idx = np.flatnonzero(self.host_role == role)
        return (self.lo + idx).astype(np.uint32)

    def filtered_hosts(self) -> np.ndarray:
        """Addresses (uint32) that never answer TCP: drop and icmp-reject hosts (all, if sink)."""
        if self.sink:
            return self.host_ips()
        idx = np.flatnonzero((self.host_role == DROP) | (self.host_role == ICMP_REJECT))
        return (self.lo + idx).astype(np.uint32)

    def hosts_up(self) -> np.ndarray:
        """Addresses (uint32) that answer ICMP echo: all but drop hosts (none, if sink)."""
        if self.sink:
            return np.zeros(0, dtype=np.uint32)
        return (self.lo + np.flatnonzero(self.host_role != DROP)).astype(np.uint32)

    # -- truth ---------------------------------------------------------------------------------

    def _ports(self, ports: Iterable[int] | None) -> np.ndarray:
        return np.asarray(_check_ports(self.ports if ports is None else ports, "ports"), dtype=np.int64)

    def truth_matrix(self, ports: Iterable[int] | None = None) -> np.ndarray:
        """uint8 array (n_hosts, len(ports)): CLOSED/OPEN/FILTERED for host `lo + i`, port j."""
        plist = self._ports(ports)
        state = np.full((self.n_hosts, plist.size), CLOSED, dtype=np.uint8)
        if self.sink:
            state[:] = FILTERED
            return state
        normal = self.host_role == NORMAL
        for j, port in enumerate(plist.tolist()):
            if port in self.dense_ports:
                state[normal, j] = OPEN
            elif port in self.sparse_open:
                state[self.sparse_open[port], j] = OPEN
        blocked = (self.host_role == DROP) | (self.host_role == ICMP_REJECT)
        state[blocked, :] = FILTERED
        return state

    def state_of(self, ip: int, port: int) -> str:
        """Truth for one (ip, port); addresses outside the range raise ValueError."""
        if not self.lo <= ip <= self.hi:
            raise ValueError(f"{int_to_ip(ip)} is not in the lab range {self.target_range}")
        i = ip - self.lo
        if self.sink or self.host_role[i] in (DROP, ICMP_REJECT):
            return "filtered"
        if self.host_role[i] == RST_REJECT:
            return "closed"
        if port in self.dense_ports:
            return "open"
        if port in self.sparse_open:
            arr = self.sparse_open[port]
            k = int(np.searchsorted(arr, i))
            return "open" if k < arr.size and arr[k] == i else "closed"
        return "closed"

    def open_array(self, ports: Iterable[int] | None = None) -> np.ndarray:
        """Open pairs as a uint64 array (n, 2) of (ip, port), sorted by ip then port."""
        plist = self._ports(ports)
        hosts, cols = np.nonzero(self.truth_matrix(plist) == OPEN)
        out = np.empty((hosts.size, 2), dtype=np.uint64)
        out[:, 0] = self.lo + hosts
        out[:, 1] = plist[cols]
        return out

    def open_set(self, ports: Iterable[int] | None = None) -> set[tuple[int, int]]:
        """Open pairs as a set of (ip, port) Python ints (small: a few hundred to a few 100 k)."""
        return {(int(a), int(b)) for a, b in self.open_array(ports).tolist()}

    def counts(self, ports: Iterable[int] | None = None) -> dict[str, int]:
        """How many (ip, port) pairs are open, closed, filtered."""
        m = self.truth_matrix(ports)
        binc = np.bincount(m.ravel(), minlength=3)
        return {name: int(binc[code]) for code, name in enumerate(STATE_NAMES)}

    def truth(self, ports: Iterable[int] | None = None) -> dict[tuple[int, int], str]:
        """`{(ip, port): "open"|"closed"|"filtered"}` for every address x port (small labs only)."""
        plist = self._ports(ports)
        if self.n_hosts * plist.size > TRUTH_DICT_LIMIT:
            raise ValueError(f"truth(): {self.n_hosts * plist.size} entries is too many for a dict; "
                             "use truth_matrix() / open_array() / filtered_hosts()")
        m = self.truth_matrix(plist)
        ips = self.lo + np.arange(self.n_hosts)
        names = STATE_NAMES
        return {(int(ip), int(p)): names[s]
                for ip, row in zip(ips.tolist(), m.tolist()) for p, s in zip(plist.tolist(), row)}

    # -- firewall ------------------------------------------------------------------------------

    def nft_ruleset(self, ingress_dev: str) -> str:
        """The nftables ruleset (for `nft -f -` in the target namespace) that realizes the truth.

        Stateless on purpose: no `ct` expression, so conntrack never tracks scan traffic (its table
        would overflow and drop at benchmark rates).  Drops happen at the veth's ingress hook (the
        cheapest place); rejects in the input hook, where the reject expressions live.
        """
        def elements(values: Iterable[str]) -> str:
            vals = list(values)
            return f"elements = {{ {', '.join(vals)} }}" if vals else ""

        rng = self.target_range
        drop = [int_to_ip(a) for a in self.hosts_with_role(DROP).tolist()]
        icmp = [int_to_ip(a) for a in self.hosts_with_role(ICMP_REJECT).tolist()]
        rst = [int_to_ip(a) for a in self.hosts_with_role(RST_REJECT).tolist()]
        pairs = [f"{int_to_ip(self.lo + int(i))} . {port}"
                 for port, idx in self.sparse_open.items() for i in idx.tolist()]
        drop_rule = f"ip daddr {rng} drop" if self.sink else "ip daddr @drop_hosts drop"
        return f"""
table netdev tidescan_lab_ingress {{
    set drop_hosts {{ type ipv4_addr; {elements(drop)} }}
    chain ingress {{
        type filter hook ingress device "{ingress_dev}" priority 0; policy accept;
        {drop_rule}
    }}
}}
table ip tidescan_lab {{
    set icmp_hosts {{ type ipv4_addr; {elements(icmp)} }}
    set rst_hosts {{ type ipv4_addr; {elements(rst)} }}
    set sparse_ports {{ type inet_service; {elements(str(p) for p in self.sparse_ports)} }}
    set open_pairs {{ type ipv4_addr . inet_service; {elements(pairs)} }}
    chain input {{
        type filter hook input priority 0; policy accept;
        ip daddr != {rng} accept
        ip daddr @icmp_hosts meta l4proto {{ tcp, udp }} reject with icmp type port-unreachable
        ip daddr @rst_hosts meta l4proto tcp reject with tcp reset
        ip daddr . tcp dport @open_pairs accept
        tcp dport @sparse_ports reject with tcp reset
    }}
}}
"""

    def summary(self, ports: Iterable[int] | None = None) -> str:
        """A few human lines: range, ports, listeners, roles and truth counts."""
        plist = self._ports(ports).tolist()
        c = self.counts(plist)
        roles = ", ".join(f"{int((self.host_role == r).sum())} {ROLE_NAMES[r]}"
                          for r in (DROP, ICMP_REJECT, RST_REJECT))
        listen = ", ".join(f"{p}/{k}{' (dense)' if p in self.dense_ports else ''}"
                           for p, k in sorted(self.listen.items()))
        lines = [
            f"range    {self.target_range} ({self.n_hosts} addresses, {int_to_ip(self.lo)}"
            f"-{int_to_ip(self.hi)})",
            f"ports    {format_ports(plist)}",
            f"listen   {listen or 'none'}",
            f"hosts    {'all dropped (sink)' if self.sink else roles}",
            f"truth    {c['open']} open, {c['closed']} closed, {c['filtered']} filtered "
            f"(ip, port) pairs",
        ]
        return "\n".join(lines)
