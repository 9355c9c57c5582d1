"""Build hook for the optional C cookie kernel `tidescan._accel` (everything else is in pyproject.toml).

Why a setup.py at all: setuptools declares C extensions only here.  The extension is `optional`:
without a compiler or Python headers `pip install -e .` still succeeds and tidescan uses its pure
NumPy cookie (tidescan.siphash_seq); set TIDESCAN_PURE_PYTHON=1 to force that path at run time.
"""

import sys

from setuptools import Extension, setup

ARGS = [] if sys.platform == "win32" else ["-O3", "-std=c99", "-fno-strict-aliasing"]

setup(ext_modules=[Extension("tidescan._accel", ["src/tidescan/_accel.c"],
                             extra_compile_args=ARGS, optional=True)])
