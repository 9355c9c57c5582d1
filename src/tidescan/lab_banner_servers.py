"""Real banner servers for the lab (`Lab(banner_servers=True)`) and what each must be seen to say.

Why this module exists: `tidescan --banners` is only tested when real server software answers it:
a stand-in written by us would share our misreadings of the protocol.  So the lab can run Debian's
(and PyPI's) servers, each on a chosen address, and it knows -- before any scanner looks -- the
banner a correct scanner reports for each (`banner_truth()`): the texts follow from the server
software's own version strings and from the configuration and certificate written here.

Where they run.  The target namespace already has listeners on `0.0.0.0:21/22/80/443`, and a
specific-address socket cannot share a port with a listening wildcard socket, so the servers get a
namespace of their own, `ts-<pid>-srv`, behind the target "router" (like tidescanned's)::

    scanner 10.200.0.2 --veth-- target (forwards) --veth 10.202.0.1/30 -- 10.202.0.2 srv
                                                                            local 10.114.0.0/24

The servers' namespace owns all of `10.114.0.0/24` (local route) and each server binds one address
(table `SERVICES`); every other (address, port) there is closed (the kernel's RST).  Its only
route leads back to the scanner's link: nothing a server sends (a stray DNS query, say) can go
anywhere else.

How they run.  One supervisor process (`supervise()` below, stdlib only, started by path) is PID 1
of a new PID, UTS and mount namespace (`unshare --pid --fork --kill-child --uts --mount`, itself
under `setpriv --pdeathsig KILL`).  It names the host `lab.tidescan.test`, mounts a private tmpfs on
`/tmp` and bind-mounts its own `/etc/hosts` and `/etc/resolv.conf` (nameserver 127.0.0.1: no
lookup ever leaves), then starts every server in the foreground and reaps children.  When the lab
closes it kills the `unshare` process by PID; when the lab's owner dies (even by SIGKILL), the
parent-death signal kills `unshare`, `--kill-child` kills the supervisor, and the kernel kills every
process of a PID namespace whose init has died: no server, no per-connection child, survives.

The servers (Debian packages unless noted; `scripts/install.sh` installs them):

=================  ========================  ==================================================
service            software                  notes
=================  ========================  ==================================================
ftp 21             vsftpd                    anonymous-only, empty root; ``AUTH TLS`` -> 234,
                                             then TLS with the lab certificate
ssh 22             OpenSSH sshd              generated ed25519 host key, no authentication
telnet 23          inetutils-telnetd         under inetutils-inetd; real ``/bin/login`` prompt
smtp 25            aiosmtpd (PyPI)           ``STARTTLS`` -> TLS with the lab certificate
vnc 5900           TigerVNC ``Xvnc``         security type None, desktop "tidescan lab"
redis 6379         redis-server              no persistence, protected mode off
memcached 11211    memcached                 TCP only
http 80            nginx                     ``<title>tidescan lab</title>``, server_tokens on
https 443          nginx                     TLS 1.2 only, one cipher suite (ECDHE-ECDSA
                                             AES128-GCM, 0xc02b): the report is exact
https 8443         nginx                     TLS 1.3 only
=================  ========================  ==================================================

The certificate: an ECDSA P-256 lab CA and a leaf (CN `lab.tidescan.test`, SANs in `CERT_SANS`)
generated with `cryptography` at each start; every TLS server sends leaf + CA, so the truth has
`X509` (leaf) and `X509CA` (CA) as base64 DER.

Start-up: ~0.15 s for keys, certificates and version strings, then the servers start in parallel;
the lab waits until every socket listens (read from /proc/net/tcp in the namespace, so no probe
connection is made).  aiosmtpd, a Python program, is the slowest: 0.45-1.4 s in all, measured on
2 busy cores (test_lab_banners.py prints it).
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import platform
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

BANNER_RANGE = "10.114.0.0/24"      # owned by the servers' namespace (local route)
SERVER_GW = "10.202.0.1"            # target namespace's side of the link to the servers
SERVER_LINK_IP = "10.202.0.2"       # servers' namespace side
SERVER_LINK_PLEN = 30
HOSTNAME = "lab.tidescan.test"       # the servers' UTS hostname
SMTP_HOSTNAME = "mail.lab.tidescan.test"
CERT_CN = "lab.tidescan.test"
CERT_SANS = ("lab.tidescan.test", "www.lab.tidescan.test", "mail.lab.tidescan.test",
             "ftp.lab.tidescan.test")
CA_CN = "tidescan lab CA"
TITLE = "tidescan lab"
VNC_DESKTOP = "tidescan lab"
VNC_GEOMETRY = (640, 480)
TLS12_SUITE = "ECDHE-ECDSA-AES128-GCM-SHA256"     # the only TLS 1.2 suite offered: 0xc02b
TLS12_SUITE_ID = 0xC02B
TLS13_SUITE = "TLS_AES_128_GCM_SHA256"             # the only TLS 1.3 suite offered: 0x1301
TLS13_SUITE_ID = 0x1301
START_TIMEOUT = 15.0

HTML = (f"<html><head><title>{TITLE}</title></head>"
        "<body><h1>tidescan lab</h1><p>a real nginx</p></body></html>\n")


class Service(NamedTuple):
    """One server socket of the lab: `name` (the table above), address, port, software."""

    name: str
    ip: str
    port: int
    software: str


SERVICES: tuple[Service, ...] = (
    Service("ftp", "10.114.0.21", 21, "vsftpd"),
    Service("ssh", "10.114.0.22", 22, "openssh"),
    Service("telnet", "10.114.0.23", 23, "inetutils-telnetd"),
    Service("smtp", "10.114.0.25", 25, "aiosmtpd"),
    Service("vnc", "10.114.0.59", 5900, "tigervnc"),
    Service("redis", "10.114.0.63", 6379, "redis"),
    Service("memcached", "10.114.0.63", 11211, "memcached"),
    Service("http", "10.114.0.80", 80, "nginx"),
    Service("https", "10.114.0.80", 443, "nginx"),
    Service("https13", "10.114.0.80", 8443, "nginx"),
)


def service(name: str) -> Service:
    """The `SERVICES` entry called `name`."""
    for s in SERVICES:
        if s.name == name:
            return s
    raise KeyError(name)


class BannerTruth(NamedTuple):
    """One banner a correct scanner reports: on `ip:port`, type `app` (an `output.apps` key), the
    text `expected` (exact) or matching the regular expression `expected` (fully)."""

    ip: str
    port: int
    app: str
    expected: str | re.Pattern[str]

    def matches(self, text: str | bytes) -> bool:
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        if isinstance(self.expected, re.Pattern):
            return self.expected.fullmatch(text) is not None
        return text == self.expected


# -- versions of the installed software (the truth follows from them) -------------------------


def _binary_string(path: str, pattern: bytes) -> str:
    data = Path(path).read_bytes()
    m = re.search(pattern, data)
    if m is None:
        raise RuntimeError(f"lab: no version string in {path}")
    return m.group(1).decode()


def _command_output(argv: Sequence[str], pattern: str) -> str:
    proc = subprocess.run(list(argv), capture_output=True, text=True, timeout=10,
                          stdin=subprocess.DEVNULL)
    m = re.search(pattern, proc.stdout + proc.stderr)
    if m is None:
        raise RuntimeError(f"lab: `{' '.join(argv)}` printed no version")
    return m.group(1)


def software_versions() -> dict[str, str]:
    """The version strings the servers put on the wire, read from the installed software."""
    import importlib.metadata
    return {
        "nginx": _command_output(["nginx", "-v"], r"nginx/(\S+)"),
        # sshd's identification: SSH_RELEASE, e.g. "OpenSSH_9.2p1 Debian-2+deb12u10"
        "openssh": _binary_string(_which("sshd"),
                                  rb"\x00(OpenSSH_[0-9.]+p\d+(?: [\x21-\x7e]+)?)\x00"),
        "vsftpd": _binary_string(_which("vsftpd"), rb"vsftpd: version ([0-9][\w.]*)"),
        "memcached": _command_output(["memcached", "-V"], r"memcached (\S+)"),
        "redis": _command_output(["redis-server", "--version"], r"v=(\S+)"),
        "aiosmtpd": importlib.metadata.version("aiosmtpd"),
    }


def _which(program: str) -> str:
    for d in ("/usr/sbin", "/usr/bin", "/sbin", "/bin"):
        if os.access(f"{d}/{program}", os.X_OK):
            return f"{d}/{program}"
    found = shutil.which(program)
    if found is None:
        raise FileNotFoundError(program)
    return found


REQUIRED_PROGRAMS = ("nginx", "sshd", "vsftpd", "inetutils-inetd", "telnetd", "memcached",
                     "redis-server", "Xvnc", "setpriv", "unshare")


def missing_software() -> list[str]:
    """What `banner_servers=True` needs and is not installed (see scripts/install.sh)."""
    import importlib.util
    missing = []
    for p in REQUIRED_PROGRAMS:
        try:
            _which(p)
        except FileNotFoundError:
            missing.append(p)
    if importlib.util.find_spec("aiosmtpd") is None:
        missing.append("aiosmtpd (PyPI)")
    return missing


# -- the truth --------------------------------------------------------------------------------


def expected_banners(versions: dict[str, str], leaf_der: bytes, ca_der: bytes, *,
                     tls13: bool = False) -> list[BannerTruth]:
    """The banners a correct `--banners` scan of `SERVICES` reports (masscan.md §3 formats, as
    `tidescan.banners` writes them), for a ClientHello offering TLS 1.3 or not (`tls13`)."""
    import base64
    leaf_b64 = base64.b64encode(leaf_der).decode()
    ca_b64 = base64.b64encode(ca_der).decode()
    names = ", ".join((CERT_CN, *CERT_SANS))
    ssl12 = f"TLS/1.2 cipher:0x{TLS12_SUITE_ID:x}, {names}"
    out: list[BannerTruth] = []

    def add(name: str, app: str, expected: str | re.Pattern[str]) -> None:
        s = service(name)
        out.append(BannerTruth(s.ip, s.port, app, expected))

    def tls_certs(name: str) -> None:
        add(name, "X509", leaf_b64)
        add(name, "X509CA", ca_b64)

    # ftp: greeting, AUTH TLS accepted, then the handshake (our hello has no TLS 1.3 by default)
    add("ftp", "ftp", f"220 (vsFTPd {versions['vsftpd']})\n234 Proceed with negotiation.")
    add("ftp", "ssl", ssl12)
    tls_certs("ftp")
    add("ssh", "ssh", f"SSH-2.0-{versions['openssh']}")
    uname = platform.uname()
    add("telnet", "telnet", re.compile(telnet_banner_regex(uname.system, uname.release), re.DOTALL))
    smtp = (f"220 {SMTP_HOSTNAME} Python SMTP {versions['aiosmtpd']}\n250-{SMTP_HOSTNAME}\n"
            "250-SIZE 33554432\n250-8BITMIME\n250-STARTTLS\n250 HELP\n220 Ready to start TLS")
    add("smtp", "smtp", smtp)
    add("smtp", "ssl", ssl12)
    tls_certs("smtp")
    add("vnc", "vnc", f"RFB 003.008 width={VNC_GEOMETRY[0]} height={VNC_GEOMETRY[1]}")
    add("vnc", "vnc-info", f"Security types:\n  none\nName: {VNC_DESKTOP}\n")
    add("redis", "redis", re.compile(
        rf"redis_version={re.escape(versions['redis'])} redis_mode=standalone "
        rf"os={re.escape(f'{uname.system} {uname.release} {uname.machine}')} arch_bits=64 "
        r"uptime_in_seconds=\d+ role=master "))
    add("memcached", "memcached", re.compile(
        rf"uptime=\d+ time=\d+ version={re.escape(versions['memcached'])} "))
    add("http", "http.server", f"nginx/{versions['nginx']}")
    add("http", "title", TITLE)
    add("http", "http", re.compile(
        rf"HTTP/1\.1 200 OK\r\nServer: nginx/{re.escape(versions['nginx'])}\r\n"
        r"Date: [A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT\r\n"
        rf"Content-Type: text/html\r\nContent-Length: {len(HTML)}\r\nConnection: close\r\n\r"))
    add("https", "ssl", ssl12)
    tls_certs("https")
    if tls13:
        add("https13", "ssl", f"TLS/1.3 cipher:0x{TLS13_SUITE_ID:x}")
    else:
        add("https13", "ssl", " ALERT(0x0246) ")      # fatal protocol_version
    return out


def telnet_banner_regex(system: str, release: str) -> str:
    """What inetutils-telnetd + /bin/login say, in masscan's telnet text format: the server's
    first negotiations (sent before it hears anything: the same for every client), whatever
    follows from the client's answers, telnetd's host line `<sysname> <release> (<hostname>)
    (pts/N)`, then login's prompt `<hostname> login: ` and the options login sets (before or
    after the prompt, as the two arrive: masscan 1.3.2 saw them before, tidescan after)."""
    host = re.escape(HOSTNAME)
    return (r" WILL\(auth\) WILL\(encrypt\) DO\(term\) DO\(tspeed\) DO\(xloc\) DO\(new-env\) "
            rf"DO\(env\) .*\\n {re.escape(system)} {re.escape(release)} \({host}\) \(pts/\d+\)"
            rf"\\n \\n .*{host} login: .*")


# -- the identity: lab CA, leaf certificate, SSH host key -------------------------------------


class Identity(NamedTuple):
    ca_der: bytes
    leaf_der: bytes
    key_pem: bytes          # the leaf's private key (PKCS#8 PEM)
    chain_pem: bytes        # leaf + CA (PEM)
    ssh_host_key: bytes     # ed25519, OpenSSH format


def make_identity(now: float | None = None) -> Identity:
    """A fresh ECDSA P-256 CA and leaf (CN/SANs above, valid from a day ago for 30 days) and an
    ed25519 SSH host key."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519
    from cryptography.x509.oid import NameOID

    t = datetime.datetime.fromtimestamp(time.time() if now is None else now, datetime.timezone.utc)
    start, end = t - datetime.timedelta(days=1), t + datetime.timedelta(days=30)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "tidescan"),
                         x509.NameAttribute(NameOID.COMMON_NAME, CA_CN)])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(start).not_valid_after(end)
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .sign(ca_key, hashes.SHA256()))
    leaf = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "tidescan"),
                                     x509.NameAttribute(NameOID.COMMON_NAME, CERT_CN)]))
            .issuer_name(ca_name).public_key(leaf_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(end)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in CERT_SANS]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    key_pem = leaf_key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption())
    ssh_key = ed25519.Ed25519PrivateKey.generate().private_bytes(
        pem, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption())
    return Identity(ca.public_bytes(serialization.Encoding.DER),
                    leaf.public_bytes(serialization.Encoding.DER), key_pem,
                    leaf.public_bytes(pem) + ca.public_bytes(pem), ssh_key)


# -- configuration files (pure) ---------------------------------------------------------------


def nginx_conf(wd: str) -> str:
    http, https, https13 = service("http"), service("https"), service("https13")
    tmp = "\n".join(f"    {k}_temp_path {wd}/nginx-{k};"
                    for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    page = HTML.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n")
    location = f"location / {{ default_type text/html; return 200 '{page}'; }}"
    tls = (f"ssl_certificate {wd}/chain.pem; ssl_certificate_key {wd}/key.pem; "
           "ssl_session_tickets off;")
    return f"""daemon off;
master_process off;
worker_processes 1;
pid {wd}/nginx.pid;
error_log stderr warn;
events {{ worker_connections 8192; }}
http {{
    access_log off;
    server_tokens on;
    keepalive_timeout 5;
{tmp}
    server {{
        listen {http.ip}:{http.port} backlog=4096;
        {location}
    }}
    server {{
        listen {https.ip}:{https.port} ssl backlog=4096;
        {tls}
        ssl_protocols TLSv1.2;
        ssl_ciphers {TLS12_SUITE};
        {location}
    }}
    server {{
        listen {https13.ip}:{https13.port} ssl backlog=4096;
        {tls}
        ssl_protocols TLSv1.3;
        ssl_conf_command Ciphersuites {TLS13_SUITE};
        {location}
    }}
}}
"""


def sshd_config(wd: str) -> str:
    s = service("ssh")
    return f"""Port {s.port}
ListenAddress {s.ip}
HostKey {wd}/ssh_host_ed25519_key
PidFile none
UsePAM no
UseDNS no
LoginGraceTime 10
MaxStartups 10000
PermitRootLogin no
PubkeyAuthentication no
PasswordAuthentication no
KbdInteractiveAuthentication no
AuthorizedKeysFile none
StrictModes no
PrintMotd no
"""


def vsftpd_conf(wd: str) -> str:
    s = service("ftp")
    return f"""listen=YES
listen_ipv6=NO
listen_address={s.ip}
listen_port={s.port}
background=NO
anonymous_enable=YES
anon_root={wd}/ftp-root
local_enable=NO
write_enable=NO
secure_chroot_dir={wd}/vsftpd-empty
seccomp_sandbox=NO
isolate=NO
isolate_network=NO
xferlog_enable=NO
syslog_enable=NO
max_clients=0
max_per_ip=0
ssl_enable=YES
allow_anon_ssl=YES
force_local_logins_ssl=NO
force_local_data_ssl=NO
require_ssl_reuse=NO
ssl_sslv2=NO
ssl_sslv3=NO
ssl_tlsv1=YES
ssl_ciphers={TLS12_SUITE}
rsa_cert_file={wd}/chain.pem
rsa_private_key_file={wd}/key.pem
"""


def inetd_conf() -> str:
    s = service("telnet")
    return f"{s.ip}:{s.port} stream tcp nowait root {_which('telnetd')} telnetd\n"


def etc_hosts() -> str:
    lines = ["127.0.0.1 localhost", f"{service('http').ip} {HOSTNAME} www.{HOSTNAME}",
             f"{service('smtp').ip} {SMTP_HOSTNAME}", f"{service('ftp').ip} ftp.{HOSTNAME}",
             "10.200.0.2 scanner.lab.tidescan.test"]
    return "\n".join(lines) + "\n"


def server_commands(wd: str) -> list[dict[str, Any]]:
    """The supervisor's spec: every server in the foreground, with its log file."""
    redis, mc, vnc, smtp = service("redis"), service("memcached"), service("vnc"), service("smtp")
    cmds = [
        ("smtp", [sys.executable, "-I", __file__, "smtp", "--host", smtp.ip, "--port",
                  str(smtp.port), "--hostname", SMTP_HOSTNAME, "--chain", f"{wd}/chain.pem",
                  "--key", f"{wd}/key.pem"]),
        ("nginx", [_which("nginx"), "-e", "stderr", "-p", wd, "-c", f"{wd}/nginx.conf"]),
        ("sshd", [_which("sshd"), "-D", "-e", "-f", f"{wd}/sshd_config"]),
        ("vsftpd", [_which("vsftpd"), f"{wd}/vsftpd.conf"]),
        ("inetd", [_which("inetutils-inetd"), "-d", f"--pidfile={wd}/inetd.pid",
                   f"{wd}/inetd.conf"]),
        ("memcached", [_which("memcached"), "-u", "root", "-l", mc.ip, "-p", str(mc.port),
                       "-U", "0", "-c", "8192"]),
        ("redis", [_which("redis-server"), "--bind", redis.ip, "--port", str(redis.port),
                   "--save", "", "--appendonly", "no", "--protected-mode", "no",
                   "--daemonize", "no", "--dir", wd, "--logfile", "", "--loglevel", "warning"]),
        ("xvnc", [_which("Xvnc"), ":1", "-rfbport", str(vnc.port), "-interface", vnc.ip,
                  "-SecurityTypes", "None", "-desktop", VNC_DESKTOP, "-geometry",
                  f"{VNC_GEOMETRY[0]}x{VNC_GEOMETRY[1]}", "-depth", "24", "-nolisten", "tcp",
                  "-AlwaysShared"]),
    ]
    return [{"name": n, "argv": a, "log": f"{wd}/{n}.log"} for n, a in cmds]


# -- the servers, from the lab's side ---------------------------------------------------------


def _listen_key(ip: str, port: int) -> str:
    """How /proc/net/tcp writes a local address (little-endian hex IP, hex port)."""
    return f"{struct.unpack('<I', socket.inet_aton(ip))[0]:08X}:{port:04X}"


def listening(keys: set[str]) -> set[str]:
    """Which of `keys` (see `_listen_key`) are LISTEN sockets in the calling thread's namespace."""
    found: set[str] = set()
    with open("/proc/thread-self/net/tcp") as f:
        next(f)
        for line in f:
            parts = line.split()
            if parts[3] == "0A" and parts[1] in keys:
                found.add(parts[1])
    return found


WORKDIR_PARENT = "/run"      # not /tmp: the servers get a private tmpfs there
_WORKDIR_RE = re.compile(r"^ts-(\d+)-banners-")


def remove_stale_workdirs() -> list[str]:
    """Remove the server directories of labs whose process is gone (killed before closing)."""
    removed = []
    with contextlib.suppress(OSError):
        for entry in os.scandir(WORKDIR_PARENT):
            m = _WORKDIR_RE.match(entry.name)
            if m is None:
                continue
            try:
                os.kill(int(m.group(1)), 0)
                continue
            except ProcessLookupError:
                pass
            except PermissionError:
                continue
            shutil.rmtree(entry.path, ignore_errors=True)
            removed.append(entry.path)
    return removed


class BannerServers:
    """The real servers of one lab: `start(enter_ns)` writes identity and configs, starts the
    supervisor inside the servers' namespace and waits until every socket listens; `stop()` kills
    it (and so everything) and removes the files.  `truth()` is `expected_banners` for this run.

    `enter_ns` is a context-manager factory that puts the calling thread in the servers' network
    namespace (`lambda: netns.entered(name)`); `track` receives the supervisor's `Popen` (the
    lab kills what it tracks on close)."""

    def __init__(self) -> None:
        self.workdir: str | None = None
        self.identity: Identity | None = None
        self.versions: dict[str, str] | None = None
        self.proc: subprocess.Popen[bytes] | None = None
        self.startup_seconds = 0.0

    def start(self, enter_ns: Callable[[], contextlib.AbstractContextManager[None]],
              track: Callable[[subprocess.Popen[bytes]], None], prefix: str) -> None:
        t0 = time.perf_counter()
        missing = missing_software()
        if missing:
            from tidescan.errors import EnvironmentProblem
            raise EnvironmentProblem("lab: banner_servers=True needs " + ", ".join(missing)
                                     + " (run scripts/install.sh)")
        remove_stale_workdirs()
        self.workdir = wd = tempfile.mkdtemp(prefix=f"{prefix}banners-", dir=WORKDIR_PARENT)
        os.chmod(wd, 0o755)
        self.identity = ident = make_identity()
        self.versions = software_versions()
        files = {
            "chain.pem": ident.chain_pem, "key.pem": ident.key_pem,
            "ssh_host_ed25519_key": ident.ssh_host_key,
            "nginx.conf": nginx_conf(wd).encode(), "sshd_config": sshd_config(wd).encode(),
            "vsftpd.conf": vsftpd_conf(wd).encode(), "inetd.conf": inetd_conf().encode(),
            "hosts": etc_hosts().encode(), "resolv.conf": b"nameserver 127.0.0.1\n",
        }
        for name, data in files.items():
            path = Path(wd, name)
            path.write_bytes(data)
            path.chmod(0o600 if name in ("key.pem", "ssh_host_ed25519_key") else 0o644)
        for d in ("ftp-root", "vsftpd-empty"):
            os.mkdir(Path(wd, d), 0o755)
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)   # sshd's privilege separation dir
        spec = {"hostname": HOSTNAME, "workdir": wd, "commands": server_commands(wd),
                "mounts": [[f"{wd}/hosts", "/etc/hosts"],
                           [f"{wd}/resolv.conf", "/etc/resolv.conf"]],
                "keep_tmp": tmp_paths_in_use()}
        Path(wd, "spec.json").write_text(json.dumps(spec))
        argv = [_which("setpriv"), "--pdeathsig", "KILL", "--",
                _which("unshare"), "--pid", "--fork", "--kill-child=SIGKILL", "--uts", "--mount",
                "--propagation", "private",
                sys.executable, "-I", __file__, "supervise", f"{wd}/spec.json"]
        with enter_ns():
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL,
                                         stderr=open(f"{wd}/supervisor.log", "wb"),
                                         start_new_session=True)
        track(self.proc)
        keys = {_listen_key(s.ip, s.port) for s in SERVICES}
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            with enter_ns():
                up = listening(keys)
            if up == keys:
                break
            if self.proc.poll() is not None or time.monotonic() > deadline:
                down = sorted(f"{s.name} {s.ip}:{s.port}" for s in SERVICES
                              if _listen_key(s.ip, s.port) not in up)
                from tidescan.errors import EnvironmentProblem
                raise EnvironmentProblem("lab: banner servers not listening: " + ", ".join(down)
                                         + "\n" + self.logs())
            time.sleep(0.01)
        self.startup_seconds = time.perf_counter() - t0

    def logs(self) -> str:
        """The servers' log files (for error messages)."""
        if not self.workdir:
            return ""
        out = []
        for p in sorted(Path(self.workdir).glob("*.log")):
            with contextlib.suppress(OSError):
                text = p.read_text(errors="replace").strip()
                if text:
                    out.append(f"--- {p.name}\n{text[-2000:]}")
        return "\n".join(out)

    def stop(self) -> None:
        if self.proc is not None:
            if self.proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    self.proc.kill()
            with contextlib.suppress(Exception):
                self.proc.wait(timeout=5)
            self.proc = None
        if self.workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None

    def truth(self, tls13: bool = False) -> list[BannerTruth]:
        if self.identity is None or self.versions is None:
            raise RuntimeError("the banner servers are not running")
        return expected_banners(self.versions, self.identity.leaf_der, self.identity.ca_der,
                                tls13=tls13)


# -- inside the servers' namespaces: the supervisor (PID 1) and the SMTP server ---------------

MS_BIND = 4096
PR_SET_PDEATHSIG = 1


def _mount(source: str, target: str, fstype: str | None, flags: int, data: str | None) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    rc = libc.mount(source.encode(), target.encode(), fstype.encode() if fstype else None,
                    ctypes.c_ulong(flags), data.encode() if data else None)
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount {source} on {target}: {os.strerror(err)}")


def tmp_paths_in_use() -> list[str]:
    """Top-level entries of /tmp that this Python needs (interpreter, venv, our own code): the
    servers' private /tmp must keep them visible (a CI checkout or a venv may live in /tmp)."""
    wanted = {sys.executable, sys.prefix, sys.base_prefix, __file__, *sys.path}
    keep = set()
    for path in wanted:
        real = os.path.realpath(path) if path else ""
        for p in (path, real):
            if p and p.startswith("/tmp/"):
                keep.add("/tmp/" + p[len("/tmp/"):].split("/", 1)[0])
    return sorted(keep)


def _private_tmp(keep: list[str], save: str) -> None:
    """A fresh tmpfs on /tmp, with the `keep` entries of the old /tmp bind-mounted back."""
    if keep:
        os.makedirs(save, exist_ok=True)
        _mount("/tmp", save, None, MS_BIND, None)
    _mount("tmpfs", "/tmp", "tmpfs", 0, "mode=1777,size=64m")
    for path in keep:
        old = os.path.join(save, path[len("/tmp/"):])
        if os.path.isdir(old):
            os.makedirs(path, exist_ok=True)
        else:
            Path(path).touch()
        _mount(old, path, None, MS_BIND, None)


def supervise(spec_path: str) -> int:
    """PID 1 of the servers' PID namespace: set up, start every server, reap, die on SIGTERM."""
    spec = json.loads(Path(spec_path).read_text())
    socket.sethostname(spec["hostname"])
    _private_tmp(spec.get("keep_tmp", []), os.path.join(spec["workdir"], "host-tmp"))
    for src, dst in spec["mounts"]:
        _mount(src, dst, None, MS_BIND, None)
    stop = False

    def on_term(signum: int, frame: Any) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    children: dict[int, str] = {}
    for cmd in spec["commands"]:
        with open(cmd["log"], "wb") as log:
            p = subprocess.Popen(cmd["argv"], stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                 cwd=spec["workdir"])
        children[p.pid] = cmd["name"]
    while not stop:
        try:
            pid, status = os.waitpid(-1, 0)        # reap servers and orphans alike
        except ChildProcessError:
            time.sleep(0.5)
            continue
        except InterruptedError:
            continue
        name = children.pop(pid, None)
        if name is not None:
            print(f"supervisor: {name} exited with status {status}", file=sys.stderr, flush=True)
    for pid in children:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return 0     # PID 1 exits: the kernel kills whatever is left in the namespace


def smtp_main(argv: Sequence[str]) -> int:
    """aiosmtpd (a real SMTP server from PyPI) with STARTTLS, accepting and discarding mail."""
    import argparse
    import asyncio
    import ssl

    from aiosmtpd.handlers import Sink
    from aiosmtpd.smtp import SMTP

    ap = argparse.ArgumentParser()
    for opt in ("--host", "--hostname", "--chain", "--key"):
        ap.add_argument(opt, required=True)
    ap.add_argument("--port", type=int, required=True)
    args = ap.parse_args(argv)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.chain, args.key)
    ctx.set_ciphers(TLS12_SUITE)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)

    def factory() -> SMTP:
        return SMTP(Sink(), hostname=args.hostname, tls_context=ctx, loop=loop, timeout=30)

    loop.run_until_complete(loop.create_server(factory, args.host, args.port, backlog=4096))
    loop.run_forever()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["supervise"] and len(args) == 2:
        return supervise(args[1])
    if args[:1] == ["smtp"]:
        return smtp_main(args[1:])
    print("usage: lab_banner_servers.py supervise SPEC | smtp --host H --port P ...",
          file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
