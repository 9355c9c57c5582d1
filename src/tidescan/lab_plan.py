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

UDP (`proto="udp"` in the truth methods): the kernel answers a datagram to a port nobody listens
on with ICMP port-unreachable, which a scanner reports as **closed** (masscan, nmap -sU).  UDP
services (`udp_listen`: small stand-ins for DNS, SNMP and memcached in `lab_listeners.py`, answering
masscan's built-in payloads) make a port **open** on `udp_open_per_port` chosen ordinary hosts; on
every other host nftables answers port-unreachable, as the kernel would.  Drop hosts are silent and
icmp hosts reject UDP with ICMP *admin-prohibited* (not port-unreachable): both are **filtered**
(nmap agrees).  Rst hosts are closed for UDP too (no service is chosen there).

Ping: every host but the drop hosts answers ICMP echo (`hosts_up()`).

IPv6 (`ipv6=True`): a second, smaller range `fd00:112::/<ipv6_size>` (/116../128: every address is
assigned to the target's lo, so at most 4096) is local to the target kernel as well.  Host `fd00:112::i` *is* host `10.112.x.y` with index i (same role, same open ports, same
listeners bound to `::`), so its truth is the first `n_hosts6` rows of the IPv4 truth
(`version=6`).  Addresses are Python ints in the IPv6 views.

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
LINK6_PLEN = 64                 # scanner <-> target link, IPv6 (ipv6=True)
GATEWAY_IP6 = "fd00:200::1"     # target side: the scanner's IPv6 router
SCANNER_IP6 = "fd00:200::2"     # scanner side
RANGE6_BASE = "fd00:112::"      # start of the IPv6 target range (host i of the IPv4 range)

TRUTH_DICT_LIMIT = 2_000_000  # (ip, port) entries truth() will put in a dict

DEFAULT_PORTS: tuple[int, ...] = (21, 22, 80, 443, 8080)
# port -> server kind (see lab_listeners.KINDS); 8080 has no listener: closed everywhere.
DEFAULT_LISTEN: Mapping[int, str] = {21: "ftp", 22: "ssh", 80: "http", 443: "silent"}
# UDP port -> stand-in kind (see lab_listeners.UDP_KINDS), each open on udp_open_per_port hosts.
DEFAULT_UDP_LISTEN: Mapping[int, str] = {53: "dns", 161: "snmp", 11211: "memcached"}
DEFAULT_UDP_PORTS: tuple[int, ...] = (53, 161, 1000, 11211)  # 1000: no service, closed
PROTOS = ("tcp", "udp")


def ip_to_int(text: str) -> int:
    return int(ipaddress.IPv4Address(text))


def int_to_ip(value: int) -> str:
    return str(ipaddress.IPv4Address(int(value)))


def ip6_to_int(text: str) -> int:
    return int(ipaddress.IPv6Address(text))


def int_to_ip6(value: int) -> str:
    return str(ipaddress.IPv6Address(int(value)))


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


def _check_ports(ports: Iterable[int], what: str, proto: str = "tcp") -> tuple[int, ...]:
    out = tuple(int(p) for p in ports)
    for p in out:
        if not 0 <= p <= 65535:
            raise ValueError(f"{what}: {proto.upper()} port {p} outside 0..65535")
    return out


def _check_proto(proto: str) -> str:
    if proto not in PROTOS:
        raise ValueError(f"proto {proto!r}: one of {', '.join(PROTOS)}")
    return proto


@dataclass
class LabPlan:
    """The lab's design, decided from the seed before anything is built (see the module docstring).

    `size` is the prefix length of the target range (20 -> 4096 addresses, 16 -> 65536).
    `ports` are the ports the lab suggests scanning; `listen` maps listen ports to server kinds;
    `dense_ports` (a subset of the listen ports) are open on every ordinary host, the other listen
    ports on `open_per_port` hosts each.  `drop_hosts`, `icmp_hosts`, `rst_hosts` are how many
    hosts get each firewall role.  Counts left at None scale with the range: 16 drop, 8 icmp and
    8 rst hosts and 32 open hosts per sparse port, fewer when the range is too small for that.
    `udp_listen` maps UDP ports to stand-in services, each open on `udp_open_per_port` ordinary
    hosts (None: as `open_per_port`).  `ipv6=True` adds the range `fd00:112::/<ipv6_size>` (host i
    of it is host i of the IPv4 range); it must not be larger than the IPv4 range.
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
    udp_listen: Mapping[int, str] = field(default_factory=lambda: dict(DEFAULT_UDP_LISTEN))
    udp_open_per_port: int | None = None
    ipv6: bool = False
    ipv6_size: int = 120

    def __post_init__(self) -> None:
        if not 12 <= self.size <= 30:
            raise ValueError(f"lab size /{self.size}: choose a prefix length between 12 and 30")
        self.ports = _check_ports(self.ports, "ports")
        self.listen = {int(p): str(k) for p, k in self.listen.items()}
        _check_ports(self.listen, "listen")
        self.udp_listen = {int(p): str(k) for p, k in self.udp_listen.items()}
        _check_ports(self.udp_listen, "udp_listen", "udp")
        from tidescan.lab_listeners import UDP_KINDS
        bad = {k for k in self.udp_listen.values() if k not in UDP_KINDS}
        if bad:
            raise ValueError(f"udp_listen: unknown kind(s) {sorted(bad)} (one of {', '.join(UDP_KINDS)})")
        self.dense_ports = _check_ports(self.dense_ports, "dense_ports")
        missing = set(self.dense_ports) - set(self.listen)
        if missing:
            raise ValueError(f"dense_ports {sorted(missing)} have no listener (add them to listen)")
        self.lo = ip_to_int(RANGE_BASE)
        self.n_hosts = n = 1 << (32 - self.size)
        self.hi = self.lo + self.n_hosts - 1
        self.lo6 = ip6_to_int(RANGE6_BASE)
        if self.ipv6:
            if not 116 <= self.ipv6_size <= 128 or (1 << (128 - self.ipv6_size)) > n:
                raise ValueError(f"ipv6_size /{self.ipv6_size}: choose a prefix length between 116 "
                                 f"and 128 that is no larger than the IPv4 range ({n} addresses)")
            self.n_hosts6 = 1 << (128 - self.ipv6_size)
        else:
            self.n_hosts6 = 0
        self.hi6 = self.lo6 + self.n_hosts6 - 1
        if self.drop_hosts is None:
            self.drop_hosts = min(16, n // 16)
        if self.icmp_hosts is None:
            self.icmp_hosts = min(8, n // 32)
        if self.rst_hosts is None:
            self.rst_hosts = min(8, n // 32)
        if self.open_per_port is None:
            normal = n - self.drop_hosts - self.icmp_hosts - self.rst_hosts
            self.open_per_port = max(0, min(32, normal // 4))
        if self.udp_open_per_port is None:
            self.udp_open_per_port = self.open_per_port
        firewalled = self.drop_hosts + self.icmp_hosts + self.rst_hosts
        if min(self.drop_hosts, self.icmp_hosts, self.rst_hosts, self.open_per_port,
               self.udp_open_per_port) < 0:
            raise ValueError("host counts must not be negative")
        if firewalled > self.n_hosts:
            raise ValueError(f"{firewalled} firewalled hosts do not fit in /{self.size}")
        normal = self.n_hosts - firewalled
        if self.open_per_port > normal:
            raise ValueError(f"open_per_port={self.open_per_port} exceeds the {normal} ordinary hosts")
        if self.udp_open_per_port > normal:
            raise ValueError(f"udp_open_per_port={self.udp_open_per_port} exceeds the {normal} "
                             "ordinary hosts")
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
        # UDP services, decided after TCP so that a seed's TCP truth does not depend on them.
        self.udp_ports_listening = tuple(sorted(self.udp_listen))
        self.udp_open: dict[int, np.ndarray] = {}
        for port in self.udp_ports_listening:
            pick = rng.choice(normal_idx.size, size=self.udp_open_per_port, replace=False)
            self.udp_open[port] = np.sort(normal_idx[pick]).astype(np.int64)

    # -- addresses -----------------------------------------------------------------------------

    @property
    def target_range(self) -> str:
        return f"{RANGE_BASE}/{self.size}"

    @property
    def target_range6(self) -> str | None:
        """The IPv6 target range (`fd00:112::/120`), None without `ipv6`."""
        return f"{RANGE6_BASE}/{self.ipv6_size}" if self.ipv6 else None

    @property
    def ports_text(self) -> str:
        """The ports as a `-p` value, runs compressed (`1-100,443`)."""
        return format_ports(self.ports)

    def host_ips(self) -> np.ndarray:
        """All addresses of the range, as uint32 (index i is `lo + i`)."""
        return (self.lo + np.arange(self.n_hosts, dtype=np.uint64)).astype(np.uint32)

    def host_ip6s(self) -> list[int]:
        """All addresses of the IPv6 range, as Python ints (index i is `lo6 + i`); [] without ipv6."""
        return [self.lo6 + i for i in range(self.n_hosts6)]

    def _index(self, ip: int) -> tuple[int, int]:
        """(host index, IP version) of an address of either range; ValueError outside both."""
        if self.lo <= ip <= self.hi:
            return ip - self.lo, 4
        if self.n_hosts6 and self.lo6 <= ip <= self.hi6:
            return ip - self.lo6, 6
        where = self.target_range + (f" or {self.target_range6}" if self.ipv6 else "")
        text = int_to_ip(ip) if ip < 1 << 32 else int_to_ip6(ip)
        raise ValueError(f"{text} is not in the lab range {where}")

    def _addresses(self, idx: np.ndarray, version: int) -> np.ndarray | list[int]:
        if version == 6:
            return [self.lo6 + int(i) for i in idx.tolist()]
        return (self.lo + idx).astype(np.uint32)

    def _rows(self, version: int) -> int:
        if version == 4:
            return self.n_hosts
        if version == 6:
            return self.n_hosts6
        raise ValueError(f"IP version {version!r}: 4 or 6")

    def hosts_with_role(self, role: int, version: int = 4) -> np.ndarray | list[int]:
        """Addresses whose firewall role is `role` (NORMAL, DROP, ICMP_REJECT, RST_REJECT):
        uint32 for version 4, a list of ints for version 6."""
        idx = np.flatnonzero(self.host_role[:self._rows(version)] == role)
        return self._addresses(idx, version)

    def filtered_hosts(self, version: int = 4) -> np.ndarray | list[int]:
        """Addresses that never answer TCP or UDP: drop and icmp-reject hosts (all, if sink)."""
        roles = self.host_role[:self._rows(version)]
        if self.sink:
            return self._addresses(np.arange(roles.size), version)
        idx = np.flatnonzero((roles == DROP) | (roles == ICMP_REJECT))
        return self._addresses(idx, version)

    def hosts_up(self, version: int = 4) -> np.ndarray | list[int]:
        """Addresses that answer ICMP echo: all but drop hosts (none, if sink)."""
        roles = self.host_role[:self._rows(version)]
        if self.sink:
            return self._addresses(np.zeros(0, dtype=np.int64), version)
        return self._addresses(np.flatnonzero(roles != DROP), version)

    # -- truth ---------------------------------------------------------------------------------

    def _ports(self, ports: Iterable[int] | None, proto: str = "tcp") -> np.ndarray:
        if ports is None:
            ports = self.ports if proto == "tcp" else DEFAULT_UDP_PORTS
        return np.asarray(_check_ports(ports, "ports", proto), dtype=np.int64)

    def truth_matrix(self, ports: Iterable[int] | None = None, proto: str = "tcp",
                     version: int = 4) -> np.ndarray:
        """uint8 array (hosts, len(ports)): CLOSED/OPEN/FILTERED for host i, port j of `proto`.

        Rows are the hosts of the IPv4 range (`lo + i`), or of the IPv6 range with `version=6`
        (`lo6 + i`, the same first rows: host i has one role in both families).  UDP ports default
        to `DEFAULT_UDP_PORTS`.
        """
        _check_proto(proto)
        rows = self._rows(version)
        plist = self._ports(ports, proto)
        state = np.full((self.n_hosts, plist.size), CLOSED, dtype=np.uint8)
        if self.sink:
            state[:] = FILTERED
            return state[:rows]
        normal = self.host_role == NORMAL
        for j, port in enumerate(plist.tolist()):
            if proto == "tcp" and port in self.dense_ports:
                state[normal, j] = OPEN
            elif proto == "tcp" and port in self.sparse_open:
                state[self.sparse_open[port], j] = OPEN
            elif proto == "udp" and port in self.udp_open:
                state[self.udp_open[port], j] = OPEN
        blocked = (self.host_role == DROP) | (self.host_role == ICMP_REJECT)
        state[blocked, :] = FILTERED
        return state[:rows]

    def state_of(self, ip: int, port: int, proto: str = "tcp") -> str:
        """Truth for one (ip, port) of `proto`; `ip` is an int of either range (IPv6 ints for the
        IPv6 range); addresses outside the ranges raise ValueError."""
        _check_proto(proto)
        i, _ = self._index(int(ip))
        if self.sink or self.host_role[i] in (DROP, ICMP_REJECT):
            return "filtered"
        if self.host_role[i] == RST_REJECT:
            return "closed"
        if proto == "tcp" and port in self.dense_ports:
            return "open"
        table = self.sparse_open if proto == "tcp" else self.udp_open
        if port in table:
            arr = table[port]
            k = int(np.searchsorted(arr, i))
            return "open" if k < arr.size and arr[k] == i else "closed"
        return "closed"

    def open_array(self, ports: Iterable[int] | None = None, proto: str = "tcp") -> np.ndarray:
        """Open IPv4 pairs as a uint64 array (n, 2) of (ip, port), sorted by ip then port."""
        plist = self._ports(ports, proto)
        hosts, cols = np.nonzero(self.truth_matrix(plist, proto) == OPEN)
        out = np.empty((hosts.size, 2), dtype=np.uint64)
        out[:, 0] = self.lo + hosts
        out[:, 1] = plist[cols]
        return out

    def open_set(self, ports: Iterable[int] | None = None, proto: str = "tcp",
                 version: int = 4) -> set[tuple[int, int]]:
        """Open pairs as a set of (ip, port) Python ints (small: a few hundred to a few 100 k)."""
        plist = self._ports(ports, proto)
        hosts, cols = np.nonzero(self.truth_matrix(plist, proto, version) == OPEN)
        base = self.lo if version == 4 else self.lo6
        return {(base + int(h), int(plist[c])) for h, c in zip(hosts.tolist(), cols.tolist())}

    def counts(self, ports: Iterable[int] | None = None, proto: str = "tcp",
               version: int = 4) -> dict[str, int]:
        """How many (ip, port) pairs are open, closed, filtered."""
        m = self.truth_matrix(ports, proto, version)
        binc = np.bincount(m.ravel(), minlength=3)
        return {name: int(binc[code]) for code, name in enumerate(STATE_NAMES)}

    def truth(self, ports: Iterable[int] | None = None, proto: str = "tcp",
              version: int = 4) -> dict[tuple[int, int], str]:
        """`{(ip, port): "open"|"closed"|"filtered"}` for every address x port (small labs only)."""
        plist = self._ports(ports, proto)
        rows = self._rows(version)
        if rows * plist.size > TRUTH_DICT_LIMIT:
            raise ValueError(f"truth(): {rows * plist.size} entries is too many for a dict; "
                             "use truth_matrix() / open_array() / filtered_hosts()")
        m = self.truth_matrix(plist, proto, version)
        base = self.lo if version == 4 else self.lo6
        ips = [base + i for i in range(rows)]
        names = STATE_NAMES
        return {(ip, int(p)): names[s]
                for ip, row in zip(ips, m.tolist()) for p, s in zip(plist.tolist(), row)}

    # -- firewall ------------------------------------------------------------------------------

    def nft_ruleset(self, ingress_dev: str) -> str:
        """The nftables ruleset (for `nft -f -` in the target namespace) that realizes the truth.

        Stateless on purpose: no `ct` expression, so conntrack never tracks scan traffic (its table
        would overflow and drop at benchmark rates).  Drops happen at the veth's ingress hook (the
        cheapest place); rejects in the input hook, where the reject expressions live.  With
        `ipv6`, an `ip6` table repeats the rules for the IPv6 range (host i has host i's role).
        """
        def elements(values: Iterable[str]) -> str:
            vals = list(values)
            return f"elements = {{ {', '.join(vals)} }}" if vals else ""

        def ips(role: int, version: int) -> list[str]:
            addrs = self.hosts_with_role(role, version)
            if version == 4:
                return [int_to_ip(a) for a in np.asarray(addrs).tolist()]
            return [int_to_ip6(a) for a in addrs]

        def pairs(table: Mapping[int, np.ndarray], version: int) -> list[str]:
            if version == 4:
                return [f"{int_to_ip(self.lo + int(i))} . {port}"
                        for port, idx in table.items() for i in idx.tolist()]
            return [f"{int_to_ip6(self.lo6 + int(i))} . {port}"
                    for port, idx in table.items() for i in idx.tolist() if i < self.n_hosts6]

        def family(version: int) -> str:
            ip, addr, icmp, name = (("ip", "ipv4_addr", "icmp", "tidescan_lab") if version == 4
                                    else ("ip6", "ipv6_addr", "icmpv6", "tidescan_lab6"))
            rng = self.target_range if version == 4 else self.target_range6
            sfx = "" if version == 4 else "6"
            udp_ports = (str(p) for p in self.udp_ports_listening)
            return f"""
table {ip} {name} {{
    set icmp_hosts{sfx} {{ type {addr}; {elements(ips(ICMP_REJECT, version))} }}
    set rst_hosts{sfx} {{ type {addr}; {elements(ips(RST_REJECT, version))} }}
    set sparse_ports{sfx} {{ type inet_service; {elements(str(p) for p in self.sparse_ports)} }}
    set open_pairs{sfx} {{ type {addr} . inet_service; {elements(pairs(self.sparse_open, version))} }}
    set udp_ports{sfx} {{ type inet_service; {elements(udp_ports)} }}
    set udp_open_pairs{sfx} {{ type {addr} . inet_service; {elements(pairs(self.udp_open, version))} }}
    chain input {{
        type filter hook input priority 0; policy accept;
        {ip} daddr != {rng} accept
        {ip} daddr @icmp_hosts{sfx} meta l4proto tcp reject with {icmp} type port-unreachable
        {ip} daddr @icmp_hosts{sfx} meta l4proto udp reject with {icmp} type admin-prohibited
        {ip} daddr @rst_hosts{sfx} meta l4proto tcp reject with tcp reset
        {ip} daddr . tcp dport @open_pairs{sfx} accept
        tcp dport @sparse_ports{sfx} reject with tcp reset
        {ip} daddr . udp dport @udp_open_pairs{sfx} accept
        udp dport @udp_ports{sfx} reject with {icmp} type port-unreachable
    }}
}}
"""

        drop_rule = (f"ip daddr {self.target_range} drop" if self.sink
                     else "ip daddr @drop_hosts drop")
        drop6_set = drop6_rule = ""
        if self.ipv6:
            drop6_set = f"set drop_hosts6 {{ type ipv6_addr; {elements(ips(DROP, 6))} }}"
            drop6_rule = (f"ip6 daddr {self.target_range6} drop" if self.sink
                          else "ip6 daddr @drop_hosts6 drop")
        return f"""
table netdev tidescan_lab_ingress {{
    set drop_hosts {{ type ipv4_addr; {elements(ips(DROP, 4))} }}
    {drop6_set}
    chain ingress {{
        type filter hook ingress device "{ingress_dev}" priority 0; policy accept;
        {drop_rule}
        {drop6_rule}
    }}
}}
""" + family(4) + (family(6) if self.ipv6 else "")

    def summary(self, ports: Iterable[int] | None = None) -> str:
        """A few human lines: range, ports, listeners, roles and truth counts."""
        plist = self._ports(ports).tolist()
        c = self.counts(plist)
        roles = ", ".join(f"{int((self.host_role == r).sum())} {ROLE_NAMES[r]}"
                          for r in (DROP, ICMP_REJECT, RST_REJECT))
        listen = ", ".join(f"{p}/{k}{' (dense)' if p in self.dense_ports else ''}"
                           for p, k in sorted(self.listen.items()))
        udp = ", ".join(f"{p}/{k}" for p, k in sorted(self.udp_listen.items()))
        cu = self.counts(None, "udp")
        lines = [
            f"range    {self.target_range} ({self.n_hosts} addresses, {int_to_ip(self.lo)}"
            f"-{int_to_ip(self.hi)})",
        ]
        if self.ipv6:
            lines.append(f"range6   {self.target_range6} ({self.n_hosts6} addresses: host i of the "
                         "IPv4 range)")
        lines += [
            f"ports    {format_ports(plist)}",
            f"listen   {listen or 'none'}",
            f"udp      {udp or 'none'} ({self.udp_open_per_port} hosts each)",
            f"hosts    {'all dropped (sink)' if self.sink else roles}",
            f"truth    {c['open']} open, {c['closed']} closed, {c['filtered']} filtered "
            f"(ip, port) pairs",
            f"udp      {cu['open']} open, {cu['closed']} closed, {cu['filtered']} filtered "
            f"on U:{format_ports(DEFAULT_UDP_PORTS)}",
        ]
        return "\n".join(lines)
