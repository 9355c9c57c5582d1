"""Writing settings back: ``--echo``, ``--echo-all`` and the paused.conf resume file.

Why the echo is the resume file: a paused scan must restart with *every* setting it had.
masscan's paused.conf forgot excludes, ttl, connection-timeout, --pcap, ping/arp and (1.3.2)
adapter-port (reference §5), and wrote ``nocapture`` lines its own parser refused (#559).  Here
every setting row of the table writes itself (`Param.echo_lines`), and the property tests check
``parse_config_text(echo_text(cfg)) == cfg`` over generated configs, so nothing can be forgotten
without a test failing.

Layout follows masscan where it has one: ``name = value`` lines, a ``# resume information``
block first, ``# TARGET SELECTION (IP, PORTS, EXCLUDES)`` last, ``rate``/``shard`` always
written, MACs as ``02-00-00-00-00-01``.  ``--echo`` writes the settings that differ from the
defaults; ``--echo-all`` writes every setting, with unset optional ones as ``# name = `` comment
lines (a template of everything that can be set).
"""

from __future__ import annotations

import dataclasses

from tidescan.config_model import ScanConfig
from tidescan.config_table import SECTIONS, rows

__all__ = ["echo_text", "resume_text"]


def echo_text(cfg: ScanConfig, all: bool = False, *, resume: bool = False) -> str:  # noqa: A002
    """The config file for `cfg` (non-default settings; every setting with `all`).

    With `resume` the ``# resume information`` block is always written, even for index 0.
    """
    table = rows()
    blocks: list[list[str]] = []
    for section, header, _title in SECTIONS:
        if section == "misc":
            continue
        body: list[str] = []
        for p in table:
            if p.section == section:
                body += p.echo_lines(cfg, all)
        if section == "resume" and resume and not any(b.startswith("resume-index") for b in body):
            body.insert(0, f"resume-index = {cfg.resume_index}")
        if body or section == "targets":
            blocks.append([header, *body])
    return "\n\n".join("\n".join(b) for b in blocks) + "\n"


def resume_text(cfg: ScanConfig, resume_index: int) -> str:
    """paused.conf: the echo of `cfg` with ``resume-index = resume_index``.

    `cfg.seed` must be the seed the scan actually used (the scan resolves a random seed before it
    starts): resuming with another seed would probe a different order.
    """
    if cfg.seed is None:
        raise ValueError("resume_text needs cfg.seed: the seed the paused scan used")
    if resume_index < 0:
        raise ValueError("resume_index must be >= 0")
    return echo_text(dataclasses.replace(cfg, resume_index=resume_index), resume=True)
