"""The configuration layer: one parameter table for the command line, config files and resume.

This module is the public face of the layer; the pieces live in small files:

- `tidescan.config_model`: `ScanConfig` (typed attributes named after the options) and
  `NicConfig` (``adapter[N]`` settings);
- `tidescan.config_table`: `Param` rows, flags, name matching (masscan's rules), the registry;
  the rows themselves are in `config_rows_targets`, `config_rows_scan`, `config_rows_output`;
- `tidescan.config_values`: value parsers/formatters (``parse(format(v)) == v``);
- `tidescan.config_parse`: the command-line tokenizer and the config-file reader;
- `tidescan.config_echo`: ``--echo``/``--echo-all`` and paused.conf (`resume_text`);
- `tidescan.config_targets`: texts -> `TargetSet` (`ScanConfig.targets()`), ``--echo-cidr``;
- `tidescan.nmap_refusals`: the nmap options refused (with a hint), ignored or warned about;
- `tidescan.help`: ``--help`` and ``--nmap`` texts generated from the table.

Typical use (the CLI)::

    cfg = parse_args(sys.argv[1:])          # UsageError on any bad option: print, exit 1
    for w in cfg.warnings: print(w, file=sys.stderr)
    if cfg.echo_mode == "echo": print(cfg.echo(), end="")
    ts = cfg.targets()                      # TargetSet: ranges - excludes, ports - exclude-ports
    ...
    open("paused.conf", "w").write(resume_text(cfg, index))   # on Ctrl-C
"""

from __future__ import annotations

from tidescan.config_echo import echo_text, resume_text
from tidescan.config_model import CAPTURE_TYPES, MAX_NICS, NicConfig, ScanConfig
from tidescan.config_parse import parse_args, parse_config_file, parse_config_text
from tidescan.config_table import F, Param, lookup, normalize, rows
from tidescan.config_targets import cidr_text

__all__ = [
    "ScanConfig", "NicConfig", "Param", "F", "CAPTURE_TYPES", "MAX_NICS",
    "parse_args", "parse_config_text", "parse_config_file", "echo_text", "resume_text",
    "cidr_text", "lookup", "normalize", "rows",
]
