"""Fixed nmap-style probes that masscan sends on well-known ports (masscan.md §3).

Why this exists: many services say nothing until asked.  masscan carries a handful of probes
taken from nmap's ``nmap-service-probes`` (the wire bytes are protocol facts; the ones below are
the nmap probes of the same name, except DICOM, built here from PS3.8 §9.3.2) and sends them on
the listed ports when the server stays silent for the hello timeout.  The answer is identified
by content like any other (a docker answer is ``HTTP/1.x``, so it gets the HTTP parser); anything
unrecognised is reported as ``unknown``.
"""

from __future__ import annotations

import struct

__all__ = ["PROBES", "PORTS", "probe_for_port"]


def _dicom_associate() -> bytes:
    """A-ASSOCIATE-RQ for the Verification SOP class (called ``ANY-SCP``, calling ``ECHOSCU``)."""
    def item(kind: int, body: bytes) -> bytes:
        return struct.pack(">BxH", kind, len(body)) + body

    app = item(0x10, b"1.2.840.10008.3.1.1.1")
    pres = item(0x20, b"\x01\x00\x00\x00" + item(0x30, b"1.2.840.10008.1.1")
                + item(0x40, b"1.2.840.10008.1.2"))
    user = item(0x50, item(0x51, struct.pack(">I", 16384)))
    body = (struct.pack(">HH", 1, 0) + b"ANY-SCP".ljust(16) + b"ECHOSCU".ljust(16) + bytes(32)
            + app + pres + user)
    return struct.pack(">BxI", 0x01, len(body)) + body


PROBES: dict[str, bytes] = {
    "JavaRMI": b"JRMI\x00\x02K",
    "X11": b"l\x00\x0b\x00\x00\x00\x00\x00\x00\x00\x00\x00",
    "Kerberos": (
        b"\x00\x00\x00\x71\x6a\x81\x6e\x30\x81\x6b\xa1\x03\x02\x01\x05\xa2\x03\x02\x01\x0a"
        b"\xa4\x81\x5e\x30\x5c\xa0\x07\x03\x05\x00\x50\x80\x00\x10\xa2\x04\x1b\x02NM\xa3\x17"
        b"\x30\x15\xa0\x03\x02\x01\x00\xa1\x0e\x30\x0c\x1b\x06krbtgt\x1b\x02NM\xa5\x11\x18\x0f"
        b"19700101000000Z\xa7\x06\x02\x04\x1f\x1e\xb9\xd9\xa8\x17\x30\x15\x02\x01\x12\x02\x01"
        b"\x11\x02\x01\x10\x02\x01\x17\x02\x01\x01\x02\x01\x03\x02\x01\x02"),
    "mongodb": (
        b"\x41\x00\x00\x00\x3a\x30\x00\x00\xff\xff\xff\xff\xd4\x07\x00\x00\x00\x00\x00\x00"
        b"test.$cmd\x00\x00\x00\x00\x00\xff\xff\xff\xff\x1b\x00\x00\x00\x01serverStatus\x00"
        b"\x00\x00\x00\x00\x00\x00\xf0\x3f\x00"),
    "DICOM": _dicom_associate(),
    "LDAP": (
        b"\x30\x84\x00\x00\x00\x2d\x02\x01\x07\x63\x84\x00\x00\x00\x24\x04\x00\x0a\x01\x00\x0a"
        b"\x01\x00\x02\x01\x00\x02\x01\x64\x01\x01\x00\x87\x0b\x6f\x62\x6a\x65\x63\x74\x43\x6c"
        b"\x61\x73\x73\x30\x84\x00\x00\x00\x00"),
    "SIP": (
        b"OPTIONS sip:nm SIP/2.0\r\nVia: SIP/2.0/TCP nm;branch=foo\r\nFrom: <sip:nm@nm>;tag=root"
        b"\r\nTo: <sip:nm2@nm2>\r\nCall-ID: 50000\r\nCSeq: 42 OPTIONS\r\nMax-Forwards: 70\r\n"
        b"Content-Length: 0\r\nContact: <sip:nm@nm>\r\nAccept: application/sdp\r\n\r\n"),
    "RTSP": b"OPTIONS / RTSP/1.0\r\n\r\n",
    "RPC": (
        b"\x80\x00\x00\x28\x72\xfe\x1d\x13\x00\x00\x00\x00\x00\x00\x00\x02\x00\x01\x86\xa0\x00"
        b"\x01\x97\x7c\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
        b"\x00\x00"),
    "DNS": b"\x00\x1e\x00\x06\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x07version\x04bind\x00\x00"
           b"\x10\x00\x03",
    "docker": b"GET /version HTTP/1.1\r\n\r\n",
    "NotesRPC": (
        b"\x3a\x00\x00\x00\x2f\x00\x00\x00\x02\x00\x00\x40\x02\x0f\x00\x01\x00\x3d\x05\x00\x00"
        b"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x2f\x00\x00\x00\x00\x00\x00\x00\x00\x00\x40"
        b"\x1f\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"),
    "ms-sql-s": (
        b"\x12\x01\x00\x34\x00\x00\x00\x00\x00\x00\x15\x00\x06\x01\x00\x1b\x00\x01\x02\x00\x1c"
        b"\x00\x0c\x03\x00\x28\x00\x04\xff\x08\x00\x01\x55\x00\x00\x00\x4d\x53\x53\x51\x4c\x53"
        b"\x65\x72\x76\x65\x72\x00\x48\x0f\x00\x00"),
    "afp": b"\x00\x03\x00\x01\x00\x00\x00\x00\x00\x00\x00\x02\x00\x00\x00\x00\x0f\x00",
}

PORTS: dict[int, str] = {}
for _name, _ports in (
    ("JavaRMI", (1098, 1099)),
    ("X11", tuple(range(6000, 6020))),
    ("Kerberos", (88,)),
    ("mongodb", (9001, 27017, 49153)),
    ("DICOM", (104, 2345, 2761, 2762, 4242, 11112)),
    ("LDAP", (256, 257, 389, 390, 1702, 3268, 3892, 11711)),
    ("SIP", (406, 5060, 8081, 31337)),
    ("RTSP", (554, 8554)),
    ("RPC", (111, 2049)),
    ("DNS", (53, 135, 50000, 50001, 50002)),
    ("docker", (2375, 2379, 2380)),
    ("NotesRPC", (130, 427, 1352, 1972, 7171, 8728, 22001)),
    ("ms-sql-s", (1433,)),
    ("afp", (548,)),
):
    for _p in _ports:
        PORTS[_p] = _name


def probe_for_port(port: int) -> tuple[str, bytes] | None:
    """(probe name, bytes) for a port with a static probe, else None."""
    name = PORTS.get(port)
    return None if name is None else (name, PROBES[name])
