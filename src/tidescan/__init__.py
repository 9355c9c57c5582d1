"""tidescan: masscan rebuilt in Python, with batches instead of packets on the hot path.

The package holds two programs: the scanner (`tidescan`, entry point `tidescan.cli:main`) and the
responder (`tidescanned`, entry point `tidescan.responder.cli:main`).  See docs/internals.md for the
module map and the contracts between modules.
"""

__version__ = "0.1.0"
