"""The columnar path (`Writer.write_batch`) writes exactly what the per-record path writes.

Property (hypothesis): for random status results — IPv4 and IPv6, every protocol number, every
status, flag byte and TTL, ARP rows with MACs — split into random batches and interleaved with
banner records, writing the batches with `write_batch` gives the same file, byte for byte, as
writing `batch.records()` one by one with `write`, in every format and for every `--show`.  The
`-oB` file is also read back (`BinaryReader`, `readscan`) and must give the records.
Also: `scan.status_batch` turns classified replies into the records the scanner always reported.
"""

from __future__ import annotations

import os
from dataclasses import replace
import tempfile
from types import SimpleNamespace
from unittest import mock

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tidescan.output.base import OutputMeta
from tidescan.output.batch import StatusBatch
from tidescan.output.binary import BinaryReader
from tidescan.output.readscan import readscan
from tidescan.output.record import Record, banner_record, status_record
from tidescan.output.writers import FORMATS, open_output
from tidescan.probes.base import Replies
from tidescan.scan import status_batch

ALL_FORMATS = sorted(set(FORMATS) - {"greppable", "none"})
M64 = (1 << 64) - 1

row = st.tuples(
    st.integers(0, 1 << 40),                                   # timestamp
    st.booleans(),                                             # IPv6?
    st.integers(0, 0xFFFFFFFF),                                # IPv4
    st.integers(0, (1 << 128) - 1) | st.sampled_from([0, 1, 0xFD00 << 112, (0xFD00 << 112) | 5]),
    st.integers(0, 65535),                                     # port
    st.sampled_from([0, 1, 6, 17, 132]) | st.integers(0, 255),  # IP protocol (0 = arp)
    st.integers(1, 3),                                         # open closed up
    st.integers(0, 255), st.integers(0, 255),                  # reason, ttl
    st.integers(0, (1 << 48) - 1),                             # MAC (ARP rows)
)


def make_batch(rows: list[tuple[int, ...]], with_mac: bool) -> StatusBatch:
    cols = list(zip(*rows)) if rows else [()] * 10
    ts, v6, ip4, ip6, port, proto, status, reason, ttl, mac = cols
    return StatusBatch(np.array(ts, np.int64), np.array(v6, bool), np.array(ip4, np.uint32),
                       np.array([x >> 64 for x in ip6], np.uint64), np.array([x & M64 for x in ip6], np.uint64),
                       np.array(port, np.uint16), np.array(proto, np.uint8), np.array(status, np.uint8),
                       np.array(reason, np.uint8), np.array(ttl, np.uint8),
                       np.array(mac, np.uint64) if with_mac else None)


pieces = st.lists(
    st.one_of(
        st.tuples(st.just("batch"), st.lists(row, max_size=12), st.booleans()),
        st.tuples(st.just("banner"), st.integers(0, 0xFFFFFFFF), st.binary(max_size=20))),
    max_size=6)


def write_both(fmt: str, tmp: str, plan: list, meta: OutputMeta) -> tuple[bytes, bytes, list[Record]]:
    """The file written through `write_batch`, the one written record by record, and the records."""
    fast, slow = os.path.join(tmp, f"fast.{fmt}"), os.path.join(tmp, f"slow.{fmt}")
    recs: list[Record] = []
    with mock.patch("time.time", return_value=1700000000.0):
        wf, ws = open_output(fmt, fast, meta=meta), open_output(fmt, slow, meta=meta)
        for item in plan:
            if item[0] == "batch":
                batch = make_batch(item[1], item[2])
                wf.write_batch(batch)
                for rec in batch.records():
                    ws.write(rec)
                    recs.append(rec)
            else:
                rec = banner_record(1700000001, item[1], 80, "http", item[2], ttl=64)
                wf.write(rec)
                ws.write(rec)
                recs.append(rec)
        assert wf.count == ws.count
        wf.close()
        ws.close()
    with open(fast, "rb") as f, open(slow, "rb") as g:
        return f.read(), g.read(), recs


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plan=pieces, show=st.sampled_from([frozenset({"open"}), frozenset({"closed"}),
                                          frozenset({"open", "closed"}), frozenset()]),
       flush=st.booleans())
def test_batch_writes_the_same_bytes_as_records(plan: list, show: frozenset[str], flush: bool) -> None:
    meta = OutputMeta(start_time=1700000000, show=show, flush=flush, ports=[(80, 80), (65589, 65589)])
    with tempfile.TemporaryDirectory() as tmp:
        for fmt in ALL_FORMATS:
            fast, slow, recs = write_both(fmt, tmp, plan, meta)
            assert fast == slow, fmt
            if fmt == "binary":
                shown = [r for r in recs if r.kind == "banner" or r.status == "up" or r.status in show]
                # -oB keeps 32-bit times, and MACs on `up` (ARP) records only
                shown = [replace(r, timestamp=r.timestamp & 0xFFFFFFFF,
                                 mac=r.mac if r.status == "up" else None) for r in shown]
                assert list(BinaryReader(os.path.join(tmp, "fast.binary"))) == shown
                back = os.path.join(tmp, "back.list")
                with open_output("list", back, meta=OutputMeta(show=frozenset({"open", "closed"}))) as w:
                    readscan([os.path.join(tmp, "fast.binary")], [w])
                expect = os.path.join(tmp, "expect.list")
                with open_output("list", expect, meta=OutputMeta(show=frozenset({"open", "closed"}))) as w:
                    for r in shown:
                        w.write(r)
                with open(back, "rb") as f, open(expect, "rb") as g:
                    assert f.read() == g.read()


@settings(max_examples=100, deadline=None)
@given(rows=st.lists(row, max_size=20), with_mac=st.booleans())
def test_records_round_trip_through_columns(rows: list, with_mac: bool) -> None:
    batch = make_batch(rows, with_mac)
    recs = batch.records()
    assert len(recs) == len(batch)
    again = StatusBatch.from_records(recs).records()
    assert again == recs


def test_null_writer_counts_batches() -> None:
    w = open_output("none", "-")
    w.write_batch(make_batch([(1, False, 1, 0, 80, 6, 1, 0x12, 64, 0)] * 3, False))
    assert w.count == 3


def test_appending_batches_continues_the_document(tmp_path: object) -> None:
    """JSON/XML append mode: the batch path picks up the separator and the host counts."""
    first = make_batch([(1, False, 0x0A000001, 0, 80, 6, 1, 0x12, 64, 0)], False)
    second = make_batch([(2, False, 0x0A000002, 0, 81, 6, 2, 0x14, 64, 0),
                         (3, True, 0, 5, 82, 6, 1, 0x12, 64, 0)], False)
    meta = OutputMeta(start_time=1, show=frozenset({"open", "closed"}))
    for fmt in ("json", "xml"):
        out = {}
        for how in ("fast", "slow"):
            path = os.path.join(str(tmp_path), f"{how}.{fmt}")
            with mock.patch("time.time", return_value=1700000000.0):
                for b, append in ((first, False), (second, True)):
                    with open_output(fmt, path, meta=meta, append=append) as w:
                        if how == "fast":
                            w.write_batch(b)
                        else:
                            for r in b.records():
                                w.write(r)
            with open(path, "rb") as f:
                out[how] = f.read()
        assert out["fast"] == out["slow"], fmt


def test_status_batch_from_replies() -> None:
    """TCP (v4, v6), UDP, ICMP echo and ARP replies become the records the scanner reports."""
    n = 5
    parsed = SimpleNamespace(ttl=np.array([64, 63, 62, 61, 60], np.uint8),
                             arp_sha=np.array([0, 0, 0, 0, 0x000C29334455], np.uint64))
    replies = Replies(
        rows=np.arange(n, dtype=np.intp), status=np.array([1, 2, 1, 1, 3], np.uint8),
        port=np.array([80, 443, 65536 + 53, 196608, 196610], np.uint32),
        is_v6=np.array([False, True, False, False, False]),
        ip4=np.array([0x0A000001, 0, 0x0A000003, 0x0A000004, 0x0A000005], np.uint32),
        ip6_hi=np.array([0, 0xFD00 << 48, 0, 0, 0], np.uint64), ip6_lo=np.array([0, 7, 0, 0, 0], np.uint64),
        reason=np.array([0x12, 0x14, 0, 0, 0], np.uint8), verified=np.ones(n, bool))
    got = status_batch(parsed, replies, 1700000000).records()
    assert got == [
        status_record(1700000000, 0x0A000001, 80, "tcp", "open", 0x12, 64),
        status_record(1700000000, (0xFD00 << 112) | 7, 443, "tcp", "closed", 0x14, 63, ip_version=6),
        status_record(1700000000, 0x0A000003, 53, "udp", "open", 0, 62),
        status_record(1700000000, 0x0A000004, 0, "icmp", "open", 0, 61),
        status_record(1700000000, 0x0A000005, 0, "arp", "up", 0, 60, mac=bytes.fromhex("000c29334455")),
    ]
