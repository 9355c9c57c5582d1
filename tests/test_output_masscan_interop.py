"""Our writers against Debian's masscan 1.3.2, byte for byte.

We write the sample records to an `-oB` file with our writer, let `masscan --readscan` turn it
into every text format, write the same records with our writers, and compare.  Only wall-clock
fields differ (XML `start`/`finished`, grepable's "done at" line) and XML's `addrtype` for IPv6
addresses, which masscan 1.3.2 gets wrong on purpose-of-this-project.  Then the binary format both
ways: masscan re-encodes our file to the identical bytes, and our reader reads masscan's file.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from output_samples import interop_records, run_masscan
from tidescan.output.binary import BinaryReader
from tidescan.output.writers import OutputMeta, open_output

SHOW_ALL = frozenset({"open", "closed"})
FORMATS = {"L": "list", "J": "json", "D": "ndjson", "X": "xml", "G": "grepable",
           "U": "unicornscan", "H": "hostonly"}


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("interop")
    with open_output("binary", str(d / "ours.bin"), meta=OutputMeta(show=SHOW_ALL)) as w:
        for rec in interop_records():
            w.write(rec)
    return d


def _ours(fmt: str, path: Path, records: list) -> bytes:
    with open_output(fmt, str(path), meta=OutputMeta(show=SHOW_ALL)) as w:
        for rec in records:
            w.write(rec)
    return path.read_bytes()


def _mask(fmt: str, data: bytes) -> bytes:
    if fmt == "xml":
        data = re.sub(rb'start="\d+"', b'start="T"', data)
        data = re.sub(rb'<finished time="\d+" timestr="[^"]*" elapsed="\d+" />', b"<finished/>", data)
        # masscan 1.3.2 says addrtype="ipv4" for IPv6 addresses (#807); we say ipv6.
        data = re.sub(rb'(addr="[0-9a-f:]*:[0-9a-f:]*") addrtype="ipv4"', rb'\1 addrtype="ipv6"', data)
    if fmt == "grepable":
        data = re.sub(rb"# Masscan done at [^\n]*\n", b"# Masscan done at T\n", data)
    return data


@pytest.mark.parametrize("letter", sorted(FORMATS))
def test_text_formats_match_masscan(workdir: Path, letter: str) -> None:
    fmt = FORMATS[letter]
    theirs = workdir / f"masscan.{fmt}"
    run_masscan("--readscan", str(workdir / "ours.bin"), "--show", "closed", f"-o{letter}", str(theirs))
    expected = theirs.read_bytes()
    assert expected.count(b"\n") > 15  # masscan really converted the file
    ours = _ours(fmt, workdir / f"ours.{fmt}", interop_records())
    assert _mask(fmt, ours) == _mask(fmt, expected)


def test_interactive_matches_masscan(workdir: Path) -> None:
    proc = run_masscan("--readscan", str(workdir / "ours.bin"), "--show", "closed")
    ours = _ours("interactive", workdir / "ours.interactive", interop_records())
    assert ours == proc.stdout
    assert max(len(line) for line in ours.split(b"\n")) > 79
    assert b"Discovered open port 80/tcp on 10.0.0.1" + b" " * 40 + b"\n" in ours


def test_masscan_rewrites_our_binary_identically(workdir: Path) -> None:
    """masscan --readscan ours.bin -oB theirs.bin gives our bytes back (banners ≥ 16 KiB excepted:
    masscan drops those when writing, we keep them)."""
    short = workdir / "short.bin"
    with open_output("binary", str(short), meta=OutputMeta(show=SHOW_ALL)) as w:
        for rec in interop_records(long_banners=False):
            w.write(rec)
    theirs = workdir / "theirs.bin"
    run_masscan("--readscan", str(short), "--show", "closed", "-oB", str(theirs))
    assert theirs.read_bytes() == short.read_bytes()

    theirs_long = workdir / "theirs_long.bin"
    run_masscan("--readscan", str(workdir / "ours.bin"), "--show", "closed", "-oB", str(theirs_long))
    got = list(BinaryReader(str(theirs_long)))
    kept = [r for r in interop_records() if len(r.banner) < 16384 - 14]
    assert got == kept


def test_we_read_masscan_binary(workdir: Path) -> None:
    theirs = workdir / "theirs_read.bin"
    run_masscan("--readscan", str(workdir / "ours.bin"), "--show", "closed", "-oB", str(theirs))
    reader = BinaryReader(str(theirs))
    records = list(reader)
    assert reader.start_time == interop_records()[0].timestamp
    assert reader.warnings == []
    assert records == [r for r in interop_records() if len(r.banner) < 16384 - 14]


def test_masscan_shows_only_open_by_default(workdir: Path) -> None:
    """`show` default is open-only, like masscan without --show closed."""
    theirs = workdir / "open_only.lst"
    run_masscan("--readscan", str(workdir / "ours.bin"), "-oL", str(theirs))
    ours = workdir / "open_only_ours.lst"
    with open_output("list", str(ours), meta=OutputMeta()) as w:
        for rec in interop_records():
            w.write(rec)
    assert ours.read_bytes() == theirs.read_bytes()
    assert b"closed" not in ours.read_bytes()


def test_head_only_app_ids_are_unknown_to_masscan(tmp_path: Path) -> None:
    """HEAD-only banner types are written at their HEAD ids, which 1.3.2 prints as (N); X509CA is
    written as X509 (15) under the 1.3.2 table."""
    from tidescan.output.record import banner_record
    recs = [banner_record(1, 0x0A000001, 25565, "minecraft", b"{}"),
            banner_record(1, 0x0A000001, 443, "X509CA", b"MIIB")]
    path = tmp_path / "head.bin"
    with open_output("binary", str(path), meta=OutputMeta()) as w:
        for r in recs:
            w.write(r)
    out = run_masscan("--readscan", str(path), "-oL", "-").stdout
    assert b"banner tcp 25565 10.0.0.1 1 (32) {}" in out
    assert b"banner tcp 443 10.0.0.1 1 X509 MIIB" in out
    assert [r.app for r in BinaryReader(str(path))] == ["minecraft", "X509"]
