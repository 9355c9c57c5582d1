"""Server-first greetings (beyond masscanned): FTP, SMTP, POP3, IMAP and Telnet banners.

Why this exists: in these protocols the *server* speaks first, right after the three-way
handshake, and a client that waits (a banner grabber, nmap -sV's NULL probe, masscan `--banners`)
never sends the PSH-ACK masscanned waits for, so masscanned shows them nothing.  tidescanned sends
a greeting on the handshake-completing ACK (flags exactly ACK, no data, ack = cookie + 1) when the
destination port is a standard one:

| port     | protocol | greeting |
|----------|----------|----------|
| 21       | FTP      | `220 (vsFTPd 3.0.3)` |
| 23       | Telnet   | IAC WILL ECHO, IAC WILL SUPPRESS-GO-AHEAD, IAC DO TERMINAL-TYPE, `login: ` |
| 25, 587  | SMTP     | `220 <name> ESMTP Postfix (Debian/GNU)` |
| 110      | POP3     | `+OK Dovecot ready.` |
| 143      | IMAP     | `* OK [CAPABILITY IMAP4rev1 ...] Dovecot ready.` |

After the greeting the connection has a control block, so the client's commands are answered
line by line with what a server refusing every login would say (FTP USER -> 331, PASS -> 530;
SMTP EHLO/HELO -> 250, QUIT -> 221, others 502/530; POP3 -> -ERR; IMAP tagged NO/BAD, CAPABILITY
and LOGOUT understood; Telnet: `Password: ` then `Login incorrect`).  Nothing is ever accepted.
"""

from __future__ import annotations

from .context import Ctx

HOSTNAME = "mail.localdomain"
IMAP_CAPS = b"IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS AUTH=PLAIN"


class _LineServer:
    name = "greeting"

    def __init__(self) -> None:
        self.pending = b""

    def greeting(self) -> bytes:
        raise NotImplementedError

    def line(self, line: bytes) -> bytes:
        raise NotImplementedError

    def feed(self, data: bytes, ctx: Ctx) -> bytes | None:
        self.pending = (self.pending + data)[-4096:]
        out = []
        while b"\n" in self.pending:
            line, self.pending = self.pending.split(b"\n", 1)
            out.append(self.line(line.rstrip(b"\r")))
        if not out:
            return None
        ctx.note = f"{self.name} reply"
        return b"".join(out)


class Ftp(_LineServer):
    name = "ftp"

    def greeting(self) -> bytes:
        return b"220 (vsFTPd 3.0.3)\r\n"

    def line(self, line: bytes) -> bytes:
        cmd = line.split(b" ", 1)[0].upper()
        if cmd == b"USER":
            return b"331 Please specify the password.\r\n"
        if cmd == b"PASS":
            return b"530 Login incorrect.\r\n"
        if cmd == b"QUIT":
            return b"221 Goodbye.\r\n"
        if cmd in (b"SYST",):
            return b"215 UNIX Type: L8\r\n"
        if cmd in (b"FEAT", b"AUTH"):
            return b"530 Please login with USER and PASS.\r\n"
        return b"530 Please login with USER and PASS.\r\n"


class Smtp(_LineServer):
    name = "smtp"

    def greeting(self) -> bytes:
        return f"220 {HOSTNAME} ESMTP Postfix (Debian/GNU)\r\n".encode()

    def line(self, line: bytes) -> bytes:
        cmd = line.split(b" ", 1)[0].upper()
        host = HOSTNAME.encode()
        if cmd == b"EHLO":
            return (b"250-" + host + b"\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-STARTTLS\r\n"
                    b"250-AUTH PLAIN LOGIN\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n")
        if cmd == b"HELO":
            return b"250 " + host + b"\r\n"
        if cmd == b"QUIT":
            return b"221 2.0.0 Bye\r\n"
        if cmd in (b"MAIL", b"RCPT", b"DATA", b"AUTH"):
            return b"530 5.7.0 Must issue a STARTTLS command first\r\n"
        if cmd in (b"NOOP", b"RSET"):
            return b"250 2.0.0 Ok\r\n"
        return b"502 5.5.2 Error: command not recognized\r\n"


class Pop3(_LineServer):
    name = "pop3"

    def greeting(self) -> bytes:
        return b"+OK Dovecot ready.\r\n"

    def line(self, line: bytes) -> bytes:
        cmd = line.split(b" ", 1)[0].upper()
        if cmd == b"QUIT":
            return b"+OK Logging out\r\n"
        if cmd == b"CAPA":
            return b"+OK\r\nCAPA\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nSTLS\r\nUSER\r\nSASL PLAIN\r\n.\r\n"
        if cmd == b"USER":
            return b"+OK\r\n"
        if cmd == b"PASS":
            return b"-ERR [AUTH] Authentication failed.\r\n"
        return b"-ERR Unknown command.\r\n"


class Imap(_LineServer):
    name = "imap"

    def greeting(self) -> bytes:
        return b"* OK [CAPABILITY " + IMAP_CAPS + b"] Dovecot ready.\r\n"

    def line(self, line: bytes) -> bytes:
        parts = line.split(b" ", 2)
        tag = parts[0] if parts and parts[0] else b"*"
        cmd = parts[1].upper() if len(parts) > 1 else b""
        if cmd == b"CAPABILITY":
            return b"* CAPABILITY " + IMAP_CAPS + b"\r\n" + tag + b" OK Capability completed.\r\n"
        if cmd == b"LOGOUT":
            return b"* BYE Logging out\r\n" + tag + b" OK Logout completed.\r\n"
        if cmd in (b"LOGIN", b"AUTHENTICATE"):
            return tag + b" NO [AUTHENTICATIONFAILED] Authentication failed.\r\n"
        if cmd == b"NOOP":
            return tag + b" OK NOOP completed.\r\n"
        return tag + b" BAD Error in IMAP command received by server.\r\n"


class Telnet(_LineServer):
    name = "telnet"

    def __init__(self) -> None:
        super().__init__()
        self.asked_password = False

    def greeting(self) -> bytes:
        return b"\xff\xfb\x01\xff\xfb\x03\xff\xfd\x18\r\nlogin: "

    def feed(self, data: bytes, ctx: Ctx) -> bytes | None:
        # Drop telnet option negotiation (IAC sequences) before reading lines.
        clean = bytearray()
        i = 0
        while i < len(data):
            if data[i] == 0xFF:
                i += 3 if i + 1 < len(data) and 0xFB <= data[i + 1] <= 0xFE else 2
                continue
            clean.append(data[i])
            i += 1
        return super().feed(bytes(clean).replace(b"\r\x00", b"\r"), ctx)

    def line(self, line: bytes) -> bytes:
        if not self.asked_password:
            self.asked_password = True
            return b"Password: "
        self.asked_password = False
        return b"\r\nLogin incorrect\r\nlogin: "


GREETING_PORTS: dict[int, type[_LineServer]] = {21: Ftp, 23: Telnet, 25: Smtp, 587: Smtp, 110: Pop3, 143: Imap}
