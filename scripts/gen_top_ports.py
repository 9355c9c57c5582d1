#!/usr/bin/env python3
"""Generate tidescan's top-ports tables from nmap's ``nmap-services``.

Why this exists: ``--top-ports N`` needs a popularity ranking.  nmap publishes one (the
open-frequency column of ``nmap-services``, measured by nmap's large scans); rather than read
that file at run time (it may be absent) we ship the ranking as two small text tables,
``src/tidescan/data/top_ports_tcp.txt`` and ``top_ports_udp.txt``, one port per line in rank
order, with a header saying where they came from.

Ranking rule: frequency descending, ties broken by ascending port number.  With nmap 7.93 this
reproduces exactly the port sets nmap itself scans for ``--top-ports 100`` and ``--top-ports
1000`` (TCP and UDP), checked against nmap's ``<scaninfo services=...>`` output.  Every entry of
the protocol is kept, including the zero-frequency tail, so N up to the table size works.

Usage:  python scripts/gen_top_ports.py [--services /usr/share/nmap/nmap-services] [--out DIR]
"""

from __future__ import annotations

import argparse
import datetime as _dt
import re
import shlex
import subprocess
import sys
from pathlib import Path

DEFAULT_SERVICES = "/usr/share/nmap/nmap-services"
DEFAULT_OUT = Path(__file__).resolve().parent.parent / "src" / "tidescan" / "data"


def read_services(path: str) -> tuple[dict[str, list[tuple[float, int, str]]], str]:
    """Return {proto: [(frequency, port, name), ...]} and the file's ``$Id`` line (or '')."""
    table: dict[str, list[tuple[float, int, str]]] = {}
    ident = ""
    seen: set[tuple[str, int]] = set()
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if line.startswith("#"):
                m = re.search(r"\$Id:[^$]*\$", line)
                if m:
                    ident = m.group(0)
                continue
            fields = line.split()
            if len(fields) < 3:
                continue
            port_s, _, proto = fields[1].partition("/")
            key = (proto, int(port_s))
            if key in seen:  # nmap-services lists each port/proto once; keep the first if not
                continue
            seen.add(key)
            table.setdefault(proto, []).append((float(fields[2]), int(port_s), fields[0]))
    return table, ident


def rank(entries: list[tuple[float, int, str]]) -> list[tuple[float, int, str]]:
    """Frequency descending, then port ascending."""
    return sorted(entries, key=lambda t: (-t[0], t[1]))


def nmap_version() -> str:
    try:
        out = subprocess.run(["nmap", "--version"], capture_output=True, text=True, timeout=20)
        m = re.search(r"Nmap version (\S+)", out.stdout)
        version = m.group(1) if m else "unknown"
    except (OSError, subprocess.SubprocessError):
        version = "unknown (nmap not runnable)"
    try:
        out = subprocess.run(
            ["dpkg-query", "-W", "-f=${Version}", "nmap-common"],
            capture_output=True, text=True, timeout=20,
        )
        if out.returncode == 0 and out.stdout:
            version += f" (Debian package nmap-common {out.stdout})"
    except (OSError, subprocess.SubprocessError):
        pass
    return version


def write_table(path: Path, proto: str, ranked: list[tuple[float, int, str]], header: list[str]) -> None:
    lines = [f"# tidescan top {proto.upper()} ports, most frequently open first ({len(ranked)} entries)"]
    lines += [f"# {h}" for h in header]
    lines.append("# columns: port  open-frequency   (rank = line order)")
    lines += [f"{port}\t{freq:.6f}" for freq, port, _name in ranked]
    path.write_text("\n".join(lines) + "\n", encoding="ascii")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--services", default=DEFAULT_SERVICES, help="path of nmap-services")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output directory")
    args = ap.parse_args(argv)

    table, ident = read_services(args.services)
    command = "python scripts/gen_top_ports.py" + (
        "" if args.services == DEFAULT_SERVICES else f" --services {shlex.quote(args.services)}"
    )
    header = [
        f"source: {args.services} ({ident or 'no $Id line'})",
        f"nmap version: {nmap_version()}",
        f"generated: {_dt.date.today().isoformat()} by: {command}",
        "ranking: open-frequency descending, ties by ascending port (matches nmap --top-ports 100/1000)",
    ]
    args.out.mkdir(parents=True, exist_ok=True)
    for proto in ("tcp", "udp"):
        ranked = rank(table.get(proto, []))
        if not ranked:
            print(f"no {proto} entries in {args.services}", file=sys.stderr)
            return 1
        write_table(args.out / f"top_ports_{proto}.txt", proto, ranked, header)
        print(f"{proto}: {len(ranked)} ports -> {args.out / f'top_ports_{proto}.txt'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
