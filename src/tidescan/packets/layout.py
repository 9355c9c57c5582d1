"""Header layouts: protocol constants and the column helpers every frame builder and parser uses.

Why this module exists: tidescan never builds a frame as a Python object.  A batch of frames is a
NumPy `uint8` array of shape `(n, stride)`, one frame per row, and a header *field* of a whole batch
is a column range of that array (the IPv4 source address of every frame is `buf[:, 26:30]` when
there is no VLAN tag).  Writing a field for the batch is therefore one strided NumPy assignment of
a big-endian view of those columns, and reading one is the same view plus a conversion to native
byte order.  Builders (`template.py`, `probes/`) and the parser (`triage.py`) share the helpers and
the constants here, so the offsets are written down once.

All multi-byte wire fields are big-endian ("network order").  The helpers require the last axis
of the array to be contiguous (true for any array created by NumPy and for row slices of one), which
is what lets a 2- or 4-byte column range be *viewed* as one `>u2`/`>u4` column without copying.
MAC addresses travel as 48-bit integers in arrays (`uint64`) and as 6-byte `bytes` in scalar code.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from tidescan.errors import ParseError

# --- Ethernet / 802.1Q ----------------------------------------------------------------------
ETH_ALEN = 6
ETH_HLEN = 14
VLAN_TAG_LEN = 4
ETHERTYPE_IPV4 = 0x0800
ETHERTYPE_ARP = 0x0806
ETHERTYPE_IPV6 = 0x86DD
ETHERTYPE_VLAN = 0x8100  # 802.1Q
ETHERTYPE_QINQ = 0x88A8  # 802.1ad outer tag; treated like 802.1Q (one tag is parsed)
BROADCAST_MAC = b"\xff" * 6

# --- IP -------------------------------------------------------------------------------------
IPV4_HLEN = 20
IPV6_HLEN = 40
IPPROTO_ICMP = 1
IPPROTO_TCP = 6
IPPROTO_UDP = 17
IPPROTO_ICMPV6 = 58
IPPROTO_SCTP = 132

# Offsets inside an IPv4 header.
IP4_TOTLEN, IP4_ID, IP4_FRAG, IP4_TTL, IP4_PROTO, IP4_CSUM = 2, 4, 6, 8, 9, 10
IP4_SRC, IP4_DST = 12, 16
# Offsets inside an IPv6 header.
IP6_PLEN, IP6_NXT, IP6_HLIM, IP6_SRC, IP6_DST = 4, 6, 7, 8, 24

# --- TCP / UDP / ICMP -------------------------------------------------------------------------
TCP_HLEN = 20
UDP_HLEN = 8
ICMP_HLEN = 8
TCP_SPORT, TCP_DPORT, TCP_SEQ, TCP_ACK = 0, 2, 4, 8
TCP_OFF, TCP_FLAGS, TCP_WIN, TCP_CSUM = 12, 13, 14, 16
UDP_SPORT, UDP_DPORT, UDP_LEN, UDP_CSUM = 0, 2, 4, 6
ICMP_TYPE, ICMP_CODE, ICMP_CSUM, ICMP_ID, ICMP_SEQ = 0, 1, 2, 4, 6

TCP_FIN, TCP_SYN, TCP_RST, TCP_PSH, TCP_ACK_FLAG, TCP_URG = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20

ICMP_ECHO_REPLY, ICMP_UNREACH, ICMP_ECHO_REQUEST, ICMP_TIME_EXCEEDED = 0, 3, 8, 11
ICMP_UNREACH_PORT = 3
ICMP6_UNREACH, ICMP6_PACKET_TOO_BIG, ICMP6_TIME_EXCEEDED, ICMP6_PARAM_PROBLEM = 1, 2, 3, 4
ICMP6_UNREACH_PORT = 4
ICMP6_ECHO_REQUEST, ICMP6_ECHO_REPLY = 128, 129
ND_NEIGHBOR_SOLICIT, ND_NEIGHBOR_ADVERT = 135, 136

# --- ARP --------------------------------------------------------------------------------------
ARP_LEN = 28
ARP_REQUEST, ARP_REPLY = 1, 2
ARP_OP, ARP_SHA, ARP_SPA, ARP_THA, ARP_TPA = 6, 8, 14, 18, 24


# ----------------------------------------------------------------------------------------------
# MAC addresses
# ----------------------------------------------------------------------------------------------

def mac_bytes(mac: bytes | str) -> bytes:
    """A MAC address as 6 bytes, from 6 bytes or text `aa:bb:cc:dd:ee:ff` (also `-` separated).

    Bad text raises `ParseError` (column 1-based within the text).
    """
    if isinstance(mac, (bytes, bytearray)):
        if len(mac) != ETH_ALEN:
            raise ParseError(f"MAC address must be 6 bytes, got {len(mac)}")
        return bytes(mac)
    parts = mac.replace("-", ":").split(":")
    if len(parts) != 6:
        raise ParseError(f"bad MAC address {mac!r}: expected six hex pairs like 02:00:00:00:00:01",
                         1)
    out = bytearray()
    col = 1
    for p in parts:
        if not (1 <= len(p) <= 2) or any(c not in "0123456789abcdefABCDEF" for c in p):
            raise ParseError(f"bad MAC address {mac!r}: {p!r} is not a hex byte", col)
        out.append(int(p, 16))
        col += len(p) + 1
    return bytes(out)


def mac_int(mac: bytes | str) -> int:
    """A MAC address as a 48-bit integer (the form triage returns in arrays)."""
    return int.from_bytes(mac_bytes(mac), "big")


def mac_text(mac: bytes | int) -> str:
    """`aa:bb:cc:dd:ee:ff` from 6 bytes or a 48-bit integer."""
    b = mac.to_bytes(6, "big") if isinstance(mac, int) else bytes(mac)
    return ":".join(f"{x:02x}" for x in b)


def eth_header(dst: bytes | str, src: bytes | str, ethertype: int,
               vlan: int | None = None) -> bytes:
    """Ethernet header bytes, with one 802.1Q tag (priority 0) when `vlan` is given."""
    head = mac_bytes(dst) + mac_bytes(src)
    if vlan is not None:
        head += ETHERTYPE_VLAN.to_bytes(2, "big") + (vlan & 0x0FFF).to_bytes(2, "big")
    return head + ethertype.to_bytes(2, "big")


# ----------------------------------------------------------------------------------------------
# Column helpers (vectorized over the rows of a (n, stride) uint8 array)
# ----------------------------------------------------------------------------------------------

def put_u8(out: NDArray[np.uint8], col: int, values: ArrayLike) -> None:
    """Write one byte column (values are truncated to 8 bits)."""
    out[:, col] = np.asarray(values) & 0xFF


def put_u16(out: NDArray[np.uint8], col: int, values: ArrayLike) -> None:
    """Write big-endian 16-bit values into columns `col, col+1` of every row."""
    out[:, col:col + 2].view(">u2")[:, 0] = np.asarray(values) & 0xFFFF


def put_u32(out: NDArray[np.uint8], col: int, values: ArrayLike) -> None:
    """Write big-endian 32-bit values into columns `col .. col+3` of every row."""
    out[:, col:col + 4].view(">u4")[:, 0] = values


def put_u64(out: NDArray[np.uint8], col: int, values: ArrayLike) -> None:
    """Write big-endian 64-bit values into columns `col .. col+7` of every row."""
    out[:, col:col + 8].view(">u8")[:, 0] = values


def get_u8(h: NDArray[np.uint8], col: int) -> NDArray[np.uint8]:
    """Column `col` of every row (a copy)."""
    return h[:, col].copy()


def get_u16(h: NDArray[np.uint8], col: int) -> NDArray[np.uint16]:
    """Big-endian 16-bit field at `col` of every row, in native byte order."""
    return h[:, col:col + 2].view(">u2")[:, 0].astype(np.uint16)


def get_u32(h: NDArray[np.uint8], col: int) -> NDArray[np.uint32]:
    """Big-endian 32-bit field at `col` of every row, in native byte order."""
    return h[:, col:col + 4].view(">u4")[:, 0].astype(np.uint32)


def get_u64(h: NDArray[np.uint8], col: int) -> NDArray[np.uint64]:
    """Big-endian 64-bit field at `col` of every row, in native byte order."""
    return h[:, col:col + 8].view(">u8")[:, 0].astype(np.uint64)


def get_mac(h: NDArray[np.uint8], col: int) -> NDArray[np.uint64]:
    """6-byte MAC at `col` of every row as 48-bit integers."""
    hi = get_u16(h, col).astype(np.uint64)
    lo = get_u32(h, col + 2).astype(np.uint64)
    return (hi << np.uint64(32)) | lo


def u32_array(x: ArrayLike) -> NDArray[np.uint32] | np.uint32:
    """Integers (array or scalar; uint64/int64 addresses or internal ports) as uint32."""
    a = np.asarray(x)
    if a.dtype == np.uint32:
        return a
    return a.astype(np.uint32)


def u64_array(x: ArrayLike) -> NDArray[np.uint64]:
    """Integers (array or scalar, Python ints up to 2**64-1) as uint64."""
    a = np.asarray(x)
    if a.dtype == np.uint64:
        return a
    return a.astype(np.uint64)


def batch_size(*arrays: ArrayLike) -> int:
    """Number of rows a batch call writes: the broadcast length of its per-target arguments
    (1 when every argument is a scalar)."""
    shape = np.broadcast_shapes(*(np.shape(a) for a in arrays))
    if len(shape) > 1:
        raise ValueError(f"per-target arguments must be scalars or 1-D arrays, got shape {shape}")
    return int(shape[0]) if shape else 1


def check_buffer(out: NDArray[np.uint8], n: int, frame_len: int) -> None:
    """Raise ValueError unless `out` is a (>=n, >=frame_len) uint8 array with contiguous rows."""
    if out.dtype != np.uint8 or out.ndim != 2:
        raise ValueError(f"frame buffer must be a 2-D uint8 array, got {out.dtype} {out.shape}")
    if out.shape[0] < n:
        raise ValueError(f"frame buffer has {out.shape[0]} rows, batch needs {n}")
    if out.shape[1] < frame_len:
        raise ValueError(f"frame buffer stride {out.shape[1]} < frame length {frame_len}")
    if out.strides[1] != 1:
        raise ValueError("frame buffer rows must be contiguous (last-axis stride 1)")
