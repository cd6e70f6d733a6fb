"""Housekeeping: the hourly purges delete what jobs left behind once nobody can need it.

A server with housekeeping on writes the purges' first occurrences at its first tick and its
drain runs them: old records of finished jobs and spent or expired account tokens go, what may
still be needed stays.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import func, insert, select

from agora.container import Container
from agora.identity.models import AccountToken, User
from agora.platform.db import utcnow
from agora.platform.jobs.handlers import ProcessedJob
from agora.platform.outbox import OutboxMessage
from agora.settings import Settings
from tests.support.database import empty_tables
from tests.support.jobs import eventually, fast_jobs

DAY = timedelta(days=1)


async def test_the_hourly_purges_delete_old_job_records_and_spent_tokens(
    make_settings: Callable[..., Settings],
) -> None:
    container = Container.from_settings(
        make_settings(jobs=fast_jobs(housekeeping=True, processed_retention_seconds=7 * 86400))
    )
    db = container.platform.db
    await empty_tables(db)
    now = utcnow()
    async with db.sessions.begin() as session:
        await session.execute(
            insert(ProcessedJob),
            [
                {"message_id": "old" + "0" * 29, "processed_at": now - 8 * DAY},
                {"message_id": "recent" + "0" * 26, "processed_at": now - DAY},
            ],
        )
        user_id = await session.scalar(
            insert(User)
            .values(username="jake", email="jake@example.com", password_hash="x")
            .returning(User.id)
        )
        tokens = {
            "expired long ago": {"expires_at": now - 2 * DAY},
            "used long ago": {"expires_at": now + DAY, "used_at": now - 2 * DAY},
            "expired an hour ago": {"expires_at": now - timedelta(hours=1)},
            "still valid": {"expires_at": now + DAY},
        }
        for number, (name, times) in enumerate(tokens.items()):
            await session.execute(
                insert(AccountToken).values(
                    token_hash=f"{number:064d}",
                    user_id=user_id,
                    purpose="verify_email",
                    sent_to=name,
                    created_at=now - 3 * DAY,
                    **times,
                )
            )

    async def kept_records() -> set[str]:
        async with db.autocommit_sessions() as session:
            return set(await session.scalars(select(ProcessedJob.message_id)))

    async def kept_tokens() -> set[str]:
        async with db.autocommit_sessions() as session:
            return set(await session.scalars(select(AccountToken.sent_to)))

    async def jobs_left() -> int:
        async with db.autocommit_sessions() as session:
            return int(await session.scalar(select(func.count()).select_from(OutboxMessage)) or 0)

    async def purged() -> bool:
        # each purge ran and finished (its occurrence left the outbox)
        return len(await kept_records()) == 1 and await jobs_left() == 0

    await container.jobs.start_in_server()
    try:
        await eventually(purged, what="the purges")
        assert await kept_records() == {"recent" + "0" * 26}
        assert await kept_tokens() == {"expired an hour ago", "still valid"}
    finally:
        await container.close()
