"""`tidescan --selftest` (masscan's `--regress`): quick checks of the algorithms users depend on.

Why: a user moving a scan to a new machine (or a new NumPy) wants one command that says the cookies,
the order and the frames are still bit-for-bit what they were.  These are the reference vectors of
masscan's own self-test and of the reference document; the full suite lives in tests/.
"""

from __future__ import annotations

import sys

import numpy as np


def _checks() -> list[tuple[str, bool]]:
    from tidescan import siphash
    from tidescan.blackrock import BlackRock
    from tidescan.packets.template import SynTemplate

    out: list[tuple[str, bool]] = []
    out.append(("siphash24 reference vector",
                siphash.siphash24(bytes(range(16)), bytes(range(15))) == 0xA129CA6149BE45E5))
    out.append(("cookie4 vector", siphash.cookie4(0x0A000001, 80, 0xC0A80164, 40000, 0) == 0x30F9B6516899F1B7))
    from tidescan.siphash_seq import Seq4, seq4_array
    out.append(("seq4 vector (active cookie kernel)",
                int(seq4_array(0x0A000006, 80, 0x0AFFFF01, 40000, 1)) == 0x41EA3E9A))
    them = np.arange(0, 1 << 32, 4_194_301, dtype=np.uint64)
    out.append(("seq4 active kernel == NumPy path",
                np.array_equal(seq4_array(them, 443, 0x0AFFFF01, 61234, 7),
                               Seq4()(them, 443, 0x0AFFFF01, 61234, 7))))
    out.append(("cookie6 vector", siphash.cookie6(0x20010DB8 << 96 | 1, 80, 0x20010DB8 << 96 | 2, 40000, 42)
                == 0x7C532A7B18566B9B))
    br = BlackRock(16, 1)
    want = [0, 8, 5, 9, 6, 13, 15, 11, 1, 4, 7, 14, 10, 12, 2, 3]
    out.append(("blackrock range=16 seed=1", [br.shuffle(i) for i in range(16)] == want))
    big = BlackRock(1 << 32, 123)
    out.append(("blackrock range=2^32 seed=123",
                big.shuffle_array(np.arange(2, dtype=np.uint64)).tolist() == [2735063051, 1546889129]))
    b1000 = BlackRock(1000, 42)
    out.append(("blackrock bijection range=1000",
                sorted(b1000.shuffle_array(np.arange(1000, dtype=np.uint64)).tolist()) == list(range(1000))))
    t = SynTemplate("02:00:00:00:00:01", "66:55:44:33:22:11", window=1025, mss=1460)
    frame = t.frame_v4(0x0A000006, 80, 0x0AFFFF01, 40000, 0x41EA3E9A)
    captured = bytes.fromhex("665544332211020000000001080045000" "02c3ecc0000ff0668f90affff010a000006"
                             "9c40005041ea3e9a000000006002040163" "0a0000020405b4")
    out.append(("SYN frame == captured masscan SYN", frame == captured))
    return out


def run_selftest() -> int:
    failed = [name for name, ok in _checks() if not ok]
    for name in failed:
        sys.stderr.write(f"selftest: FAILED {name}\n")
    if failed:
        sys.stdout.write("regression test: failed :( \n")
        return 1
    from tidescan.accel import COOKIE_PATH
    sys.stdout.write(f"cookie kernel: {COOKIE_PATH}\n")
    sys.stdout.write("regression test: success!\n")
    return 0
