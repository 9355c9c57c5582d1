"""Shared pytest setup: lab-test gating and the smallest veth lab fixture.

Lab tests (`@pytest.mark.lab`) need root and network namespaces.  On a developer machine without
them they are skipped; when `TIDESCAN_REQUIRE_LAB=1` (CI sets it) a skipped lab test is an error,
because a green run that silently skipped the network tests proves nothing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator

import pytest

from tidescan import netns


def _lab_possible() -> str | None:
    """Return None when lab tests can run here, else the reason they cannot."""
    if os.geteuid() != 0:
        return "lab tests need root"
    if shutil.which("ip") is None:
        return "lab tests need iproute2 (`ip`)"
    probe = f"{netns.unique_prefix()}probe"
    proc = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if proc.returncode != 0:
        return f"cannot create network namespaces: {proc.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return None


_LAB_REASON: str | None | bool = False


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    global _LAB_REASON
    lab_items = [it for it in items if it.get_closest_marker("lab")]
    if not lab_items:
        return
    if _LAB_REASON is False:
        _LAB_REASON = _lab_possible()
        if _LAB_REASON is None:
            netns.cleanup_stale()
    if _LAB_REASON is None:
        return
    if os.environ.get("TIDESCAN_REQUIRE_LAB") == "1":
        raise pytest.UsageError(f"TIDESCAN_REQUIRE_LAB=1 but {_LAB_REASON}")
    skip = pytest.mark.skip(reason=str(_LAB_REASON))
    for it in lab_items:
        it.add_marker(skip)


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:  # type: ignore[no-untyped-def]
    """Under TIDESCAN_REQUIRE_LAB=1, any skipped lab test fails the run."""
    if os.environ.get("TIDESCAN_REQUIRE_LAB") != "1":
        return
    skipped = [r for r in terminalreporter.stats.get("skipped", [])
               if "lab" in getattr(r, "keywords", {})]
    if skipped:
        terminalreporter.write_line(f"ERROR: {len(skipped)} lab test(s) were skipped under TIDESCAN_REQUIRE_LAB=1")
        config._tidescan_lab_skipped = True  # type: ignore[attr-defined]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if getattr(session.config, "_tidescan_lab_skipped", False) and exitstatus == 0:
        session.exitstatus = 1


@pytest.fixture
def veth_pair() -> Iterator[netns.VethPair]:
    """Two fresh namespaces joined by a veth pair (10.199.0.1/24 <-> 10.199.0.2/24, fd00:199::1/2)."""
    with netns.VethPair(tag="f", a_ip6="fd00:199::1/64", b_ip6="fd00:199::2/64") as pair:
        yield pair
