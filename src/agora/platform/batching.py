"""Reads that many tasks start at the same moment, answered together (the DataLoader pattern).

A node that a thousand clients reconnect to at once runs a thousand token checks and a thousand
subscribes in the same few turns of its event loop; asked one by one, each is a round trip to
Redis or the database, with the CPU each costs on both sides. ``Batched`` collects the keys
asked for in one turn of the loop and answers them with one call of ``load_many`` (at most
``max_batch`` keys a call): ``aiodataloader``'s ``DataLoader``, without its own memo of
answers (the callers' caches are where answers live), made once per event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, Generic, TypeVar

from aiodataloader import DataLoader

K = TypeVar("K")
V = TypeVar("V")

LoadMany = Callable[[list[K]], Coroutine[Any, Any, list[V]]]


class Batched(Generic[K, V]):
    def __init__(self, load_many: LoadMany[K, V], *, max_batch: int = 500) -> None:
        """``load_many(keys)``: the answers in the keys' order (a key may come twice)."""
        self._load_many = load_many
        self._max_batch = max_batch
        self._loader: DataLoader[K, V] | None = None

    async def load(self, key: K) -> V:
        loop = asyncio.get_running_loop()
        # a loader belongs to the loop it was made in (tests run several loops in one process)
        if self._loader is None or self._loader.loop is not loop:
            self._loader = DataLoader(
                self._load_many, cache=False, max_batch_size=self._max_batch, loop=loop
            )
        return await self._loader.load(key)
