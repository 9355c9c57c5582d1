"""Choose and open an output writer by format name: the one entry point the scanner uses.

    with open_output("json", "out.json", meta=OutputMeta(start_time=t0)) as w:
        w.write(record)

Formats (`--output-format` names, with masscan's `-oX`-style letters in `FORMAT_LETTERS`):
list, json, ndjson, xml, grepable (also `greppable`), unicornscan, hostonly, binary,
interactive, certs, none.  How records reach the disk, why JSON/XML stay valid through a kill,
and how `--output-append` works are explained in `base.py`; each format's layout in its
`fmt_*.py` file (and `binary.py`).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping

from tidescan.errors import UsageError
from tidescan.output.base import NullWriter, OutputMeta, Writer, close_all, install_signal_handlers

__all__ = ["open_output", "OutputMeta", "Writer", "FORMATS", "FORMAT_LETTERS", "close_all",
           "install_signal_handlers"]

# Format name -> (module, class).  A format's module is imported when it is chosen: a scan that
# writes -oB never pays for the XML or JSON writers (start-up budget, issue 4).
_FORMAT_CLASSES: dict[str, tuple[str, str]] = {
    "list": ("tidescan.output.fmt_list", "ListWriter"),
    "json": ("tidescan.output.fmt_json", "JsonWriter"),
    "ndjson": ("tidescan.output.fmt_ndjson", "NdjsonWriter"),
    "xml": ("tidescan.output.fmt_xml", "XmlWriter"),
    "grepable": ("tidescan.output.fmt_grepable", "GrepableWriter"),
    "greppable": ("tidescan.output.fmt_grepable", "GrepableWriter"),
    "unicornscan": ("tidescan.output.fmt_unicornscan", "UnicornscanWriter"),
    "hostonly": ("tidescan.output.fmt_hostonly", "HostOnlyWriter"),
    "binary": ("tidescan.output.binary", "BinaryWriter"),
    "interactive": ("tidescan.output.fmt_interactive", "InteractiveWriter"),
    "certs": ("tidescan.output.fmt_certs", "CertsWriter"),
}


class _Formats(Mapping[str, "type[Writer]"]):
    """Format name -> writer class, importing each format's module on first use."""

    def __getitem__(self, name: str) -> type[Writer]:
        if name == "none":
            return NullWriter
        module, cls = _FORMAT_CLASSES[name]
        writer: type[Writer] = getattr(importlib.import_module(module), cls)
        return writer

    def __iter__(self) -> Iterator[str]:
        yield from _FORMAT_CLASSES
        yield "none"

    def __len__(self) -> int:
        return len(_FORMAT_CLASSES) + 1


FORMATS: Mapping[str, type[Writer]] = _Formats()

# `-oX FILE` and friends.
FORMAT_LETTERS: dict[str, str] = {
    "X": "xml", "J": "json", "D": "ndjson", "G": "grepable", "L": "list", "B": "binary",
    "U": "unicornscan", "H": "hostonly",
}


def open_output(fmt: str, path: str, *, append: bool = False, meta: OutputMeta | None = None) -> Writer:
    """Open a writer for format `fmt` on `path` (`-` = stdout).

    Raises `UsageError` for an unknown format or a file that cannot be opened (or, with
    `append`, a JSON/XML file that is not a document we can continue).
    """
    cls = FORMATS.get(fmt.lower())
    if cls is None:
        raise UsageError(f"--output-format: unknown format {fmt!r} "
                         f"(choose from {', '.join(sorted(set(FORMATS)))})")
    return cls(path, meta or OutputMeta(), append=append)
