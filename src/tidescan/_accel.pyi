"""Type stub for the optional C cookie kernel (src/tidescan/_accel.c)."""

from typing_extensions import Buffer  # stubs are not executed: no run-time dependency

BLOCK: int

def seq4(ip_them: int | Buffer, port_them: int | Buffer, ip_me: int | Buffer,
         port_me: int | Buffer, entropy: int, out: Buffer, /) -> None: ...
def cookie4(ip_them: int | Buffer, port_them: int | Buffer, ip_me: int | Buffer,
            port_me: int | Buffer, entropy: int, out: Buffer, /) -> None: ...
