"""The writer machinery shared by every output format: buffering, whole-record writes, trailers.

masscan's output files break in two ways users keep reporting (#314, #493, #717, #726): a scan
with no results leaves an empty "JSON" file, and a scan that is killed leaves JSON/XML without
their closing `]` / `</nmaprun>`.  This module is built so that neither can happen.

**Whole records.**  A writer formats each record completely in memory and appends it to a
buffer; the buffer reaches the file only through one `os.write`/`os.pwrite` of whole records.
A file therefore never holds half a record, whatever kills the process.

**Documents that are valid at every instant (JSON, XML, on a regular file).**  Such a writer
writes its header *and* its trailer when it opens the file, then remembers where the trailer
starts.  Each flush writes `records + trailer` with one `pwrite` at that offset, overwriting the
old trailer, and moves the offset past the records.  Between two system calls the file on disk is
always a complete document (`[\\n]\\n` with no results), so even `SIGKILL` or a crash leaves
valid JSON/XML holding everything flushed so far.  `--output-append` uses the same trick: it
finds the trailer of the existing document (or the end of an unterminated masscan file), and
continues there, so appending keeps one valid document instead of concatenating two.
On stdout or a pipe nothing can be rewritten: there the trailer is written by `close()`.

**Streams (list, NDJSON, grepable, binary...)** write their header with the first record (or at
close, if there were none, so empty scans still give a well-formed file), append records, and
write their trailer at close.  In append mode the file is opened `O_APPEND` and a new header is
written, as masscan does (the formats treat header lines as comments / skippable records).

**Batches.**  `write_batch` takes a receive batch of status results as columns
(`batch.StatusBatch`) and queues the text of all of them as one piece, formatted by the format's
`_status_batch` (the same bytes `_status` gives record by record; formats without one, and ARP
rows, go through `write`).  Whole records still: a batch is queued whole or not at all.

**When data reaches the file.**  `OutputMeta.flush=True` flushes after every record (or batch).  Otherwise a
writer flushes when 64 KiB are buffered or when a record arrives 0.5 s after the last flush
(masscan's stdio buffering hid results from `tail -f` for minutes, #533); callers should also
call `flush()` from their periodic status tick, and must call `close()`.

**Interruption.**  Every live writer is closed by an `atexit` hook (so Ctrl-C, i.e.
`KeyboardInterrupt`, and `sys.exit` write trailers and buffered records).  `SIGTERM`/`SIGHUP`
kill Python without `atexit` unless handled: `install_signal_handlers()` turns them into
`SystemExit`.  A flush or close blocks those signals (`pthread_sigmask`) and defers our handlers
while it runs, so an interruption never lands between writing bytes and recording that they
were written.
"""

from __future__ import annotations

import atexit
import os
import signal
import stat
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tidescan.errors import UsageError
from tidescan.output.record import Record

if TYPE_CHECKING:
    from tidescan.output.batch import StatusBatch

__all__ = ["OutputMeta", "Writer", "close_all", "install_signal_handlers", "FLUSH_BYTES", "FLUSH_SECONDS"]

FLUSH_BYTES = 64 * 1024
FLUSH_SECONDS = 0.5


@dataclass(frozen=True)
class OutputMeta:
    """What a writer needs to know about the scan besides the records.

    - `start_time`: scan start (Unix seconds), shown by grepable's and binary's headers; None means
      "the first record's timestamp" (what masscan does for `--readscan`).
    - `version`: printed in grepable's header (`# Masscan <version> scan initiated ...`).
    - `scan_type`: XML `<scaninfo type=...>` (`syn`, `udp`, ...).
    - `ports`: the scanned ports for grepable's header: an object with `starts`/`ends` (internal
      encoding, e.g. `PortList`) or an iterable of inclusive `(start, end)` pairs; None = none.
    - `stylesheet`: XML stylesheet URL, None for none.
    - `show`: which statuses are written (`open`, `closed`); `up` (ARP) and banners always are.
    - `flush`: flush after every record (and every `write_batch`).
    - `app_table`: banner-id numbering for `-oB` (`"1.3.2"` or `"head"`).
    - `gmt`: XML's `timestr` in UTC instead of local time.
    """

    start_time: int | None = None
    version: str = "1.3.2"
    scan_type: str = "syn"
    ports: Any = None
    stylesheet: str | None = None
    show: frozenset[str] = field(default_factory=lambda: frozenset({"open"}))
    flush: bool = False
    app_table: str = "1.3.2"
    gmt: bool = False

    def port_ranges(self) -> list[tuple[int, int]]:
        """`ports` as a sorted list of inclusive (start, end) pairs in internal encoding."""
        p = self.ports
        if p is None:
            return []
        if hasattr(p, "starts") and hasattr(p, "ends"):
            pairs: Iterable[Any] = zip(p.starts, p.ends)
        else:
            pairs = p
        return sorted((int(a), int(b)) for a, b in pairs)


# ----------------------------------------------------------------------------------------------
# Signals and exit
# ----------------------------------------------------------------------------------------------

_LIVE: set[Writer] = set()
_LIVE_LOCK = threading.Lock()
_BLOCKED = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}
_state = threading.local()
_pending: list[int] = []


def _exception_for(signum: int) -> BaseException:
    if signum == signal.SIGINT:
        return KeyboardInterrupt()
    return SystemExit(128 + signum)


class _Critical:
    """Block the terminating signals while bytes go to disk and the writer's offsets move."""

    __slots__ = ("_old",)

    def __enter__(self) -> None:
        depth = getattr(_state, "depth", 0)
        _state.depth = depth + 1
        self._old = signal.pthread_sigmask(signal.SIG_BLOCK, _BLOCKED)

    def __exit__(self, *exc: object) -> None:
        signal.pthread_sigmask(signal.SIG_SETMASK, self._old)
        _state.depth -= 1
        if _state.depth == 0 and _pending and threading.current_thread() is threading.main_thread():
            raise _exception_for(_pending.pop())


def _deferring_handler(signum: int, frame: object) -> None:
    if getattr(_state, "depth", 0):
        _pending.append(signum)
        return
    raise _exception_for(signum)


def install_signal_handlers(signals: Iterable[int] = (signal.SIGTERM, signal.SIGHUP)) -> None:
    """Make `signals` raise SystemExit (SIGINT: KeyboardInterrupt) so `atexit` closes writers.

    Call from the main thread of a CLI.  A signal that arrives while a writer flushes is
    delivered right after the flush.
    """
    for s in signals:
        signal.signal(s, _deferring_handler)


def close_all() -> None:
    """Close every writer still open (registered with `atexit`)."""
    with _LIVE_LOCK:
        writers = list(_LIVE)
    for w in writers:
        try:
            w.close()
        except Exception:  # noqa: BLE001 - best effort at exit; keep closing the others
            pass


atexit.register(close_all)


# ----------------------------------------------------------------------------------------------
# Low-level writes
# ----------------------------------------------------------------------------------------------

def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def _pwrite_all(fd: int, data: bytes, offset: int) -> None:
    view = memoryview(data)
    while view:
        n = os.pwrite(fd, view, offset)
        view = view[n:]
        offset += n


def _open_fd(path: str, append: bool, keeps_trailer: bool) -> tuple[int, bool]:
    """Open `path` for writing; returns (fd, owns_fd).  `-` is stdout."""
    if path == "-":
        return 1, False
    if keeps_trailer:
        flags = os.O_RDWR | os.O_CREAT | (0 if append else os.O_TRUNC)
    else:
        flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if append else os.O_TRUNC)
    try:
        return os.open(path, flags | getattr(os, "O_CLOEXEC", 0), 0o644), True
    except OSError as e:
        raise UsageError(f"{path}: cannot open for {'appending' if append else 'writing'}: "
                         f"{e.strerror}") from None


# ----------------------------------------------------------------------------------------------
# The writer
# ----------------------------------------------------------------------------------------------

class Writer:
    """Base of all formats.  Subclasses implement `_status`, `_banner`, and optionally
    `_header`, `_trailer` (str or bytes), `_status_batch` / `_queued_batch` (the columnar path
    of `write_batch`) and, for trailer-keeping formats, `_resume`."""

    name = "none"
    keeps_trailer = False      # JSON/XML: keep a valid document on disk at all times
    is_binary = False          # formatters return bytes instead of str
    always_flush = False       # interactive: every record goes out at once

    def __init__(self, path: str, meta: OutputMeta, *, append: bool = False) -> None:
        self.path = path
        self.meta = meta
        self.append = append
        self.count = 0
        self._show_open = "open" in meta.show
        self._show_closed = "closed" in meta.show
        self._flush_each = meta.flush or self.always_flush
        self._buf: list[Any] = []
        self._size = 0
        self._last_flush = time.monotonic()
        self._lock = threading.RLock()
        self._closed = False
        self._header_done = False
        self.start_time: int | None = meta.start_time
        self.opened_at = int(time.time())
        self._fd, self._owns_fd = _open_fd(path, append, self.keeps_trailer)
        self._tpos = -1          # trailer offset in trailer-keeping mode, -1 = stream mode
        self._end = 0
        try:
            if self.keeps_trailer and self._owns_fd and stat.S_ISREG(os.fstat(self._fd).st_mode):
                self._init_trailer_mode()
        except BaseException:
            self._release_fd()
            raise
        with _LIVE_LOCK:
            _LIVE.add(self)

    # -- hooks ----------------------------------------------------------------------------------
    def _header(self) -> str | bytes:
        return b"" if self.is_binary else ""

    def _trailer(self) -> str | bytes:
        return b"" if self.is_binary else ""

    def _status(self, rec: Record) -> str | bytes | None:
        raise NotImplementedError

    def _banner(self, rec: Record) -> str | bytes | None:
        raise NotImplementedError

    def _queued(self, rec: Record) -> None:
        """Called once `rec`'s text is queued (counters that the trailer reports live here)."""

    def _status_batch(self, batch: StatusBatch) -> str | bytes | None:
        """The text of every row of `batch` (already filtered by `--show`, no ARP MACs), exactly
        what `_status` gives for its records one after the other; None = no columnar path here
        (`write_batch` then writes the records one by one)."""
        return None

    def _queued_batch(self, batch: StatusBatch) -> None:
        """`_queued` for a whole batch."""

    def _resume(self, tail: bytes, tail_start: int) -> int:
        """Append mode, trailer-keeping formats: given the last bytes `tail` of the existing file
        (which start at offset `tail_start`), restore state (record separators, counts) and
        return the absolute offset where new records go (the old trailer is overwritten)."""
        raise UsageError(f"{self.path}: cannot append to this format")

    # -- public API -----------------------------------------------------------------------------
    def write(self, rec: Record) -> None:
        """Format `rec` and queue it; it reaches the file whole at the next flush.

        One thread writes to a writer (the receive loop); `close()` may come from another
        (the `atexit` hook), which is why flushing and closing take the writer's lock."""
        if self._closed:
            raise ValueError(f"write to closed {self.name} writer")
        if rec.kind == "status":
            st = rec.status
            if st == "open":
                if not self._show_open:
                    return
            elif st == "closed" and not self._show_closed:
                return
            text = self._status(rec)
        else:
            text = self._banner(rec)
        if text is None:
            return
        if not self._header_done:
            self._begin(rec.timestamp)
        self._enqueue(text, 1, self._queued, rec)

    def write_batch(self, batch: StatusBatch) -> None:
        """Write a batch of status results: the same bytes as `write` on each of
        `batch.records()`, formatted from the columns in one go where the format can."""
        if self._closed:
            raise ValueError(f"write to closed {self.name} writer")
        batch = batch.shown(self._show_open, self._show_closed)
        if len(batch) == 0:
            return
        text = None if batch.has_mac else self._status_batch(batch)
        if text is None:
            for rec in batch.records():
                self.write(rec)
            return
        if not self._header_done:
            self._begin(int(batch.timestamp[0]))
        self._enqueue(text, len(batch), self._queued_batch, batch)

    def _enqueue(self, text: str | bytes, count: int, queued: Callable[[Any], None], what: Any) -> None:
        """Queue the text of `count` records and count them as one step: our signal handlers
        defer while depth > 0 (no syscall: Python runs handlers between bytecodes), so a trailer
        written from a signal never counts a record that is not in the file.  Then flush if due."""
        _state.depth = getattr(_state, "depth", 0) + 1
        try:
            self._buf.append(text)
            self._size += len(text)
            self.count += count
            queued(what)
        finally:
            _state.depth -= 1
        if _state.depth == 0 and _pending and threading.current_thread() is threading.main_thread():
            raise _exception_for(_pending.pop())
        if self._flush_each or self._size >= FLUSH_BYTES or \
                time.monotonic() - self._last_flush >= FLUSH_SECONDS:
            with self._lock:
                if not self._closed:
                    self._flush_locked()

    def flush(self) -> None:
        """Push buffered records to the file (and rewrite the trailer, in trailer mode)."""
        with self._lock:
            if not self._closed and (self._buf or self._tpos >= 0):
                self._flush_locked()

    def close(self) -> None:
        """Write what is buffered and the trailer, close the file.  Idempotent."""
        with self._lock:
            if self._closed:
                return
            try:
                with _Critical():
                    self._closed = True
                    if not self._header_done:
                        self._begin(None)
                    if self._tpos < 0:
                        self._buf.append(self._trailer())
                    self._flush_locked()
            finally:
                self._release_fd()
                with _LIVE_LOCK:
                    _LIVE.discard(self)

    def __enter__(self) -> Writer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals ------------------------------------------------------------------------------
    def _release_fd(self) -> None:
        if self._owns_fd and self._fd >= 0:
            os.close(self._fd)
        self._fd = -1

    def _encode(self, parts: list[Any]) -> bytes:
        if self.is_binary:
            return b"".join(parts)
        return "".join(parts).encode("utf-8", "replace")

    def _begin(self, first_ts: int | None) -> None:
        """Queue the header (stream mode), fixing the start time if the meta left it open."""
        if self.start_time is None:
            self.start_time = first_ts if first_ts is not None else int(time.time())
        self._header_done = True
        header = self._header()
        if header:
            self._buf.insert(0, header)
            self._size += len(header)

    def _init_trailer_mode(self) -> None:
        size = os.fstat(self._fd).st_size
        self._header_done = True
        if self.append and size > 0:
            tail_start = max(0, size - 65536)
            tail = os.pread(self._fd, size - tail_start, tail_start)
            if tail_start > 0 or tail.strip():
                self._tpos = self._resume(tail, tail_start)
                self._end = size
                return
            os.ftruncate(self._fd, 0)  # whitespace only: start a fresh document
        if self.start_time is None:
            self.start_time = self.opened_at
        self._tpos = 0
        self._end = 0
        with _Critical():
            self._write_at_trailer(self._encode([self._header()]))

    def _write_at_trailer(self, records: bytes) -> None:
        """Trailer mode: write `records + trailer` over the old trailer, in one pwrite."""
        data = records + self._encode([self._trailer()])
        _pwrite_all(self._fd, data, self._tpos)
        new_end = self._tpos + len(data)
        if new_end < self._end:
            os.ftruncate(self._fd, new_end)
        self._end = new_end
        self._tpos += len(records)

    def _flush_locked(self) -> None:
        with _Critical():
            parts = self._buf
            self._buf = []
            self._size = 0
            data = self._encode(parts) if parts else b""
            try:
                if self._tpos >= 0:
                    self._write_at_trailer(data)
                elif data:
                    _write_all(self._fd, data)
            except BaseException:
                self._buf[:0] = parts  # nothing was recorded as written: keep it for a retry
                raise
        self._last_flush = time.monotonic()


class NullWriter(Writer):
    """`--output-format none`: accepts records, writes nothing."""

    name = "none"

    def __init__(self, path: str, meta: OutputMeta, *, append: bool = False) -> None:  # noqa: D107
        self.path, self.meta, self.append, self.count = path, meta, append, 0
        self._closed = False

    def write(self, rec: Record) -> None:
        self.count += 1

    def write_batch(self, batch: StatusBatch) -> None:
        self.count += len(batch)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self._closed = True
