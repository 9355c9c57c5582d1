"""--help and --nmap are generated from the table: every option appears, every refusal too."""

from __future__ import annotations

from tidescan.config_table import F, rows
from tidescan.help import help_text, nmap_help_text, usage_text, version_text
from tidescan.nmap_refusals import NMAP_OPTIONS


def test_help_lists_every_row_with_its_spellings() -> None:
    text = help_text()
    for p in rows():
        if len(p.name) == 2 and p.name[0] == "o":  # -oX FILE rows
            assert f"{p.shorts[0]} FILE" in text
            continue
        assert f"--{p.name}" in text, p.name
        for s in p.shorts:
            assert s in text, s
        for a in p.aliases:
            if not (len(a) == 2 and a[0] == "o"):
                assert f"--{a}" in text, a
    assert max(len(line) for line in text.splitlines()) <= 79


def test_help_shows_defaults() -> None:
    text = help_text()
    for fragment in ("(default 100)", "(default 10)", "(default 1/1)", "(default 14)",
                     "default N = 100", "(default .)"):
        assert fragment in text, fragment


def test_nmap_help_lists_compatible_and_refused_options() -> None:
    text = nmap_help_text()
    for s in ("-iL", "--exclude", "-Pn", "-sS", "-sU", "-p", "--max-rate", "-S", "-e", "-g",
              "--ttl", "-oX", "-oJ", "--open", "--packet-trace", "--resume", "-V"):
        assert f"  {s}" in text, s
    for o in NMAP_OPTIONS:
        if o.action == "refuse":
            assert o.why.split(";")[0][:30] in text.replace("\n      ", " "), o.spelling
    assert "use --rate instead" in text.replace("\n      ", " ")


def test_usage_and_version() -> None:
    assert "usage: tidescan" in usage_text() and "--help" in usage_text()
    assert version_text().startswith("tidescan version ")


def test_operations_are_marked() -> None:
    ops = {p.name for p in rows() if p.flags & F.OP}
    assert {"echo", "echo-all", "help", "version", "conf", "resume", "nmap"} <= ops
