"""TCP SYN probe frames, written a batch at a time into a preallocated buffer.

Theory of operation (ZMap's `prepare_packet`/`make_packet`, masscan's `templ-pkt.c`): almost every
byte of a SYN probe is the same for every target: the MAC addresses, the optional VLAN tag, the
IP version/length/TTL/protocol, the TCP flags, window and options.  A `SynTemplate` renders those
constant bytes once (`prepare_v4`/`prepare_v6` copy them into every row of a frame buffer, a NumPy
`uint8` array of shape `(n, stride)`), and also precomputes the one's-complement sum of the
constant words.  Per batch, `build_v4`/`build_v6` write only the per-target columns (addresses,
ports, sequence number, IPv4 ID) and finish the checksums by adding the per-target words, split
into 16-bit halves, to the precomputed sums: a dozen NumPy column operations per cache-sized
chunk of 8192 rows, and no Python loop per frame.  `build_*` checks (cheaply, on the first and
last row) that the buffer still holds this template and re-prepares it if not, so a fresh buffer
also works.

What the bytes are (masscan reference §6):

- IPv4: DF not set, TTL 255 unless told otherwise, IP ID = `(ip_them ^ port_them ^ seq) & 0xFFFF`
  (masscan's rule, with `port_them` in either the raw or the internal encoding: the upper bits
  vanish under the mask).  IPv6: traffic class and flow label 0, hop limit = `ttl`.
- TCP: seq = the cookie's low 32 bits (computed by the caller with `tidescan.siphash`), ack 0,
  flags SYN, window 1024 (masscan 1.3.2; HEAD's 1025 is a typo).
- Options.  Default: MSS 1460, as in masscan HEAD (`--tcp-mss`, on by default); ZMap too sends
  options by default because that gives the "highest hit-rate" (reference peers.md §1.1), and an
  option-less SYN is an easy scanner fingerprint.  `mss=None` with the other options off gives
  masscan 1.3.2's exact 54-byte frame (what Debian's masscan sends).  The layout follows Linux's
  order, padded with NOPs to 32-bit boundaries: MSS (`02 04 mss`), SACK-permitted and timestamps
  (`04 02 08 0a TSval 0`, or `01 01 04 02` / `01 01 08 0a TSval 0` alone; TSval = `tsecho`,
  TSecr = 0 as RFC 7323 wants in a SYN), window scale (`01 03 03 wscale`).
- Frames are not padded to 60 bytes: the NIC (or veth) does that; masscan sends 54/58 bytes too.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from tidescan.errors import UsageError
from tidescan.packets import fixed_source
from tidescan.packets import layout as L
from tidescan.packets.checksum import finish, fold, sum16_rows, sum16_u32, sum16_u64

__all__ = ["SynTemplate", "tcp_syn_options", "CHUNK"]

# Rows written per pass: 8192 rows of a 64-byte stride (512 KiB) stay in cache while the dozen
# per-target columns are written; a 64k-row batch done in one pass streams 4 MiB a dozen times
# and runs about half as fast on this project's machine.
CHUNK = 8192
FIXED_CHUNK = fixed_source.CHUNK


def _check_range(option: str, value: int, lo: int, hi: int) -> int:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or not lo <= value <= hi:
        raise UsageError(f"{option}: {value!r} is not an integer in {lo}..{hi}")
    return int(value)


def tcp_syn_options(mss: int | None = 1460, wscale: int | None = None, sackok: bool = False,
                    tsecho: int | None = None) -> bytes:
    """The TCP option bytes of our SYN (length a multiple of 4, at most 40)."""
    opts = b""
    if mss is not None:
        opts += b"\x02\x04" + _check_range("--tcp-mss", mss, 0, 0xFFFF).to_bytes(2, "big")
    if tsecho is not None:
        ts = b"\x08\x0a" + _check_range("--tcp-tsecho", tsecho, 0, 0xFFFFFFFF).to_bytes(4, "big")
        ts += b"\0\0\0\0"
        opts += (b"\x04\x02" if sackok else b"\x01\x01") + ts
    elif sackok:
        opts += b"\x01\x01\x04\x02"
    if wscale is not None:
        opts += b"\x01\x03\x03" + bytes([_check_range("--tcp-wscale", wscale, 0, 14)])
    assert len(opts) % 4 == 0 and len(opts) <= 40
    return opts


class SynTemplate:
    """Ethernet (+VLAN) / IPv4-or-IPv6 / TCP SYN frames for batches of targets.

    `src_mac`/`dst_mac`: 6 bytes or `aa:bb:..` text (dst is the router's MAC).  `ttl` is also the
    IPv6 hop limit.  `vlan`: 802.1Q VLAN id or None.  See the module docstring for the options.
    """

    def __init__(self, src_mac: bytes | str, dst_mac: bytes | str, ttl: int = 255,
                 window: int = 1024, mss: int | None = 1460, wscale: int | None = None,
                 sackok: bool = False, tsecho: int | None = None, vlan: int | None = None) -> None:
        self.src_mac = L.mac_bytes(src_mac)
        self.dst_mac = L.mac_bytes(dst_mac)
        self.ttl = _check_range("--ttl", ttl, 0, 255)
        self.window = _check_range("--tcp-window", window, 0, 0xFFFF)
        self.vlan = None if vlan is None else _check_range("--vlan", vlan, 0, 4095)
        self.options = tcp_syn_options(mss, wscale, sackok, tsecho)
        self.l3 = L.ETH_HLEN + (L.VLAN_TAG_LEN if self.vlan is not None else 0)
        self.tcp_len = L.TCP_HLEN + len(self.options)
        self.frame_len_v4 = self.l3 + L.IPV4_HLEN + self.tcp_len
        self.frame_len_v6 = self.l3 + L.IPV6_HLEN + self.tcp_len
        self._tmpl4, self._ipconst4, self._tcpconst4 = self._render(4)
        self._tmpl6, _, self._tcpconst6 = self._render(6)
        # Byte positions that never change (checked on the first/last row before each build).
        self._const4 = np.flatnonzero(self._const_mask(4))
        self._const6 = np.flatnonzero(self._const_mask(6))
        self._fixed_key: tuple[int, int] | None = None
        self._fixed = fixed_source.Consts(0, 0, 0)

    # -- constant bytes ------------------------------------------------------------------------

    def _tcp_header(self) -> bytes:
        off_flags = ((self.tcp_len // 4) << 12) | L.TCP_SYN
        return (bytes(4)                       # ports (per target)
                + bytes(4)                     # seq (per target)
                + bytes(4)                     # ack = 0
                + off_flags.to_bytes(2, "big") + self.window.to_bytes(2, "big")
                + bytes(2)                     # checksum (per target)
                + bytes(2)                     # urgent pointer
                + self.options)

    def _render(self, version: int) -> tuple[NDArray[np.uint8], int, int]:
        """Template bytes with per-target fields zeroed, and the constant partial sums
        (IP header, TCP header + the constant part of the pseudo-header)."""
        tcp = self._tcp_header()
        if version == 4:
            eth = L.eth_header(self.dst_mac, self.src_mac, L.ETHERTYPE_IPV4, self.vlan)
            ip = (bytes([0x45, 0]) + (L.IPV4_HLEN + self.tcp_len).to_bytes(2, "big")
                  + bytes(2)                   # IP ID (per target)
                  + bytes(2)                   # flags/fragment: DF not set
                  + bytes([self.ttl, L.IPPROTO_TCP])
                  + bytes(2) + bytes(8))       # checksum, addresses (per target)
        else:
            eth = L.eth_header(self.dst_mac, self.src_mac, L.ETHERTYPE_IPV6, self.vlan)
            ip = (bytes([0x60, 0, 0, 0]) + self.tcp_len.to_bytes(2, "big")
                  + bytes([L.IPPROTO_TCP, self.ttl]) + bytes(32))
        frame = np.frombuffer(eth + ip + tcp, dtype=np.uint8).copy()
        ip_const = int(fold(sum16_rows(np.frombuffer(ip, np.uint8)[None, :]))[0])
        tcp_const = int(sum16_rows(np.frombuffer(tcp, np.uint8)[None, :])[0])
        tcp_const += L.IPPROTO_TCP + self.tcp_len  # pseudo-header: protocol and TCP length
        return frame, ip_const, int(fold(tcp_const))

    def _const_mask(self, version: int) -> NDArray[np.bool_]:
        tmpl = self._tmpl4 if version == 4 else self._tmpl6
        m = np.ones(len(tmpl), dtype=bool)
        ip = self.l3
        if version == 4:
            tcp = ip + L.IPV4_HLEN
            m[ip + L.IP4_ID: ip + L.IP4_ID + 2] = False
            m[ip + L.IP4_CSUM: ip + L.IPV4_HLEN] = False  # checksum + both addresses
        else:
            tcp = ip + L.IPV6_HLEN
            m[ip + L.IP6_SRC: tcp] = False
        m[tcp: tcp + 8] = False                            # ports + seq
        m[tcp + L.TCP_CSUM: tcp + L.TCP_CSUM + 2] = False
        return m

    def template_bytes(self, version: int = 4) -> bytes:
        """The constant frame (per-target fields zero) for IP `version` 4 or 6."""
        return (self._tmpl4 if version == 4 else self._tmpl6).tobytes()

    def prepare_v4(self, out: NDArray[np.uint8]) -> None:
        """Write the constant IPv4 frame bytes into every row of `out` (once per buffer)."""
        L.check_buffer(out, 0, self.frame_len_v4)
        out[:, :self.frame_len_v4] = self._tmpl4

    def prepare_v6(self, out: NDArray[np.uint8]) -> None:
        """Write the constant IPv6 frame bytes into every row of `out` (once per buffer)."""
        L.check_buffer(out, 0, self.frame_len_v6)
        out[:, :self.frame_len_v6] = self._tmpl6

    def _ensure(self, out: NDArray[np.uint8], n: int, version: int) -> None:
        tmpl, pos = (self._tmpl4, self._const4) if version == 4 else (self._tmpl6, self._const6)
        L.check_buffer(out, n, len(tmpl))
        if n == 0:
            return
        want = tmpl[pos]
        if not (np.array_equal(out[0, pos], want) and np.array_equal(out[n - 1, pos], want)):
            out[:, :len(tmpl)] = tmpl

    # -- per-batch fields ----------------------------------------------------------------------

    def build_v4(self, out: NDArray[np.uint8], ip_them: ArrayLike, port_them: ArrayLike,
                 ip_me: ArrayLike, port_me: ArrayLike, seq: ArrayLike) -> int:
        """Write IPv4 SYN frames for a batch into rows `0..n-1` of `out`; return n.

        Arguments are 1-D arrays of one length n or scalars (broadcast).  Addresses are IPv4
        integers; `port_them` may use the internal encoding (only its low 16 bits are sent);
        `seq` is the cookie's low 32 bits.  Every frame is `frame_len_v4` bytes long.
        """
        n = L.batch_size(ip_them, port_them, ip_me, port_me, seq)
        self._ensure(out, n, 4)
        if np.ndim(ip_me) == 0 and np.ndim(port_me) == 0 and out.shape[1] % 8 == 0:
            # One source address and port (the usual scan): fewer, wider writes.
            them, pt, sq = (a if isinstance(a, np.ndarray) and a.shape == (n,)
                            else np.broadcast_to(np.asarray(a), (n,))
                            for a in (ip_them, port_them, seq))
            src = (int(ip_me) & 0xFFFFFFFF, int(port_me) & 0xFFFF)
            for lo in range(0, n, FIXED_CHUNK):
                hi = min(n, lo + FIXED_CHUNK)
                self._fields_v4_fixed(out[lo:hi], them[lo:hi], pt[lo:hi], sq[lo:hi], *src)
            return n
        args = [np.broadcast_to(L.u32_array(a), (n,)) for a in (ip_them, port_them, ip_me,
                                                               port_me, seq)]
        for lo in range(0, n, CHUNK):  # a few cache-sized chunks, not a loop per frame
            self._fields_v4(out[lo:lo + CHUNK], *(a[lo:lo + CHUNK] for a in args))
        return n

    def _fields_v4(self, o: NDArray[np.uint8], them: NDArray[np.uint32],
                   port_them: NDArray[np.uint32], me: NDArray[np.uint32], port_me: NDArray[np.uint32],
                   sq: NDArray[np.uint32]) -> None:
        pt = port_them & 0xFFFF
        pm = port_me & 0xFFFF
        o = o[:len(them)]
        ipid = (them ^ pt ^ sq) & 0xFFFF
        ip, tcp = self.l3, self.l3 + L.IPV4_HLEN
        addr = sum16_u32(them) + sum16_u32(me)
        L.put_u16(o, ip + L.IP4_ID, ipid)
        L.put_u16(o, ip + L.IP4_CSUM, finish(addr + ipid + self._ipconst4))
        L.put_u32(o, ip + L.IP4_SRC, me)
        L.put_u32(o, ip + L.IP4_DST, them)
        L.put_u16(o, tcp + L.TCP_SPORT, pm)
        L.put_u16(o, tcp + L.TCP_DPORT, pt)
        L.put_u32(o, tcp + L.TCP_SEQ, sq)
        L.put_u16(o, tcp + L.TCP_CSUM, finish(addr + pm + pt + sum16_u32(sq) + self._tcpconst4))

    def _fields_v4_fixed(self, o: NDArray[np.uint8], them: NDArray, port_them: NDArray,
                         sq: NDArray, ip_me: int, port_me: int) -> None:
        """`_fields_v4` for a constant source, in four row writes (see `fixed_source.py`)."""
        fixed_source.write_v4(o, self.l3, them, port_them, sq, ip_me, port_me,
                              self._fixed_consts(ip_me, port_me))

    def _fixed_consts(self, ip_me: int, port_me: int) -> fixed_source.Consts:
        key = (ip_me, port_me)
        if self._fixed_key != key:
            tmpl = self._tmpl4
            ip = self.l3
            mid = int.from_bytes(tmpl[ip + L.IP4_FRAG: ip + L.IP4_CSUM].tobytes(), "big")
            src_sum = (ip_me >> 16) + (ip_me & 0xFFFF)
            self._fixed = fixed_source.Consts(
                ip_sum=self._ipconst4 + src_sum,
                tcp_sum=self._tcpconst4 + src_sum + port_me,
                mid=mid)
            self._fixed_key = key
        return self._fixed

    def build_v6(self, out: NDArray[np.uint8], them_hi: ArrayLike, them_lo: ArrayLike,
                 port_them: ArrayLike, me_hi: ArrayLike, me_lo: ArrayLike, port_me: ArrayLike,
                 seq: ArrayLike) -> int:
        """Write IPv6 SYN frames for a batch into rows `0..n-1` of `out`; return n.

        IPv6 addresses come as two uint64 halves (`hi` = first 8 bytes on the wire).
        """
        n = L.batch_size(them_hi, them_lo, port_them, me_hi, me_lo, port_me, seq)
        self._ensure(out, n, 6)
        halves = [np.broadcast_to(L.u64_array(a), (n,)) for a in (them_hi, them_lo, me_hi, me_lo)]
        small = [np.broadcast_to(L.u32_array(a), (n,)) for a in (port_them, port_me, seq)]
        for lo in range(0, n, CHUNK):
            self._fields_v6(out[lo:lo + CHUNK], *(a[lo:lo + CHUNK] for a in halves + small))
        return n

    def _fields_v6(self, o: NDArray[np.uint8], th: NDArray[np.uint64], tl: NDArray[np.uint64],
                   mh: NDArray[np.uint64], ml: NDArray[np.uint64], port_them: NDArray[np.uint32],
                   port_me: NDArray[np.uint32], sq: NDArray[np.uint32]) -> None:
        pt = port_them & 0xFFFF
        pm = port_me & 0xFFFF
        o = o[:len(th)]
        ip, tcp = self.l3, self.l3 + L.IPV6_HLEN
        L.put_u64(o, ip + L.IP6_SRC, mh)
        L.put_u64(o, ip + L.IP6_SRC + 8, ml)
        L.put_u64(o, ip + L.IP6_DST, th)
        L.put_u64(o, ip + L.IP6_DST + 8, tl)
        L.put_u16(o, tcp + L.TCP_SPORT, pm)
        L.put_u16(o, tcp + L.TCP_DPORT, pt)
        L.put_u32(o, tcp + L.TCP_SEQ, sq)
        addr = sum16_u64(th) + sum16_u64(tl) + sum16_u64(mh) + sum16_u64(ml)
        L.put_u16(o, tcp + L.TCP_CSUM, finish(addr + pm + pt + sum16_u32(sq) + self._tcpconst6))

    # -- single frames (tests, the TCP stack's retransmits) ------------------------------------

    def frame_v4(self, ip_them: int, port_them: int, ip_me: int, port_me: int, seq: int) -> bytes:
        """One IPv4 SYN frame as bytes."""
        buf = np.zeros((1, self.frame_len_v4), dtype=np.uint8)
        self.build_v4(buf, ip_them, port_them, ip_me, port_me, seq)
        return buf[0].tobytes()

    def frame_v6(self, them: int, port_them: int, me: int, port_me: int, seq: int) -> bytes:
        """One IPv6 SYN frame as bytes (addresses as 128-bit integers)."""
        buf = np.zeros((1, self.frame_len_v6), dtype=np.uint8)
        m64 = (1 << 64) - 1
        self.build_v6(buf, them >> 64, them & m64, port_them, me >> 64, me & m64, port_me, seq)
        return buf[0].tobytes()
