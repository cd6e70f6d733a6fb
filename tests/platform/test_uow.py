"""The unit of work on the real database: what follows a commit happens only after a commit, and
a job written to the outbox commits with its change or not at all."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import BaseModel
from sqlalchemy import event, func, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from structlog.testing import capture_logs

from agora.container import Container
from agora.identity.models import User
from agora.platform.db import Database
from agora.platform.db_outages import database_unavailable
from agora.platform.events import Event, EventHandlers
from agora.platform.outbox import OutboxMessage, Topic
from agora.platform.uow import UnitsOfWork
from tests.support.database import empty_tables


class Noted(BaseModel):
    note: str


NOTED = Topic("test.noted", Noted)


@dataclass(frozen=True, slots=True)
class UserAdded(Event):
    username: str


@pytest.fixture
async def db(container: Container) -> AsyncIterator[Database]:
    await empty_tables(container.platform.db)
    yield container.platform.db
    await container.close()


@pytest.fixture
def events() -> EventHandlers:
    return EventHandlers()


@pytest.fixture
def units(db: Database, events: EventHandlers) -> UnitsOfWork:
    return UnitsOfWork(db.sessions, events=events)


def _user(username: str, email: str | None = None) -> User:
    return User(username=username, email=email or f"{username}@example.com", password_hash="-")


async def _stored(db: Database) -> tuple[list[str], list[str]]:
    """The usernames and the outbox's notes as another session sees them: what was committed."""
    async with db.autocommit_sessions() as session:
        users = list(await session.scalars(select(User.username).order_by(User.username)))
        notes = [
            payload["note"]
            for payload in await session.scalars(
                select(OutboxMessage.payload).order_by(OutboxMessage.created_at)
            )
        ]
    return users, notes


async def test_hooks_and_events_run_after_the_commit(
    db: Database, units: UnitsOfWork, events: EventHandlers
) -> None:
    seen: list[object] = []

    async def handler(event: UserAdded) -> None:
        seen.append(event)

    async def hook() -> None:
        seen.append(await _stored(db))  # what the hook sees is already durable

    events.on(UserAdded, handler)
    async with units() as uow:
        uow.session.add(_user("ann"))
        uow.after_commit(hook)
        uow.emit(UserAdded("ann"))
        assert seen == []
        await uow.commit()

    assert seen == [(["ann"], []), UserAdded("ann")]


async def test_a_handler_of_many_takes_events_committed_together_in_one_call(
    db: Database, units: UnitsOfWork, events: EventHandlers
) -> None:
    calls: list[list[str]] = []
    each: list[str] = []

    async def many(added: Sequence[UserAdded]) -> None:
        calls.append([event.username for event in added])

    async def one(event: UserAdded) -> None:
        each.append(event.username)

    events.on_many(UserAdded, many)
    events.on(UserAdded, one)
    # a batch made durable together: one call of the handler of many, in order
    await events.publish_all([UserAdded("ann"), UserAdded("bob"), UserAdded("cid")])
    # an event of a unit of work: a call of its own
    async with units() as uow:
        uow.session.add(_user("dan"))
        uow.emit(UserAdded("dan"))
        await uow.commit()

    assert calls == [["ann", "bob", "cid"], ["dan"]]
    assert each == ["ann", "bob", "cid", "dan"]


@pytest.mark.parametrize("ending", ["rollback", "leaving without a commit", "an exception"])
async def test_without_a_commit_nothing_follows(
    db: Database, units: UnitsOfWork, events: EventHandlers, ending: str
) -> None:
    seen: list[object] = []

    async def handler(event: UserAdded) -> None:
        seen.append(event)

    async def hook() -> None:
        seen.append("hook")

    events.on(UserAdded, handler)
    with pytest.raises(RuntimeError) if ending == "an exception" else nullcontext():
        async with units() as uow:
            uow.session.add(_user("ann"))
            uow.outbox.add(NOTED, Noted(note="welcome ann"))
            uow.after_commit(hook)
            uow.emit(UserAdded("ann"))
            await uow.session.flush()  # written in the transaction, not committed
            if ending == "rollback":
                await uow.rollback()
            elif ending == "an exception":
                raise RuntimeError("the request failed")

    assert seen == []
    assert await _stored(db) == ([], [])


async def test_after_a_rollback_only_what_came_after_it_follows_the_commit(
    db: Database, units: UnitsOfWork
) -> None:
    seen: list[str] = []

    async def first() -> None:
        seen.append("first")

    async def second() -> None:
        seen.append("second")

    async with units() as uow:
        uow.after_commit(first)
        await uow.rollback()
        uow.session.add(_user("ann"))
        uow.after_commit(second)
        await uow.commit()

    assert seen == ["second"]


async def test_a_failing_hook_is_logged_and_the_others_still_run(
    db: Database, units: UnitsOfWork
) -> None:
    seen: list[str] = []

    async def broken() -> None:
        raise RuntimeError("the cache is gone")

    async def after() -> None:
        seen.append("after")

    with capture_logs() as logs:
        async with units() as uow:
            uow.session.add(_user("ann"))
            uow.after_commit(broken)
            uow.after_commit(after)
            await uow.commit()  # does not raise: the change is durable

    assert seen == ["after"]
    assert (await _stored(db))[0] == ["ann"]
    [failure] = [log for log in logs if log["event"] == "after_commit hook failed"]
    assert failure["log_level"] == "error"
    assert "broken" in failure["hook"]


async def test_a_job_commits_with_its_change(db: Database, units: UnitsOfWork) -> None:
    async with units() as uow:
        uow.session.add(_user("ann"))
        message_id = uow.outbox.add(NOTED, Noted(note="welcome ann"))
        await uow.commit()

    assert await _stored(db) == (["ann"], ["welcome ann"])
    async with db.autocommit_sessions() as session:
        job = await session.get(OutboxMessage, message_id)
    assert job is not None
    assert (job.topic, job.attempts, job.dead_at) == ("test.noted", 0, None)


async def test_a_failed_commit_loses_the_job_with_the_change_and_runs_nothing(
    db: Database, units: UnitsOfWork
) -> None:
    async with units() as uow:
        uow.session.add(_user("ann"))
        await uow.commit()
    seen: list[str] = []

    async def hook() -> None:
        seen.append("hook")

    async with units() as uow:
        # the same email: the unique index refuses the user, and the job goes with it
        uow.session.add(_user("ann2", email="ann@example.com"))
        uow.outbox.add(NOTED, Noted(note="welcome ann2"))
        uow.after_commit(hook)
        with pytest.raises(IntegrityError):
            await uow.commit()
        await uow.rollback()

    assert seen == []
    assert await _stored(db) == (["ann"], [])
    async with db.autocommit_sessions() as session:
        assert await session.scalar(select(func.count()).select_from(OutboxMessage)) == 0


async def test_a_unit_whose_only_write_is_its_jobs_commits_them_in_one_statement(
    container: Container, db: Database
) -> None:
    # a password-reset request is such a unit: it adds a job and changes nothing else
    statements: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement.split()[0].upper())

    seen: list[str] = []

    async def hook() -> None:
        seen.append("hook")

    engine = db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        async with container.units_of_work() as uow:
            uow.outbox.add(NOTED, Noted(note="reset"))
            uow.outbox.add(NOTED, Noted(note="and another"))
            uow.after_commit(hook)
            await uow.commit()
    finally:
        event.remove(engine, "before_cursor_execute", record)

    # both rows, no flush, no transaction around them (on PostgreSQL, the driver's own INSERT:
    # nothing through SQLAlchemy's execution)
    assert statements == ([] if engine.dialect.name == "postgresql" else ["INSERT"])
    assert seen == ["hook"]
    assert await _stored(db) == ([], ["reset", "and another"])


async def test_jobs_written_alone_are_the_rows_a_transaction_writes(
    container: Container, db: Database
) -> None:
    # the same jobs, once as a unit of work's only write (the driver's INSERT on PostgreSQL),
    # once after a read (SQLAlchemy's, in the session's transaction): the same rows
    at = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)
    ids: list[str] = []
    for began in (False, True):
        async with container.units_of_work() as uow:
            if began:
                await uow.session.scalar(select(func.count()).select_from(User))
            ids.append(uow.outbox.add(NOTED, Noted(note='ä \u2603 "q"'), run_at=at))
            await uow.commit()
    async with db.autocommit_sessions() as session:
        rows = [await session.get(OutboxMessage, message_id) for message_id in ids]
    alone, in_transaction = [
        {key: getattr(row, key) for key in _OUTBOX_COLUMNS if key not in ("id", "created_at")}
        for row in rows
        if row is not None
    ]
    assert alone == in_transaction
    assert alone["payload"] == {"note": 'ä \u2603 "q"'}
    assert (alone["run_at"], alone["attempts"], alone["leased_until"]) == (at, 0, None)


_OUTBOX_COLUMNS = [column.key for column in OutboxMessage.__table__.columns]


async def test_jobs_written_alone_on_a_connection_the_server_dropped_fail_as_an_outage(
    container: Container, db: Database
) -> None:
    if db.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL's connections (SQLite's are files)")
    async with db.engine.connect() as other:
        async with container.units_of_work() as uow:  # a second pooled connection, used once
            uow.outbox.add(NOTED, Noted(note="before"))
            await uow.commit()
        # every other connection of this database: the one the pool hands out next
        await other.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
        for _ in range(100):  # until its backend is gone
            others = await other.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
            if not others:
                break
            await asyncio.sleep(0.01)
        await other.commit()
    failures: list[BaseException] = []
    for note in ("during", "after"):
        try:
            async with container.units_of_work() as uow:
                uow.outbox.add(NOTED, Noted(note=note))
                await uow.commit()
        except DBAPIError as exc:
            failures.append(exc)
    # the write that met the dropped connection (the pool hands out first the one returned
    # first) reads as an outage, a 503; the pool threw it away, so the next write succeeds
    assert len(failures) == 1
    assert database_unavailable(failures[0])


async def test_a_unit_that_began_its_transaction_commits_its_jobs_in_it(
    container: Container, db: Database
) -> None:
    async with container.units_of_work() as uow:
        await uow.session.scalar(select(func.count()).select_from(User))  # began: a read
        uow.outbox.add(NOTED, Noted(note="after a read"))
        await uow.commit()
    assert await _stored(db) == ([], ["after a read"])


async def test_a_unit_makes_its_session_only_when_it_uses_it(
    db: Database, events: EventHandlers
) -> None:
    made: list[AsyncSession] = []

    class Counted(async_sessionmaker[AsyncSession]):
        def __call__(self, **local_kw: Any) -> AsyncSession:
            made.append(session := super().__call__(**local_kw))
            return session

    units = UnitsOfWork(
        Counted(db.engine, expire_on_commit=False),
        events=events,
        autocommit=db.autocommit_connection,
    )
    async with units() as uow:  # its only write is its jobs: no session to make and close
        uow.outbox.add(NOTED, Noted(note="reset"))
        await uow.commit()
    assert made == []
    async with units() as uow:
        uow.session.add(_user("ann"))
        uow.outbox.add(NOTED, Noted(note="welcome ann"))
        await uow.commit()
    assert len(made) == 1
    assert await _stored(db) == (["ann"], ["reset", "welcome ann"])
