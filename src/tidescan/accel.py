"""Which cookie kernel this process uses: the optional C extension `tidescan._accel` or pure NumPy.

Why a module of its own: the choice is made once, at import, in one place, so the transmit loop,
the receive-side cookie check, `--version` and `--selftest` all agree on it; and it imports no
NumPy, so `tidescan --version` stays fast.  The C kernel is used when it was built (setup.py, an
optional extension) unless the environment variable TIDESCAN_PURE_PYTHON is set to a non-empty
value other than "0" (then the NumPy path of `siphash_seq` runs, e.g. to compare the two).
"""

from __future__ import annotations

import os
from types import ModuleType

__all__ = ["ACCEL", "COOKIE_PATH", "PURE_ENV", "pure_requested"]

PURE_ENV = "TIDESCAN_PURE_PYTHON"


def pure_requested() -> bool:
    """True when TIDESCAN_PURE_PYTHON asks for the pure NumPy path."""
    return os.environ.get(PURE_ENV, "") not in ("", "0")


def _load() -> tuple[ModuleType | None, str]:
    if pure_requested():
        return None, f"pure NumPy ({PURE_ENV} is set)"
    try:
        from tidescan import _accel
    except ImportError:
        return None, "pure NumPy (the C extension tidescan._accel is not built)"
    return _accel, "C (tidescan._accel)"


ACCEL, COOKIE_PATH = _load()
