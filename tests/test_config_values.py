"""Value parsers of the config layer: masscan's spellings, strictness, parse(format(v)) == v."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tidescan.config_values import (
    INT_MAX, fmt_base64, fmt_float, fmt_ipv4_range, fmt_port_range, fmt_shard, fmt_wait,
    is_bool_word, parse_base64, parse_bool, parse_duration, parse_float, parse_int,
    parse_ipv4, parse_ipv4_range, parse_port_range, parse_redis, parse_seed, parse_shard,
    parse_size, parse_source_ip, parse_wait,
)
from tidescan.errors import ParseError


def column(fn, text: str) -> int:  # type: ignore[no-untyped-def]
    with pytest.raises(ParseError) as ei:
        fn(text)
    return ei.value.column


@pytest.mark.parametrize("text,seconds", [
    ("3600", 3600), ("hourly", 3600), ("5min", 300), ("5 min", 300), ("5-minutes", 300),
    ("2h", 7200), ("daily", 86400), ("week", 604800), ("10s", 10), ("1d", 86400),
])
def test_duration_masscan_forms(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


def test_duration_offset_rules() -> None:
    assert parse_duration("-5min", below_one_day=True, allow_negative=True) == 86400 - 300
    with pytest.raises(ParseError, match="less than 1 day"):
        parse_duration("daily", below_one_day=True)
    assert column(parse_duration, "5x") == 2


@pytest.mark.parametrize("text,size", [
    ("1000", 1000), ("10k", 10240), ("1m", 1 << 20), ("2G", 2 << 30), ("1t", 1 << 40),
    ("1p", 1 << 50), ("1e", 1 << 60), ("mega", 1 << 20), ("3 k", 3072),
])
def test_size_masscan_forms(text: str, size: int) -> None:
    assert parse_size(text) == size


def test_bool_words() -> None:
    for w in ("1", "true", "YES", "On", "enable", "enabled", ""):
        assert parse_bool(w) is True
    for w in ("0", "false", "No", "OFF", "disable", "disabled"):
        assert parse_bool(w) is False
    assert is_bool_word("Enabled") and not is_bool_word("") and not is_bool_word("2")
    with pytest.raises(ParseError):
        parse_bool("nope")  # masscan reads unknown words as true; we refuse


def test_ints_and_floats() -> None:
    assert parse_int("007", 0, 10) == 7
    assert column(lambda t: parse_int(t, 0, 1000), "12a4") == 3
    with pytest.raises(ParseError, match="less than 256"):
        parse_int("256", 0, 255, "a TTL")
    assert parse_float("0.5") == 0.5 and parse_float("1e6") == 1e6 and parse_float(".25") == .25
    for bad in ("-1", "0", "nan", "inf", "1e999", "1.2.3", "", "1e"):
        with pytest.raises(ParseError):
            parse_float(bad)


@given(st.floats(min_value=1e-9, max_value=1e300, allow_nan=False, allow_infinity=False))
def test_float_format_round_trips(x: float) -> None:
    assert parse_float(fmt_float(x)) == x


def test_seed_and_shard() -> None:
    assert parse_seed("0") == 0 and parse_seed(str(2**64 - 1)) == 2**64 - 1
    assert parse_seed("TIME") > 1_600_000_000
    with pytest.raises(ParseError):
        parse_seed(str(2**64))
    assert parse_shard("2/3") == (2, 3) and parse_shard(" 1 / 1 ") == (1, 1)
    assert fmt_shard((4, 10)) == "4/10"
    for bad in ("0/3", "4/3", "1", "a/b", "1/2/3"):
        with pytest.raises(ParseError):
            parse_shard(bad)
    assert parse_wait("forever") == INT_MAX and fmt_wait(INT_MAX) == "forever"


def test_addresses() -> None:
    assert parse_ipv4("10.0.0.1") == 0x0A000001
    assert column(parse_ipv4, "10.0.x.1") == 6
    assert parse_ipv4_range("10.0.1.2/16") == (0x0A000000, 0x0A00FFFF)
    assert parse_ipv4_range("10.0.0.1-10.0.0.4") == (0x0A000001, 0x0A000004)
    assert fmt_ipv4_range((0x0A000000, 0x0A000003)) == "10.0.0.0-10.0.0.3"
    assert parse_source_ip("10.0.0.0/30") == ("v4", (0x0A000000, 0x0A000003))
    assert parse_source_ip("[fd00::1]") == ("v6", 0xFD00 << 112 | 1)
    with pytest.raises(ParseError, match="power of two"):
        parse_source_ip("10.0.0.0-10.0.0.5")
    with pytest.raises(ParseError, match="single address"):
        parse_source_ip("fd00::/120")
    assert parse_port_range("40000-40015") == (40000, 40015)
    assert fmt_port_range((61000, 61000)) == "61000"
    assert column(parse_port_range, "40000-4x") == 8
    assert parse_redis("10.0.0.1") == "10.0.0.1:6379"
    assert parse_redis("10.0.0.1:7000") == "10.0.0.1:7000"
    with pytest.raises(ParseError):
        parse_redis("10.0.0.1:0")


@given(st.binary(min_size=1, max_size=300))
def test_base64_round_trips(data: bytes) -> None:
    assert parse_base64(fmt_base64(data)) == data
    assert parse_base64(base64.b64encode(data).decode().rstrip("=")) == data  # padding optional


def test_base64_errors_point_at_the_column() -> None:
    assert column(parse_base64, "aGVs bG8=") == 5
    assert column(parse_base64, "aG=Vs") == 3
    with pytest.raises(ParseError, match="empty"):
        parse_base64("")
