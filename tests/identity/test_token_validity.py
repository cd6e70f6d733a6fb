"""The check that a token was not revoked, when many signed-in clients arrive at once.

A node that many clients reconnect to at the same moment (another node died) checks all their
tokens together: one read of the database for the users the cache does not know, and every
client still gets the answer for its own user.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from agora.identity.deps import IDENTITY
from agora.identity.models import User
from agora.platform.errors import Unauthorized
from agora.platform.provided import ProvidingApp
from tests.support.apps import platform_of
from tests.support.statements import recorded_statements

USERS = 40


async def _users(app: ProvidingApp, count: int) -> list[int]:
    async with platform_of(app).db.sessions() as session:
        users = [
            User(username=f"reader{n}", email=f"reader{n}@example.com", password_hash="-")
            for n in range(count)
        ]
        session.add_all(users)
        await session.commit()
        return [user.id for user in users]


async def test_clients_that_arrive_together_are_checked_with_one_read(app: ProvidingApp) -> None:
    user_ids = await _users(app, USERS)
    revoked = user_ids[7]
    issued_at = time.time() - 60  # tokens issued a minute ago
    async with platform_of(app).db.sessions() as session:
        await session.execute(
            update(User)
            .where(User.id == revoked)
            .values(tokens_valid_after=datetime.now(UTC) - timedelta(seconds=1))
        )
        await session.commit()
    reads = IDENTITY.of(app).identity_reads

    async def check_all() -> list[BaseException | None]:
        return await asyncio.gather(
            *(reads.check_not_revoked(user_id, issued_at=issued_at) for user_id in user_ids),
            return_exceptions=True,
        )

    with recorded_statements(app) as statements:
        outcomes = await check_all()
    refused = [
        user_id for user_id, outcome in zip(user_ids, outcomes, strict=True) if outcome is not None
    ]
    assert refused == [revoked]
    assert isinstance(outcomes[7], Unauthorized)
    assert [s for s in statements if "FROM users" in s] == [statements[0]]
    assert len(statements) == 1

    with recorded_statements(app) as statements:
        again = await check_all()  # now from the cache: no statement
    assert [outcome is None for outcome in again] == [outcome is None for outcome in outcomes]
    assert statements == []


async def test_one_user_checked_twice_in_one_batch_gets_one_answer(app: ProvidingApp) -> None:
    (user_id,) = await _users(app, 1)
    reads = IDENTITY.of(app).identity_reads
    issued_at = time.time()
    outcomes = await asyncio.gather(
        reads.check_not_revoked(user_id, issued_at=issued_at),
        reads.check_not_revoked(user_id, issued_at=issued_at),
        reads.check_not_revoked(user_id + 1000, issued_at=issued_at),  # no such user
    )
    assert list(outcomes) == [None, None, None]
