"""Names in a certificate: the subject CN(s) and the SAN dNSNames that masscan's ``ssl`` banner lists.

Why this exists: the ``ssl`` banner is ``TLS/1.2 cipher:0xc02f, <CN>, <SAN dNSNames...>``.  The
certificate is parsed with ``cryptography``; Internet certificates are often malformed (bad
encodings, negative serials, broken extensions) and ``cryptography`` rightly refuses some of them,
so a *lenient* fallback walks the DER itself: it takes the CN that follows the second
``2.5.4.3`` OID (the first belongs to the issuer, which comes first in a certificate) and the
``[2]`` entries of the subjectAltName extension (OID ``2.5.29.17``).  Neither path raises.
"""

from __future__ import annotations

import warnings

__all__ = ["cert_names"]

_CN_OID = b"\x06\x03\x55\x04\x03"
_SAN_OID = b"\x06\x03\x55\x1d\x11"
_STRING_TAGS = frozenset({0x0C, 0x13, 0x14, 0x16, 0x1E, 0x1C, 0x1A})


def _tlv(der: bytes, i: int) -> tuple[int, int, int] | None:
    """(tag, start of value, end of value) of the TLV at ``i``, or None if it does not fit."""
    if i + 2 > len(der):
        return None
    tag, n = der[i], der[i + 1]
    i += 2
    if n & 0x80:
        k = n & 0x7F
        if k == 0 or k > 4 or i + k > len(der):
            return None
        n = int.from_bytes(der[i:i + k], "big")
        i += k
    if i + n > len(der):
        return None
    return tag, i, i + n


def _decode(tag: int, raw: bytes) -> str:
    if tag == 0x1E:
        return raw.decode("utf-16-be", "replace")
    if tag == 0x1C:
        return raw.decode("utf-32-be", "replace")
    return raw.decode("utf-8", "replace")


def _lenient(der: bytes) -> list[str]:
    cns: list[str] = []
    at = der.find(_CN_OID)
    while at >= 0:
        t = _tlv(der, at + len(_CN_OID))
        if t and t[0] in _STRING_TAGS:
            cns.append(_decode(t[0], der[t[1]:t[2]]))
        at = der.find(_CN_OID, at + 1)
    subject_cn = cns[1:2] if len(cns) >= 2 else cns
    sans: list[str] = []
    at = der.find(_SAN_OID)
    if at >= 0:
        i = at + len(_SAN_OID)
        t = _tlv(der, i)
        if t and t[0] == 0x01:                      # critical BOOLEAN
            i = t[2]
            t = _tlv(der, i)
        if t and t[0] == 0x04:                      # OCTET STRING wrapping GeneralNames
            seq = _tlv(der, t[1])
            if seq and seq[0] == 0x30:
                j = seq[1]
                while j < seq[2]:
                    item = _tlv(der, j)
                    if item is None:
                        break
                    if item[0] == 0x82:             # [2] dNSName
                        sans.append(der[item[1]:item[2]].decode("ascii", "replace"))
                    j = item[2]
    return subject_cn + sans


def cert_names(der: bytes) -> list[str]:
    """Subject CN(s) then SAN dNSNames, as masscan prints them; [] if nothing can be read."""
    try:
        from cryptography import x509
        from cryptography.x509.oid import NameOID

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")     # e.g. "negative serial number": still readable
            cert = x509.load_der_x509_certificate(der)
        names = [str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
        try:
            san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
            names.extend(san.value.get_values_for_type(x509.DNSName))
        except x509.ExtensionNotFound:
            pass
        return names
    except Exception:  # noqa: BLE001 - any parse failure means: read it leniently
        try:
            return _lenient(der)
        except Exception:  # noqa: BLE001 - never raise on garbage
            return []
