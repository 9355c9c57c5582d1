"""Telnet: answer option negotiation (refuse everything) and record the text and the options.

Wire grammar (RFC 854/855): data bytes, with ``IAC`` (0xFF) escapes: ``IAC WILL|WONT|DO|DONT opt``,
``IAC SB opt ... IAC SE`` (subnegotiation), ``IAC <command>`` (NOP, AYT, GA...), ``IAC IAC`` (a
literal 0xFF).  Our hello is ``IAC AYT`` (``ff f6``, masscan's), which makes silent servers talk.

Answers (as masscan): ``DO``/``DONT x`` -> ``IAC WONT x``; ``WILL``/``WONT x`` -> ``IAC DONT x``, one
``Send`` per negotiation (so the actions do not depend on segmentation; the stack may coalesce).

Banner ``telnet`` in Debian masscan 1.3.2's format (checked on a lab): each negotiation as
`` WILL(echo)``, `` DO(term)``, `` DONT(status)``, `` WONT(linemode)`` (unknown options as ``0x63``),
a subnegotiation as `` SB(term)``, other commands as `` IAC(NOP)``; text with ``\\r`` dropped and
``\\n`` written as the two characters ``\\n`` followed by a space; other bytes as they are.  E.g.
`` DO(term) DO(tspeed)\\n Debian GNU/Linux 12\\n host login: ``.  The grab ends when the server
closes (or the stack's connection timeout).  State between segments: where we are inside an
IAC sequence (at most one pending byte).
"""

from __future__ import annotations

from .base import Action, BannerConfig, Parser, Send

__all__ = ["TelnetParser", "HELLO", "OPTION_NAMES"]

HELLO = b"\xff\xf6"
IAC = 0xFF

OPTION_NAMES = {
    0: "binary", 1: "echo", 3: "sga", 5: "status", 6: "timing-mark", 22: "supdupout",
    23: "sendloc", 24: "term", 31: "naws", 32: "tspeed", 33: "rflow", 34: "linemode",
    35: "xloc", 36: "env", 37: "auth", 38: "encrypt", 39: "new-env", 46: "starttls",
}
_COMMANDS = {0xF0: "SE", 0xF1: "NOP", 0xF2: "DM", 0xF3: "BRK", 0xF4: "IP", 0xF5: "AO",
             0xF6: "AYT", 0xF7: "EC", 0xF8: "EL", 0xF9: "GA"}
_VERBS = {0xFB: "WILL", 0xFC: "WONT", 0xFD: "DO", 0xFE: "DONT"}
_ANSWER = {0xFB: 0xFE, 0xFC: 0xFE, 0xFD: 0xFC, 0xFE: 0xFC}    # verb -> our refusal

_DATA, _IAC, _VERB, _SB, _SB_DATA, _SB_IAC = range(6)


def _option(opt: int) -> str:
    return OPTION_NAMES.get(opt) or f"0x{opt:02x}"


class TelnetParser(Parser):
    """``telnet`` banner; refuses every option."""

    name = "telnet"
    __slots__ = ("_state", "_verb")

    def __init__(self, cfg: BannerConfig) -> None:
        super().__init__(cfg)
        self._state = _DATA
        self._verb = 0

    def hello(self) -> bytes:
        return HELLO

    def _text(self, raw: bytes) -> None:
        if raw:
            self._add("telnet", raw.replace(b"\r", b"").replace(b"\n", b"\\n "))

    def _feed(self, data: bytes, now: float) -> list[Action]:
        out: list[Action] = []
        i, n = 0, len(data)
        while i < n:
            st = self._state
            if st == _DATA:
                j = data.find(b"\xff", i)
                if j < 0:
                    self._text(data[i:])
                    break
                self._text(data[i:j])
                i = j + 1
                self._state = _IAC
                continue
            c = data[i]
            i += 1
            if st == _IAC:
                if c in _VERBS:
                    self._verb = c
                    self._state = _VERB
                elif c == 0xFA:
                    self._state = _SB
                elif c == IAC:
                    self._add("telnet", b"\xff")
                    self._state = _DATA
                else:
                    name = _COMMANDS.get(c) or f"0x{c:02x}"
                    self._add("telnet", f" IAC({name})".encode())
                    self._state = _DATA
            elif st == _VERB:
                self._add("telnet", f" {_VERBS[self._verb]}({_option(c)})".encode())
                out.append(Send(bytes((IAC, _ANSWER[self._verb], c))))
                self._state = _DATA
            elif st == _SB:
                self._add("telnet", f" SB({_option(c)})".encode())
                self._state = _SB_DATA
            elif st == _SB_DATA:
                j = data.find(b"\xff", i - 1)
                if j < 0:
                    break
                i = j + 1
                self._state = _SB_IAC
            else:  # _SB_IAC
                self._state = _DATA if c == 0xF0 else _SB_DATA
        return out
