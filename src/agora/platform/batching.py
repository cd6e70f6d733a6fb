"""Reads that many tasks start at the same moment, answered together (the DataLoader pattern),
in rounds.

A node that a thousand clients reconnect to at once runs a thousand token checks and a thousand
subscribes within a few turns of its event loop; asked one by one, each is a round trip to
Redis or the database, with the CPU each costs on both sides. ``Batched`` answers the keys asked
for with one call of ``load_many`` (at most ``max_batch`` keys a call), one round at a time: the
keys asked in the turn of the loop that starts a round go in it, and those asked while it is
being read wait for the next, which starts as soon as it returns. A busy node's rounds grow with
its load (a turn of its loop takes longer, more keys come in while a round is out) where a round
a turn of the loop would stay at a key or two; an idle node answers a key in the next turn, as
before. No answers are remembered (the callers' caches are where answers live).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")

LoadMany = Callable[[list[K]], Coroutine[Any, Any, list[V]]]


class Batched(Generic[K, V]):
    def __init__(self, load_many: LoadMany[K, V], *, max_batch: int = 500) -> None:
        """``load_many(keys)``: the answers in the keys' order (a key may come twice)."""
        self._load_many = load_many
        self._max_batch = max_batch
        self._loop: asyncio.AbstractEventLoop | None = None
        self._waiting: list[tuple[K, asyncio.Future[V]]] = []
        # a round is being read, or is to start on the loop's next turn
        self._busy = False
        self._round: asyncio.Future[list[V]] | None = None  # kept: the loop holds tasks weakly

    async def load(self, key: K) -> V:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # what waited belongs to a loop gone (tests run several)
            self._loop, self._waiting, self._busy = loop, [], False
        future: asyncio.Future[V] = loop.create_future()
        self._waiting.append((key, future))
        if not self._busy:
            self._busy = True
            loop.call_soon(self._next_round)
        return await future

    def _next_round(self) -> None:
        # the waiters cancelled meanwhile have nothing to ask
        waiting = [(key, future) for key, future in self._waiting if not future.done()]
        taken, self._waiting = waiting[: self._max_batch], waiting[self._max_batch :]
        if not taken:
            self._busy, self._round = False, None
            return
        round_ = asyncio.get_running_loop().create_task(self._answer([key for key, _ in taken]))
        round_.add_done_callback(lambda done: self._answered(done, [f for _, f in taken]))
        self._round = round_

    async def _answer(self, keys: list[K]) -> list[V]:
        values = await self._load_many(keys)
        if len(values) != len(keys):
            raise ValueError(f"load_many answered {len(values)} values for {len(keys)} keys")
        return values

    def _answered(self, done: asyncio.Future[list[V]], futures: list[asyncio.Future[V]]) -> None:
        if done.cancelled():
            for future in futures:
                future.cancel()
        elif (error := done.exception()) is not None:
            for future in futures:
                if not future.done():
                    future.set_exception(error)
        else:
            for future, value in zip(futures, done.result(), strict=True):
                if not future.done():
                    future.set_result(value)
        if asyncio.get_running_loop() is self._loop:
            self._next_round()
