"""The built-in lab: a real network in two namespaces, with a ground truth, for scans, tests and benchmarks.

Why this module exists: tidescan must be tested (and shown, and benchmarked) against real kernels
and real servers, never against the Internet.  `Lab` builds that network in about 0.1 s and removes
it again, and it knows exactly what a perfect scan of it finds (`tidescan.lab_plan`).

Layout (names carry the run-unique prefix `ts-<pid>-`, so parallel runs never collide, and a later
run recognises a crashed run's leftovers by its dead PID and removes them at start)::

    ts-<pid>-scan                          ts-<pid>-tgt
    ┌─────────────────────┐   veth pair   ┌──────────────────────────────────────────────┐
    │ t<pid>s<n>          │───────────────│ t<pid>g<n>   10.200.0.1/24 (the "router")     │
    │ 10.200.0.2/24       │               │ local route 10.112.0.0/<size> dev lo: the     │
    │ default via         │               │   kernel answers for every address (AnyIP)    │
    │   10.200.0.1 (only  │               │ listeners 0.0.0.0:PORT (lab_listeners.py)     │
    │   route; leads only │               │ nftables: drop / reject rules (lab_plan.py)   │
    │   into ts-<pid>-tgt)│               │ [veth to ts-<pid>-rsp: tidescanned, optional] │
    └─────────────────────┘               └──────────────────────────────────────────────┘

The scanner namespace's only route is a default route to the target namespace, which has no
other interface (and does not forward, unless the responder is enabled; even then only to the
responder namespace): every packet stays inside namespaces this run made.  IPv6 is disabled on the
lab links so the wire carries nothing but what the test sent (no router solicitations, no MLD).

UDP: the same listener process also serves UDP stand-ins (`udp_listen`, DNS/SNMP/memcached on
`0.0.0.0`, answering from the address each request was sent to); closed UDP ports are answered by
the kernel's ICMP port-unreachable, unlimited (see the sysctls below).

`ipv6=True` turns IPv6 on, quietly: the scanner gets `fd00:200::2/64`, the target `fd00:200::1/64`
(its IPv6 router), the scanner's only IPv6 route is `default via fd00:200::1`, and the target owns
every address of `fd00:112::/<ipv6_size>` (/120 = 256 by default; each one assigned to lo, not an
AnyIP route: Linux sends ICMPv6 errors from the probed address only when it is assigned, otherwise
from fd00:200::1, which looks like a router's rejection), with every listener also bound to `::` and
an `ip6` nftables table giving host `fd00:112::i` the role of IPv4 host i.  Quiet means: no link-local addresses (`addr_gen_mode = 1`), no DAD (`nodad`,
`accept_dad = 0`, `dad_transmits = 0`), no router solicitations or advertisements
(`router_solicitations = 0`, `accept_ra = 0`); the target knows the scanner's IPv6 address
statically, and the scanner resolves its IPv6 router with its own neighbour solicitation.  Only
MLD reports for the two solicited-node groups can still appear once, when the links come up.
Addresses are fixed (link 10.200.0.0/24, range 10.112.0.0/<size>, responder 10.113.0.0/24):
namespaces are separate, so parallel runs may reuse them; only names must differ, and they carry
the PID (plus an index when one process has several labs up at once).

`with_responder=True` adds `ts-<pid>-rsp`: a veth from the target namespace whose far end carries
no kernel address; `python -m tidescan.responder.cli --iface IFACE` runs there and, given no
`--self-ip`, answers ARP and every port for whatever is routed to it: the target namespace routes
10.113.0.0/24 onto that link.  Truth there: every TCP port of every address is open.

`banner_servers=True` adds `ts-<pid>-srv`, also behind the target router: real server software
(nginx with HTTP, TLS 1.2 and TLS 1.3, OpenSSH, vsftpd, inetutils telnetd, aiosmtpd, TigerVNC,
redis, memcached) on chosen addresses of `10.114.0.0/24`, with a certificate generated at start, and
`banner_truth()`: every banner a correct `--banners` scan reports there (`lab_banner_servers.py`).
They need a namespace of their own because the target's `0.0.0.0` listeners hold their ports.

Using it: `run_scanner(argv)` / `popen_scanner(argv)` run a command in the scanner namespace
(`ip netns exec`); `entered_scanner()` puts the calling thread there to open sockets in-process;
`capture()` runs tcpdump on the target's veth end (it sees every frame the scanner sent, before the
drop rules); `target_counters()` / `scanner_counters()` read the veth counters (the benchmark's
"frames on the wire"); the truth methods come from `LabPlan`.

Sysctls set in the target namespace (they are per-namespace; nothing on the host is touched):

* `net.ipv4.tcp_syncookies = 2`: always answer a SYN with a cookie SYN-ACK.  The kernel then keeps
  no half-open state per SYN, so a million-SYN scan can never overflow a SYN queue (a dropped SYN
  would be a false "filtered"), and it never retransmits SYN-ACKs (no duplicate answers).  A full
  handshake (connect(), nmap -sT, banner grabbing) still works: the cookie is checked on the ACK.
* `net.ipv4.tcp_max_syn_backlog = 65536`: in case someone turns cookies back to 1.
* `net.core.somaxconn = 65535` and `listen(65535)`: completed connections (banner scans) queue
  while the listener accepts them, instead of SYNs being dropped on a full accept queue.
* `net.ipv4.icmp_ratelimit = 0`, `net.ipv4.icmp_msgs_per_sec = 1000000`,
  `net.ipv4.icmp_msgs_burst = 1000000`, `net.ipv4.icmp_ratemask = 0` (and with IPv6
  `net.ipv6.icmp.ratelimit = 0`, `net.ipv6.icmp.ratemask = 255`, a type never sent): ICMP
  port-unreachable rejects and echo replies are sent every time.  The defaults rate-limit
  unreachables per peer (1/s) and globally (a 50-message burst, then 50 per 20 ms), which made
  UDP "closed" depend on scan speed: a 10 kpps UDP scan of a /24 saw 145 of 696 closed ports.
* `net.ipv4.neigh.<veth>.unres_qlen_bytes = 64 MiB`: replies to an address the target must still
  ARP for (a spoofed `--source-ip`, answered by the scanner's user-mode ARP) wait for the ARP reply
  instead of being dropped after ~200 packets (the default queue is 208 KiB of skbs).
* `net.ipv6.conf.{all,default}.disable_ipv6 = 1` (both namespaces): a quiet wire (unless
  `ipv6=True`: then the quiet IPv6 settings above).

The target namespace knows the scanner's own address statically (a permanent neighbour entry), so
its answers never wait for ARP; the scanner side has no static entry: tidescan's own ARP for the
router is part of what is tested.
* `net.ipv4.ip_forward = 1` only with `with_responder=True` or `banner_servers=True` (target ->
  responder / servers namespace).

Not per-namespace and therefore left alone: `net.core.netdev_max_backlog` (the per-CPU queue veth
delivers into; the host's value bounds how fast the target can absorb a burst).

Cleanup: `__exit__` kills the processes the lab started (by PID) and deletes its namespaces; it runs
on normal exit, on exceptions, on Ctrl-C (KeyboardInterrupt unwinds the with-block) and on SIGTERM
(while a lab is up, a SIGTERM that would have killed the process raises SystemExit instead, so the
with-block unwinds too).  After SIGKILL nothing can run: the next `Lab` start (and the test session
start) removes namespaces whose creating PID is dead, and the listener dies with its parent.

Companions: `lab_plan.py` (the truth and the nft rules, pure), `lab_listeners.py` (the servers),
`lab_banner_servers.py` (real banner servers and their truth),
`lab_capture.py` (tcpdump on the wire), `lab_cli.py` (`tidescan-lab up|truth|clean`).
"""

from __future__ import annotations

import contextlib
import importlib.util
import ipaddress
import itertools
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from types import FrameType
from typing import Any

import numpy as np

from tidescan import lab_banner_servers, lab_listeners, netns
from tidescan.errors import EnvironmentProblem
from tidescan.lab_capture import Capture
from tidescan.lab_plan import (
    CLOSED,
    DEFAULT_LISTEN,
    DEFAULT_PORTS,
    DROP,
    FILTERED,
    GATEWAY_IP,
    GATEWAY_IP6,
    ICMP_REJECT,
    LINK6_PLEN,
    LINK_NET,
    NORMAL,
    OPEN,
    RESPONDER_LINK,
    RESPONDER_RANGE,
    RST_REJECT,
    SCANNER_IP,
    SCANNER_IP6,
    SPARE_CIDR,
    SPARE_IP,
    STATE_NAMES,
    LabPlan,
    int_to_ip,
    ip6_to_int,
    ip_to_int,
)
from tidescan.netns import cleanup_stale, unique_prefix

__all__ = [
    "Lab", "Capture", "LabPlan", "bench_lab", "default_lab_scan_argv", "main",
    "unique_prefix", "cleanup_stale", "CLOSED", "OPEN", "FILTERED", "STATE_NAMES",
    "NORMAL", "DROP", "ICMP_REJECT", "RST_REJECT",
]

_up_indexes: set[int] = set()   # indexes of the labs of this process that are up
_index_lock = threading.Lock()


def _free_index() -> int:
    return next(i for i in itertools.count() if i not in _up_indexes)


TARGET_SYSCTLS: Mapping[str, str] = {
    "net/ipv4/tcp_syncookies": "2",
    "net/ipv4/tcp_max_syn_backlog": "65536",
    "net/core/somaxconn": "65535",
    "net/ipv4/icmp_ratelimit": "0",
    "net/ipv4/icmp_msgs_per_sec": "1000000",
    "net/ipv4/icmp_msgs_burst": "1000000",
    "net/ipv4/icmp_ratemask": "0",
}
OPTIONAL_TARGET_SYSCTLS = ("net/ipv4/icmp_msgs_per_sec", "net/ipv4/icmp_msgs_burst")
QUIET_SYSCTLS: Mapping[str, str] = {
    "net/ipv6/conf/all/disable_ipv6": "1",
    "net/ipv6/conf/default/disable_ipv6": "1",
}
# ipv6=True: IPv6 on, but nothing on the wire that a test did not send (set before links exist,
# so every new interface inherits them from `default`).
QUIET_IPV6_SYSCTLS: Mapping[str, str] = {
    **{f"net/ipv6/conf/{c}/{k}": v for c in ("all", "default") for k, v in (
        ("disable_ipv6", "0"), ("accept_ra", "0"), ("router_solicitations", "0"),
        ("accept_dad", "0"), ("dad_transmits", "0"))},
    "net/ipv6/conf/default/addr_gen_mode": "1",   # no link-local address on new links
}
TARGET_IPV6_SYSCTLS: Mapping[str, str] = {
    "net/ipv6/icmp/ratelimit": "0",
    "net/ipv6/icmp/ratemask": "255",   # rate-limit only type 255 (never sent): i.e. nothing
}
LISTEN_BACKLOG = 65535
UNRESOLVED_QUEUE_BYTES = 64 << 20
RESPONDER_MODULE = "tidescan.responder.cli"


def _write_sysctls(ns: str, values: Mapping[str, str], optional: Iterable[str] = ()) -> None:
    """Write /proc/sys/<key> inside namespace `ns` (net sysctls follow the writer's namespace)."""
    opt = set(optional)
    with netns.entered(ns):
        for key, value in values.items():
            try:
                with open(f"/proc/sys/{key}", "w") as f:
                    f.write(value)
            except FileNotFoundError:
                if key not in opt:
                    raise


def _ip_batch(commands: Sequence[str], ns: str | None = None) -> None:
    """Run several `ip` commands in one process (`ip [-n ns] -batch -`)."""
    cmd = ["ip", *(["-n", ns] if ns else []), "-batch", "-"]
    proc = subprocess.run(cmd, input="\n".join(commands) + "\n", capture_output=True, text=True,
                          timeout=30)
    if proc.returncode != 0:
        raise EnvironmentProblem(f"lab: `{' '.join(cmd)}` failed: {proc.stderr.strip()}")


def _link_counters(ns: str, ifname: str) -> dict[str, int]:
    out = netns.run(["ip", "-n", ns, "-s", "-j", "link", "show", "dev", ifname])
    stats = json.loads(out.stdout)[0]["stats64"]
    return {f"{d}_{k}": int(stats[d][k]) for d in ("rx", "tx") for k in ("packets", "bytes", "dropped")}


def _pass_through(stream: Any) -> None:
    with contextlib.suppress(Exception):
        for line in stream:
            sys.stderr.write(line)


def _mac(tag: int, index: int) -> str:
    """Locally administered, deterministic MACs: 02:74:73:<tag>:<index hi>:<index lo>."""
    return f"02:74:73:{tag:02x}:{(index >> 8) & 0xFF:02x}:{index & 0xFF:02x}"


class Lab:
    """The lab as a context manager: `with Lab(size=20, ports=..., seed=...) as lab: ...`.

    Attributes (valid once entered): `scan_ns`, `tgt_ns` (namespace names), `scan_if`, `tgt_if`,
    `scan_ip`, `scan_mac`, `gateway_ip`, `gateway_mac`, `target_range` (`"10.112.0.0/20"`),
    `target_bounds` (`(lo, hi)` ints), `ports`, `ports_text`, `spare_ip`, `spare_cidr`,
    `responder_range` (None without responder), `plan` (the `LabPlan`), `banner_range` and
    `banner_services` (with `banner_servers=True`; `banner_truth()` is their truth).
    The truth methods delegate to the plan and need no root: `truth`, `truth_matrix`,
    `open_array`, `open_set`, `filtered_hosts`, `hosts_up`, `counts`, `state_of`, `summary`.
    """

    def __init__(self, size: int = 20, ports: Sequence[int] = DEFAULT_PORTS, seed: int = 1, *,
                 listen: Mapping[int, str] | None = None, dense_ports: Sequence[int] = (),
                 open_per_port: int | None = None, drop_hosts: int | None = None,
                 icmp_hosts: int | None = None, rst_hosts: int | None = None, sink: bool = False,
                 with_responder: bool = False, udp_listen: Mapping[int, str] | None = None,
                 udp_open_per_port: int | None = None, ipv6: bool = False,
                 ipv6_size: int = 120, banner_servers: bool = False) -> None:
        extra: dict[str, Any] = {} if udp_listen is None else {"udp_listen": dict(udp_listen)}
        self.plan = LabPlan(size=size, ports=ports, seed=seed,
                            listen=dict(DEFAULT_LISTEN if listen is None else listen),
                            dense_ports=dense_ports, open_per_port=open_per_port,
                            drop_hosts=drop_hosts, icmp_hosts=icmp_hosts, rst_hosts=rst_hosts,
                            sink=sink, udp_open_per_port=udp_open_per_port, ipv6=ipv6,
                            ipv6_size=ipv6_size, **extra)
        self.ipv6 = ipv6
        self.with_responder = with_responder
        self.banner_servers = banner_servers
        self.index = -1
        with _index_lock:
            self._assign_names(_free_index())
        self.scan_ip = SCANNER_IP
        self.gateway_ip = GATEWAY_IP
        self.spare_ip = SPARE_IP
        self.spare_cidr = SPARE_CIDR
        self.target_range = self.plan.target_range
        self.target_bounds = (self.plan.lo, self.plan.hi)
        self.scan_ip6: str | None = SCANNER_IP6 if ipv6 else None
        self.gateway_ip6: str | None = GATEWAY_IP6 if ipv6 else None
        self.target_range6: str | None = self.plan.target_range6
        self.target_bounds6: tuple[int, int] | None = (self.plan.lo6, self.plan.hi6) if ipv6 else None
        self.ports = tuple(self.plan.ports)
        self.ports_text = self.plan.ports_text
        self.responder_range: str | None = RESPONDER_RANGE if with_responder else None
        net, _, bits = RESPONDER_RANGE.partition("/")
        self.responder_bounds = (ip_to_int(net), ip_to_int(net) + (1 << (32 - int(bits))) - 1)
        self.banner_range: str | None = lab_banner_servers.BANNER_RANGE if banner_servers else None
        self.banner_services: tuple[lab_banner_servers.Service, ...] = (
            lab_banner_servers.SERVICES if banner_servers else ())
        self._banner = lab_banner_servers.BannerServers() if banner_servers else None
        self._namespaces: list[netns.Namespace] = []
        self._pids: list[subprocess.Popen[Any]] = []
        self._listener: subprocess.Popen[bytes] | None = None
        self._responder: subprocess.Popen[Any] | None = None
        self._old_sigterm: Any = None
        self._sigterm_installed = False
        self._workdir: str | None = None
        self.up = False
        self.startup_seconds = 0.0
        self.teardown_seconds = 0.0

    # -- lifecycle -----------------------------------------------------------------------------

    def _assign_names(self, index: int) -> None:
        """Names and MACs for the `index`-th lab that is up at once in this process (0: no suffix)."""
        self.index = index
        pid = os.getpid()
        suffix = "" if index == 0 else str(index)
        prefix = unique_prefix(pid)
        self.scan_ns = f"{prefix}scan{suffix}"
        self.tgt_ns = f"{prefix}tgt{suffix}"
        self.rsp_ns = f"{prefix}rsp{suffix}"
        self.scan_if = netns.short_ifname(f"s{index}", pid)
        self.tgt_if = netns.short_ifname(f"g{index}", pid)
        self.rsp_if = netns.short_ifname(f"r{index}", pid)   # in the responder namespace
        self.rgw_if = netns.short_ifname(f"q{index}", pid)   # its peer in the target namespace
        self.srv_ns = f"{prefix}srv{suffix}"
        self.srv_if = netns.short_ifname(f"v{index}", pid)   # in the banner servers' namespace
        self.sgw_if = netns.short_ifname(f"b{index}", pid)   # its peer in the target namespace
        self.scan_mac = _mac(1, index)
        self.gateway_mac = _mac(2, index)

    def __enter__(self) -> Lab:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> Lab:
        """Build the lab (prefer `with Lab(...)`); on any failure, remove what was built."""
        if self.up:
            return self
        t0 = time.perf_counter()
        with _index_lock:
            if self.index in _up_indexes:  # another lab took these names since construction
                self._assign_names(_free_index())
            _up_indexes.add(self.index)
        self._install_sigterm()
        try:
            cleanup_stale()
            self._build()
        except BaseException:
            self.close()
            raise
        self.up = True
        self.startup_seconds = time.perf_counter() - t0
        return self

    def close(self) -> None:
        """Kill what the lab started (by PID) and delete its namespaces.  Idempotent."""
        t0 = time.perf_counter()
        old = None
        pending: list[int] = []
        if threading.current_thread() is threading.main_thread():
            # A SIGTERM during cleanup must not interrupt it: note it, act on it afterwards.
            old = signal.signal(signal.SIGTERM, lambda signum, _frame: pending.append(signum))
        try:
            if self._banner is not None:
                self._banner.stop()
            for proc in reversed(self._pids):
                if proc.poll() is None:
                    with contextlib.suppress(ProcessLookupError):
                        proc.kill()
                with contextlib.suppress(Exception):
                    proc.wait(timeout=5)
            self._pids.clear()
            for ns in reversed(self._namespaces):
                ns.delete()
            self._namespaces.clear()
            if self._workdir:
                shutil.rmtree(self._workdir, ignore_errors=True)
                self._workdir = None
        finally:
            if old is not None:
                signal.signal(signal.SIGTERM, old)
            self._restore_sigterm()
            with _index_lock:
                _up_indexes.discard(self.index)
            was_up, self.up = self.up, False
            if was_up:
                self.teardown_seconds = time.perf_counter() - t0
        if pending:
            if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
                raise SystemExit(128 + signal.SIGTERM)
            os.kill(os.getpid(), signal.SIGTERM)  # let the program's own handler see it

    def _install_sigterm(self) -> None:
        """While the lab is up, turn a fatal SIGTERM into SystemExit so the with-block unwinds."""
        if threading.current_thread() is not threading.main_thread():
            return
        old = signal.getsignal(signal.SIGTERM)
        if old is not signal.SIG_DFL:
            return  # the program handles (or ignores) SIGTERM itself
        self._old_sigterm = old

        def on_sigterm(signum: int, frame: FrameType | None) -> None:
            raise SystemExit(128 + signum)

        signal.signal(signal.SIGTERM, on_sigterm)
        self._sigterm_installed = True

    def _restore_sigterm(self) -> None:
        if self._sigterm_installed:
            signal.signal(signal.SIGTERM, self._old_sigterm)
            self._sigterm_installed = False

    def _build(self) -> None:
        # 1. Two namespaces (+ responder, + servers), quiet: IPv6 off before any link exists.
        names = ([self.scan_ns, self.tgt_ns] + ([self.rsp_ns] if self.with_responder else [])
                 + ([self.srv_ns] if self.banner_servers else []))
        if self.with_responder and importlib.util.find_spec(RESPONDER_MODULE) is None:
            raise EnvironmentProblem(f"lab: with_responder=True needs {RESPONDER_MODULE} "
                                     "(tidescanned), which is not installed")
        existing = set(netns.list_namespaces())
        for name in names:
            if name in existing:
                raise EnvironmentProblem(f"lab: namespace {name} already exists")
            self._namespaces.append(netns.Namespace(name, created=True))
        _ip_batch([f"netns add {name}" for name in names])
        for name in names:
            with_v6 = self.ipv6 and name in (self.scan_ns, self.tgt_ns)
            _write_sysctls(name, QUIET_IPV6_SYSCTLS if with_v6 else QUIET_SYSCTLS)
        _write_sysctls(self.tgt_ns, TARGET_SYSCTLS, optional=OPTIONAL_TARGET_SYSCTLS)
        if self.ipv6:
            _write_sysctls(self.tgt_ns, TARGET_IPV6_SYSCTLS)

        # 2. The veth pair, one end in each namespace, with fixed MACs.
        _ip_batch([f"link add {self.scan_if} netns {self.scan_ns} address {self.scan_mac} type veth "
                   f"peer name {self.tgt_if} netns {self.tgt_ns} address {self.gateway_mac}"])

        # 3. Target: the router address, the whole range local (AnyIP), the firewall.
        _ip_batch(["link set lo up",
                   f"addr add {self.gateway_ip}/24 dev {self.tgt_if}",
                   f"neigh add {self.scan_ip} lladdr {self.scan_mac} dev {self.tgt_if} nud permanent",
                   f"link set {self.tgt_if} up",
                   f"route add local {self.target_range} dev lo"], ns=self.tgt_ns)
        if self.ipv6:
            # Every address of the IPv6 range on lo, not one AnyIP route: Linux sends an ICMPv6
            # error (port-unreachable) from the packet's destination only if that address is
            # assigned; with a route alone it comes from fd00:200::1, which nmap reads as a
            # router's answer ("filtered"), not the host's ("closed").
            _ip_batch([f"addr add {GATEWAY_IP6}/{LINK6_PLEN} dev {self.tgt_if} nodad",
                       f"neigh add {SCANNER_IP6} lladdr {self.scan_mac} dev {self.tgt_if} "
                       "nud permanent"]
                      + [f"addr add {ipaddress.IPv6Address(a)}/128 dev lo nodad"
                         for a in self.plan.host_ip6s()], ns=self.tgt_ns)
        _write_sysctls(self.tgt_ns, {
            f"net/ipv4/neigh/{self.tgt_if}/unres_qlen_bytes": str(UNRESOLVED_QUEUE_BYTES)})
        nft = subprocess.run(["ip", "netns", "exec", self.tgt_ns, "nft", "-f", "-"],
                             input=self.plan.nft_ruleset(self.tgt_if), capture_output=True,
                             text=True, timeout=30)
        if nft.returncode != 0:
            raise EnvironmentProblem(f"lab: nft rules rejected: {nft.stderr.strip()}")

        # 4. Scanner: its address and one route, the default, into the target namespace.
        _ip_batch(["link set lo up",
                   f"addr add {self.scan_ip}/24 dev {self.scan_if}",
                   f"link set {self.scan_if} up",
                   f"route add default via {self.gateway_ip} dev {self.scan_if}"], ns=self.scan_ns)
        if self.ipv6:
            _ip_batch([f"addr add {SCANNER_IP6}/{LINK6_PLEN} dev {self.scan_if} nodad",
                       f"route add ::/0 via {GATEWAY_IP6} dev {self.scan_if}"], ns=self.scan_ns)

        # 5. Listeners: sockets made here inside the target namespace, served by a child process.
        self._start_listeners()

        # 6. Optional: tidescanned in a third namespace behind the target router.
        if self.with_responder:
            self._start_responder()

        # 7. Optional: real banner servers in a fourth namespace behind the target router.
        if self._banner is not None:
            self._start_banner_servers()

    def _start_listeners(self) -> None:
        """TCP listeners and UDP stand-ins on every listen port (and on `::` too with ipv6)."""
        if not self.plan.listen and not self.plan.udp_listen:
            return
        families = [(socket.AF_INET, "0.0.0.0")] + ([(socket.AF_INET6, "::")] if self.ipv6 else [])
        opened: list[socket.socket] = []            # every socket made here, closed at the end
        args: list[str] = []                        # --fd FD:KIND (TCP) / --udp FD:KIND

        def bound(family: int, type_: int, host: str, port: int) -> socket.socket:
            s = socket.socket(family, type_)
            opened.append(s)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            if type_ == socket.SOCK_DGRAM:
                lab_listeners.prepare_udp_socket(s)
            s.bind((host, port))
            return s

        try:
            with netns.entered(self.tgt_ns):
                for family, host in families:
                    for port, kind in sorted(self.plan.listen.items()):
                        s = bound(family, socket.SOCK_STREAM, host, port)
                        s.listen(LISTEN_BACKLOG)
                        args += ["--fd", f"{s.fileno()}:{kind}"]
                    for port, kind in sorted(self.plan.udp_listen.items()):
                        s = bound(family, socket.SOCK_DGRAM, host, port)
                        args += ["--udp", f"{s.fileno()}:{kind}"]
                argv = [sys.executable, "-I", lab_listeners.__file__, "--parent", str(os.getpid()),
                        *args]
                # Own session: a Ctrl-C at the terminal goes to the lab, which then kills this.
                self._listener = subprocess.Popen(argv, pass_fds=[s.fileno() for s in opened],
                                                  stdin=subprocess.DEVNULL,
                                                  stdout=subprocess.DEVNULL,
                                                  start_new_session=True)
            self._pids.append(self._listener)
        finally:
            for s in opened:
                s.close()

    def _start_responder(self) -> None:
        """tidescanned in `ts-<pid>-rsp`, reached through the target namespace (which forwards).

        The responder's interface has no kernel address: tidescanned answers ARP and everything
        else for the responder range itself (masscanned semantics with no --self-ip: all IPs).
        """
        _ip_batch([f"link add {self.rgw_if} netns {self.tgt_ns} address {_mac(3, self.index)} "
                   f"type veth peer name {self.rsp_if} netns {self.rsp_ns} "
                   f"address {_mac(4, self.index)}"])
        _ip_batch(["link set lo up", f"link set {self.rsp_if} up"], ns=self.rsp_ns)
        _ip_batch([f"addr add {RESPONDER_LINK} dev {self.rgw_if}",
                   f"link set {self.rgw_if} up",
                   f"route add {RESPONDER_RANGE} dev {self.rgw_if}"], ns=self.tgt_ns)
        _write_sysctls(self.tgt_ns, {"net/ipv4/ip_forward": "1"})
        # `ip netns exec` (not setns) so the responder also sees the namespace's /sys.
        self._responder = subprocess.Popen(
            ["ip", "netns", "exec", self.rsp_ns, sys.executable, "-m", RESPONDER_MODULE,
             "--iface", self.rsp_if, "--quiet"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, text=True, start_new_session=True)
        self._pids.append(self._responder)
        # Ready when it prints its start line (its socket is open from then on); the rest of its
        # stderr is passed through so its errors stay visible.
        err = self._responder.stderr
        assert err is not None
        deadline = time.monotonic() + 30
        seen: list[str] = []
        while not any(line.startswith("tidescanned: interface") for line in seen):
            ready, _, _ = select.select([err], [], [], max(0.0, deadline - time.monotonic()))
            line = err.readline() if ready else ""
            if not line:
                raise EnvironmentProblem("lab: tidescanned did not start: " + "".join(seen).strip()
                                         + (f" (exit status {self._responder.poll()})"
                                            if self._responder.poll() is not None else ""))
            seen.append(line)
        threading.Thread(target=_pass_through, args=(err,), daemon=True).start()
        probe_ip = int_to_ip(self.responder_bounds[0] + 1)
        for _ in range(10):
            ping = netns.run(["ping", "-c", "1", "-W", "1", probe_ip], ns=self.tgt_ns, check=False)
            if ping.returncode == 0:
                return
        raise EnvironmentProblem(f"lab: tidescanned does not answer ping {probe_ip}")

    def _start_banner_servers(self) -> None:
        """`ts-<pid>-srv`: owns 10.114.0.0/24, reached through the target namespace (which
        forwards); its only route leads back to the scanner's link (lab_banner_servers.py)."""
        bs = lab_banner_servers
        assert self._banner is not None
        _ip_batch([f"link add {self.sgw_if} netns {self.tgt_ns} address {_mac(5, self.index)} "
                   f"type veth peer name {self.srv_if} netns {self.srv_ns} "
                   f"address {_mac(6, self.index)}"])
        _ip_batch(["link set lo up",
                   f"addr add {bs.SERVER_LINK_IP}/{bs.SERVER_LINK_PLEN} dev {self.srv_if}",
                   f"neigh add {bs.SERVER_GW} lladdr {_mac(5, self.index)} dev {self.srv_if} "
                   "nud permanent",
                   f"link set {self.srv_if} up",
                   f"route add local {bs.BANNER_RANGE} dev lo",
                   f"route add {LINK_NET} via {bs.SERVER_GW} dev {self.srv_if}"], ns=self.srv_ns)
        _ip_batch([f"addr add {bs.SERVER_GW}/{bs.SERVER_LINK_PLEN} dev {self.sgw_if}",
                   f"neigh add {bs.SERVER_LINK_IP} lladdr {_mac(6, self.index)} dev {self.sgw_if} "
                   "nud permanent",
                   f"link set {self.sgw_if} up",
                   f"route add {bs.BANNER_RANGE} via {bs.SERVER_LINK_IP} dev {self.sgw_if}"],
                  ns=self.tgt_ns)
        _write_sysctls(self.tgt_ns, {"net/ipv4/ip_forward": "1"})
        self._banner.start(lambda: netns.entered(self.srv_ns), self._pids.append,
                           unique_prefix())

    # -- using the lab -------------------------------------------------------------------------

    def _need_up(self) -> None:
        if not self.up:
            raise RuntimeError("the lab is not up (use `with Lab(...) as lab:`)")

    def run_scanner(self, argv: Sequence[str], *, timeout: float | None = 120, check: bool = False,
                    **kwargs: Any) -> subprocess.CompletedProcess[Any]:
        """Run a command inside the scanner namespace and wait for it (text output captured)."""
        self._need_up()
        kwargs.setdefault("capture_output", True)
        kwargs.setdefault("text", True)
        return subprocess.run(["ip", "netns", "exec", self.scan_ns, *argv], timeout=timeout,
                              check=check, **kwargs)

    def popen_scanner(self, argv: Sequence[str], **kwargs: Any) -> subprocess.Popen[Any]:
        """Start a command inside the scanner namespace; the lab kills it on exit if still running."""
        self._need_up()
        proc = subprocess.Popen(["ip", "netns", "exec", self.scan_ns, *argv], **kwargs)
        self._pids.append(proc)
        return proc

    def run_target(self, argv: Sequence[str], **kwargs: Any) -> subprocess.CompletedProcess[Any]:
        """Run a command inside the target namespace (e.g. `nft list ruleset`, `ss -s`)."""
        self._need_up()
        kwargs.setdefault("capture_output", True)
        kwargs.setdefault("text", True)
        kwargs.setdefault("timeout", 60)
        return subprocess.run(["ip", "netns", "exec", self.tgt_ns, *argv], **kwargs)

    def entered_scanner(self) -> contextlib.AbstractContextManager[None]:
        """`with lab.entered_scanner():` — this thread in the scanner namespace (open sockets here)."""
        self._need_up()
        return netns.entered(self.scan_ns)

    @contextlib.contextmanager
    def capture(self, path: str | os.PathLike[str] | None = None, bpf: str = "",
                snaplen: int = 96, iface: str | None = None) -> Iterator[Capture]:
        """tcpdump on the target's veth end for the body of the with-block; yields a `Capture`.

        Capturing has started when the block begins; the file is complete when it ends.
        Without `path` the pcap goes to the lab's temporary directory (gone after the lab closes).
        """
        self._need_up()
        if path is None:
            if self._workdir is None:
                self._workdir = tempfile.mkdtemp(prefix=f"{unique_prefix()}lab-")
            path = Path(self._workdir) / f"capture{len(os.listdir(self._workdir))}.pcap"
        cap = Capture(self.tgt_ns, Path(path), bpf, snaplen, iface or self.tgt_if, self._pids)
        try:
            yield cap
        finally:
            cap.stop()

    def target_counters(self) -> dict[str, int]:
        """Packet/byte counters of the target's veth end (rx = what the scanner put on the wire)."""
        self._need_up()
        return _link_counters(self.tgt_ns, self.tgt_if)

    def scanner_counters(self) -> dict[str, int]:
        """Packet/byte counters of the scanner's veth end (rx = everything the target answered)."""
        self._need_up()
        return _link_counters(self.scan_ns, self.scan_if)

    def wake_scanner(self) -> None:
        """Send one ICMP echo from the target to the scanner's address.

        Debian's masscan 1.3.2 blocks in libpcap after its `--wait` until some frame arrives
        (its status shows "waiting -N secs"); one frame lets it exit.  Harmless for other tools.
        """
        self._need_up()
        netns.run(["ping", "-c", "1", "-W", "1", self.scan_ip], ns=self.tgt_ns, check=False)

    @contextlib.contextmanager
    def keep_scanner_awake(self, interval: float = 0.1) -> Iterator[None]:
        """For the body of the with-block, ping the scanner's address every `interval` seconds.

        Debian's masscan 1.3.2 runs its timers (the banner hello timeout, TCB timeouts, the end of
        `--wait`) only when a frame arrives: on a quiet lab its banner grabs of client-first
        protocols (HTTP, TLS, memcached) never send their hello.  A steady trickle of echo
        requests keeps it ticking.  tidescan does not need this.
        """
        self._need_up()
        proc = subprocess.Popen(["ip", "netns", "exec", self.tgt_ns, "ping", "-q", "-n",
                                 "-i", str(interval), self.scan_ip], stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
        self._pids.append(proc)
        try:
            yield
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            self._pids.remove(proc)

    def listener_alive(self) -> bool:
        return self._listener is not None and self._listener.poll() is None

    # -- truth (delegated to the plan; no root needed) -----------------------------------------
    # `proto` is "tcp" or "udp"; `version=6` gives the IPv6 range's truth (ipv6=True).

    def truth(self, ports: Iterable[int] | None = None, proto: str = "tcp",
              version: int = 4) -> dict[tuple[int, int], str]:
        return self.plan.truth(ports, proto, version)

    def truth_matrix(self, ports: Iterable[int] | None = None, proto: str = "tcp",
                     version: int = 4) -> np.ndarray:
        return self.plan.truth_matrix(ports, proto, version)

    def open_array(self, ports: Iterable[int] | None = None, proto: str = "tcp") -> np.ndarray:
        return self.plan.open_array(ports, proto)

    def open_set(self, ports: Iterable[int] | None = None, proto: str = "tcp",
                 version: int = 4) -> set[tuple[int, int]]:
        return self.plan.open_set(ports, proto, version)

    def filtered_hosts(self, version: int = 4) -> np.ndarray | list[int]:
        return self.plan.filtered_hosts(version)

    def hosts_with_role(self, role: int, version: int = 4) -> np.ndarray | list[int]:
        return self.plan.hosts_with_role(role, version)

    def hosts_up(self, version: int = 4) -> np.ndarray | list[int]:
        """Addresses answering ICMP echo (`--ping` truth): all but the drop hosts."""
        return self.plan.hosts_up(version)

    def arp_truth(self) -> dict[int, str]:
        """`--arp` truth for the scanner's own link (10.200.0.0/24): {address: MAC} of every
        address that answers ARP there: only the gateway (the scanner does not answer itself,
        spare addresses belong to nobody, the target range is behind the router)."""
        return {ip_to_int(self.gateway_ip): self.gateway_mac}

    def counts(self, ports: Iterable[int] | None = None, proto: str = "tcp",
               version: int = 4) -> dict[str, int]:
        return self.plan.counts(ports, proto, version)

    def state_of(self, ip: int | str, port: int, proto: str = "tcp") -> str:
        if isinstance(ip, str):
            ip = ip6_to_int(ip) if ":" in ip else ip_to_int(ip)
        return self.plan.state_of(ip, port, proto)

    def banner_of(self, ip: int | str, port: int) -> bytes | None:
        """What the listener on an open (ip, port) sends (None if the pair is not open)."""
        if isinstance(ip, str):
            ip_s = ip
        else:
            ip_s = int_to_ip(ip) if ip < 1 << 32 else str(ipaddress.IPv6Address(ip))
        if self.state_of(ip_s, port) != "open":
            return None
        return lab_listeners.banner_for(self.plan.listen[port], ip_s, port)

    def banner_truth(self, tls13: bool = False) -> list[lab_banner_servers.BannerTruth]:
        """With `banner_servers=True`: every banner a correct `--banners` scan of the real servers
        reports, as `BannerTruth(ip, port, app, expected)` (`expected`: exact text or a compiled
        regex that must match fully; `.matches(text)`).  `tls13`: the scanner's ClientHello
        offers TLS 1.3 (changes what the TLS-1.3-only port shows)."""
        self._need_up()
        if self._banner is None:
            raise RuntimeError("banner_truth() needs Lab(banner_servers=True)")
        return self._banner.truth(tls13)

    def banner_server_pids(self) -> list[int]:
        """PIDs (host view) of every process in the banner servers' namespace right now."""
        self._need_up()
        if self._banner is None:
            return []
        out = netns.run(["ip", "netns", "pids", self.srv_ns], check=False).stdout
        return [int(t) for t in out.split() if t.isdigit()]

    def udp_answer_of(self, ip: int | str, port: int, request: bytes) -> bytes | None:
        """What the UDP stand-in on an open UDP (ip, port) answers `request` (None if not open)."""
        if isinstance(ip, str):
            ip_s = ip
        else:
            ip_s = int_to_ip(ip) if ip < 1 << 32 else str(ipaddress.IPv6Address(ip))
        if self.state_of(ip_s, port, "udp") != "open":
            return None
        return lab_listeners.udp_answer(self.plan.udp_listen[port], request, ip_s, port)

    def summary(self, ports: Iterable[int] | None = None) -> str:
        return self.plan.summary(ports)


def bench_lab(sink: bool = False, ports: Sequence[int] = tuple(range(1, 101)),
              dense_ports: Sequence[int] = (21, 22, 80), seed: int = 1) -> Lab:
    """The benchmark lab (issue 4): /16 x 100 ports, everything answers (or nothing, if `sink`).

    Dense listeners on `dense_ports` make ~65536 x len(dense_ports) open pairs; every other pair
    answers RST.  No firewalled hosts, so "found vs truth" is all about the scanner.
    """
    listen = {p: DEFAULT_LISTEN.get(p, "silent") for p in dense_ports}
    return Lab(size=16, ports=ports, seed=seed, listen=listen, dense_ports=dense_ports,
               open_per_port=0, drop_hosts=0, icmp_hosts=0, rst_hosts=0, sink=sink)


def default_lab_scan_argv(lab: Lab, rate: int = 100000) -> list[str]:
    """Suggested tidescan arguments for a demo scan of `lab` (run inside `lab.scan_ns`)."""
    return ["-p", lab.ports_text, lab.target_range, "--rate", str(rate),
            "--adapter", lab.scan_if, "--wait", "2"]


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `tidescan-lab` console script (see `tidescan.lab_cli`)."""
    from tidescan.lab_cli import run
    return run(argv)


if __name__ == "__main__":
    raise SystemExit(main())
