"""TCP control blocks: the little state kept once a client has proven its handshake.

Why this exists: a SYN costs nothing (the SYN-ACK's sequence number is a cookie), but once a
client's first data segment carries a valid cookie, later segments of the same connection are
accepted whatever their acknowledgement number (masscanned's rule), and multi-segment parsers
(HTTP, RPC, TLS, the greetings' command lines) need their state.  That state lives here, keyed by
the 4-tuple.

Differences from masscanned (whose table is keyed by the 32-bit cookie and never shrinks): the key
is the full 4-tuple (no two connections can share a block), the table is an LRU bounded by
`max_tcbs` (a flood of valid handshakes cannot exhaust memory; an evicted connection simply has to
present a valid cookie again), and a FIN or RST from the client forgets the block.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

Key = tuple[bytes, bytes, int, int]


@dataclass(slots=True)
class Tcb:
    handler: object | None = None   # the protocol handler chosen for this connection
    prefix: bytes = b""             # stream bytes kept while the protocol is undecided


class TcbTable:
    def __init__(self, capacity: int) -> None:
        self.capacity = max(1, capacity)
        self._table: OrderedDict[Key, Tcb] = OrderedDict()

    def __len__(self) -> int:
        return len(self._table)

    def get(self, key: Key) -> Tcb | None:
        tcb = self._table.get(key)
        if tcb is not None:
            self._table.move_to_end(key)
        return tcb

    def create(self, key: Key) -> Tcb:
        tcb = Tcb()
        self._table[key] = tcb
        self._table.move_to_end(key)
        while len(self._table) > self.capacity:
            self._table.popitem(last=False)
        return tcb

    def forget(self, key: Key) -> None:
        self._table.pop(key, None)
