"""SQLite's one writer: a burst of concurrent writes queues and succeeds, reads never wait for a
write, and a write that cannot have the database in time (another process keeps it locked, or
its turn does not come) is a 503 with ``Retry-After``, never a 500.

These run on a SQLite file of their own whatever database the rest of the suite uses: SQLite is
the embedded default, and its locking is what is tested here.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from httpx import AsyncClient, Response
from sqlalchemy import delete

from agora.blog.models import Tag
from agora.migrations.runner import upgrade
from agora.platform.db import create_engine
from agora.platform.errors import ErrorKind, Unavailable
from agora.platform.provided import ProvidingApp
from agora.platform.sqlite_writes import WriteQueue
from tests.conftest import auth, create_article, register
from tests.support.apps import platform_of

# short, so a writer left polling SQLite's lock gives up quickly (it never should)
BUSY_TIMEOUT_SECONDS = 0.05


@pytest.fixture
def sqlite_file(tmp_path: Path) -> Path:
    path = tmp_path / "agora.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture
async def app(
    make_app: Callable[..., ProvidingApp], sqlite_file: Path
) -> AsyncIterator[ProvidingApp]:
    """The app on that file (the shared ``client`` fixture uses it)."""
    application = make_app(
        database_url=f"sqlite+aiosqlite:///{sqlite_file}",
        database_busy_timeout_seconds=BUSY_TIMEOUT_SECONDS,
        redis_url=None,
    )
    async with application.router.lifespan_context(application):
        yield application


def writes(client: AsyncClient, number: int, token: str, slug: str) -> list[Awaitable[Response]]:
    """One of each write a user makes, all aimed at the same article and the same author."""
    article = {
        "title": f"Burst {number}",
        "description": "d",
        "body": "b",
        "tagList": ["burst", f"t{number}"],
    }
    return [
        client.post("/api/articles", json={"article": article}, headers=auth(token)),
        client.post(f"/api/articles/{slug}/favorite", headers=auth(token)),
        client.post(
            f"/api/articles/{slug}/comments",
            json={"comment": {"body": f"comment {number}"}},
            headers=auth(token),
        ),
        client.put("/api/user", json={"user": {"bio": f"bio {number}"}}, headers=auth(token)),
        client.post("/api/profiles/author/follow", headers=auth(token)),
    ]


async def test_a_burst_of_concurrent_writes_all_succeed(client: AsyncClient) -> None:
    author = await register(client, "author")
    slug = (await create_article(client, author))["slug"]
    tokens = [await register(client, f"writer{number}") for number in range(10)]

    answers = await asyncio.gather(
        *(
            write
            for number, token in enumerate(tokens)
            for write in writes(client, number, token, slug)
        )
    )

    assert [answer.text for answer in answers if answer.status_code >= 300] == []
    listed = (await client.get("/api/articles", params={"tag": "burst"})).json()
    assert listed["articlesCount"] == len(tokens)
    article = (await client.get(f"/api/articles/{slug}")).json()["article"]
    assert article["favoritesCount"] == len(tokens)
    comments = (await client.get(f"/api/articles/{slug}/comments")).json()["comments"]
    assert len(comments) == len(tokens)


async def test_a_database_another_process_keeps_locked_is_a_503_to_retry(
    client: AsyncClient, sqlite_file: Path
) -> None:
    token = await register(client, "writer")
    slug = (await create_article(client, token))["slug"]
    comment = {"comment": {"body": "Hello"}}
    # Another process's statements run on a thread of their own, as they would in that process:
    # taking the lock waits for a write of this app still in flight (the registration's job may
    # be committing), and that write needs this event loop to finish.
    other_process = sqlite3.connect(sqlite_file, isolation_level=None, check_same_thread=False)
    try:
        # holds the write lock until it ends
        await asyncio.to_thread(other_process.execute, "BEGIN IMMEDIATE")

        locked = await client.post(
            f"/api/articles/{slug}/comments", json=comment, headers=auth(token)
        )
        await asyncio.to_thread(other_process.execute, "ROLLBACK")
    finally:
        other_process.close()
    again = await client.post(f"/api/articles/{slug}/comments", json=comment, headers=auth(token))

    assert locked.status_code == 503
    assert locked.headers["Retry-After"] == "1"
    assert locked.json() == {"errors": {"body": ["the database is busy, try again"]}}
    assert again.status_code == 201


async def test_reads_do_not_wait_for_a_write_in_progress(
    app: ProvidingApp, client: AsyncClient
) -> None:
    token = await register(client, "writer")
    await create_article(client, token)
    async with platform_of(app).db.engine.connect() as writing:
        # holds this process's write turn (and SQLite's write lock) until it ends
        await writing.execute(delete(Tag))

        reads = [
            await asyncio.wait_for(client.get(path, headers=auth(token)), timeout=5)
            for path in ("/api/articles", "/api/user", "/api/profiles/writer")
        ]
        await writing.rollback()

    assert [read.status_code for read in reads] == [200, 200, 200]


async def test_a_write_that_waits_too_long_for_its_turn_is_a_503(sqlite_file: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{sqlite_file}")
    WriteQueue(wait_seconds=0.05).install(engine)
    try:
        async with engine.connect() as first, engine.connect() as second:
            await first.execute(delete(Tag))  # first's turn, until it commits or rolls back

            with pytest.raises(Unavailable) as refused:
                await second.execute(delete(Tag))
            await first.rollback()
            await second.rollback()
            await second.execute(delete(Tag))  # its turn now
    finally:
        await engine.dispose()

    assert refused.value.kind is ErrorKind.UNAVAILABLE
    assert refused.value.retry_after == 1
