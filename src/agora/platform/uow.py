"""The unit of work: one per request, RPC call or job — a transaction and what follows it.

    async with units_of_work() as uow:
        uow.session.add(...)                      # the change
        uow.outbox.add(SEND_EMAIL, SendEmail(...))  # a job, in the same transaction
        uow.emit(ProfileChanged(user_id))          # handlers run after the commit
        await uow.commit()

``commit()`` commits the session and then runs the ``after_commit`` hooks and the handlers of the
events emitted (cache invalidation, pub/sub publishes: whatever must happen only once the data is
durable). A rollback, a failed commit, or leaving the block without a commit runs none of them.
A hook that fails is logged, never raised: the change is committed, and answering the client
with an error would make it retry a write that happened.

Services take a unit of work, not a session and a cache. Their rules can then be tested with a
fake one (``tests/identity/test_follow_rules.py``), the habit of *Architecture Patterns with
Python*.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from types import TracebackType
from typing import Protocol, Self

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker

from agora.platform.events import Event, EventHandlers, Hook, run_committed
from agora.platform.outbox import Outbox

__all__ = ["Hook", "UnitOfWork", "UnitOfWorkLike", "UnitsOfWork"]


class UnitOfWorkLike(Protocol):
    """What a rule may use; ``UnitOfWork`` and the tests' fakes both are one."""

    def after_commit(self, hook: Hook) -> None: ...

    def emit(self, event: Event) -> None: ...

    async def commit(self) -> None: ...

    async def rollback(self) -> None: ...


class UnitOfWork:
    def __init__(
        self,
        sessions: Callable[[], AsyncSession],
        *,
        events: EventHandlers,
        jobs_added: Callable[[list[str]], None] | None = None,
        autocommit: Callable[[], AsyncConnection] | None = None,
    ) -> None:
        """``sessions`` makes the unit of work's session, the first time it is used: a unit of
        work whose only write is its jobs, or a job's in a group whose writes wait for the
        group's COMMIT, never needs one (making and closing it was a tenth of such a commit)."""
        self._sessions = sessions
        self._session: AsyncSession | None = None
        self.outbox = Outbox()
        self._events = events
        self._jobs_added = jobs_added
        self._autocommit = autocommit
        self._hooks: list[Hook] = []

    @property
    def session(self) -> AsyncSession:
        """The unit of work's ORM session (made on first use)."""
        if self._session is None:
            self._session = self._sessions()
        return self._session

    def autocommit_connection(self) -> AsyncConnection | None:
        """A connection whose every statement commits on its own (use with ``async with``), for
        a unit of work whose whole write is one statement; None when none was given. Its
        statements are not this unit's transaction, nor followed by its hooks or outbox."""
        return None if self._autocommit is None else self._autocommit()

    def after_commit(self, hook: Hook) -> None:
        """Run ``hook`` once this unit of work has committed; never if it does not."""
        self._hooks.append(hook)

    def emit(self, event: Event) -> None:
        """Run the handlers registered for ``event`` after the commit."""
        for handler in self._events.handlers_for(event):
            self._hooks.append(functools.partial(handler, event))

    async def commit(self) -> None:
        hooks, self._hooks = self._hooks, []
        # taken before the commit: if it fails, nothing was durable and nothing may follow
        added = await self._make_durable()
        if added and self._jobs_added is not None:
            self._jobs_added(added)  # counts them, and wakes the local drain: no wait for a poll
        for hook in hooks:
            await run_committed(hook)

    async def _make_durable(self) -> list[str]:
        """Writes the outbox's rows and commits; the topics of the jobs written. (A job's unit of
        work in a group overrides it: the group's COMMIT is its own, ``jobs/group_commit.py``.)"""
        if self._autocommit is not None and self.outbox.pending and not self._session_writes():
            # the jobs are the only write (a password-reset request): one INSERT is atomic by
            # itself, so it runs alone, without the BEGIN and COMMIT round trips around it
            async with self._autocommit() as connection:
                return await self.outbox.write_alone(connection)
        if self.outbox.pending:
            added = await self.outbox.write(await self.session.connection())
        else:
            added = []
        if self._session is not None:
            await self._session.commit()
        return added

    def _session_writes(self) -> bool:
        """Whether the session began a transaction or holds objects to flush."""
        session = self._session
        if session is None:
            return False
        return session.in_transaction() or bool(session.new or session.dirty or session.deleted)

    async def rollback(self) -> None:
        self._hooks.clear()
        self.outbox.discard()
        if self._session is not None:
            await self._session.rollback()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._hooks.clear()
        if self._session is not None:
            await self._session.close()  # anything uncommitted is rolled back


class UnitsOfWork:
    """Makes units of work on one database, with the event handlers registered at start-up."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        events: EventHandlers | None = None,
        autocommit: Callable[[], AsyncConnection] | None = None,
    ) -> None:
        """``autocommit``: connections whose statements commit alone (``Database``'s), for a
        unit of work whose only write is its outbox rows."""
        self._sessions = sessions
        self._autocommit = autocommit
        self.events = events or EventHandlers()
        # set by the jobs runtime: called with the topics of the jobs a commit added
        self.jobs_added: Callable[[list[str]], None] | None = None

    def session_on(self, connection: AsyncConnection) -> Callable[[], AsyncSession]:
        """Makes sessions like this factory's, on ``connection`` and inside the transaction begun
        there: their statements are that transaction's, and closing one leaves that transaction
        open (a job's share of a group's, ``jobs/group_commit.py``)."""
        return functools.partial(self._sessions, bind=connection)

    def __call__(self) -> UnitOfWork:
        return UnitOfWork(
            self._sessions,
            events=self.events,
            jobs_added=self.jobs_added,
            autocommit=self._autocommit,
        )
