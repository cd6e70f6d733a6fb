"""``agora serve --workers N``: each worker accepts on a listening socket of its own.

uvicorn binds one socket in its supervisor and hands it to every worker, so the workers share one
accept queue, and the one that wakes first takes every connection waiting (asyncio and uvloop
accept all that are pending in one go). A client that opens its keep-alive connections at once (a
proxy's pool, the shop benchmark's 32 users) can then land nearly all of them on one worker for
their whole life while the other idles: measured with two workers under the shop's checkout
flow, one worker at 0.92 of a core and the other at 0.01 in two runs of four.

On Linux (``SO_REUSEPORT``) the supervisor binds the address without listening on it, and what
each worker receives of that socket, when uvicorn hands it over (pickled into the worker's
process), is a socket of its own bound to the same address with ``SO_REUSEPORT``: the kernel
spreads new connections over the workers' sockets by a hash of their addresses. A worker that
uvicorn restarts binds one again. Where the option is missing, the workers share one socket as
before. What the option also allows: a second ``agora serve --workers N`` started by the same user
on the same port shares it instead of failing; one with a single worker, or another program,
still finds the port taken.
"""

from __future__ import annotations

import socket
from typing import Any


class WorkerSocket(socket.socket):
    """The served address, held by the supervisor (bound, never listening): pickled into a
    worker, it becomes a socket of that worker's own on the same address."""

    def __reduce__(self) -> tuple[Any, ...]:
        host, port = self.getsockname()[:2]
        return (_bound, (socket.socket, self.family, host, port))


def _bound(kind: type[socket.socket], family: int, host: str, port: int) -> socket.socket:
    sock = kind(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


def socket_for_workers(host: str, port: int) -> socket.socket | None:
    """The supervisor's socket for ``host:port`` (None where ``SO_REUSEPORT`` is missing: let
    uvicorn bind its shared one)."""
    if not hasattr(socket, "SO_REUSEPORT"):
        return None
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return _bound(WorkerSocket, family, host, port)
