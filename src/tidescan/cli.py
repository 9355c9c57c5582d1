"""`tidescan` command line: parse with the one parameter table, then do exactly one job.

Why a dispatcher and nothing more: every option is parsed by `tidescan.config_parse` (the same
table that reads config files and writes paused.conf); this module only decides *which* job the
options ask for (help, echo, list scan, readscan, the lab demo, an offline or live scan), runs it,
and turns every `TidescanError` into one line on stderr and exit status 1 — never a traceback.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence

# NumPy's OpenBLAS starts a worker thread at import that spins for ~60 - 100 ms of CPU: on a small
# machine it competes with the start-up and the senders for the cores.  tidescan does no linear
# algebra; a user's explicit setting wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from tidescan import __version__  # noqa: E402
from tidescan.errors import TidescanError, UsageError  # noqa: E402


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        return _dispatch(args)
    except TidescanError as exc:
        sys.stderr.write(f"tidescan: {exc}\n")
        return 1
    except KeyboardInterrupt:
        sys.stderr.write("tidescan: interrupted\n")
        return 130
    except BrokenPipeError:
        # `tidescan -sL ... | head`: the reader left; that is not an error.
        try:
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silence the interpreter's flush
        except OSError:
            pass
        return 0


def _dispatch(args: list[str]) -> int:
    from tidescan.config_parse import parse_args

    if not args:
        from tidescan.help import usage_text
        sys.stderr.write(usage_text())
        return 1
    cfg = parse_args(args)
    for warning in cfg.warnings:
        sys.stderr.write(f"tidescan: warning: {warning}\n")

    if cfg.help:
        from tidescan.help import help_text
        sys.stdout.write(help_text())
        return 0
    if cfg.nmap_help:
        from tidescan.help import nmap_text
        sys.stdout.write(nmap_text())
        return 0
    if cfg.version:
        sys.stdout.write(f"tidescan version {__version__} (masscan-compatible 1.3.2 command line)\n")
        from tidescan.accel import COOKIE_PATH
        sys.stdout.write(f"cookie kernel: {COOKIE_PATH}\n")
        return 0
    if cfg.iflist:
        from tidescan.wire.netinfo import format_iflist, list_interfaces
        sys.stdout.write(format_iflist(list_interfaces()) + "\n")
        return 0
    if cfg.echo_mode == "cidr":
        from tidescan.config_targets import cidr_text
        sys.stdout.write(cidr_text(cfg))
        return 0
    if cfg.echo_mode:
        from tidescan.config_echo import echo_text
        sys.stdout.write(echo_text(cfg, all=cfg.echo_mode == "all"))
        return 0
    if cfg.selftest:
        from tidescan.selftest import run_selftest
        return run_selftest()
    if cfg.readscan:
        return _readscan(cfg)
    if cfg.lab:
        from tidescan.lab_demo import run_lab_demo
        return run_lab_demo(cfg, args)
    if cfg.list_scan:
        return _list_scan(cfg)
    return run_scan(cfg)


def _readscan(cfg: object) -> int:
    from tidescan.output.base import OutputMeta
    from tidescan.output.readscan import readscan
    from tidescan.output.writers import open_output

    outputs = cfg.outputs or [("interactive", "-")]  # type: ignore[attr-defined]
    meta = OutputMeta(start_time=None, show=frozenset(cfg.show | {"up"}))  # type: ignore[attr-defined]
    writers = [open_output(fmt, path, append=cfg.output_append, meta=meta)  # type: ignore[attr-defined]
               for fmt, path in outputs]
    try:
        kwargs = _readscan_filters(cfg)
        readscan(cfg.readscan, writers, **kwargs)  # type: ignore[attr-defined]
    finally:
        for w in writers:
            w.close()
    return 0


def _readscan_filters(cfg: object) -> dict[str, object]:
    """--range / -p / --banner-types as filters on the records read back."""
    kwargs: dict[str, object] = {}
    from tidescan.config_targets import _addresses, _ports

    if cfg.ranges or cfg.include_files:  # type: ignore[attr-defined]
        kwargs["ranges"] = _addresses(cfg.ranges, cfg.include_files, "--range", "--includefile")  # type: ignore[attr-defined]
    if cfg.ports:  # type: ignore[attr-defined]
        kwargs["ports"] = _ports(cfg)
    if cfg.banner_types:  # type: ignore[attr-defined]
        kwargs["banner_types"] = list(cfg.banner_types)  # type: ignore[attr-defined]
    return kwargs


def _list_scan(cfg: object) -> int:
    """-sL: print the targets in the order a scan would visit them, sending nothing."""
    import numpy as np

    from tidescan import order
    from tidescan.blackrock import BlackRock
    from tidescan.ipfmt import format_ipv4, format_ipv6
    from tidescan.scan import choose_seed

    targets = cfg.targets()  # type: ignore[attr-defined]
    seed = choose_seed(cfg)  # type: ignore[arg-type]
    if targets.range_ == 0:
        return 0
    br = BlackRock(targets.range_, seed, cfg.blackrock_rounds)  # type: ignore[attr-defined]
    one_port = targets.nports == 1
    idx_all = order.list_scan_indexes(targets.range_, cfg.shard, cfg.resume_index,  # type: ignore[attr-defined]
                                      cfg.resume_count)  # type: ignore[attr-defined]
    out = sys.stdout
    chunk = 65536
    for start in range(0, len(idx_all), chunk):
        idx = np.asarray(idx_all[start:start + chunk], dtype=np.uint64)
        picked = targets.pick_list(br.shuffle_array(idx))
        lines = []
        for i in range(len(idx)):
            if picked.is_v6[i]:
                ip = format_ipv6((int(picked.ip6_hi[i]) << 64) | int(picked.ip6_lo[i]))
                lines.append(ip if one_port else f"[{ip}]:{int(picked.port[i])}")
            else:
                ip = format_ipv4(int(picked.ip4[i]))
                lines.append(ip if one_port else f"{ip}:{int(picked.port[i])}")
        out.write("\n".join(lines) + "\n")
    out.flush()
    return 0


def _startup_lines(cfg: object, targets: object, plan: object) -> None:
    now = time.gmtime()
    sys.stderr.write(f"Starting tidescan {__version__} at {time.strftime('%Y-%m-%d %H:%M:%S', now)} GMT\n")
    ports = targets.ports  # type: ignore[attr-defined]
    kind = "SYN Stealth Scan"
    if not ports.has_tcp:
        kind = ("UDP Scan" if ports.has_udp else "ICMP Echo Scan" if ports.has_icmp
                else "ARP Scan" if ports.has_arp else "Scan")
    sys.stderr.write(f"Initiating {kind}\n")
    hosts = targets.n4 + targets.n6  # type: ignore[attr-defined]
    nports = targets.nports  # type: ignore[attr-defined]
    sys.stderr.write(f"Scanning {hosts} hosts [{nports} port{'s' if nports != 1 else ''}/host]\n")
    sys.stderr.flush()


def run_scan(cfg: object, *, quiet_startup: bool = False) -> int:
    """An offline or live scan: identity, plan, outputs, the two loops, paused.conf on Ctrl-C.

    Start-up order (issue 4: exec to first probe): the identity (netlink, our ARP) comes first;
    then the receive ring is set up in the background (mostly kernel waiting) while the scan
    loops are imported and the plan is built.
    """
    from tidescan.identity import resolve_identity

    targets = cfg.targets()  # type: ignore[attr-defined]
    if targets.n4 + targets.n6 == 0:
        raise UsageError("no targets: give an address or range (e.g. 10.0.0.0/24), or --includefile")
    if targets.nports == 0:
        raise UsageError("no ports: give -p (e.g. -p80,443), --top-ports, --ping or --arp")
    ident = resolve_identity(cfg, need_ipv6=targets.n6 > 0)  # type: ignore[arg-type]
    if cfg.offline:  # type: ignore[attr-defined]
        return _scan(cfg, targets, ident, None, quiet_startup)
    from tidescan.receive_ring import open_ring

    ring = open_ring(cfg, ident, background=True)  # type: ignore[arg-type]
    try:
        return _scan(cfg, targets, ident, ring, quiet_startup)
    finally:
        ring.close()  # only if the scan never took it over


def _scan(cfg: object, targets: object, ident: object, ring: object, quiet_startup: bool) -> int:
    from tidescan.config_echo import resume_text
    from tidescan.output.writers import open_output
    from tidescan.scan import make_plan, output_meta, run
    from tidescan.status import Status

    plan = make_plan(cfg, targets, ident)  # type: ignore[arg-type]
    if cfg.banners and not cfg.offline:  # type: ignore[attr-defined]
        from tidescan.stack.kernel_rst import check_kernel_rst
        warning = check_kernel_rst(ident)
        if warning:
            sys.stderr.write(f"tidescan: warning: {warning}\n")
    cfg.seed = plan.seed  # type: ignore[attr-defined]  # a random seed must reach paused.conf
    if not quiet_startup:
        _startup_lines(cfg, targets, plan)

    from tidescan.output.base import install_signal_handlers

    install_signal_handlers()  # SIGTERM/SIGHUP: finish the record being written, then the trailer
    meta = output_meta(plan)
    outputs = cfg.outputs or ([] if cfg.offline else [("interactive", "-")])  # type: ignore[attr-defined]
    writers = []
    try:
        for fmt, path in outputs:
            writers.append(open_output(fmt, path, append=cfg.output_append, meta=meta))  # type: ignore[attr-defined]
        status = Status.choose(cfg.ndjson_status, cfg.status)  # type: ignore[attr-defined]
        result = run(plan, writers, status, ring)
    finally:
        for w in writers:
            w.close()

    if cfg.offline:  # type: ignore[attr-defined]
        rate = result.sent / result.elapsed if result.elapsed > 0 else 0.0
        sys.stderr.write(f"offline: {result.sent} probes built in {result.elapsed:.2f} s "
                         f"({rate / 1e6:.2f} M probes/s, {plan.senders} sender{'s' if plan.senders > 1 else ''})\n")
    if result.counters.drops:
        sys.stderr.write(f"tidescan: warning: the kernel dropped {result.counters.drops} received frames\n")
    if result.resume_index is not None:
        path = "paused.conf"
        tmp = path + ".tmp"
        with open(tmp, "w") as fh:
            fh.write(resume_text(cfg, result.resume_index))  # type: ignore[arg-type]
        os.replace(tmp, path)
        sys.stderr.write(f"saving resume file to: {path}\n")
    if result.error:
        sys.stderr.write(f"tidescan: {result.error}\n")
        return 1
    return 0
