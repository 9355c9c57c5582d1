"""The lab's real banner servers: their truth, seen by real clients, and their cleanup.

`Lab(banner_servers=True)` runs Debian's/PyPI's servers (lab_banner_servers.py) and predicts every
banner a correct `--banners` scan reports there (`banner_truth()`).  These tests check that
prediction with *other* clients than tidescan -- curl, openssl s_client (also with -starttls ftp and
smtp), ssh-keyscan, redis-cli, nc, nmap's vnc scripts, Python's ftplib/smtplib/telnetlib -- from
the scanner's namespace: for each service, what the client sees, written in masscan's banner
format, must be exactly the truth (same banner types, each text equal or matching).  Then: the
rest of the banner range is closed, start-up stays fast, and every server process is gone after
`close()` and after the lab's owner is SIGKILLed.
"""

from __future__ import annotations

import base64
import contextlib
import ftplib
import json
import os
import re
import signal
import smtplib
import socket
import subprocess
import sys
import textwrap
import time
import warnings
from collections.abc import Iterator

import pytest

from tidescan import lab_banner_servers as bs
from tidescan import netns
from tidescan.lab import Lab
from tidescan.output.apps import app_id

Observed = list[tuple[str, str]]          # [(app, text)] one client saw on one ip:port

# ---------------------------------------------------------------------------------------------
# Pure: the table, the identity, the truth's shape (no root)
# ---------------------------------------------------------------------------------------------

FAKE_VERSIONS = {"nginx": "1.2.3", "openssh": "OpenSSH_9.9p1 Debian-1", "vsftpd": "3.0.5",
                 "memcached": "1.6.1", "redis": "7.0.1", "aiosmtpd": "1.4.6"}


def test_services_are_distinct_addresses_of_the_banner_range() -> None:
    import ipaddress
    net = ipaddress.ip_network(bs.BANNER_RANGE)
    pairs = [(s.ip, s.port) for s in bs.SERVICES]
    assert len(set(pairs)) == len(pairs) == 10
    assert len({s.name for s in bs.SERVICES}) == len(bs.SERVICES)
    assert all(ipaddress.ip_address(s.ip) in net for s in bs.SERVICES)
    assert bs.service("https13").port == 8443


def test_identity_is_a_ca_signed_leaf_with_the_lab_names() -> None:
    from cryptography import x509
    from cryptography.x509.oid import NameOID
    ident = bs.make_identity()
    leaf = x509.load_der_x509_certificate(ident.leaf_der)
    ca = x509.load_der_x509_certificate(ident.ca_der)
    leaf.verify_directly_issued_by(ca)            # raises if the signature is wrong
    assert leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == bs.CERT_CN
    sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == list(bs.CERT_SANS)
    assert ident.chain_pem.count(b"BEGIN CERTIFICATE") == 2
    assert ident.ssh_host_key.startswith(b"-----BEGIN OPENSSH PRIVATE KEY-----")
    assert bs.make_identity().leaf_der != ident.leaf_der   # fresh keys every start


def test_truth_shape_and_exact_texts() -> None:
    ident = bs.make_identity()
    truth = bs.expected_banners(FAKE_VERSIONS, ident.leaf_der, ident.ca_der)
    by = {(t.ip, t.port, t.app): t for t in truth}
    assert len(by) == len(truth) == 21
    for t in truth:
        app_id(t.app)                             # every type is one the outputs can write
    names = "lab.tidescan.test, lab.tidescan.test, www.lab.tidescan.test, " \
            "mail.lab.tidescan.test, ftp.lab.tidescan.test"
    assert by[("10.114.0.80", 443, "ssl")].expected == f"TLS/1.2 cipher:0xc02b, {names}"
    assert by[("10.114.0.21", 21, "ssl")].expected == f"TLS/1.2 cipher:0xc02b, {names}"
    assert by[("10.114.0.80", 443, "X509")].matches(base64.b64encode(ident.leaf_der))
    assert by[("10.114.0.80", 443, "X509CA")].expected == base64.b64encode(ident.ca_der).decode()
    assert by[("10.114.0.22", 22, "ssh")].expected == "SSH-2.0-OpenSSH_9.9p1 Debian-1"
    assert by[("10.114.0.21", 21, "ftp")].expected == \
        "220 (vsFTPd 3.0.5)\n234 Proceed with negotiation."
    assert by[("10.114.0.80", 80, "http.server")].expected == "nginx/1.2.3"
    assert by[("10.114.0.80", 8443, "ssl")].expected == " ALERT(0x0246) "
    assert by[("10.114.0.63", 11211, "memcached")].matches(
        "uptime=3 time=1700000000 version=1.6.1 ")
    assert not by[("10.114.0.63", 11211, "memcached")].matches(
        "uptime=3 time=1700000000 version=1.6.2 ")
    t13 = {(t.ip, t.port, t.app): t
           for t in bs.expected_banners(FAKE_VERSIONS, ident.leaf_der, ident.ca_der, tls13=True)}
    assert t13[("10.114.0.80", 8443, "ssl")].expected == "TLS/1.3 cipher:0x1301"


def test_telnet_truth_accepts_both_arrival_orders_only() -> None:
    rx = re.compile(bs.telnet_banner_regex("Linux", "6.1.0-9-amd64"), re.DOTALL)
    head = (" WILL(auth) WILL(encrypt) DO(term) DO(tspeed) DO(xloc) DO(new-env) DO(env) WILL(sga)"
            " DO(echo)\\n Linux 6.1.0-9-amd64 (lab.tidescan.test) (pts/3)\\n \\n ")
    assert rx.fullmatch(head + "lab.tidescan.test login:  WILL(sga) WILL(echo)")   # tidescan
    assert rx.fullmatch(head + " WILL(sga) WILL(echo)lab.tidescan.test login: ")   # masscan
    assert not rx.fullmatch(head)                                                  # no prompt
    assert not rx.fullmatch(head.replace("6.1.0-9", "6.1.0-8") + "lab.tidescan.test login: ")


# ---------------------------------------------------------------------------------------------
# The lab with its servers
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def blab() -> Iterator[Lab]:
    with Lab(size=24, banner_servers=True) as lab:
        yield lab


def check(lab: Lab, name: str, observed: Observed, tls13: bool = False) -> None:
    """What a client observed on service `name` is exactly the truth there: the same banner
    types, and each text equal to (or matching) the expected one."""
    s = bs.service(name)
    truth = {t.app: t for t in lab.banner_truth(tls13) if (t.ip, t.port) == (s.ip, s.port)}
    seen = dict(observed)
    assert sorted(seen) == sorted(truth), f"{name}: banner types"
    for app, text in seen.items():
        assert truth[app].matches(text), f"{name} {app}: {text!r} vs {truth[app].expected!r}"


def scanner(lab: Lab, cmd: list[str], input: str | None = None, timeout: float = 30) -> str:
    """Run `cmd` in the scanner namespace; its stdout + stderr, bytes decoded as they are (CRs
    kept: text mode would turn the HTTP header's CRLFs into LFs)."""
    proc = lab.run_scanner(cmd, input=None if input is None else input.encode(), text=False,
                           timeout=timeout)
    return (proc.stdout + proc.stderr).decode("utf-8", "replace")


@pytest.mark.lab
def test_servers_start_fast_and_only_their_ports_are_open(blab: Lab) -> None:
    assert blab.banner_range == "10.114.0.0/24"
    assert blab._banner is not None
    print(f"\nbanner servers: lab up in {blab.startup_seconds:.2f} s "
          f"(servers {blab._banner.startup_seconds:.2f} s)")
    assert blab.startup_seconds < 5.0
    assert len(blab.banner_server_pids()) >= len({s.software for s in bs.SERVICES})
    probes = [(s.ip, s.port) for s in bs.SERVICES] + [
        ("10.114.0.80", 22), ("10.114.0.22", 80), ("10.114.0.5", 443), ("10.114.0.63", 6380)]
    result = {}
    with blab.entered_scanner():
        for ip, port in probes:
            with socket.socket() as sock:
                sock.settimeout(3)
                result[(ip, port)] = sock.connect_ex((ip, port))
    open_pairs = {p for p, rc in result.items() if rc == 0}
    assert open_pairs == {(s.ip, s.port) for s in bs.SERVICES}
    assert {rc for p, rc in result.items() if p not in open_pairs} == {111}   # ECONNREFUSED


@pytest.mark.lab
def test_http_curl(blab: Lab) -> None:
    url = f"http://{bs.service('http').ip}/"
    head = scanner(blab, ["curl", "-s", "--http1.0", "-D", "-", "-o", "/dev/null", url])
    body = scanner(blab, ["curl", "-s", "--http1.0", url])
    server = re.search(r"^Server: (.*)\r$", head, re.M)
    title = re.search(r"<title>([^<]*)", body)
    assert server and title
    # masscan's `http` banner: the header up to, not including, the blank line's "\n"
    check(blab, "http", [("http", head[:-1]), ("http.server", server.group(1)),
                         ("title", title.group(1))])


def openssl_tls(lab: Lab, ip: str, port: int, *args: str) -> Observed:
    """openssl s_client's view, in masscan's words: `ssl` text, `X509` and `X509CA` (base64 DER)."""
    out = scanner(lab, ["openssl", "s_client", "-connect", f"{ip}:{port}", "-showcerts",
                        "-servername", bs.CERT_CN, *args], input="", timeout=20)
    alert = re.search(r"alert number (\d+)", out)
    if alert:
        return [("ssl", f" ALERT(0x02{int(alert.group(1)):02x}) ")]
    m = re.search(r"^New, (TLSv1\.[0-3]), Cipher is (\S+)$", out, re.M)
    assert m, out
    proto, cipher = m.group(1), m.group(2)
    suites = subprocess.run(["openssl", "ciphers", "-V", "-ciphersuites",
                             "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384", "ALL"],
                            capture_output=True, text=True, check=True).stdout
    hexid = re.search(rf"0x([0-9A-F]{{2}}),0x([0-9A-F]{{2}}) - {re.escape(cipher)} ",
                      suites)
    assert hexid, cipher
    pems = re.findall(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", out, re.S)
    ders = [subprocess.run(["openssl", "x509", "-outform", "DER"], input=p.encode(),
                           capture_output=True, check=True).stdout for p in pems]
    text = [f"TLS/{proto[4:]} cipher:0x{int(hexid.group(1) + hexid.group(2), 16):x}"]
    if ders and proto != "TLSv1.3":      # TLS 1.3 encrypts the certificate
        info = subprocess.run(["openssl", "x509", "-noout", "-subject", "-nameopt", "multiline",
                               "-ext", "subjectAltName"], input=pems[0], capture_output=True,
                              text=True, check=True).stdout
        text += re.findall(r"^\s*commonName\s*= (.*)$", info, re.M)
        text += re.findall(r"DNS:([^,\s]+)", info)
        observed = [("ssl", ", ".join(text)), ("X509", base64.b64encode(ders[0]).decode())]
        return observed + [("X509CA", base64.b64encode(d).decode()) for d in ders[1:]]
    return [("ssl", text[0])]


@pytest.mark.lab
def test_https_openssl(blab: Lab) -> None:
    s = bs.service("https")
    check(blab, "https", openssl_tls(blab, s.ip, s.port))
    # a TLS-1.3-capable client still gets TLS 1.2 there (the server allows nothing else)
    assert openssl_tls(blab, s.ip, s.port)[0][1].startswith("TLS/1.2 cipher:0xc02b, ")


@pytest.mark.lab
def test_tls13_only_port_openssl(blab: Lab) -> None:
    s = bs.service("https13")
    check(blab, "https13", openssl_tls(blab, s.ip, s.port, "-tls1_2"))           # an alert
    check(blab, "https13", openssl_tls(blab, s.ip, s.port, "-tls1_3"), tls13=True)


@pytest.mark.lab
def test_ftp_ftplib_then_openssl_starttls(blab: Lab) -> None:
    s = bs.service("ftp")
    with blab.entered_scanner():
        ftp = ftplib.FTP(s.ip, timeout=5)
    try:
        text = ftp.getwelcome() + "\n" + ftp.sendcmd("AUTH TLS")
    finally:
        ftp.close()
    tls = openssl_tls(blab, s.ip, s.port, "-starttls", "ftp", "-tls1_2")
    check(blab, "ftp", [("ftp", text), *tls])


@pytest.mark.lab
def test_smtp_smtplib_then_openssl_starttls(blab: Lab) -> None:
    s = bs.service("smtp")
    with blab.entered_scanner():
        client = smtplib.SMTP(timeout=5)
        code, greeting = client.connect(s.ip, s.port)
    try:
        ecode, ehlo = client.ehlo("tidescan")
        tcode, tmsg = client.docmd("STARTTLS")
    finally:
        client.close()
    lines = ehlo.decode().split("\n")
    text = "\n".join([f"{code} {greeting.decode()}"]
                     + [f"{ecode}-{x}" for x in lines[:-1]] + [f"{ecode} {lines[-1]}"]
                     + [f"{tcode} {tmsg.decode()}"])
    tls = openssl_tls(blab, s.ip, s.port, "-starttls", "smtp", "-tls1_2")
    check(blab, "smtp", [("smtp", text), *tls])


@pytest.mark.lab
def test_ssh_keyscan(blab: Lab) -> None:
    s = bs.service("ssh")
    out = scanner(blab, ["ssh-keyscan", "-T", "5", "-t", "ed25519", s.ip])
    line = re.search(rf"^# {re.escape(s.ip)}:22 (SSH-\S+(?: \S+)?)$", out, re.M)
    assert line, out
    check(blab, "ssh", [("ssh", line.group(1))])
    assert "ssh-ed25519 " in out                  # it talked to the real sshd with our host key


@pytest.mark.lab
def test_redis_cli(blab: Lab) -> None:
    s = bs.service("redis")
    out = scanner(blab, ["redis-cli", "-h", s.ip, "-p", str(s.port), "info"])
    wanted = ("redis_version", "redis_mode", "os", "arch_bits", "uptime_in_seconds", "role")
    fields = [line.split(":", 1) for line in out.splitlines() if ":" in line]
    text = "".join(f"{k}={v.strip()} " for k, v in fields if k in wanted)
    check(blab, "redis", [("redis", text)])


@pytest.mark.lab
def test_memcached_nc(blab: Lab) -> None:
    s = bs.service("memcached")
    out = scanner(blab, ["nc", "-q", "1", "-w", "3", s.ip, str(s.port)], input="stats\r\n")
    stats = re.findall(r"^STAT (\S+) (\S+)\r?$", out, re.M)
    assert stats and out.rstrip().endswith("END")
    text = "".join(f"{k}={v} " for k, v in stats if k in ("uptime", "time", "version"))
    check(blab, "memcached", [("memcached", text)])


TELNET_OPTION_NAMES = {0: "binary", 1: "echo", 3: "sga", 5: "status", 6: "timing-mark", 24: "term",
                       31: "naws", 32: "tspeed", 33: "rflow", 34: "linemode", 35: "xloc", 36: "env",
                       37: "auth", 38: "encrypt", 39: "new-env"}


@pytest.mark.lab
def test_telnet_telnetlib(blab: Lab) -> None:
    """Python's telnetlib refuses every option (as masscan does); the negotiation and the text are
    written in masscan's format in stream order."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import telnetlib
    s = bs.service("telnet")
    parts: list[str] = []
    with blab.entered_scanner():
        tn = telnetlib.Telnet(s.ip, s.port, timeout=5)
    verbs = {telnetlib.WILL: "WILL", telnetlib.WONT: "WONT", telnetlib.DO: "DO",
             telnetlib.DONT: "DONT"}
    refuse = {telnetlib.WILL: telnetlib.DONT, telnetlib.WONT: telnetlib.DONT,
              telnetlib.DO: telnetlib.WONT, telnetlib.DONT: telnetlib.WONT}

    def flush_text() -> None:
        parts.append(tn.cookedq.decode("latin-1").replace("\r", "").replace("\n", "\\n "))
        tn.cookedq = b""

    def negotiate(sock: socket.socket, cmd: bytes, opt: bytes) -> None:
        if cmd in verbs:
            flush_text()
            parts.append(f" {verbs[cmd]}({TELNET_OPTION_NAMES.get(opt[0], f'0x{opt[0]:02x}')})")
            sock.sendall(telnetlib.IAC + refuse[cmd] + opt)

    def pump() -> None:
        """Read what arrived and process it one byte at a time: telnetlib moves text to
        `cookedq` only at the end of each `process_rawq`, so this keeps text and negotiation
        in the order they were sent."""
        tn.fill_rawq()
        raw, tn.rawq, tn.irawq = tn.rawq[tn.irawq:], b"", 0
        for i in range(len(raw)):
            tn.rawq, tn.irawq = raw[i:i + 1], 0
            tn.process_rawq()

    tn.set_option_negotiation_callback(negotiate)
    try:
        deadline = time.monotonic() + 10
        while "login: " not in "".join(parts) + tn.cookedq.decode("latin-1"):
            assert time.monotonic() < deadline, parts
            pump()
        end = time.monotonic() + 0.5            # options login sets after its prompt
        while time.monotonic() < end:
            with contextlib.suppress(socket.timeout):
                tn.sock.settimeout(max(0.01, end - time.monotonic()))
                pump()
        flush_text()
    finally:
        tn.close()
    check(blab, "telnet", [("telnet", "".join(parts))])


@pytest.mark.lab
def test_vnc_nmap_scripts(blab: Lab) -> None:
    s = bs.service("vnc")
    out = scanner(blab, ["nmap", "-Pn", "-n", "-sT", "-p", str(s.port), "--script",
                         "vnc-info,vnc-title", "-oX", "-", s.ip], timeout=60)
    version = re.search(r'<elem key="Protocol version">(\d+)\.(\d+)</elem>', out)
    types = re.findall(r'<elem key="name">([^<]*)</elem>', out)
    name = re.search(r'<script id="vnc-title".*?<elem key="name">([^<]*)</elem>', out, re.S)
    geometry = re.search(r'<elem key="geometry">(\d+) x (\d+)</elem>', out)
    assert version and types and name and geometry, out
    rfb = f"RFB {int(version.group(1)):03d}.{int(version.group(2)):03d}"
    sec = "".join(f"  {t.lower()}\n" for t in types if t != name.group(1))
    check(blab, "vnc", [("vnc", f"{rfb} width={geometry.group(1)} height={geometry.group(2)}"),
                        ("vnc-info", f"Security types:\n{sec}Name: {name.group(1)}\n")])


@pytest.mark.lab
def test_every_truth_entry_is_checked_by_a_client_test(blab: Lab) -> None:
    """The client tests above cover every service (so every truth entry was seen by a client)."""
    covered = {"http", "https", "https13", "ftp", "smtp", "ssh", "redis", "memcached", "telnet",
               "vnc"}
    assert covered == {s.name for s in bs.SERVICES}
    assert {(t.ip, t.port) for t in blab.banner_truth()} == {(s.ip, s.port) for s in bs.SERVICES}


# ---------------------------------------------------------------------------------------------
# Cleanup: close(), and SIGKILL of the lab's owner
# ---------------------------------------------------------------------------------------------


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return False


def _wait_dead(pids: list[int], seconds: float) -> list[int]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        alive = [p for p in pids if _alive(p)]
        if not alive:
            return []
        time.sleep(0.02)
    return [p for p in pids if _alive(p)]


@pytest.mark.lab
def test_close_kills_every_server_and_removes_everything() -> None:
    lab = Lab(size=28, banner_servers=True).start()
    try:
        assert lab._banner is not None
        pids = lab.banner_server_pids()
        workdir = lab._banner.workdir
        assert workdir and os.path.isdir(workdir) and len(pids) >= 9
        # a live connection (a per-connection child: sshd forks one) must die too
        with lab.entered_scanner():
            conn = socket.create_connection((bs.service("ssh").ip, 22), timeout=3)
        conn.recv(100)
        pids = lab.banner_server_pids()
        ns = lab.srv_ns
    finally:
        lab.close()
    conn.close()
    assert _wait_dead(pids, 2.0) == []
    assert ns not in netns.list_namespaces()
    assert not os.path.exists(workdir)
    print(f"\nbanner lab close: {lab.teardown_seconds:.3f} s")


OWNER = textwrap.dedent("""
    import json, sys, time
    from tidescan.lab import Lab
    lab = Lab(size=28, banner_servers=True).start()
    print(json.dumps({"pids": lab.banner_server_pids(), "ns": lab.srv_ns,
                      "workdir": lab._banner.workdir}), flush=True)
    time.sleep(60)
""")


@pytest.mark.lab
def test_servers_die_with_a_sigkilled_owner() -> None:
    owner = subprocess.Popen([sys.executable, "-c", OWNER], stdout=subprocess.PIPE, text=True)
    info = None
    try:
        assert owner.stdout is not None
        line = owner.stdout.readline()
        info = json.loads(line)
        assert len(info["pids"]) >= 9 and all(_alive(p) for p in info["pids"])
        owner.send_signal(signal.SIGKILL)
        owner.wait(5)
        assert _wait_dead(info["pids"], 3.0) == []
    finally:
        if owner.poll() is None:
            owner.kill()
            owner.wait()
        netns.cleanup_stale()                    # the dead owner's namespaces
        bs.remove_stale_workdirs()                # and its files, as the next start would
        if info is not None:
            assert info["ns"] not in netns.list_namespaces()
            assert not os.path.exists(info["workdir"])
