"""Reading settings: the command line and config files, through the one parameter table.

Why hand-written and not argparse: masscan's surface is table-driven and irregular --
``--name=value``, ``--name:value`` and ``--name value``; ``hello-string[80]``; flags that take no
value but accept ``--flag=false``; options whose value is optional (``--top-ports [N]``); bare
targets; ``-p80`` glued values; ``-oX file``; ``-sSU``; and a config file whose names are the
long option names.  One small tokenizer feeds every spelling into `Param.apply`, in order, so
``-c FILE`` applies the file's options exactly where it appears (later options override it).

Command line rules (masscan's `masscan_command_line`):

1. ``--name[INDEX]`` with ``=value`` or ``:value`` attached, else: a `F.BOOL` row takes no
   value; a `F.NUMABLE` row takes the next argument only if it is an integer or a boolean word;
   a `F.MULTI` row (``--readscan``) takes every following argument up to one starting with
   ``-``; any other row takes the next argument -- unless that looks like an option (``-x``,
   ``--xx``), which is reported as a missing value rather than swallowed (masscan would read
   ``--max-retries --echo`` as retries = "--echo" and start scanning).
2. Single-dash forms: ``-p PORTS``/``-p80``, ``-c``, ``-e``, ``-i``, ``-S``, ``-g`` (value attached
   or next), ``-iL FILE``, ``-oX FILE`` (and J D G L B U H R), ``-sS -sU -sZ -sO -sL`` (letters
   may be combined: ``-sSU``), ``-v``/``-vv``, ``-d``, ``-V``, ``-h``, ``-W``; nmap options from
   `tidescan.nmap_refusals` are refused, ignored or warned about.
3. A bare argument starting with a digit, ``:`` or ``[`` is a target range; anything else is an
   error.  After ``--`` every argument is a target.

Config files (``-c``, ``--conf``, ``--resume``): one ``name = value`` per line; the name is any
spelling of a long option (``hello-string[80]`` included); lines starting with punctuation (``#``,
``;``, ``-``...) or without ``=`` are ignored; an empty value means "true" for a flag and "unset"
for an optional value, and is ignored for a list (masscan writes ``ports = `` when it has none).

Every error is one `UsageError` line that says where: ``--ports: bad port ... at column 4``,
``unknown option '--foo' (argument 3)``, or ``FILE:LINE:COLUMN: name: message``.

We deliberately do NOT read /etc/masscan/masscan.conf (masscan reads it first on every run):
a scanner whose behaviour depends on a file the user did not name is a surprise.
"""

from __future__ import annotations

import contextlib
import re
import string
from collections.abc import Iterator, Sequence

from tidescan.config_model import MAX_NICS, ScanConfig
from tidescan.config_table import Ctx, F, Param, lookup, short_lookup
from tidescan.config_values import is_bool_word, is_integer
from tidescan.errors import ParseError, UsageError
from tidescan.nmap_refusals import NmapOption, lookup_long, lookup_short

__all__ = ["parse_args", "parse_config_text", "parse_config_file", "MAX_INCLUDE_DEPTH"]

MAX_INCLUDE_DEPTH = 8

_LONG_RE = re.compile(r"([A-Za-z][A-Za-z0-9_.\-]*)(\[[^\]]*\])?(?:[=:](.*))?", re.DOTALL)
_NAME_RE = re.compile(r"([A-Za-z][A-Za-z0-9_.\-]*)\s*(\[[^\]]*\])?")
_OPTION_LIKE = re.compile(r"--?[A-Za-z?]")
_GLUED = ("-p", "-c", "-e", "-i", "-S", "-g")
_HINT = "try --help, or --nmap for the nmap-compatible options"


def parse_args(argv: Sequence[str], cfg: ScanConfig | None = None) -> ScanConfig:
    """Parse a command line (without the program name) into a `ScanConfig`.

    Raises `UsageError` with one line saying which argument or file line is wrong.  Warnings
    (e.g. ``-sT``) are collected in ``cfg.warnings`` for the caller to print.
    """
    ctx = _new_ctx(cfg)
    with _one_line():
        _apply_argv(ctx, list(argv))
    _finish(ctx)
    return ctx.cfg


def parse_config_text(text: str, path: str = "<config>", cfg: ScanConfig | None = None
                      ) -> ScanConfig:
    """Apply a config file's text (``name = value`` lines) to a new (or the given) config."""
    ctx = _new_ctx(cfg)
    ctx.from_file = True
    with _one_line():
        _apply_text(ctx, text, path)
    _finish(ctx)
    return ctx.cfg


def parse_config_file(path: str, cfg: ScanConfig | None = None) -> ScanConfig:
    """Read a config file (as ``-c FILE`` would) into a new (or the given) config."""
    ctx = _new_ctx(cfg)
    with _one_line():
        try:
            _read_file(ctx, path)
        except ParseError as e:
            raise UsageError(f"{path}: {e.message}") from None
    _finish(ctx)
    return ctx.cfg


# -- plumbing ------------------------------------------------------------------------------------

@contextlib.contextmanager
def _one_line() -> Iterator[None]:
    """Errors reach the user as one line: control characters typed by the user are escaped."""
    try:
        yield
    except UsageError as e:
        message = str(e)
        if message.isprintable():
            raise
        clean = "".join(c if c.isprintable() else repr(c)[1:-1] for c in message)
        raise UsageError(clean) from None


def _new_ctx(cfg: ScanConfig | None) -> Ctx:
    return Ctx(cfg if cfg is not None else ScanConfig(), read_file=_read_file)


def _finish(ctx: Ctx) -> None:
    """Settle what depends on the whole command line."""
    cfg = ctx.cfg
    if ctx.format_unused and ctx.latest_format is not None:
        cfg.outputs.append((ctx.latest_format, "-"))  # a format without a file: stdout
        ctx.format_unused = False
    if cfg.shard != (1, 1) and cfg.seed is None:
        cfg.warnings.append(
            f"--shard {cfg.shard[0]}/{cfg.shard[1]} without --seed: every shard would pick its "
            "own random seed and the shards would overlap; give all shards the same --seed"
        )


def _read_file(ctx: Ctx, path: str) -> None:
    """``-c FILE`` / ``--resume FILE``: apply the file's lines here, then go on."""
    if ctx.depth >= MAX_INCLUDE_DEPTH:
        raise ParseError(f"config files include each other more than {MAX_INCLUDE_DEPTH} "
                         "levels deep (a loop?)", 0)
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
    except OSError as e:
        raise ParseError(f"cannot read config file {path!r}: {e.strerror or e}", 0) from None
    ctx.cfg.config_files.append(path)
    saved = ctx.from_file
    ctx.from_file = True
    ctx.depth += 1
    try:
        _apply_text(ctx, text, path)
    finally:
        ctx.depth -= 1
        ctx.from_file = saved


def _index_problem(p: Param, index: str | None) -> str | None:
    """Why ``name[index]`` is not acceptable for this row (None if it is)."""
    if p.flags & F.INDEX:
        if index is None or not is_integer(index) or int(index) > 65535:
            return f"needs a port number in brackets, e.g. {p.name}[80]"
    elif p.flags & F.NIC:
        if index not in (None, "") and (not is_integer(index) or int(index) >= MAX_NICS):
            return f"the adapter index must be 0 to {MAX_NICS - 1}, e.g. {p.name}[1]"
    elif p.flags & F.KEY:
        return None
    elif index is not None:
        return "takes no [index]"
    return None


def _apply(ctx: Ctx, p: Param, index: str | None, value: str | None, label: str) -> None:
    """Apply one value from the command line; name the option in any error."""
    problem = _index_problem(p, index)
    if problem:
        raise UsageError(f"{label}: {problem}")
    if value is not None:
        value = value.strip()
        if value == "" and p.takes_value():
            raise UsageError(f"{label}: empty value")
    try:
        p.apply(ctx, index, value)
    except ParseError as e:
        at = f" at column {e.column}" if e.column else ""
        raise UsageError(f"{label}: {e.message}{at}") from None


def _nmap(ctx: Ctx, opt: NmapOption, typed: str, where: str) -> None:
    if opt.action == "refuse":
        raise UsageError(f"{opt.message(typed)} {where}".rstrip())
    if opt.action == "warn":
        ctx.cfg.warnings.append(opt.message(typed))
        if opt.spelling == "-sT":
            ctx.cfg.syn_scan = True


# -- the command line ----------------------------------------------------------------------------

def _next_value(argv: list[str], i: int, label: str) -> str:
    if i + 1 >= len(argv):
        raise UsageError(f"{label}: missing value (argument {i + 1} is the last one)")
    value = argv[i + 1]
    if _OPTION_LIKE.match(value):
        shown = value if value.isprintable() else "VALUE"
        raise UsageError(f"{label}: missing value (the next argument, {value!r}, is an option; "
                         f"write {label}={shown} if that is really the value)")
    return value


def _apply_argv(ctx: Ctx, argv: list[str]) -> None:
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            target = lookup("range")
            assert target is not None
            for j in range(i + 1, len(argv)):
                _apply(ctx, target, None, argv[j], f"argument {j + 1}")
            return
        if arg.startswith("--"):
            i = _long(ctx, argv, i)
        elif arg.startswith("-") and len(arg) > 1:
            i = _short(ctx, argv, i)
        else:
            _bare(ctx, arg, i)
            i += 1


def _long(ctx: Ctx, argv: list[str], i: int) -> int:
    arg = argv[i]
    m = _LONG_RE.fullmatch(arg[2:])
    if m is None:
        raise UsageError(f"bad option {arg!r} (argument {i + 1}); options look like --name, "
                         "--name=value or --name[index]=value")
    name, bracket, value = m.group(1), m.group(2), m.group(3)
    index = bracket[1:-1] if bracket is not None else None
    label = f"--{name}{bracket or ''}"
    p = lookup(name)
    if p is None:
        opt = lookup_long(name)
        if opt is not None:
            _nmap(ctx, opt, f"--{name}", f"(argument {i + 1})")
            return i + 1
        raise UsageError(f"unknown option {label!r} (argument {i + 1}); {_HINT}")
    if value is None:
        if p.flags & F.BOOL:
            pass
        elif p.flags & F.NUMABLE:
            if i + 1 < len(argv) and (is_integer(argv[i + 1]) or is_bool_word(argv[i + 1])):
                i += 1
                value = argv[i]
        elif p.flags & F.MULTI:
            j = i + 1
            while j < len(argv) and not argv[j].startswith("-"):
                _apply(ctx, p, index, argv[j], label)
                j += 1
            if j == i + 1:
                raise UsageError(f"{label}: missing file name (argument {i + 1})")
            return j
        else:
            value = _next_value(argv, i, label)
            i += 1
    _apply(ctx, p, index, value, label)
    return i + 1


def _short(ctx: Ctx, argv: list[str], i: int) -> int:
    arg = argv[i]
    where = f"(argument {i + 1})"

    # -v, -vv, -ddd: repeated letters raise the level.
    if re.fullmatch(r"-v+", arg):
        ctx.cfg.verbosity += len(arg) - 1
        return i + 1
    if re.fullmatch(r"-d+", arg):
        ctx.cfg.debug_level += len(arg) - 1
        return i + 1

    # Exact spellings from the table: -p, -oX, -sU, -iL, -V, -h, -W ...
    p = short_lookup(arg)
    if p is not None:
        if p.flags & (F.BOOL | F.NUMABLE):
            _apply(ctx, p, None, None, arg)
            return i + 1
        _apply(ctx, p, None, _next_value(argv, i, arg), arg)
        return i + 2

    # Scan types, possibly combined: -sSU = -sS -sU.
    if len(arg) > 2 and arg[1] == "s" and arg[2:].isalpha():
        for letter in arg[2:]:
            spelled = f"-s{letter}"
            q = short_lookup(spelled)
            if q is not None:
                _apply(ctx, q, None, None, spelled)
                continue
            opt = lookup_short(spelled)
            if opt is not None:
                _nmap(ctx, opt, spelled, where)
                continue
            raise UsageError(f"nmap({spelled}): unsupported scan type {where}; the scan types "
                             "are -sS (TCP SYN), -sU (UDP), -sZ (SCTP), -sO (IP protocols), "
                             "-sL (list)")
        return i + 1

    # nmap options we refuse, ignore or warn about: -T4, -A, -sV (above), -Pn, -oA, -iR ...
    opt = lookup_short(arg)
    if opt is not None:
        _nmap(ctx, opt, arg, where)
        return i + 1

    # A value glued to its letter: -p80, -eeth0, -S10.0.0.1, -g61000, -cfile.
    if arg[:2] in _GLUED:
        if arg[1] == "i" and len(arg) == 3 and not arg[2].isdigit():
            raise UsageError(f"nmap({arg}): unsupported option {where}; "
                             "-iL FILE reads targets, -i IFACE picks the adapter")
        q = short_lookup(arg[:2])
        assert q is not None
        _apply(ctx, q, None, arg[2:], arg[:2])
        return i + 1

    raise UsageError(f"unknown option {arg!r} {where}; {_HINT}")


def _bare(ctx: Ctx, arg: str, i: int) -> None:
    if arg[:1].isdigit() or arg[:1] in (":", "["):
        target = lookup("range")
        assert target is not None
        _apply(ctx, target, None, arg, f"argument {i + 1} ({arg!r})")
        return
    hint = f"did you want '--{arg}'?" if _LONG_RE.fullmatch(arg) else _HINT
    if ":" in arg and all(c in string.hexdigits + ":/-.[]" for c in arg):
        hint = (f"a bare target must start with a digit, ':' or '[': write --range {arg}"
                + (f" or [{arg}]" if "/" not in arg and "-" not in arg else ""))
    raise UsageError(f"unknown command-line parameter {arg!r} (argument {i + 1}); {hint}")


# -- config files -------------------------------------------------------------------------------

def _apply_text(ctx: Ctx, text: str, path: str) -> None:
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line[0] in string.punctuation or "=" not in line:
            continue
        lead = len(raw) - len(raw.lstrip())
        eq = raw.index("=")
        name_part = raw[lead:eq].strip()
        after = raw[eq + 1:]
        value = after.strip()
        name_col = lead + 1
        value_col = eq + 2 + (len(after) - len(after.lstrip()))
        at = f"{path}:{lineno}"
        m = _NAME_RE.fullmatch(name_part)
        p = lookup(m.group(1)) if m else None
        if m is None or p is None:
            opt = lookup_long(m.group(1)) if m and not m.group(2) else None
            if opt is not None and m is not None:
                if opt.action == "refuse":
                    raise UsageError(f"{at}:{name_col}: {opt.message(m.group(1))}")
                _nmap(ctx, opt, m.group(1), "")
                continue
            raise UsageError(f"{at}:{name_col}: unknown config option: {name_part}={value}")
        bracket = m.group(2)
        index = bracket[1:-1].strip() if bracket is not None else None
        problem = _index_problem(p, index)
        if problem:
            raise UsageError(f"{at}:{name_col}: {name_part}: {problem}")
        try:
            p.apply(ctx, index, value)
        except ParseError as e:
            col = value_col + e.column - 1 if e.column else value_col
            raise UsageError(f"{at}:{col}: {name_part}: {e.message}") from None
