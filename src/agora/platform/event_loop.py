"""The event loop of the processes we start ourselves: uvloop, as uvicorn picks for the server.

``agora serve`` runs on uvloop already (uvicorn's ``loop="auto"``), but a process started with
``asyncio.run`` — the worker, the benchmark's committers — gets the standard loop, whose
transports and scheduling are Python code: on the jobs benchmark that was a large share of a
worker's time per job, spent in the loop rather than in the jobs. uvloop (libuv, in C) is a
drop-in replacement.
"""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any, TypeVar

import uvloop

T = TypeVar("T")


def run(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(main)`` on uvloop."""
    return uvloop.run(main)
