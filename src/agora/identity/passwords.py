"""Password hashing with Argon2id, its cost from settings.

A hash records the parameters it was made with, so changing the cost never locks anyone out:
old hashes still verify, and a successful login stores a new hash made with the current cost.
"""

from __future__ import annotations

import asyncio

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from agora.settings import Settings


class Passwords:
    def __init__(self, *, memory_kib: int, time_cost: int, parallelism: int) -> None:
        self._hasher = PasswordHash(
            (Argon2Hasher(memory_cost=memory_kib, time_cost=time_cost, parallelism=parallelism),)
        )
        # verifying against this when the user does not exist keeps login time the same either way
        self._dummy_hash = self._hasher.hash("agora-timing-equaliser")

    @classmethod
    def from_settings(cls, settings: Settings) -> Passwords:
        return cls(
            memory_kib=settings.password_memory_kib,
            time_cost=settings.password_time_cost,
            parallelism=settings.password_parallelism,
        )

    async def hash(self, password: str) -> str:
        # Argon2 is deliberately slow: run it off the event loop so other requests keep flowing
        return await asyncio.to_thread(self._hasher.hash, password)

    async def verify(self, password: str, password_hash: str | None) -> tuple[bool, str | None]:
        """Whether the password matches, and a new hash to store when the stored one was made
        with other parameters than the current ones (None otherwise)."""
        if password_hash is None:
            await asyncio.to_thread(self._hasher.verify, password, self._dummy_hash)
            return False, None
        return await asyncio.to_thread(self._hasher.verify_and_update, password, password_hash)
