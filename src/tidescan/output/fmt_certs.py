"""`--output-format certs`: the X.509 certificates captured in banners, as PEM blocks.

masscan's certs format prints every banner as a PEM block on *stdout* (72-character lines,
a leading `cert:` stripped) and leaves only `{finished: 1}` in the output file; it is meant for
`--readscan --banner-types x509`.  Ours writes the PEM blocks to the output file (or stdout for
`-`), only for `X509`/`X509CA` banners (which carry base64 DER), in 64-character lines, so
`openssl x509` or `cryptography` read the file directly.
"""

from __future__ import annotations

from tidescan.output.base import Writer
from tidescan.output.record import Record

_CERT_APPS = frozenset({"X509", "X509CA"})


class CertsWriter(Writer):
    name = "certs"

    def _status(self, rec: Record) -> None:
        return None

    def _banner(self, rec: Record) -> str | None:
        if rec.app not in _CERT_APPS:
            return None
        data = rec.banner[5:] if rec.banner.startswith(b"cert:") else rec.banner
        b64 = "".join(data.decode("ascii", "replace").split())
        lines = "".join(b64[i:i + 64] + "\n" for i in range(0, len(b64), 64))
        return f"-----BEGIN CERTIFICATE-----\n{lines}-----END CERTIFICATE-----\n"
