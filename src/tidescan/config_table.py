"""The parameter table: one `Param` row per option, shared by every way a setting can travel.

Why one table (masscan's ``config_parameters[]``, DESIGN.md principle 6): the command line,
``-c`` config files, ``--resume paused.conf``, ``--echo`` and ``--help`` all read the same rows,
so an option cannot be parsed in one place and forgotten in the resume file (masscan #110, #559).

A row says:

- ``name``: the canonical name, written by ``--echo`` (``ports``, ``adapter-ip``...);
- ``aliases`` and ``shorts``: other long names (``max-rate``) and single-dash spellings (``-p``);
- ``flags``: how the command line takes its value (`F.BOOL` none, `F.NUMABLE` optional number,
  `F.MULTI` several arguments) and what it accepts (`F.INDEX` ``name[N]``, `F.KEY`
  ``name[Name]``, `F.NIC` ``name[adapter]``), whether it is a list (`F.LIST`), an operation
  rather than a setting (`F.OP`, never saved), or always echoed (`F.ALWAYS`);
- ``field``: the `ScanConfig` attribute, with ``parse``/``fmt`` for its text form;
- ``set``: how a value is applied (default: parse and assign, or append for lists);
- ``echo``: how the setting is written back (default: ``name = fmt(value)`` when it differs
  from the default; `NO_ECHO` for spellings whose effect another row writes, e.g. ``nobanners``);
- ``help``/``metavar``/``section``: the ``--help`` text and the echo layout.

Name matching is masscan's: case-insensitive, with ``-``, ``_`` and ``.`` ignored
(``--excludefile`` = ``--exclude-file`` = ``exclude_file``).  `lookup()` finds a row by any
spelling.  The rows themselves live in `tidescan.config_rows_*` (grouped like ``--help``).
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tidescan.config_model import NIC_FIELDS, NicConfig, ScanConfig
from tidescan.errors import ParseError

__all__ = ["F", "Param", "Ctx", "NO_ECHO", "SECTIONS", "normalize", "lookup", "rows",
           "register", "short_lookup", "DEFAULTS"]


class F(enum.IntFlag):
    """Row flags (see the module docstring)."""

    NONE = 0
    BOOL = 1      # takes no value on the command line; `--x=false` style words accepted
    NUMABLE = 2   # optional value: the next argument is taken only if integer or boolean word
    MULTI = 4     # command line: every following argument up to the next one starting with '-'
    INDEX = 8     # requires name[N], N an integer 0..65535 (hello-string[80])
    KEY = 16      # accepts name[Key] with a text key (http-header[Name])
    NIC = 32      # per-adapter: name[N], N = 0..7 (adapter[1]); no index means adapter 0
    LIST = 64     # repeatable; each value is appended (an empty value in a file is ignored)
    OP = 128      # what to do this run (echo, help...): not a scan setting, never echoed
    ALWAYS = 256  # echoed even at its default value (rate, shard)


# (section id, echo header, help title).  Echo writes sections in this order.
SECTIONS: tuple[tuple[str, str, str], ...] = (
    ("resume", "# resume information", "RESUME"),
    ("scan", "# SCAN: RATE, TIMING, ORDER", "RATE, TIMING, RANDOMIZATION, SHARDING"),
    ("banners", "# BANNERS AND PROBES", "BANNERS AND APPLICATION PROBES"),
    ("output", "# OUTPUT", "OUTPUT"),
    ("adapter", "# ADAPTER, SOURCE AND ROUTER", "ADAPTER, SOURCE AND ROUTER"),
    ("targets", "# TARGET SELECTION (IP, PORTS, EXCLUDES)", "TARGETS, PORTS, EXCLUDES"),
    ("misc", "", "MISCELLANEOUS"),
)

DEFAULTS = ScanConfig()


@dataclass
class Ctx:
    """State of one parse: the config being built plus what only the parser needs to remember.

    `latest_format`/`format_unused` implement ``--output-format X --output-filename F`` pairing;
    `defaulted` lists outputs whose format was defaulted to XML (a later ``--output-format``
    fixes them, so masscan's filename-then-format order in paused.conf works); `from_file` is
    true while a config file is applied; `read_file` is how ``-c``/``--resume`` recurse.
    """

    cfg: ScanConfig
    latest_format: str | None = None
    format_unused: bool = False
    defaulted: list[int] = field(default_factory=list)
    from_file: bool = False
    depth: int = 0
    read_file: Callable[[Ctx, str], None] | None = None


Setter = Callable[[Ctx, "Param", "str | None", "str | None"], None]
Echoer = Callable[[ScanConfig, "Param", bool], list[str]]


def _no_echo(cfg: ScanConfig, p: Param, all: bool) -> list[str]:  # noqa: A002
    return []


NO_ECHO: Echoer = _no_echo


@dataclass(frozen=True)
class Param:
    """One option (see the module docstring)."""

    name: str
    help: str
    section: str
    aliases: tuple[str, ...] = ()
    shorts: tuple[str, ...] = ()
    flags: F = F.NONE
    field: str | None = None
    parse: Callable[[str], Any] | None = None
    fmt: Callable[[Any], str] = str
    set: Setter | None = None
    echo: Echoer | None = None
    metavar: str = ""

    def takes_value(self) -> bool:
        return not (self.flags & (F.BOOL | F.NUMABLE))

    # -- applying a value --------------------------------------------------------------------
    def apply(self, ctx: Ctx, index: str | None, value: str | None) -> None:
        """Apply `value` (None: a bare flag) for this row; raises ParseError on a bad value."""
        if self.set is not None:
            self.set(ctx, self, index, value)
            return
        assert self.field is not None, self.name
        target = nic_target(ctx.cfg, self, index)
        if self.flags & F.BOOL:
            setattr(target, self.field, True if value is None else _parse_bool(value))
            return
        text = "" if value is None else value
        if self.flags & F.LIST:
            if text == "":
                if ctx.from_file:
                    return
                raise ParseError("empty value", 0)
            parsed = self.parse(text) if self.parse else text
            getattr(target, self.field).append(parsed)
            return
        if text == "":
            if getattr(DEFAULTS, self.field, None) is None or self.flags & F.NIC:
                setattr(target, self.field, None)  # `pcap = ` (masscan's echo) means unset
                _drop_empty_nic(ctx.cfg)
                return
            raise ParseError("missing value", 0)
        setattr(target, self.field, self.parse(text) if self.parse else text)

    # -- writing it back ---------------------------------------------------------------------
    def echo_lines(self, cfg: ScanConfig, all: bool) -> list[str]:  # noqa: A002
        if self.flags & F.OP:
            return []
        if self.echo is not None:
            return self.echo(cfg, self, all)
        return default_echo(cfg, self, all)


def _parse_bool(text: str) -> bool:
    from tidescan.config_values import parse_bool

    return parse_bool(text)


def nic_target(cfg: ScanConfig, p: Param, index: str | None) -> ScanConfig | NicConfig:
    """The object a NIC row writes to: the config for adapter 0, `cfg.nics[N]` otherwise."""
    if not (p.flags & F.NIC) or index in (None, "", "0"):
        return cfg
    n = int(index)
    return cfg.nics.setdefault(n, NicConfig())


def _drop_empty_nic(cfg: ScanConfig) -> None:
    for n in [n for n, nic in cfg.nics.items() if nic.is_empty()]:
        del cfg.nics[n]


def default_echo(cfg: ScanConfig, p: Param, all: bool) -> list[str]:  # noqa: A002
    """``name = value`` when the value differs from the default (or always with `all`)."""
    if p.field is None:
        return []
    out: list[str] = []
    targets: list[tuple[str, object]] = [(p.name, cfg)]
    if p.flags & F.NIC:
        targets += [(f"{p.name}[{n}]", cfg.nics[n]) for n in sorted(cfg.nics)]
    for key, obj in targets:
        value = getattr(obj, p.field)
        default = getattr(DEFAULTS, p.field) if obj is cfg else None
        if p.flags & F.LIST:
            out += [f"{key} = {p.fmt(v)}" for v in value]
            if not value and all and obj is cfg:
                out.append(f"# {key} = ")
            continue
        if value is None:
            if all and obj is cfg:
                out.append(f"# {key} = ")
            continue
        if p.flags & F.BOOL:
            text = "true" if value else "false"
        else:
            text = p.fmt(value)
        if value != default or all or p.flags & F.ALWAYS:
            out.append(f"{key} = {text}")
    return out


# -- the registry ------------------------------------------------------------------------------

_ROWS: list[Param] = []
_BY_NAME: dict[str, Param] = {}
_BY_SHORT: dict[str, Param] = {}


def normalize(name: str) -> str:
    """masscan's EQUALS: lower case, with '-', '_' and '.' removed."""
    return "".join(c for c in name.lower() if c not in "-_.")


def register(*params: Param) -> None:
    """Add rows to the table (refusing any spelling that is already taken)."""
    for p in params:
        for spelling in (p.name, *p.aliases):
            key = normalize(spelling)
            if _BY_NAME.get(key, p) is not p:
                raise AssertionError(f"option name {spelling!r} of {p.name!r} clashes with "
                                     f"{_BY_NAME[key].name!r}")
            _BY_NAME[key] = p
        for s in p.shorts:
            if _BY_SHORT.get(s, p) is not p:
                raise AssertionError(f"short option {s!r} is taken twice")
            _BY_SHORT[s] = p
        if p.field is not None and p.field not in NIC_FIELDS:
            if not hasattr(DEFAULTS, p.field):
                raise AssertionError(f"row {p.name!r}: ScanConfig has no field {p.field!r}")
        _ROWS.append(p)


def _load() -> None:
    if not _ROWS:
        # Importing the row modules registers them (in --help / echo order).
        from tidescan import config_rows_output, config_rows_scan, config_rows_targets  # noqa: F401


def lookup(name: str) -> Param | None:
    """The row for a long option or config-file name (any alias, any punctuation/case)."""
    _load()
    return _BY_NAME.get(normalize(name))


def short_lookup(arg: str) -> Param | None:
    """The row for an exact single-dash spelling (``-p``, ``-oX``, ``-sU``, ``-iL``)."""
    _load()
    return _BY_SHORT.get(arg)


def rows() -> list[Param]:
    """All rows, in table order."""
    _load()
    return list(_ROWS)
