"""Real concurrent requests for race tests: sent at once, they interleave on the real database."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable

from httpx import Response

# a race window is narrow: each race runs this many times
ROUNDS = 6


async def at_once(*requests: Awaitable[Response]) -> list[Response]:
    return list(await asyncio.gather(*requests))


def statuses(responses: list[Response]) -> list[int]:
    return [response.status_code for response in responses]
