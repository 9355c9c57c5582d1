"""The segments the banner stack sends (ACK, data, FIN, RST), built a batch at a time.

Why: after a scan finds thousands of open ports a second, the stack must ACK every SYN-ACK, and
later ACK data, send hellos, FINs and RSTs.  Like the SYN probes (`packets/template.py`) these
frames are mostly constant bytes: `SegmentTemplate` is a `SynTemplate` with no options, window
`window` (masscan's stack advertises 1200) and per-row flags.  A call renders every segment queued
during one stack step into one `(n, stride)` `uint8` array: the constant header bytes are copied
into all rows, the per-row columns (addresses, ports, seq, ack, flags, lengths) are written with
NumPy column stores, the payloads are scattered in with one fancy-indexed assignment, and both
checksums are computed for all rows at once with `sum16_rows` (the rows are zero past each frame's
end, so summing the whole TCP region of a row sums exactly its segment).  No Python runs per byte
and, for the SYN-ACK flood case (`on_synacks`), none per segment either.

Frames are not padded to 60 bytes (the NIC pads); stride is a multiple of 64.  The IPv4 ID is
masscan's `(ip_them ^ port_them ^ seq) & 0xFFFF`, DF is not set, TTL/hop limit = `ttl`.

`SegmentBatch` is the per-call accumulator the driver fills: entries name a connection *slot*
(its addresses are gathered from the connection table at build time, vectorized) or carry their
addresses explicitly (RSTs for tuples that have no connection).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from tidescan.packets import layout as L
from tidescan.packets.checksum import checksum_rows, fold, sum16_u32, sum16_u64
from tidescan.packets.template import SynTemplate

__all__ = ["SegmentTemplate", "SegmentBatch", "join_frames", "empty_frames",
           "FIN", "SYN", "RST", "PSH", "ACK"]

FIN, SYN, RST, PSH, ACK = L.TCP_FIN, L.TCP_SYN, L.TCP_RST, L.TCP_PSH, L.TCP_ACK_FLAG
_M32 = np.uint64(0xFFFFFFFF)
BUILD_CHUNK = 8192          # rows rendered per SegmentTemplate.build call (bounds temporaries)


def empty_frames() -> tuple[NDArray[np.uint8], NDArray[np.int32]]:
    return np.zeros((0, 64), np.uint8), np.zeros(0, np.int32)


def _stride(n: int) -> int:
    return max(64, (n + 63) // 64 * 64)


class SegmentTemplate(SynTemplate):
    """Ethernet (+VLAN) / IPv4-or-IPv6 / TCP segments with per-row flags and optional payload."""

    def __init__(self, src_mac: bytes | str, dst_mac: bytes | str, ttl: int = 255,
                 window: int = 1200, vlan: int | None = None) -> None:
        super().__init__(src_mac, dst_mac, ttl=ttl, window=window, mss=None, vlan=vlan)
        self.hdr_len = {4: self.frame_len_v4, 6: self.frame_len_v6}

    def _tcp_header(self) -> bytes:
        off_flags = (5 << 12) | ACK
        return bytes(12) + off_flags.to_bytes(2, "big") + self.window.to_bytes(2, "big") + bytes(4)

    def build(self, version: int, them_hi: ArrayLike, them_lo: ArrayLike, port_them: ArrayLike,
              me_hi: ArrayLike, me_lo: ArrayLike, port_me: ArrayLike, seq: ArrayLike,
              ack: ArrayLike, flags: ArrayLike,
              payloads: list[bytes] | None = None) -> tuple[NDArray[np.uint8], NDArray[np.int32]]:
        """Frames for n segments of one IP version: `(frames (n, stride) uint8, lengths int32)`.

        Addresses are `(hi, lo)` uint64 halves (IPv4: the address in the low 32 bits of `lo`;
        `hi` is ignored).  Arguments are 1-D arrays of one length n, or scalars.  `payloads`
        (None: no data) is a list of n byte strings.
        """
        n = L.batch_size(them_hi, them_lo, port_them, me_hi, me_lo, port_me, seq, ack, flags)
        if payloads is not None and len(payloads) != n:
            raise ValueError(f"{len(payloads)} payloads for {n} segments")
        # via uint64: lists of Python ints up to 2**64-1 convert exactly (never through float)
        b = lambda a, dt: np.broadcast_to(np.asarray(a, np.uint64).astype(dt), (n,))  # noqa: E731
        th, tl, mh, ml = (b(a, np.uint64) for a in (them_hi, them_lo, me_hi, me_lo))
        pt, pm = b(port_them, np.uint32) & 0xFFFF, b(port_me, np.uint32) & 0xFFFF
        sq, ak, fl = b(seq, np.uint32), b(ack, np.uint32), b(flags, np.uint8)
        plen = (np.fromiter((len(p) for p in payloads), np.int32, n) if payloads
                else np.zeros(n, np.int32))
        hl = self.hdr_len[version]
        out = np.zeros((n, _stride(hl + (int(plen.max()) if n else 0))), np.uint8)
        if n == 0:
            return out, plen
        out[:, :hl] = self._tmpl4 if version == 4 else self._tmpl6
        ip = self.l3
        tcp_len = (L.TCP_HLEN + plen).astype(np.uint32)
        if version == 4:
            tcp = ip + L.IPV4_HLEN
            them, me = (tl & _M32).astype(np.uint32), (ml & _M32).astype(np.uint32)
            L.put_u16(out, ip + L.IP4_TOTLEN, L.IPV4_HLEN + tcp_len)
            L.put_u16(out, ip + L.IP4_ID, (them ^ pt ^ sq) & 0xFFFF)
            L.put_u32(out, ip + L.IP4_SRC, me)
            L.put_u32(out, ip + L.IP4_DST, them)
            L.put_u16(out, ip + L.IP4_CSUM, checksum_rows(out[:, ip:tcp]))
            pseudo = sum16_u32(them) + sum16_u32(me)
        else:
            tcp = ip + L.IPV6_HLEN
            L.put_u16(out, ip + L.IP6_PLEN, tcp_len)
            L.put_u64(out, ip + L.IP6_SRC, mh)
            L.put_u64(out, ip + L.IP6_SRC + 8, ml)
            L.put_u64(out, ip + L.IP6_DST, th)
            L.put_u64(out, ip + L.IP6_DST + 8, tl)
            pseudo = sum16_u64(th) + sum16_u64(tl) + sum16_u64(mh) + sum16_u64(ml)
        L.put_u16(out, tcp + L.TCP_SPORT, pm)
        L.put_u16(out, tcp + L.TCP_DPORT, pt)
        L.put_u32(out, tcp + L.TCP_SEQ, sq)
        L.put_u32(out, tcp + L.TCP_ACK, ak)
        out[:, tcp + L.TCP_FLAGS] = fl
        total = int(plen.sum())
        if total:
            flat = np.frombuffer(b"".join(payloads or ()), np.uint8)
            rows = np.repeat(np.arange(n), plen)
            starts = np.repeat(np.cumsum(plen) - plen, plen)
            out[rows, hl + np.arange(total) - starts] = flat
        pseudo = pseudo + L.IPPROTO_TCP + tcp_len
        L.put_u16(out, tcp + L.TCP_CSUM, checksum_rows(out[:, tcp:], fold(pseudo)))
        return out, (hl + plen).astype(np.int32)

    def frame(self, version: int, them: int, port_them: int, me: int, port_me: int, seq: int,
              ack: int, flags: int, payload: bytes = b"") -> bytes:
        """One segment as bytes (addresses as integers: 32-bit for IPv4, 128-bit for IPv6)."""
        m = (1 << 64) - 1
        f, ln = self.build(version, them >> 64, them & m, port_them, me >> 64, me & m, port_me,
                           seq, ack, flags, [payload])
        return f[0, :ln[0]].tobytes()


def join_frames(parts: list[tuple[NDArray[np.uint8], NDArray[np.int32]]]
                ) -> tuple[NDArray[np.uint8], NDArray[np.int32]]:
    """Stack several `(frames, lengths)` batches into one (rows padded to the widest stride)."""
    parts = [p for p in parts if len(p[1])]
    if not parts:
        return empty_frames()
    if len(parts) == 1:
        return parts[0]
    stride = max(f.shape[1] for f, _ in parts)
    out = np.zeros((sum(len(ln) for _, ln in parts), stride), np.uint8)
    row = 0
    for f, ln in parts:
        out[row:row + len(ln), :f.shape[1]] = f
        row += len(ln)
    return out, np.concatenate([ln for _, ln in parts]).astype(np.int32)


class SegmentBatch:
    """Segments queued during one stack call; `build()` renders them all at the end.

    `add(slot, seq, ack, flags, payload)` queues a segment of connection `slot` (addresses and
    ports are read from the table when building, so the table must not reuse a slot before
    then: the driver defers slot release to the end of each call).  `add_raw(...)` queues a
    segment for a tuple without a connection.
    """

    __slots__ = ("slot", "seq", "ack", "flags", "payload", "raw")

    def __init__(self) -> None:
        self.slot: list[int] = []
        self.seq: list[int] = []
        self.ack: list[int] = []
        self.flags: list[int] = []
        self.payload: list[bytes] = []
        # raw: (v6, them_hi, them_lo, port_them, me_hi, me_lo, port_me, seq, ack, flags)
        self.raw: list[tuple[bool, int, int, int, int, int, int, int, int, int]] = []

    def __len__(self) -> int:
        return len(self.slot) + len(self.raw)

    def add(self, slot: int, seq: int, ack: int, flags: int, payload: bytes = b"") -> None:
        self.slot.append(slot)
        self.seq.append(seq & 0xFFFFFFFF)
        self.ack.append(ack & 0xFFFFFFFF)
        self.flags.append(flags)
        self.payload.append(payload)

    def add_raw(self, v6: bool, them_hi: int, them_lo: int, port_them: int, me_hi: int,
                me_lo: int, port_me: int, seq: int, ack: int, flags: int) -> None:
        self.raw.append((v6, them_hi, them_lo, port_them, me_hi, me_lo, port_me,
                         seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, flags))

    def build(self, tmpl: SegmentTemplate, table: object, tmpl6: SegmentTemplate | None = None
              ) -> tuple[NDArray[np.uint8], NDArray[np.int32]]:
        """Render every queued segment (IPv4 rows, then IPv6 rows, then raw ones), in queue
        order within each group.  `tmpl6` (default `tmpl`) builds the IPv6 rows (the IPv6
        router may have another MAC)."""
        tmpls = {4: tmpl, 6: tmpl6 or tmpl}
        parts = []
        if self.slot:
            t = table
            slots = np.asarray(self.slot, np.intp)
            v6 = (t.flags[slots] & 1).astype(bool)  # type: ignore[attr-defined]
            seq = np.asarray(self.seq, np.uint32)
            ack = np.asarray(self.ack, np.uint32)
            flags = np.asarray(self.flags, np.uint8)
            has_data = any(self.payload)
            for version, sel_all in ((4, np.flatnonzero(~v6)), (6, np.flatnonzero(v6))):
                # in chunks: a shutdown RSTs every connection at once, and one build over 100k
                # rows would hold ~50 temporaries of that length at the same time
                for c in range(0, sel_all.size, BUILD_CHUNK):
                    sel = sel_all[c:c + BUILD_CHUNK]
                    s = slots[sel]
                    pl = [self.payload[i] for i in sel.tolist()] if has_data else None
                    parts.append(tmpls[version].build(version, t.them_hi[s], t.them_lo[s],  # type: ignore[attr-defined]
                                            t.port_them[s], t.me_hi[s], t.me_lo[s],  # type: ignore[attr-defined]
                                            t.port_me[s], seq[sel], ack[sel], flags[sel], pl))  # type: ignore[attr-defined]
        if self.raw:
            for version in (4, 6):
                rows = [r for r in self.raw if r[0] == (version == 6)]
                if rows:
                    cols = list(zip(*rows))
                    arr = [np.array(c, np.uint64) for c in cols[1:]]
                    parts.append(tmpls[version].build(version, *arr))
        return join_frames(parts)
