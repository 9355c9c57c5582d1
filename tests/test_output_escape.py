"""Banner escaping and truncation: masscan's rules (its buffer arithmetic), and masscan itself."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from output_samples import run_masscan
from tidescan.output.record import banner_record
from tidescan.output.text import JSON_BANNER_BUFFER, TEXT_BANNER_BUFFER, ctime_c, escape_u, escape_x
from tidescan.output.writers import OutputMeta, open_output


def model(data: bytes, size: int, json_style: bool) -> str:
    """masscan's normalize_string / normalize_json_string, transcribed as a spec."""
    out = ""
    for c in data:
        if 0x20 <= c <= 0x7E and chr(c) not in "<>&\\\"'":
            if len(out) + 2 < size:
                out += chr(c)
        elif json_style:
            if len(out) + 7 < size:
                out += "\\u00%02x" % c
        elif len(out) + 5 < size:
            out += "\\x%02x" % c
    return out


def test_escape_examples() -> None:
    assert escape_x(b"Welcome & <hi>") == "Welcome \\x26 \\x3chi\\x3e"
    assert escape_x(b"\\\"'\t\r\n\x00\x7f\x80\xff ok") == "\\x5c\\x22\\x27\\x09\\x0d\\x0a\\x00\\x7f\\x80\\xff ok"
    assert escape_u(b"HTTP/1.1 200 OK\r\n") == "HTTP/1.1 200 OK\\u000d\\u000a"
    assert escape_u(b"<a href='x'>") == "\\u003ca href=\\u0027x\\u0027\\u003e"
    assert escape_x(b"") == ""


def test_truncation_limits() -> None:
    assert TEXT_BANNER_BUFFER == 4096 and JSON_BANNER_BUFFER == 65536
    assert escape_x(b"A" * 10000) == "A" * 4094
    assert escape_x(b"\x00" * 10000) == "\\x00" * 1023
    assert escape_x(b"A" * 4090 + b"\x00BBB") == "A" * 4090 + "\\x00"
    assert escape_x(b"A" * 4091 + b"\x00BBB") == "A" * 4091 + "BBB"[:4094 - 4091]  # skipped escape, later bytes kept
    assert escape_u(b"A" * 70000) == "A" * 65534
    assert escape_u(b"\x7f" * 20000) == "\\u007f" * 10922


@settings(max_examples=300)
@given(st.binary(max_size=200), st.integers(1, 120), st.booleans())
def test_escape_matches_masscan_arithmetic(data: bytes, size: int, json_style: bool) -> None:
    got = escape_u(data, size) if json_style else escape_x(data, size)
    assert got == model(data, size, json_style)
    assert got.isascii()


@settings(max_examples=50)
@given(st.binary(max_size=3000))
def test_json_escapes_decode_to_the_bytes(data: bytes) -> None:
    assert json.loads(f'"{escape_u(data)}"').encode("latin-1") == data


@pytest.mark.parametrize("n", [4088, 4089, 4090, 4091, 4092, 4093, 4094, 4095])
def test_boundaries_against_masscan(tmp_path: Path, n: int) -> None:
    """Every offset where an escape stops fitting, in list and NDJSON, as masscan prints it."""
    recs = [banner_record(1, 0x0A000001, 80, "http", b"A" * n + b"\x01" + b"B" * 8),
            banner_record(1, 0x0A000001, 80, "http", b"A" * (65536 - 8 - (n - 4088)) + b"\x02CC")]
    src = tmp_path / "b.bin"
    with open_output("binary", str(src), meta=OutputMeta()) as w:
        for r in recs:
            w.write(r)
    for letter, fmt in (("L", "list"), ("D", "ndjson")):
        ours = tmp_path / f"o.{fmt}"
        with open_output(fmt, str(ours), meta=OutputMeta()) as w:
            for r in recs:
                w.write(r)
        assert ours.read_bytes() == run_masscan("--readscan", str(src), f"-o{letter}", "-").stdout


def test_ctime_matches_c_locale() -> None:
    assert ctime_c(1700000000) == "Tue Nov 14 22:13:20 2023"
    assert ctime_c(1699160000) == "Sun Nov  5 04:53:20 2023"  # %c pads the day with a space
