"""Linux constants and struct layouts for AF_PACKET, classic BPF and sendmmsg, in one place.

Why this module exists: the standard library exposes AF_PACKET sockets but not the packet-socket
options (rings, statistics, qdisc bypass), `sendmmsg`, or the layouts of the structures the kernel
writes into a TPACKET_V3 ring.  Everything that must match `<linux/if_packet.h>`,
`<linux/filter.h>` and `<sys/socket.h>` on x86-64/aarch64 (LP64) lives here, so the wire modules read
as logic, not as numbers.  Offsets below were checked against the kernel headers; the lab tests would
fail on any mistake (frames would come back mangled or not at all).
"""

from __future__ import annotations

import ctypes
import socket
import struct

# --- socket levels and options -------------------------------------------------------------
SOL_SOCKET = socket.SOL_SOCKET
SOL_PACKET = 263
SO_ATTACH_FILTER = 26
SO_DETACH_FILTER = 27
SO_LOCK_FILTER = 44
SO_SNDBUFFORCE = 32
SO_RCVBUFFORCE = 33

PACKET_ADD_MEMBERSHIP = 1
PACKET_DROP_MEMBERSHIP = 2
PACKET_RX_RING = 5
PACKET_STATISTICS = 6
PACKET_VERSION = 10
PACKET_TX_RING = 13
PACKET_QDISC_BYPASS = 20
PACKET_IGNORE_OUTGOING = 23

PACKET_MR_PROMISC = 1

TPACKET_V3 = 2
TP_STATUS_KERNEL = 0
TP_STATUS_USER = 1

# sll_pkttype values (where a frame was going)
PACKET_HOST = 0
PACKET_BROADCAST = 1
PACKET_MULTICAST = 2
PACKET_OTHERHOST = 3
PACKET_OUTGOING = 4

# --- ethertypes (host order; htons() before giving them to socket()/bind()) ----------------
ETH_P_ALL = 0x0003
ETH_P_IP = 0x0800
ETH_P_ARP = 0x0806
ETH_P_IPV6 = 0x86DD

# --- TPACKET_V3 layouts ----------------------------------------------------------------------
# struct tpacket_req3 { u32 block_size, block_nr, frame_size, frame_nr, retire_blk_tov,
#                       sizeof_priv, feature_req_word; }
TPACKET_REQ3 = struct.Struct("=7I")

# struct tpacket_block_desc { u32 version; u32 offset_to_priv; struct tpacket_hdr_v1 {
#   u32 block_status; u32 num_pkts; u32 offset_to_first_pkt; u32 blk_len; u64 seq_num; ...} }
BD_BLOCK_STATUS = 8
BD_NUM_PKTS = 12
BD_OFFSET_TO_FIRST_PKT = 16
BD_BLK_LEN = 20

# struct tpacket3_hdr { u32 tp_next_offset, tp_sec, tp_nsec, tp_snaplen, tp_len, tp_status;
#   u16 tp_mac, tp_net; u32 tp_rxhash, tp_vlan_tci; u16 tp_vlan_tpid, pad; u8 pad[8]; }  (48 bytes)
# followed (at TPACKET_ALIGN(48) = 48) by a struct sockaddr_ll.  Offsets in bytes:
T3_NEXT_OFFSET = 0
T3_SEC = 4
T3_NSEC = 8
T3_SNAPLEN = 12
T3_LEN = 16
T3_STATUS = 20
T3_MAC = 24  # u16
T3_VLAN_TCI = 32
T3_HDRLEN = 48
SLL_PKTTYPE = T3_HDRLEN + 10  # u8 inside the sockaddr_ll after the header

# struct tpacket_stats_v3 { u32 tp_packets, tp_drops, tp_freeze_q_cnt; }
TPACKET_STATS_V3 = struct.Struct("=3I")

# struct packet_mreq { int mr_ifindex; u16 mr_type, mr_alen; u8 mr_address[8]; }
PACKET_MREQ = struct.Struct("=iHH8s")

# struct sock_fprog { u16 len; struct sock_filter *filter; }   (pointer aligned to 8)
SOCK_FPROG = struct.Struct("=HxxxxxxQ")
# struct sock_filter { u16 code; u8 jt; u8 jf; u32 k; }
SOCK_FILTER = struct.Struct("=HBBI")


# --- sendmmsg ------------------------------------------------------------------------------
class IoVec(ctypes.Structure):
    _fields_ = [("iov_base", ctypes.c_void_p), ("iov_len", ctypes.c_size_t)]


class MsgHdr(ctypes.Structure):
    _fields_ = [
        ("msg_name", ctypes.c_void_p),
        ("msg_namelen", ctypes.c_uint32),
        ("msg_iov", ctypes.c_void_p),
        ("msg_iovlen", ctypes.c_size_t),
        ("msg_control", ctypes.c_void_p),
        ("msg_controllen", ctypes.c_size_t),
        ("msg_flags", ctypes.c_int),
    ]


class MMsgHdr(ctypes.Structure):
    _fields_ = [("msg_hdr", MsgHdr), ("msg_len", ctypes.c_uint)]


assert ctypes.sizeof(IoVec) == 16 and ctypes.sizeof(MMsgHdr) == 64, "LP64 layout expected"

# The C library is already loaded into the interpreter: CDLL(None) finds its symbols without
# ctypes.util.find_library("c"), which runs /sbin/ldconfig -p (2 - 10 ms of start-up).
libc = ctypes.CDLL(None, use_errno=True)
sendmmsg = libc.sendmmsg
sendmmsg.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_uint, ctypes.c_int]
sendmmsg.restype = ctypes.c_int

# setsockopt through ctypes releases the GIL (socket.setsockopt does not): PACKET_RX_RING waits
# for an RCU grace period in the kernel, which another thread can spend working.
setsockopt = libc.setsockopt
setsockopt.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
setsockopt.restype = ctypes.c_int

MSG_DONTWAIT = 0x40
