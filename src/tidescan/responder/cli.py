"""`tidescanned --iface IFACE [...]`: the command line of the responder.

Why this exists: it turns options into a `ResponderConfig`, opens the interface, and runs the I/O
loop around the sans-IO core until SIGINT/SIGTERM.  Options are masscanned's (reference
masscanned.md §1) plus `--pcap`, `--no-tls`, `--no-greetings` and `--tls-name`:

    -i/--iface IFACE            interface to answer on (required)
    -m/--mac-addr MAC           MAC used in answers (default: the interface's, else c0:ff:ee:c0:ff:ee)
    --self-ip-file FILE         addresses to answer for, one per line (empty/absent = every address)
    --self-ip-list A,B,...      same, inline (merged with the file)
    --remote-ip-deny-file FILE  sources to ignore
    --remote-ip-deny-list A,B   same, inline
    -v / -vv / -vvv             packet log: sent / + ignored / + every frame received
    -q/--quiet                  no packet log on stdout
    --format console|logfmt     packet log format
    --pcap FILE                 capture every frame received and sent

User errors (bad MAC, unreadable or bad address file with file:line:column, missing or down
interface, no privilege) print one line `tidescanned: <message>` and exit with status 1.
"""

from __future__ import annotations

import argparse
import signal
import sys
from typing import NoReturn

from tidescan import __version__
from tidescan.errors import ParseError, TidescanError, UsageError

from .config import (DEFAULT_MAC, AddressSet, ResponderConfig, format_mac, parse_address_file,
                     parse_address_list, parse_mac)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"tidescanned: {message} (see tidescanned --help)\n")
        raise SystemExit(1)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="tidescanned", description="Network responder: answers ARP, ping, ND, TCP SYN "
                "on every port and application protocols (HTTP, SSH, STUN, DNS, SMB, RPC, Gh0st, "
                "TLS, FTP/SMTP/POP3/IMAP/Telnet greetings) from user mode.")
    p.add_argument("-i", "--iface", required=True, help="interface to receive and answer on")
    p.add_argument("-m", "--mac-addr", help="MAC address used in answers")
    p.add_argument("--self-ip-file", help="file of addresses to answer for (one per line)")
    p.add_argument("--self-ip-list", help="comma-separated addresses to answer for")
    p.add_argument("--remote-ip-deny-file", help="file of source addresses to ignore")
    p.add_argument("--remote-ip-deny-list", help="comma-separated source addresses to ignore")
    p.add_argument("-v", dest="verbose", action="count", default=0,
                   help="-v: log frames sent; -vv: also frames ignored; -vvv: also every frame received")
    p.add_argument("-q", "--quiet", action="store_true", help="no packet log on stdout")
    p.add_argument("--format", choices=("console", "logfmt"), default="console", help="packet log format")
    p.add_argument("--pcap", metavar="FILE", help="write every frame received and sent to a pcap file")
    p.add_argument("--no-tls", action="store_true", help="do not answer TLS ClientHellos")
    p.add_argument("--no-greetings", action="store_true",
                   help="do not greet on FTP/SMTP/POP3/IMAP/Telnet ports")
    p.add_argument("--tls-name", default="localhost", help="common name of the generated certificate")
    p.add_argument("-V", "--version", action="version", version=f"tidescanned {__version__}")
    return p


def config_from_args(args: argparse.Namespace, iface_mac: bytes | None) -> ResponderConfig:
    """Options -> config (no I/O except reading the address files)."""
    if args.mac_addr is not None:
        try:
            mac = parse_mac(args.mac_addr)
        except ParseError as e:
            raise UsageError(f"-m/--mac-addr: {e.message}") from None
    else:
        mac = iface_mac or DEFAULT_MAC
    selfs, deny = AddressSet(), AddressSet()
    if args.self_ip_file:
        selfs = selfs.union(parse_address_file(args.self_ip_file, "--self-ip-file"))
    if args.self_ip_list:
        selfs = selfs.union(parse_address_list(args.self_ip_list, "--self-ip-list"))
    if args.remote_ip_deny_file:
        deny = deny.union(parse_address_file(args.remote_ip_deny_file, "--remote-ip-deny-file"))
    if args.remote_ip_deny_list:
        deny = deny.union(parse_address_list(args.remote_ip_deny_list, "--remote-ip-deny-list"))
    return ResponderConfig(mac=mac, self_ips=selfs, deny_ips=deny, greetings=not args.no_greetings,
                           tls=not args.no_tls)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _run(args)
    except TidescanError as e:
        sys.stderr.write(f"tidescanned: {e}\n")
        return 1
    except KeyboardInterrupt:
        return 0


def _run(args: argparse.Namespace) -> int:
    import dataclasses

    from . import io
    from .core import Responder
    from .packet_log import PacketLog
    from .pcap_capture import PcapWriter
    from .tls_cert import generate_identity

    io.check_interface(args.iface)
    cfg = config_from_args(args, io.interface_mac(args.iface))
    if cfg.tls:
        cfg = dataclasses.replace(cfg, tls_identity=generate_identity(args.tls_name))
    log = PacketLog(level=args.verbose, fmt=args.format, out=None if args.quiet else sys.stdout)
    stop = {"flag": False}

    def _stop(_sig: int, _frame: object) -> None:
        stop["flag"] = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    wire = io.open_wire(args.iface)
    pcap = PcapWriter(args.pcap) if args.pcap else None
    responder = Responder(cfg, log=log)
    err = sys.stderr
    err.write(f"tidescanned: interface {args.iface}, mac {format_mac(cfg.mac)}, "
              + ("answering for every address" if cfg.handle_all
                 else f"answering for {len(cfg.self_ips)} address(es)")
              + (f", ignoring {len(cfg.deny_ips)} source(s)" if len(cfg.deny_ips) else "")
              + (f", tls certificate sha256 {cfg.tls_identity.sha256}" if cfg.tls_identity else "") + "\n")
    err.flush()
    log.init()
    log.flush()
    dropped = 0
    try:
        io.serve(responder, wire, args.iface, lambda: stop["flag"], pcap=pcap, on_batch=log.flush)
    finally:
        try:
            dropped = wire.stats()[1]
        except OSError:
            pass
        wire.close()
        if pcap is not None:
            pcap.close()
        log.flush()
    err.write(f"tidescanned: {responder.frames_in} frames received ({dropped} dropped by the kernel "
              f"before reading), {responder.frames_out} answers ({responder.send_failures} not sent)\n")
    if responder.internal_errors:
        err.write(f"tidescanned: {responder.internal_errors} internal error(s), last: {responder.last_error}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
