"""JSON and XML stay valid documents: with no results, after kills, and when appended to.

Real consumers check them: `json`, `xml.etree`, and python-libnmap's `NmapParser`.  The kill
tests run a child process that writes records as fast as it can and shoot it with SIGINT,
SIGTERM or SIGKILL mid-stream; the file must parse and hold a gap-free prefix of what was written.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from libnmap.parser import NmapParser

from output_samples import interop_records, run_masscan
from tidescan.errors import UsageError
from tidescan.output.binary import BinaryReader
from tidescan.output.record import banner_record, status_record
from tidescan.output.writers import OutputMeta, open_output

ALL = frozenset({"open", "closed"})


def write(fmt: str, path: Path, recs: list, *, append: bool = False, **meta: object) -> bytes:
    with open_output(fmt, str(path), append=append, meta=OutputMeta(show=ALL, **meta)) as w:  # type: ignore[arg-type]
        for r in recs:
            w.write(r)
    return path.read_bytes()


# -- zero records ----------------------------------------------------------------------------

def test_zero_records_are_valid_documents(tmp_path: Path) -> None:
    assert write("json", tmp_path / "z.json", []) == b"[\n]\n"
    assert json.loads((tmp_path / "z.json").read_bytes()) == []
    root = ET.fromstring(write("xml", tmp_path / "z.xml", []))
    assert root.tag == "nmaprun" and root.find("host") is None
    assert root.find("runstats/hosts").attrib == {"up": "0", "down": "0", "total": "0"}
    assert write("ndjson", tmp_path / "z.ndjson", []) == b""
    assert write("list", tmp_path / "z.lst", []) == b"#masscan\n# end\n"


def test_json_is_valid_while_open(tmp_path: Path) -> None:
    """Between flushes the file on disk is already a complete array."""
    path = tmp_path / "live.json"
    w = open_output("json", str(path), meta=OutputMeta(show=ALL))
    assert json.loads(path.read_bytes()) == []
    w.write(status_record(1, 0x0A000001, 80))
    w.flush()
    assert len(json.loads(path.read_bytes())) == 1
    w.write(status_record(2, 0x0A000002, 81))
    w.write(banner_record(3, 0x0A000002, 81, "http", b"HTTP/1.1 200 OK\r\n"))
    w.flush()
    data = json.loads(path.read_bytes())
    assert [d["ip"] for d in data] == ["10.0.0.1", "10.0.0.2", "10.0.0.2"]
    w.close()
    assert len(json.loads(path.read_bytes())) == 3


def test_json_and_ndjson_parse_with_the_real_banners(tmp_path: Path) -> None:
    recs = interop_records()
    doc = json.loads(write("json", tmp_path / "a.json", recs))
    lines = [json.loads(line) for line in write("ndjson", tmp_path / "a.ndjson", recs).splitlines()]
    assert len(doc) == len(lines) == len(recs)
    # JSON's \u00HH escapes decode to the original bytes (as latin-1 code points), untruncated
    everything = next(d for d in lines if d["ip"] == "10.0.0.6" and d["port"] == 81)
    assert everything["data"]["banner"].encode("latin-1") == bytes(range(256))
    assert doc[0] == {"ip": "10.0.0.1", "timestamp": "1700000000",
                      "ports": [{"port": 80, "proto": "tcp", "status": "open", "reason": "syn-ack", "ttl": 64}]}


def test_xml_parses_with_libnmap(tmp_path: Path) -> None:
    recs = interop_records()
    path = tmp_path / "a.xml"
    write("xml", path, recs, stylesheet="https://example.invalid/x.xsl?a=1&b=2")
    ET.parse(path)
    report = NmapParser.parse_fromfile(str(path))
    assert len(report.hosts) == len(recs)
    first = report.hosts[0]
    assert first.address == "10.0.0.1" and first.ipv4 == "10.0.0.1"
    assert first.get_open_ports() == [(80, "tcp")]
    assert first.services[0].reason == "syn-ack"
    v6 = [h for h in report.hosts if ":" in h.address]
    assert v6 and all(h.ipv6 == h.address and h.ipv4 == "" for h in v6)
    assert {h.address for h in v6} >= {"2001:db8::1", "::1", "::", "1::", "fd00::abcd"}
    ssl = next(h for h in v6 if h.services and h.services[0].service == "ssl")
    assert ssl.services[0].service_dict["banner"] == "TLS/1.2 cipher:0xc02f"
    tcp_open = sum(1 for r in recs if r.kind == "status" and r.proto == "tcp" and r.status == "open")
    tcp_closed = sum(1 for r in recs if r.kind == "status" and r.proto == "tcp" and r.status == "closed")
    assert (report.hosts_up, report.hosts_down) == (tcp_open, tcp_closed)
    assert b'<?xml-stylesheet href="https://example.invalid/x.xsl?a=1&amp;b=2" type="text/xsl"?>\r\n' \
        in path.read_bytes()


# -- kills -------------------------------------------------------------------------------------

CHILD = textwrap.dedent("""
    import sys, time
    from tidescan.output.writers import open_output, OutputMeta, install_signal_handlers
    from tidescan.output.record import status_record, banner_record
    fmt, path, flush, handlers = sys.argv[1], sys.argv[2], sys.argv[3] == "1", sys.argv[4] == "1"
    if handlers:
        install_signal_handlers()
    w = open_output(fmt, path, meta=OutputMeta(flush=flush))
    i = 0
    while True:
        if i % 3 == 2:
            w.write(banner_record(i, i, i % 65536, "http", b"GET / <%d> \\x00" % i))
        else:
            w.write(status_record(i, i, i % 65536, "tcp", "open", 0x12, 64))
        i += 1
        if i == 2000:
            w.flush()
            print("ready", flush=True)
""")


def _kill_child(tmp_path: Path, fmt: str, sig: int, *, flush: bool, handlers: bool) -> Path:
    path = tmp_path / f"killed.{fmt}"
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    proc = subprocess.Popen([sys.executable, str(script), fmt, str(path), str(int(flush)), str(int(handlers))],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == b"ready\n", proc.stderr.read() if proc.stderr else b""
        time.sleep(0.1)
        os.kill(proc.pid, sig)
        proc.wait(timeout=20)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
    return path


def _check_prefix(timestamps: list[int]) -> None:
    assert len(timestamps) >= 2000
    assert timestamps == list(range(len(timestamps)))  # gap-free, no duplicates, in order


KILLS = [
    ("json", signal.SIGINT, False, False),
    ("json", signal.SIGINT, True, False),
    ("json", signal.SIGTERM, True, True),
    ("json", signal.SIGTERM, False, False),
    ("json", signal.SIGKILL, False, False),
    ("json", signal.SIGKILL, True, False),
    ("xml", signal.SIGINT, True, False),
    ("xml", signal.SIGTERM, False, True),
    ("xml", signal.SIGKILL, False, False),
    ("ndjson", signal.SIGKILL, True, False),
    ("ndjson", signal.SIGTERM, False, True),
    ("binary", signal.SIGKILL, True, False),
    ("binary", signal.SIGINT, False, False),
]


@pytest.mark.parametrize("fmt, sig, flush, handlers", KILLS,
                         ids=[f"{f}-{s.name}-{'flush' if fl else 'buffered'}{'-handlers' if h else ''}"
                              for f, s, fl, h in KILLS])
def test_killed_writer_leaves_a_valid_file(tmp_path: Path, fmt: str, sig: int, flush: bool,
                                           handlers: bool) -> None:
    path = _kill_child(tmp_path, fmt, sig, flush=flush, handlers=handlers)
    data = path.read_bytes()
    if fmt == "json":
        _check_prefix([int(d["timestamp"]) for d in json.loads(data)])
    elif fmt == "xml":
        root = ET.fromstring(data)
        _check_prefix([int(h.attrib["endtime"]) for h in root.iter("host")])
        hosts = root.find("runstats/hosts")
        assert hosts is not None
        if sig != signal.SIGKILL:  # a graceful close counted every record
            n_status = sum(1 for h in root.iter("host") if h.find("ports/port/service") is None)
            assert int(hosts.attrib["up"]) == n_status
    elif fmt == "ndjson":
        _check_prefix([int(json.loads(line)["timestamp"]) for line in data.splitlines()])
    else:
        reader = BinaryReader(str(path))
        _check_prefix([r.timestamp for r in reader])
        assert reader.warnings == []
        if sig != signal.SIGKILL:
            assert data.endswith(b"masscan/1.1".ljust(99, b"\0"))


# -- append --------------------------------------------------------------------------------------

A = [status_record(1, 0x0A000001, 80, "tcp", "open", 0x12, 64),
     banner_record(2, 0x0A000001, 80, "http", b"HTTP/1.0 200 OK")]
B = [status_record(3, 0x0A000002, 22, "tcp", "closed", 0x14, 64),
     status_record(4, 0x0A000003, 22, "tcp", "open", 0x12, 64)]


def test_json_append(tmp_path: Path) -> None:
    path = tmp_path / "a.json"
    write("json", path, A)
    write("json", path, B, append=True)
    assert [int(d["timestamp"]) for d in json.loads(path.read_bytes())] == [1, 2, 3, 4]
    # appending nothing keeps the document as it was
    before = path.read_bytes()
    write("json", path, [], append=True)
    assert path.read_bytes() == before
    # the bytes equal one uninterrupted run
    assert before == write("json", tmp_path / "one.json", A + B)
    # append to a file that does not exist, or is empty
    assert json.loads(write("json", tmp_path / "new.json", A, append=True))[1]["ports"][0]["service"]["name"] == "http"
    (tmp_path / "empty.json").write_bytes(b"\n")
    assert len(json.loads(write("json", tmp_path / "empty.json", A, append=True))) == 2
    # an empty array
    (tmp_path / "arr.json").write_bytes(b"[\n]\n")
    assert write("json", tmp_path / "arr.json", A, append=True) == write("json", tmp_path / "ref.json", A)


@pytest.mark.parametrize("damage", ["intact", "unterminated", "trailing-comma", "trailing-comma-open"])
def test_json_append_repairs_masscan_files(tmp_path: Path, damage: str) -> None:
    binpath = tmp_path / "m.bin"
    write("binary", binpath, A)
    theirs = tmp_path / "m.json"
    run_masscan("--readscan", str(binpath), "-oJ", str(theirs))
    data = theirs.read_bytes()
    assert data.endswith(b"}\n]\n")
    if damage == "unterminated":          # masscan killed (#726)
        data = data[:-2]
    elif damage == "trailing-comma":      # masscan < 1.0.4 style (#314)
        data = data[:-2].rstrip(b"\n") + b",\n]\n"
    elif damage == "trailing-comma-open":
        data = data[:-2].rstrip(b"\n") + b",\n"
    theirs.write_bytes(data)
    doc = json.loads(write("json", theirs, B, append=True))
    assert [int(d["timestamp"]) for d in doc] == [1, 2, 3, 4]


def test_append_refuses_foreign_files(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_bytes(b"hello world\n")
    with pytest.raises(UsageError, match="not a JSON array"):
        open_output("json", str(path), append=True, meta=OutputMeta())
    assert path.read_bytes() == b"hello world\n"
    path = tmp_path / "x.xml"
    path.write_bytes(b"<html></html>\n")
    with pytest.raises(UsageError, match="not an XML document"):
        open_output("xml", str(path), append=True, meta=OutputMeta())


def test_xml_append(tmp_path: Path) -> None:
    path = tmp_path / "a.xml"
    write("xml", path, A)
    write("xml", path, B, append=True)
    root = ET.parse(path).getroot()
    assert [h.attrib["endtime"] for h in root.iter("host")] == ["1", "2", "3", "4"]
    assert root.find("runstats/hosts").attrib == {"up": "2", "down": "1", "total": "3"}
    assert len(NmapParser.parse_fromfile(str(path)).hosts) == 4


@pytest.mark.parametrize("unterminated", [False, True])
def test_xml_append_to_masscan_file(tmp_path: Path, unterminated: bool) -> None:
    binpath = tmp_path / "m.bin"
    write("binary", binpath, A + B)
    theirs = tmp_path / "m.xml"
    run_masscan("--readscan", str(binpath), "--show", "closed", "-oX", str(theirs))
    if unterminated:  # masscan killed before its trailer (#717)
        data = theirs.read_bytes()
        theirs.write_bytes(data[:data.index(b"<runstats>")])
    write("xml", theirs, [status_record(9, 0x0A000009, 443, "tcp", "open", 0x12, 1)], append=True)
    root = ET.parse(theirs).getroot()
    assert [h.attrib["endtime"] for h in root.iter("host")] == ["1", "2", "3", "4", "9"]
    assert root.find("runstats/hosts").attrib == {"up": "3", "down": "1", "total": "4"}


def test_stream_formats_append_like_masscan(tmp_path: Path) -> None:
    path = tmp_path / "a.lst"
    write("list", path, A)
    write("list", path, B, append=True)
    text = path.read_text()
    assert text.count("#masscan\n") == 2 and text.count("# end\n") == 2
    assert [line.split()[4] for line in text.splitlines() if not line.startswith("#")] == ["1", "2", "3", "4"]
    path = tmp_path / "a.ndjson"
    write("ndjson", path, A)
    write("ndjson", path, B, append=True)
    assert [json.loads(x)["timestamp"] for x in path.read_text().splitlines()] == ["1", "2", "3", "4"]


def test_open_errors_are_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cannot open for writing"):
        open_output("list", str(tmp_path / "no" / "such" / "dir.txt"), meta=OutputMeta())
    with pytest.raises(UsageError, match="unknown format"):
        open_output("yaml", str(tmp_path / "x"), meta=OutputMeta())


def test_signals_wait_for_the_flush_to_finish() -> None:
    """A terminating signal that arrives inside a flush is delivered right after it."""
    from tidescan.output import base
    old = signal.getsignal(signal.SIGTERM)
    base.install_signal_handlers([signal.SIGTERM])
    try:
        reached_end_of_section = False
        with pytest.raises(SystemExit) as e:
            with base._Critical():
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(0.05)
                for _ in range(1000):  # plenty of bytecodes for a handler to run, if it could
                    pass
                reached_end_of_section = True
        assert reached_end_of_section
        assert e.value.code == 128 + signal.SIGTERM
        # outside a flush the handler raises at once
        with pytest.raises(SystemExit):
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(1)
    finally:
        signal.signal(signal.SIGTERM, old)


def test_append_refuses_other_json_and_xml(tmp_path: Path) -> None:
    path = tmp_path / "obj.json"
    path.write_bytes(b'{"a": [1, 2]}\n')
    with pytest.raises(UsageError, match="not a JSON array"):
        open_output("json", str(path), append=True, meta=OutputMeta())
    path = tmp_path / "svg.xml"
    path.write_bytes(b'<?xml version="1.0"?>\n<svg><g/></svg>\n')
    with pytest.raises(UsageError, match="not an XML document"):
        open_output("xml", str(path), append=True, meta=OutputMeta())
    assert path.read_bytes() == b'<?xml version="1.0"?>\n<svg><g/></svg>\n'
