"""Network namespaces made by tidescan itself: the only places tests, demos and benchmarks send packets.

Why this module exists: every packet tidescan's tests, lab and benchmarks put on a wire must stay
inside namespaces that the same run created, joined by veth pairs with addresses from 10.x or
fd00::/8, with no route out, and removed afterwards.  This module is the one place that knows how:

* `unique_prefix()` gives a run-unique name prefix (`ts-<pid>-`), so parallel runs never collide and a
  later run can tell stale namespaces (whose creating PID is dead) from live ones.
* `Namespace` creates/deletes one namespace and runs commands inside it (`ip netns exec`).
* `entered(ns)` switches the *calling thread* into a namespace with setns(2) for the duration of a
  `with` block; a socket opened inside stays bound to that namespace after the block, which is how
  the scanner's AF_PACKET sockets are opened from a test process.
* `VethPair` builds the smallest useful lab: two namespaces, one veth pair, addresses, links up.
* `cleanup_stale()` removes namespaces left by crashed runs (prefix `ts-<pid>-` with a dead PID).

Interface names are limited to 15 characters by the kernel; `short_ifname()` derives them.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

CLONE_NEWNET = 0x40000000
NETNS_RUN_DIR = "/run/netns"
_STALE_RE = re.compile(r"^ts-(\d+)-")

_libc = ctypes.CDLL(None, use_errno=True)


def unique_prefix(pid: int | None = None) -> str:
    """Return the run-unique namespace prefix `ts-<pid>-`."""
    return f"ts-{os.getpid() if pid is None else pid}-"


def short_ifname(tag: str, pid: int | None = None) -> str:
    """An interface name unique to this run, at most 15 characters (`t<pid><tag>`)."""
    name = f"t{os.getpid() if pid is None else pid}{tag}"
    if len(name) > 15:
        raise ValueError(f"interface name {name!r} longer than 15 characters")
    return name


def run(cmd: Sequence[str], ns: str | None = None, check: bool = True,
        timeout: float | None = 30, capture: bool = True) -> subprocess.CompletedProcess[str]:
    """Run a command, inside namespace `ns` when given; raise with stderr on failure when `check`."""
    full = ["ip", "netns", "exec", ns, *cmd] if ns else list(cmd)
    proc = subprocess.run(full, capture_output=capture, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise RuntimeError(f"command failed ({proc.returncode}): {' '.join(full)}\n{proc.stderr}")
    return proc


def popen(cmd: Sequence[str], ns: str | None = None, **kwargs: object) -> subprocess.Popen[bytes]:
    """Start a background process, inside namespace `ns` when given."""
    full = ["ip", "netns", "exec", ns, *cmd] if ns else list(cmd)
    return subprocess.Popen(full, **kwargs)  # type: ignore[call-overload]


def list_namespaces() -> list[str]:
    """Names of the namespaces known to iproute2."""
    try:
        return sorted(os.listdir(NETNS_RUN_DIR))
    except FileNotFoundError:
        return []


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def cleanup_stale() -> list[str]:
    """Delete namespaces named `ts-<pid>-*` whose creating process is gone; return their names."""
    removed = []
    for name in list_namespaces():
        m = _STALE_RE.match(name)
        if m and not _pid_alive(int(m.group(1))):
            _kill_namespace_processes(name)
            run(["ip", "netns", "del", name], check=False)
            removed.append(name)
    return removed


def _kill_namespace_processes(name: str) -> None:
    """Kill processes still running inside a stale namespace of ours (they were started by us)."""
    proc = run(["ip", "netns", "pids", name], check=False)
    for tok in proc.stdout.split():
        if tok.isdigit():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(int(tok), 9)


@contextlib.contextmanager
def entered(ns: str) -> Iterator[None]:
    """Run the body with the calling thread inside namespace `ns`; restore the original after.

    Sockets created inside the block keep their namespace after it ends.
    """
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    target = os.open(os.path.join(NETNS_RUN_DIR, ns), os.O_RDONLY)
    try:
        if _libc.setns(target, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns({ns}): {os.strerror(err)}")
        try:
            yield
        finally:
            if _libc.setns(own, CLONE_NEWNET) != 0:  # pragma: no cover - would leave us stranded
                err = ctypes.get_errno()
                raise OSError(err, f"setns(back): {os.strerror(err)}")
    finally:
        os.close(target)
        os.close(own)


@dataclass
class Namespace:
    """One network namespace that this run created (and will delete)."""

    name: str
    created: bool = False

    def create(self) -> Namespace:
        run(["ip", "netns", "add", self.name])
        self.created = True
        run(["ip", "link", "set", "lo", "up"], ns=self.name)
        return self

    def delete(self) -> None:
        if self.created:
            _kill_namespace_processes(self.name)
            run(["ip", "netns", "del", self.name], check=False)
            self.created = False

    def run(self, cmd: Sequence[str], check: bool = True,
            timeout: float | None = 30) -> subprocess.CompletedProcess[str]:
        return run(cmd, ns=self.name, check=check, timeout=timeout)

    def popen(self, cmd: Sequence[str], **kwargs: object) -> subprocess.Popen[bytes]:
        return popen(cmd, ns=self.name, **kwargs)


@dataclass
class VethPair:
    """Two namespaces joined by one veth pair: the smallest lab.

    `a` and `b` are the namespaces; `a_if`/`b_if` the interface names; `a_ip`/`b_ip` IPv4 addresses
    (CIDR form, e.g. `10.199.0.1/24`); optional `a_ip6`/`b_ip6` from fd00::/8.  Neither namespace
    gets a route anywhere except the link itself.
    """

    tag: str = "v"
    a_ip: str | None = "10.199.0.1/24"
    b_ip: str | None = "10.199.0.2/24"
    a_ip6: str | None = None
    b_ip6: str | None = None
    a: Namespace = field(init=False)
    b: Namespace = field(init=False)
    a_if: str = field(init=False)
    b_if: str = field(init=False)

    def __post_init__(self) -> None:
        prefix = unique_prefix()
        self.a = Namespace(f"{prefix}{self.tag}a")
        self.b = Namespace(f"{prefix}{self.tag}b")
        self.a_if = short_ifname(f"{self.tag}a")
        self.b_if = short_ifname(f"{self.tag}b")

    def __enter__(self) -> VethPair:
        try:
            self.up()
        except BaseException:
            self.down()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.down()

    def up(self) -> None:
        self.a.create()
        self.b.create()
        run(["ip", "link", "add", self.a_if, "netns", self.a.name, "type", "veth",
             "peer", "name", self.b_if, "netns", self.b.name])
        for ns, ifname, ip4, ip6 in ((self.a, self.a_if, self.a_ip, self.a_ip6),
                                     (self.b, self.b_if, self.b_ip, self.b_ip6)):
            if ip4:
                ns.run(["ip", "addr", "add", ip4, "dev", ifname])
            if ip6:
                ns.run(["ip", "-6", "addr", "add", ip6, "dev", ifname, "nodad"])
            ns.run(["ip", "link", "set", ifname, "up"])

    def down(self) -> None:
        self.a.delete()
        self.b.delete()

    def mac(self, side: str) -> bytes:
        """MAC address of side `a` or `b`'s interface."""
        ns, ifname = (self.a, self.a_if) if side == "a" else (self.b, self.b_if)
        text = ns.run(["cat", f"/sys/class/net/{ifname}/address"]).stdout.strip()
        return bytes.fromhex(text.replace(":", ""))
