"""masscan's built-in UDP payloads: what a UDP probe to a well-known port carries.

Why this module exists: an empty UDP datagram rarely draws an answer; a well-formed request for the
port's protocol does.  masscan compiles in one request per well-known port (reference masscan.md
§4, `hard_coded_udp_payloads[]` of HEAD) and hides its SYN cookie in a field that the answer echoes
(a DNS transaction id, an SNMP request-id...), so the receive side can tell its own answers.
This table holds those bytes (as data, written out field by field) and, per payload, where the
cookie goes: `CookieField(offset, width, mask)` means "write `seq & mask` big-endian in `width`
bytes at `offset`" (`seq` = the low 32 bits of the cookie), which covers every masscan set-cookie
function:

    DNS 53, NBNS 137, SunRPC 111/2049 (first 2 bytes of the xid), memcached 11211: 2 bytes at 0
    CoAP 5683 (message id): 2 bytes at 2;  SNMP 161 (request-id): seq & 0x7FFFFFFF, 4 bytes at 17
    ISAKMP 500 (initiator cookie): 8 bytes at 0, i.e. four zero bytes then seq (masscan passes the
    32-bit seq to a 64-bit writer)

Any other port gets an empty datagram (UDP length 8).  `reply_offsets` says where the answer
echoes the field (same place, except SNMP whose BER lengths may grow to long form).  The payloads
that masscan 1.3.2 (Debian's) also has are marked `in_132`; the lab test compares those with frames
captured from it.  ISAKMP's `source_port` 500 is recorded as in masscan's table, which never applies
it (its `source_port` field is marked "not used yet"); neither do we.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CookieField", "UdpPayload", "PAYLOADS", "MASSCAN_132_PORTS", "payload_for"]


@dataclass(frozen=True, slots=True)
class CookieField:
    """`seq & mask`, big-endian in `width` bytes at payload `offset`; echoed in the answer at one
    of `reply_offsets` (default: `offset`)."""

    offset: int
    width: int
    mask: int
    reply_offsets: tuple[int, ...] = ()

    def replies_at(self) -> tuple[int, ...]:
        return self.reply_offsets or (self.offset,)


@dataclass(frozen=True, slots=True)
class UdpPayload:
    port: int
    name: str
    data: bytes
    cookie: CookieField | None = None
    source_port: int | None = None
    in_132: bool = False


_ID16 = CookieField(0, 2, 0xFFFF)

_TEST = b"masscan-test"

_DNS_VERSION_BIND = (
    b"\x50\xb6"                                  # transaction id (cookie)
    b"\x01\x20"                                  # flags: query, recursion desired, AD
    b"\x00\x01\x00\x00\x00\x00\x00\x00"          # 1 question
    b"\x07version\x04bind\x00"                   # name version.bind
    b"\x00\x10"                                  # type TXT
    b"\x00\x03"                                  # class CHAOS
    b"\x00"                                      # masscan's length (31) keeps the C string's NUL
)

_TFTP_RRQ = b"\x00\x01" + _TEST + b"\x00" + b"netascii\x00"


def _sunrpc_null(program: int) -> bytes:
    return (bytes(4)                              # xid (first 2 bytes: cookie)
            + (0).to_bytes(4, "big")              # message type CALL
            + (2).to_bytes(4, "big")              # RPC version 2
            + program.to_bytes(4, "big")          # program
            + (2).to_bytes(4, "big")              # program version 2
            + (0).to_bytes(4, "big")              # procedure 0: NULL (ping)
            + bytes(8) + bytes(8))                # credentials, verifier: AUTH_NONE


_NTP_MON_GETLIST = b"\x17\x00\x03\x2a" + bytes(44)  # mode 7, implementation 3, MON_GETLIST_1

_NBNS_NBSTAT = (
    b"\xab\x12"                                  # transaction id (cookie)
    b"\x00\x00"                                  # query
    b"\x00\x01\x00\x00\x00\x00\x00\x00"          # 1 question
    b"\x20" + b"CK" + b"A" * 30 + b"\x00"          # encoded name "*"
    b"\x00\x21"                                  # type NBSTAT
    b"\x00\x01"                                  # class IN
)

_NETBIOS_DGM_BROWSER = (
    b"\x11"                                      # direct group datagram
    b"\x0a"                                      # flags
    b"\xc1\x00"                                  # datagram id
    b"\x0a\x01\x01\xd5"                          # source IP 10.1.1.213
    b"\x00\x8a"                                  # source port 138
    b"\x00\xa0"                                  # length
    b"\x00\x00"                                  # packet offset
    b"\x20ENEBFDFDEDEBEOCNFEEFFDFECACACAAA\x00"  # "MASSCAN-TEST<00>"
    b"\x20FHEPFCELEHFCEPFFFACACACACACACABN\x00"  # "WORKGROUP<1D>"
    b"\xff\x53\x4d\x42\x25" + bytes(27)            # SMB header, command 0x25 (transaction)
    + b"\x11\x00\x00\x06\x00\x00\x00\x00\x00\x00\x00\x00\x00\xe8\x03\x00"
    b"\x00\x00\x00\x00\x00\x00\x00\x06\x00\x56\x00\x03\x00\x01\x00\x01"
    b"\x00\x02\x00\x17\x00\\MAILSLOT\\BROWSE\x00"
    b"\x09\x04\x01\x00\x00\x00"                  # browser: announcement request
)

_SNMP_GET = (
    b"\x30\x39"                                  # SEQUENCE, 57 bytes
    b"\x02\x01\x00"                              # version 1 (0)
    b"\x04\x06public"                            # community
    b"\xa0\x2c"                                  # GetRequest PDU
    b"\x02\x04\x00\x00\x00\x00"                  # request-id (cookie), offset 17
    b"\x02\x01\x00"                              # error status
    b"\x02\x01\x00"                              # error index
    b"\x30\x1e"                                  # variable bindings
    b"\x30\x0d\x06\x09\x2b\x06\x01\x80\x02\x01\x01\x01\x00\x05\x00"  # sysName.0 (as masscan
    b"\x30\x0d\x06\x09\x2b\x06\x01\x80\x02\x01\x01\x05\x00\x05\x00"  # encodes it), sysDescr.0
)

_DTLS_CLIENT_HELLO = (
    b"\x16\xfe\xff"                              # handshake, DTLS 1.0 record
    b"\x00\x00" b"\x00\x00\x00\x00\x00\x07"      # epoch 0, sequence number 7
    b"\x00\x66"                                  # record length 102
    b"\x01\x00\x00\x5a"                          # ClientHello, length 90
    b"\x00\x00" b"\x00\x00\x00" b"\x00\x00\x5a"  # message seq 0, fragment offset 0, length 90
    b"\xfe\xfd"                                  # DTLS 1.2
    b"\x1d\xb1\xe3\x52\x2e\x89\x94\xb7\x15\x33\x2f\x30\xff\xff\xcf\x76"  # random
    b"\x27\x77\xab\x04\xe4\x86\x6f\x21\x18\x0e\xf8\xdd\x70\xcc\xab\x9e"
    b"\x00" b"\x00"                              # session id, cookie: empty
    b"\x00\x04\xc0\x30\x00\xff"                  # ECDHE-RSA-AES256-GCM-SHA384, renegotiation SCSV
    b"\x01\x00"                                  # compression: null
    b"\x00\x2c"                                  # extensions, 44 bytes
    b"\x00\x0b\x00\x04\x03\x00\x01\x02"          # ec_point_formats
    b"\x00\x0a\x00\x0c\x00\x0a\x00\x1d\x00\x17\x00\x1e\x00\x19\x00\x18"  # supported_groups
    b"\x00\x23\x00\x00"                          # session_ticket
    b"\x00\x16\x00\x00"                          # encrypt_then_mac
    b"\x00\x17\x00\x00"                          # extended_master_secret
    b"\x00\x0d\x00\x04\x00\x02\x05\x01"          # signature_algorithms: rsa_pkcs1_sha384
)


def _ike_transform(attrs: bytes, last: bool = False) -> bytes:
    body = b"\x00\x01\x00\x00" + attrs           # transform number 0, KEY_IKE, reserved
    return bytes([0 if last else 3, 0]) + (4 + len(body)).to_bytes(2, "big") + body


def _ike_attrs(enc: int, hash_: int, auth: int, group_life: bool = False, group: int = 2) -> bytes:
    a = b"\x80\x01" + enc.to_bytes(2, "big") + b"\x80\x02" + hash_.to_bytes(2, "big")
    a += b"\x80\x03" + auth.to_bytes(2, "big")
    if group_life:  # group, life type seconds, life duration 1
        a += b"\x80\x04" + group.to_bytes(2, "big") + b"\x80\x0b\x00\x01\x80\x0c\x00\x01"
    return a


def _isakmp_main_mode() -> bytes:
    transforms = [
        _ike_attrs(5, 2, 1, True),                 # 3DES-CBC, SHA, PSK, MODP-1024
        _ike_attrs(1, 1, 1, True),                 # DES-CBC, MD5, PSK, MODP-1024
        _ike_attrs(7, 4, 1, True, group=14),       # AES-CBC, SHA2-256, PSK, MODP-2048
    ] + [_ike_attrs(5, 2, auth) for auth in (2, 3, 4, 8, 0xFADD, 0xFADF, 0xFDE9, 0xFDEB, 0xFDED,
                                             0xFDEF)]   # 3DES/SHA with DSS, RSA sig, RSA enc,
    body = b"".join(_ike_transform(a) for a in transforms)    # ECDSA, hybrid and XAUTH modes
    body += _ike_transform(b"", last=True)                    # and an empty last transform
    proposal = b"\x01\x01\x00" + bytes([len(transforms)]) + body  # #1, ISAKMP, no SPI, 13
    proposal = b"\x00\x00" + (4 + len(proposal)).to_bytes(2, "big") + proposal
    sa = b"\x00\x00\x00\x01" + b"\x00\x00\x00\x01" + proposal            # DOI IPsec, identity
    sa = b"\x00\x00" + (4 + len(sa)).to_bytes(2, "big") + sa
    header = (bytes(8)                           # initiator cookie (cookie)
              + bytes(8)                         # responder cookie
              + b"\x01\x10\x02\x00"              # next payload SA, version 1.0, main mode, flags
              + bytes(4)                         # message id
              + (28 + len(sa)).to_bytes(4, "big"))
    return header + sa


_RIP1_REQUEST = b"\x01\x01\x00\x00" + b"\x00\x02\x00\x00" + bytes(12) + b"\x00\x00\x00\x10"


def _radius(code: int) -> bytes:
    return bytes([code, 0]) + (20).to_bytes(2, "big") + bytes(16)  # id 0, zero authenticator


_L2TP_SCCRQ = (
    b"\xc8\x02" b"\x00\x3c"                      # control message, length 60
    b"\x00\x00\x00\x00" b"\x00\x00\x00\x00"      # tunnel 0, session 0, Ns 0, Nr 0
    b"\x80\x08\x00\x00\x00\x00\x00\x01"          # AVP message type: SCCRQ
    b"\x80\x08\x00\x00\x00\x02\x01\x00"          # AVP protocol version 1.0
    b"\x80\x0e\x00\x00\x00\x07masscan1"          # AVP host name
    b"\x80\x0a\x00\x00\x00\x03\x00\x00\x00\x03"  # AVP framing capabilities
    b"\x80\x08\x00\x00\x00\x09\x00\x00"          # AVP assigned tunnel id 0
)

_SSDP_MSEARCH = (b"M-SEARCH * HTTP/1.1\r\n"
                 b"HOST: 239.255.255.250:1900\r\n"
                 b"MAN: \"ssdp:discover\"\r\n"
                 b"MX: 1\r\n"
                 b"ST: ssdp:all\r\n"
                 b"USER-AGENT: unix/1.0 UPnP/1.1 masscan/1.x\r\n")

_SIP_OPTIONS = (b"OPTIONS sip:carol@chicago.com SIP/2.0\r\n"
                b"Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bKhjhs8ass877\r\n"
                b"Max-Forwards: 70\r\n"
                b"To: <sip:carol@chicago.com>\r\n"
                b"From: Alice <sip:alice@atlanta.com>;tag=1928301774\r\n"
                b"Call-ID: a84b4c76e66710\r\n"
                b"CSeq: 63104 OPTIONS\r\n"
                b"Contact: <sip:alice@pc33.atlanta.com>\r\n"
                b"Accept: application/sdp\r\n"
                b"Content-Length: 0\r\n")

_COAP_WELL_KNOWN_CORE = (b"\x40\x01"           # version 1, confirmable, GET
                         b"\x01\xce"           # message id (cookie)
                         b"\xbb.well-known"    # option Uri-Path (11), 11 bytes
                         b"\x04core")          # option Uri-Path, 4 bytes

_MEMCACHED_STATS = b"\x00\x00\x00\x00\x00\x01\x00\x00stats\r\n"  # frame header: id, seq 0, 1 dgram

_ZEROACCESS_GETL = bytes.fromhex("465d499e28948dabc9c0d199e0f2c25e")  # "getL", id "mass", encrypted

_QUAKE3_GETSTATUS = b"\xff\xff\xff\xffgetstatus\x10"


def _table() -> dict[int, UdpPayload]:
    rows = [
        UdpPayload(7, "echo", _TEST, in_132=True),
        UdpPayload(17, "qotd", _TEST, in_132=True),
        UdpPayload(19, "chargen", _TEST, in_132=True),
        UdpPayload(53, "dns", _DNS_VERSION_BIND, _ID16, in_132=True),
        UdpPayload(69, "tftp", _TFTP_RRQ),
        UdpPayload(111, "portmap", _sunrpc_null(100000), _ID16),
        UdpPayload(123, "ntp", _NTP_MON_GETLIST, in_132=True),
        UdpPayload(137, "nbns", _NBNS_NBSTAT, _ID16, in_132=True),
        UdpPayload(138, "netbios-dgm", _NETBIOS_DGM_BROWSER),
        UdpPayload(161, "snmp", _SNMP_GET, CookieField(17, 4, 0x7FFFFFFF, (17, 18, 19, 20, 21)),
                   in_132=True),
        UdpPayload(443, "dtls", _DTLS_CLIENT_HELLO),
        UdpPayload(500, "isakmp", _isakmp_main_mode(), CookieField(0, 8, 0xFFFFFFFF),
                   source_port=500),
        UdpPayload(520, "rip", _RIP1_REQUEST),
        UdpPayload(1645, "radius", _radius(1)),
        UdpPayload(1646, "radius-acct", _radius(4)),
        UdpPayload(1701, "l2tp", _L2TP_SCCRQ),
        UdpPayload(1812, "radius", _radius(1)),
        UdpPayload(1813, "radius-acct", _radius(4)),
        UdpPayload(1900, "ssdp", _SSDP_MSEARCH, in_132=True),
        UdpPayload(2049, "nfs", _sunrpc_null(100003), _ID16),
        UdpPayload(5060, "sip", _SIP_OPTIONS, in_132=True),
        UdpPayload(5683, "coap", _COAP_WELL_KNOWN_CORE, CookieField(2, 2, 0xFFFF), in_132=True),
        UdpPayload(11211, "memcached", _MEMCACHED_STATS, _ID16, in_132=True),
        *(UdpPayload(p, "zeroaccess", _ZEROACCESS_GETL, in_132=True)
          for p in (16464, 16465, 16470, 16471)),
        UdpPayload(27960, "quake3", _QUAKE3_GETSTATUS, in_132=True),
    ]
    return {r.port: r for r in rows}


PAYLOADS: dict[int, UdpPayload] = _table()
MASSCAN_132_PORTS = frozenset(p for p, r in PAYLOADS.items() if r.in_132)


def payload_for(port: int, payloads: dict[int, UdpPayload] | None = None) -> bytes:
    """The payload masscan sends to UDP `port` (cookie field zero), b"" if none."""
    r = (PAYLOADS if payloads is None else payloads).get(port & 0xFFFF)
    return r.data if r else b""
