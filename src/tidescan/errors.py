"""Errors that reach the user as one clear line, never a traceback.

Every user-facing failure (bad option, bad target, unreadable file, missing interface, no
privilege) is raised as a `UsageError` (or subclass) carrying a message that already names
*where* the problem is: the option, or the file, line and column.  The command-line entry points
catch `TidescanError`, print `tidescan: <message>` on stderr and exit with status 1.
"""

from __future__ import annotations


class TidescanError(Exception):
    """Base of every error that is reported to the user as one line (exit status 1)."""


class UsageError(TidescanError):
    """A bad option, value, target, port or file given by the user."""


class ParseError(UsageError):
    """A value that does not parse; `column` is 1-based within the value (0 if unknown).

    Parsers (targets, ports, MACs...) raise this without knowing which option or file the text
    came from; the configuration layer catches it and re-raises a `UsageError` whose message names
    the option or `file:line:column`.
    """

    def __init__(self, message: str, column: int = 0, line: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.column = column
        self.line = line


class EnvironmentProblem(TidescanError):
    """The machine cannot run the scan as asked: no privilege, no interface, no route, no ARP reply."""
