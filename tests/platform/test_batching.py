"""``Batched``: the keys asked together are one ``load_many``, one round at a time; every caller
gets its own answer (or its round's error), whatever the others do."""

from __future__ import annotations

import asyncio

import pytest

from agora.platform.batching import Batched


class Loads:
    """A ``load_many`` that records its calls and answers each key doubled once let go."""

    def __init__(self) -> None:
        self.calls: list[list[int]] = []
        self.go = asyncio.Event()
        self.go.set()
        self.asked = asyncio.Event()  # a round is out
        self.fail_on: int | None = None

    async def __call__(self, keys: list[int]) -> list[int]:
        self.calls.append(keys)
        self.asked.set()
        await self.go.wait()
        if self.fail_on in keys:
            raise LookupError(f"no {self.fail_on}")
        return [key * 2 for key in keys]


async def test_the_keys_asked_together_are_one_load() -> None:
    loads = Loads()
    batched = Batched(loads)
    assert await asyncio.gather(*(batched.load(key) for key in (1, 2, 2, 3))) == [2, 4, 4, 6]
    assert loads.calls == [[1, 2, 2, 3]]


async def test_the_keys_asked_while_a_round_is_out_are_the_next_round_together() -> None:
    loads = Loads()
    loads.go.clear()
    batched = Batched(loads)
    first = asyncio.ensure_future(batched.load(1))
    await loads.asked.wait()  # the first round is out
    later = [asyncio.ensure_future(batched.load(key)) for key in (2, 3)]
    await asyncio.sleep(0)
    third = asyncio.ensure_future(batched.load(4))  # another turn of the loop, same round
    await asyncio.sleep(0)
    assert loads.calls == [[1]]
    loads.go.set()
    assert await asyncio.gather(first, *later, third) == [2, 4, 6, 8]
    assert loads.calls == [[1], [2, 3, 4]]


async def test_a_round_is_at_most_max_batch_keys() -> None:
    loads = Loads()
    batched = Batched(loads, max_batch=2)
    assert await asyncio.gather(*(batched.load(key) for key in range(5))) == [0, 2, 4, 6, 8]
    assert loads.calls == [[0, 1], [2, 3], [4]]


async def test_a_failed_round_fails_its_callers_and_the_next_round_still_runs() -> None:
    loads = Loads()
    loads.go.clear()
    loads.fail_on = 1
    batched = Batched(loads)
    failing = [asyncio.ensure_future(batched.load(key)) for key in (1, 2)]
    await loads.asked.wait()
    after = asyncio.ensure_future(batched.load(3))
    loads.go.set()
    for caller in failing:
        with pytest.raises(LookupError):
            await caller
    assert await after == 6


async def test_a_caller_that_gives_up_leaves_the_others_their_answers() -> None:
    loads = Loads()
    loads.go.clear()
    batched = Batched(loads)
    callers = [asyncio.ensure_future(batched.load(key)) for key in (1, 2)]
    await loads.asked.wait()
    callers[0].cancel()
    waiting = asyncio.ensure_future(batched.load(3))
    await asyncio.sleep(0)
    waiting.cancel()  # gone before its round: not asked at all
    loads.go.set()
    assert await callers[1] == 4
    assert await batched.load(5) == 10
    assert loads.calls == [[1, 2], [5]]
