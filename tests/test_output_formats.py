"""Format details masscan's --readscan cannot show us: ARP lines, headers from scan metadata,
certificates, `--show`, stdout, and the writer registry."""

from __future__ import annotations

import base64
import datetime
import subprocess
import sys
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tidescan.output.fmt_grepable import port_summary
from tidescan.output.record import banner_record, proto_from_number, proto_number, status_record
from tidescan.output.writers import FORMAT_LETTERS, FORMATS, OutputMeta, open_output

ARP = status_record(1700000000, 0x0A000009, 0, "arp", "up", 0, 0, mac=bytes.fromhex("000c29334455"))


def out(fmt: str, path: Path, recs: list, **meta: object) -> str:
    with open_output(fmt, str(path), meta=OutputMeta(**meta)) as w:  # type: ignore[arg-type]
        for r in recs:
            w.write(r)
    return path.read_bytes().decode()


def test_interactive_lines(tmp_path: Path) -> None:
    text = out("interactive", tmp_path / "i.txt", [
        status_record(1, 0x0A000001, 80, "tcp", "open", 0x12, 64), ARP,
        status_record(1, 0x0A000009, 0, "arp", "up", mac=bytes.fromhex("020000000001")),
        banner_record(1, 0x0A000001, 80, "title", b"Welcome & <hi>"),
        banner_record(1, 0x0A000001, 80, "http", b"x" * 100),
    ])
    lines = text.split("\n")
    assert lines[0] == "Discovered open port 80/tcp on 10.0.0.1".ljust(79)
    assert lines[1] == "Discovered up port 0/arp on 10.0.0.9 (00:0c:29:33:44:55) VMware".ljust(79)
    assert lines[2] == "Discovered up port 0/arp on 10.0.0.9 (02:00:00:00:00:01) ".ljust(79)
    assert lines[3] == "Banner on port 80/tcp on 10.0.0.1: [title] Welcome \\x26 \\x3chi\\x3e".ljust(79)
    assert lines[4] == "Banner on port 80/tcp on 10.0.0.1: [http] " + "x" * 100   # long lines: no padding
    assert lines[5] == ""


def test_arp_in_every_format(tmp_path: Path) -> None:
    assert out("list", tmp_path / "a.lst", [ARP]) == "#masscan\nup arp 0 10.0.0.9 1700000000\n# end\n"
    assert '"status":"up","reason":"none","ttl":0' in out("ndjson", tmp_path / "a.nd", [ARP])
    assert "Ports: 0/up/arp//ip//" in out("grepable", tmp_path / "a.g", [ARP])   # /etc/protocols: 0 = ip
    assert 'protocol="arp" portid="0"><state state="up"' in out("xml", tmp_path / "a.x", [ARP])


def test_show_filter(tmp_path: Path) -> None:
    recs = [status_record(1, 1, 80, status="open"), status_record(2, 2, 81, status="closed"), ARP,
            banner_record(3, 1, 80, "http", b"x")]
    assert out("hostonly", tmp_path / "1", recs) == "0.0.0.1\n10.0.0.9\n0.0.0.1\n"
    assert out("hostonly", tmp_path / "2", recs, show=frozenset({"closed"})) == "0.0.0.2\n10.0.0.9\n0.0.0.1\n"
    assert out("hostonly", tmp_path / "3", recs, show=frozenset({"open", "closed"})).count("\n") == 4


def test_grepable_header_from_meta(tmp_path: Path) -> None:
    class PortList:  # the shape of tidescan.ports.PortList: internal encoding
        starts = [80, 443, 65536 + 53, 131072 + 9, 196864 + 47]
        ends = [80, 445, 65536 + 53, 131072 + 9, 196864 + 47]

    text = out("grepable", tmp_path / "g", [], start_time=1700000000, version="0.1.0", ports=PortList())
    lines = text.splitlines()
    assert lines[0] == "# Masscan 0.1.0 scan initiated Tue Nov 14 22:13:20 2023"
    assert lines[1] == "# Ports scanned: TCP(4;80-80,443-445) UDP(1;53-53) SCTP(1;9-9) PROTOCOLS(1;47-47)"
    assert lines[2].startswith("# Masscan done at ")
    assert port_summary([]) == "TCP(0;) UDP(0;) SCTP(0;) PROTOCOLS(0;)"


def test_xml_header_and_banner_reason(tmp_path: Path) -> None:
    text = out("xml", tmp_path / "x", [banner_record(1, 1, 53, "dns-ver", b"9.18", proto="udp"),
                                        banner_record(1, 1, 22, "ssh", b"SSH-2.0")],
               start_time=1234, scan_type="udp")
    assert '<nmaprun scanner="masscan" start="1234" version="1.0-BETA"  xmloutputversion="1.03">\r\n' in text
    assert '<scaninfo type="udp" protocol="udp" />\r\n' in text
    assert 'reason="syn-ack" reason_ttl="0" /><service name="dns-ver"' in text   # masscan's quirk, kept
    assert 'reason="response" reason_ttl="0" /><service name="ssh"' in text


def _self_signed() -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "lab.invalid")])
    now = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(7).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.DER)


def test_certs_writes_readable_pem(tmp_path: Path) -> None:
    der = _self_signed()
    text = out("certs", tmp_path / "c.pem", [
        status_record(1, 1, 443), banner_record(1, 1, 443, "ssl", b"TLS/1.2"),
        banner_record(1, 1, 443, "X509", base64.b64encode(der)),
        banner_record(1, 1, 443, "X509CA", b"cert:" + base64.b64encode(der)),
    ])
    certs = x509.load_pem_x509_certificates(text.encode())
    assert len(certs) == 2
    assert all(c.public_bytes(serialization.Encoding.DER) == der for c in certs)
    assert max(len(line) for line in text.splitlines()) <= 64


def test_stdout_and_registry(tmp_path: Path) -> None:
    code = ("from tidescan.output.writers import open_output, OutputMeta\n"
            "from tidescan.output.record import status_record\n"
            "w = open_output('json', '-', meta=OutputMeta())\n"
            "w.write(status_record(1, 0x0A000001, 80))\n"
            "w.close()\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=30)
    assert proc.stdout.startswith(b"[\n{   \"ip\": \"10.0.0.1\"") and proc.stdout.endswith(b"}\n]\n")
    assert set(FORMAT_LETTERS.values()) <= set(FORMATS)
    w = open_output("none", str(tmp_path / "n"), meta=OutputMeta())
    w.write(ARP)
    w.close()
    assert not (tmp_path / "n").exists()


def test_proto_numbers() -> None:
    assert [proto_number(p) for p in ("arp", "icmp", "tcp", "udp", "sctp", "ip47")] == [0, 1, 6, 17, 132, 47]
    assert [proto_from_number(n) for n in (0, 1, 6, 17, 132, 47)] == ["arp", "icmp", "tcp", "udp", "sctp", "ip47"]
