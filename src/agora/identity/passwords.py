"""Password hashing with Argon2id, its cost from settings, a bounded number of hashes at a time.

A hash records the parameters it was made with, so changing the cost never locks anyone out:
old hashes still verify, and a successful login stores a new hash made with the current cost.

Argon2 is slow and memory-hard on purpose (64 MiB and ~0.1 s of a core a hash by default). Hashes
run on a few threads of their own: the event loop keeps serving other requests, no more hashes
run at once than there are threads (so a flood of logins costs threads × memory, not requests ×
memory), and the rest wait in a queue of bounded length. Past that length a request is refused at
once with 503 and ``Retry-After`` rather than left to wait: each waiter adds a hash time to the
wait of every later one, and a client that has given up by the time its turn comes leaves behind
work nobody reads. Callers hash *before* they take a database connection, so a queue of hashes
never holds the connection pool.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Protocol, TypeVar

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from agora.platform.errors import Unavailable
from agora.settings import Settings

# when the queue is full: by then a thread has finished several hashes
RETRY_AFTER_SECONDS = 1

T = TypeVar("T")


class Hasher(Protocol):
    """What Passwords needs of pwdlib's ``PasswordHash`` (tests stand in for its CPU time)."""

    def hash(self, password: str, /) -> str: ...

    def verify(self, password: str, hash: str, /) -> bool: ...

    def verify_and_update(self, password: str, hash: str, /) -> tuple[bool, str | None]: ...


def argon2id(*, memory_kib: int, time_cost: int, parallelism: int) -> PasswordHash:
    return PasswordHash(
        (Argon2Hasher(memory_cost=memory_kib, time_cost=time_cost, parallelism=parallelism),)
    )


class Passwords:
    def __init__(self, hasher: Hasher, *, threads: int, queue: int) -> None:
        self._hasher = hasher
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="password")
        self._capacity = threads + queue
        self._in_flight = 0  # running or queued; changed from the loop and the worker threads
        self._lock = threading.Lock()
        # verifying against this when the user does not exist keeps login time the same either way
        self._dummy_hash = hasher.hash("agora-timing-equaliser")

    @classmethod
    def from_settings(cls, settings: Settings) -> Passwords:
        hasher = argon2id(
            memory_kib=settings.password_memory_kib,
            time_cost=settings.password_time_cost,
            parallelism=settings.password_parallelism,
        )
        return cls(
            hasher,
            threads=settings.password_hashing_threads,
            queue=settings.password_hashing_queue,
        )

    @property
    def in_flight(self) -> int:
        """Hashes running or waiting for a thread."""
        return self._in_flight

    async def hash(self, password: str) -> str:
        return await self._run(self._hasher.hash, password)

    async def verify(self, password: str, password_hash: str | None) -> tuple[bool, str | None]:
        """Whether the password matches, and a new hash to store when the stored one was made
        with other parameters than the current ones (None otherwise)."""
        if password_hash is None:
            await self._run(self._hasher.verify, password, self._dummy_hash)
            return False, None
        return await self._run(self._hasher.verify_and_update, password, password_hash)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def _run(self, work: Callable[..., T], *args: str) -> T:
        with self._lock:
            if self._in_flight >= self._capacity:
                raise Unavailable(
                    "too many sign-ins at once, try again shortly",
                    retry_after=RETRY_AFTER_SECONDS,
                )
            self._in_flight += 1
        future = self._executor.submit(work, *args)
        # released when the hash is really over: a request cancelled mid-hash leaves its thread
        # busy until then, and the count must say so
        future.add_done_callback(self._release)
        return await asyncio.wrap_future(future)

    def _release(self, _future: Future[Any]) -> None:
        with self._lock:
            self._in_flight -= 1
