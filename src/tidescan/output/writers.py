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

from tidescan.errors import UsageError
from tidescan.output.base import NullWriter, OutputMeta, Writer, close_all, install_signal_handlers
from tidescan.output.binary import BinaryWriter
from tidescan.output.fmt_certs import CertsWriter
from tidescan.output.fmt_grepable import GrepableWriter
from tidescan.output.fmt_hostonly import HostOnlyWriter
from tidescan.output.fmt_interactive import InteractiveWriter
from tidescan.output.fmt_json import JsonWriter
from tidescan.output.fmt_list import ListWriter
from tidescan.output.fmt_ndjson import NdjsonWriter
from tidescan.output.fmt_unicornscan import UnicornscanWriter
from tidescan.output.fmt_xml import XmlWriter

__all__ = ["open_output", "OutputMeta", "Writer", "FORMATS", "FORMAT_LETTERS", "close_all",
           "install_signal_handlers"]

FORMATS: dict[str, type[Writer]] = {
    "list": ListWriter,
    "json": JsonWriter,
    "ndjson": NdjsonWriter,
    "xml": XmlWriter,
    "grepable": GrepableWriter,
    "greppable": GrepableWriter,
    "unicornscan": UnicornscanWriter,
    "hostonly": HostOnlyWriter,
    "binary": BinaryWriter,
    "interactive": InteractiveWriter,
    "certs": CertsWriter,
    "none": NullWriter,
}

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
