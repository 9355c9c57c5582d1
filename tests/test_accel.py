"""The optional C cookie kernel (`tidescan._accel`) against the NumPy paths: same values bit for
bit (`Seq4`, `cookie4_array`, the scalar `cookie4`, masscan's vectors), the `seq4_array`
wrapper's dtype/shape/`out` handling on the C path, and the kernel's input errors.

CI installs with scripts/install.sh, which builds the extension: these tests fail (not skip)
there if it is missing, unless TIDESCAN_PURE_PYTHON is set.
"""

from __future__ import annotations

import ipaddress
import threading
from types import ModuleType

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray

from tidescan import accel, siphash_seq
from tidescan.siphash import cookie4, cookie4_array
from tidescan.siphash_seq import Seq4, seq4_array

M32 = 0xFFFFFFFF
M64 = (1 << 64) - 1


def ip(text: str) -> int:
    return int(ipaddress.ip_address(text))


def _kernel() -> ModuleType:
    try:
        from tidescan import _accel
    except ImportError:
        if accel.pure_requested():
            pytest.skip("tidescan._accel not built and TIDESCAN_PURE_PYTHON is set")
        raise
    return _accel


@pytest.fixture(scope="module")
def kernel() -> ModuleType:
    """The extension module (stateless, so one per module is safe under hypothesis)."""
    return _kernel()


@pytest.fixture
def c_path(monkeypatch: pytest.MonkeyPatch, kernel: ModuleType) -> ModuleType:
    """`seq4_array` routed to the C kernel whatever TIDESCAN_PURE_PYTHON says."""
    monkeypatch.setattr(siphash_seq, "ACCEL", kernel)
    return kernel


def test_extension_built_and_chosen() -> None:
    if accel.pure_requested():
        assert accel.ACCEL is None and "pure" in accel.COOKIE_PATH
        return
    kernel = _kernel()  # scripts/install.sh builds it: an ImportError here fails CI
    assert accel.ACCEL is kernel and accel.COOKIE_PATH.startswith("C ")
    assert siphash_seq.ACCEL is kernel


# masscan's cookie vectors (tests/test_siphash.py COOKIE4): (them, port_them, me, port_me, seed,
# value, mask); the UDP ones use the internal port 65536 + p.
VECTORS = [
    ("10.0.0.1", 80, "192.168.1.100", 40000, 0, 0x30F9B6516899F1B7, M64),
    ("10.0.0.6", 80, "10.255.255.1", 40000, 1, 0x41EA3E9A, M32),  # captured SYN seq
    ("10.0.0.1", 443, "192.168.1.100", 40000, 42, 0xDD212BE6F93A9CCB, M64),
    ("8.8.8.8", 53, "10.0.0.2", 61000, 0x123456789ABCDEF0, 0x8422E5A9D242CD03, M64),
    ("10.0.0.1", 65536 + 53, "10.255.255.1", 59031, 1, 0x9227, 0xFFFF),
    ("10.0.0.1", 65536 + 161, "10.255.255.1", 59031, 1, 0x789A8D3B, 0x7FFFFFFF),
]


@pytest.mark.parametrize("them,pt,me,pm,e,want,mask", VECTORS)
def test_masscan_vectors(kernel: ModuleType, them: str, pt: int, me: str, pm: int, e: int,
                         want: int, mask: int) -> None:
    wide = np.empty(1, np.uint64)
    kernel.cookie4(np.array([ip(them)], np.uint32), pt, ip(me), pm, e, wide)
    assert int(wide[0]) & mask == want
    seq = np.empty(1, np.uint32)
    kernel.seq4(ip(them), np.array([pt], np.uint64), ip(me), pm, e, seq)  # any column an array
    assert int(seq[0]) & mask == want & M32
    if mask >= M32:
        assert int(seq4_array(ip(them), pt, ip(me), pm, e)) == want & M32


def _cols(draw: st.DrawFn, n: int, source_array: bool) -> tuple[object, ...]:
    """Random (ip_them, port_them, ip_me, port_me) with n lanes; the source scalar or per lane."""
    def arr(hi: int) -> NDArray[np.uint64]:
        seed = draw(st.integers(0, 2**32 - 1))
        return np.random.default_rng(seed).integers(0, hi, n, dtype=np.uint64)

    them, pt = arr(1 << 32), arr(197_120)
    if source_array:
        return them, pt, arr(1 << 32), arr(1 << 16)
    return them, pt, draw(st.integers(0, M32)), draw(st.integers(0, 65535))


@st.composite
def batches(draw: st.DrawFn) -> tuple[tuple[object, ...], int]:
    n = draw(st.sampled_from([0, 1, 2, 3, 511, 512, 513, 1023, 4097, 40_001]) | st.integers(0, 64))
    return _cols(draw, n, draw(st.booleans())), draw(st.integers(0, M64))


@settings(max_examples=60, deadline=None)
@given(batches())
def test_c_equals_numpy_paths(kernel: ModuleType, batch: tuple[tuple[object, ...], int]) -> None:
    cols, e = batch
    n = len(cols[0])  # type: ignore[arg-type]
    want64 = cookie4_array(*cols, e)
    got32 = np.full(n, 7, np.uint32)
    kernel.seq4(*cols, e, got32)
    got64 = np.empty(n, np.uint64)
    kernel.cookie4(*cols, e, got64)
    assert np.array_equal(got64, want64)
    assert np.array_equal(got32, want64.astype(np.uint32))
    assert np.array_equal(got32, Seq4()(*cols, e))            # the pure NumPy path
    assert np.array_equal(seq4_array(*cols, e), got32)          # the active path


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, M32), st.integers(0, 197_119), st.integers(0, M32),
                          st.integers(0, 65535)), min_size=1, max_size=20),
       st.integers(0, M64), st.sampled_from([np.uint8, np.uint16, np.uint32, np.uint64]))
def test_equals_scalar_reference_any_width(kernel: ModuleType,
                                           rows: list[tuple[int, int, int, int]], e: int,
                                           dtype: type) -> None:
    cols = [np.array(c, dtype=np.uint64) for c in zip(*rows)]
    narrow = [c.astype(dtype) for c in cols]       # the kernel hashes what it is given
    out = np.empty(len(rows), np.uint32)
    kernel.seq4(*narrow, e, out)
    assert out.tolist() == [cookie4(*(int(v) for v in r), e) & M32 for r in zip(*narrow)]
    kernel.seq4(*cols, e, out)
    assert out.tolist() == [cookie4(*r, e) & M32 for r in rows]


def test_wide_values_and_key_modulo(kernel: ModuleType) -> None:
    them = np.arange(100, dtype=np.uint64) + np.uint64(1 << 40)  # high bits ignored, as cookie4
    out = np.empty(100, np.uint32)
    kernel.seq4(them, 80, (1 << 40) | 5, 6, -1, out)           # entropy taken modulo 2**64
    assert out.tolist() == [cookie4(int(t), 80, 5, 6, M64) & M32 for t in them]


def test_wrapper_dtypes_shapes_and_out(c_path: ModuleType) -> None:
    rng = np.random.default_rng(5)
    them = rng.integers(0, 1 << 31, 1000, dtype=np.int64)        # signed, non-negative
    pt = rng.integers(0, 65536, 2000, dtype=np.uint64)[::2]      # non-contiguous
    me = them[::-1].astype(">u4")                                # big-endian
    want = cookie4_array(them, pt, me, 40000, 3).astype(np.uint32)
    assert np.array_equal(seq4_array(them, pt, me, 40000, 3), want)
    assert np.array_equal(seq4_array(them, pt, me, np.array([40000]), 3), want)  # (1,) broadcasts
    out = np.full(1005, 9, np.uint32)
    got = seq4_array(them, pt, me, 40000, 3, out=out)
    assert np.array_equal(got, want) and np.array_equal(out[:1000], want) and (out[1000:] == 9).all()
    wide = np.zeros(1000, np.uint64)                            # a non-uint32 out is copied into
    assert np.array_equal(seq4_array(them, pt, me, 40000, 3, out=wide), want)
    assert np.array_equal(wide, want)
    zero_d = seq4_array(ip("10.0.0.6"), 80, ip("10.255.255.1"), 40000, 1)
    assert zero_d.shape == () and int(zero_d) == 0x41EA3E9A
    assert seq4_array(np.zeros(0, np.uint64), 80, 1, 2, 3).shape == (0,)
    assert seq4_array(np.arange(4, dtype=np.uint64), 80, 1, 2, 3).tolist() == Seq4()(
        np.arange(4, dtype=np.uint64), 80, 1, 2, 3).tolist()


def test_wrapper_errors_match_pure(c_path: ModuleType) -> None:
    with pytest.raises(ValueError):
        seq4_array(np.array([-1]), 1, 2, 3, 4)
    with pytest.raises(TypeError):
        seq4_array(np.array([1.5]), 1, 2, 3, 4)
    with pytest.raises(ValueError):
        seq4_array(np.zeros((2, 2), np.uint64), 1, 2, 3, 4)
    with pytest.raises(ValueError):
        seq4_array(np.zeros(3, np.uint64), np.zeros(4, np.uint64), 2, 3, 4)


def test_kernel_input_errors(kernel: ModuleType) -> None:
    a = np.arange(8, dtype=np.uint64)
    out = np.empty(8, np.uint32)
    cases: list[tuple[type[Exception], str, tuple[object, ...]]] = [
        (TypeError, "format 'l'", (a.astype(np.int64), 1, 2, 3, 4, out)),
        (TypeError, "format 'd'", (a.astype(np.float64), 1, 2, 3, 4, out)),
        (TypeError, "format '>I'", (a.astype(">u4"), 1, 2, 3, 4, out)),
        (TypeError, "port_them: expected an integer", (a, "80", 2, 3, 4, out)),
        (ValueError, "1-D", (a.reshape(2, 4), 1, 2, 3, 4, out)),
        (ValueError, "contiguous", (np.arange(16, dtype=np.uint64)[::2], 1, 2, 3, 4, out)),
        (ValueError, "port_me has 7 elements but out has 8", (a, 1, 2, a[:7], 4, out)),
        (ValueError, "ip_me: negative", (a, 1, -2, 3, 4, out)),
        (TypeError, "out: expected a native uint32", (a, 1, 2, 3, 4, np.empty(8, np.uint64))),
        (TypeError, "writable", (a, 1, 2, 3, 4, b"\0" * 32)),
        (TypeError, "entropy must be an integer", (a, 1, 2, 3, 4.0, out)),
        (TypeError, "6 positional arguments", (a, 1, 2, 3, 4)),
    ]
    for exc, text, args in cases:
        with pytest.raises(exc, match=text):
            kernel.seq4(*args)
    with pytest.raises(TypeError, match="native uint64"):
        kernel.cookie4(a, 1, 2, 3, 4, out)


def test_threads_share_the_kernel(kernel: ModuleType) -> None:
    """The loop runs without the GIL: concurrent calls on separate buffers stay correct."""
    rng = np.random.default_rng(11)
    them = rng.integers(0, 1 << 32, 50_000, dtype=np.uint64)
    want = cookie4_array(them, 80, 7, 9, 123).astype(np.uint32)
    outs = [np.empty(50_000, np.uint32) for _ in range(4)]
    threads = [threading.Thread(target=kernel.seq4, args=(them, 80, 7, 9, 123, o)) for o in outs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(np.array_equal(o, want) for o in outs)


def test_version_and_selftest_name_the_cookie_kernel(capsys: pytest.CaptureFixture[str]) -> None:
    from tidescan.cli import main

    assert main(["--version"]) == 0
    assert f"cookie kernel: {accel.COOKIE_PATH}\n" in capsys.readouterr().out
    assert main(["--selftest"]) == 0
    text = capsys.readouterr().out
    assert f"cookie kernel: {accel.COOKIE_PATH}\n" in text and "success" in text


@settings(max_examples=40, deadline=None)
@given(batches())
def test_cookie4_array_dispatch_equals_numpy(kernel: ModuleType,
                                             batch: tuple[tuple[object, ...], int]) -> None:
    from tidescan import siphash

    cols, e = batch
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(siphash, "ACCEL", None)
        want = siphash.cookie4_array(*cols, e)
        mp.setattr(siphash, "ACCEL", kernel)
        got = siphash.cookie4_array(*cols, e)
    assert got.dtype == np.uint64 and got.shape == want.shape and np.array_equal(got, want)


def test_cookie4_array_c_conversions(monkeypatch: pytest.MonkeyPatch, kernel: ModuleType) -> None:
    from tidescan import siphash

    monkeypatch.setattr(siphash, "ACCEL", kernel)
    big = np.array([1 << 63, (1 << 64) - 1], dtype=object)       # Python ints up to 2**64-1
    flags = np.array([True, False])
    got = siphash.cookie4_array(big, flags, np.int32(7), np.array([40000]), 5)
    assert got.tolist() == [cookie4(int(t), int(f), 7, 40000, 5) for t, f in zip(big, flags)]
    assert int(siphash.cookie4_array(ip("10.0.0.1"), 80, ip("192.168.1.100"), 40000, 0)) \
        == 0x30F9B6516899F1B7
    grid = np.arange(6, dtype=np.uint64).reshape(2, 3)             # 2-D: the NumPy path
    assert siphash.cookie4_array(grid, 80, 1, 2, 3).tolist() == [
        [cookie4(int(v), 80, 1, 2, 3) for v in row] for row in grid]
    with pytest.raises(ValueError):
        siphash.cookie4_array(np.array([-1]), 1, 2, 3, 4)
    with pytest.raises(TypeError):
        siphash.cookie4_array(np.array([1.5]), 1, 2, 3, 4)


def test_failed_calls_release_every_buffer(kernel: ModuleType) -> None:
    """A bytearray cannot grow while a buffer view of it is held: every error path releases."""
    cols = [bytearray(range(8)) for _ in range(4)]
    bad_calls: list[tuple[object, ...]] = [
        (*cols, 1, np.empty(8, np.uint64)),           # wrong out format (all columns were held)
        (*cols, 1, np.empty(7, np.uint32)),           # length mismatch
        (cols[0], cols[1], cols[2], 1.5, 1, np.empty(8, np.uint32)),  # 4th column bad
        (cols[0], cols[1], np.zeros(8, np.int64), cols[3], 1, np.empty(8, np.uint32)),
    ]
    for args in bad_calls:
        with pytest.raises((TypeError, ValueError)):
            kernel.seq4(*args)
    out = np.empty(8, np.uint32)
    kernel.seq4(*cols, 1, out)                        # bytearrays are unsigned 'B' buffers
    assert out.tolist() == [cookie4(i, i, i, i, 1) & M32 for i in range(8)]
    for c in cols:
        c.extend(b"\0")                               # BufferError if a view leaked
