"""Group commit for jobs: the jobs that write at the same moment end in one transaction.

A job's handler ends in a transaction: its effect and its ``first_time`` record
(``handlers.py``). Alone, that is BEGIN, the statements, COMMIT: two of a typical job's four
round trips, and a WAL flush on PostgreSQL, are the transaction's frame, not its work. So the
first unit of work a job opens (``JobContext.unit_of_work``) takes a seat in the *group* open at
that moment: the jobs of a group write one after another on the group's connection (it runs one
statement at a time), and one COMMIT ends them all — as the chat's sends do
(``chat/send_queue.py``).

- **No timer.** A group commits once none of its jobs is writing or waiting to (a loop turn
  later, so that jobs ready at the same moment still join). A job that finds the worker quiet is
  a group of one, committed at once as before; under load, jobs arrive while a group writes and
  join it, up to ``max_jobs``: groups grow with the load.
- **One COMMIT in flight.** A group ready to commit while another group's COMMIT runs waits for
  it, still taking jobs: the next group fills while the last one commits (PostgreSQL's own group
  commit does the same). Without that, a group whose jobs send nothing on their turn (below)
  would commit a loop turn after it opened, a few jobs at a time.
- **A job's effect and its record still commit together**, and its ``commit()`` returns only
  once the group's COMMIT did (its after-commit hooks run then): a crash keeps or loses both, so
  a copy delivered again finds the record exactly when the effect happened.
- **One job's failure is never another's.** A job that fails while it has the group's
  transaction, or leaves it without committing, rolls the group back, and so does a COMMIT that
  fails. Every job whose work was rolled back with another's then runs again *alone*, in a
  transaction of its own (``JobRunner.run``), and only that run decides its outcome: retries and
  dead letters are what they would be without groups. A job failing outside the transaction
  (before it opened it, or after its commit) fails alone, as ever.
- **Only a job's first unit of work joins.** A later one (a handler that commits a token, sends
  a mail, then records itself) is a transaction of its own, as before.

- **A first run's idempotency record waits for the COMMIT** (PostgreSQL): ``first_time`` in a
  group notes the job's id instead of writing it, and the group records every noted job as
  processed (and removes it from the outbox) in one statement just before its COMMIT — one round
  trip a group instead of one a job. Were one of them done before (a second copy of a message),
  the statement says so and the group rolls back: its jobs run again alone, where ``first_time``
  answers at once, so the effect still happens once. A job's ``commit()`` returns only after
  that statement and the COMMIT, so nothing it does after its commit runs on a guess.
- **A write whose result the handler does not read can wait for the COMMIT too**
  (``JobContext.write_at_commit``): the group runs the writes of one statement for all its jobs
  at once (an executemany: one round trip), before the records above. A job's turn then sends
  nothing, so a group of N jobs is about four round trips instead of N + 3. Were one of them to
  fail, the group rolls back and its jobs run again alone, each write its own.

A job that holds the turn holds its group's COMMIT: a handler keeps slow work (SMTP, HTTP) out of
its unit of work, as the house already asks of any transaction.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any

import structlog
from sqlalchemy import Executable
from sqlalchemy.ext.asyncio import AsyncConnection

from agora.platform.uow import UnitOfWork, UnitsOfWork

log = structlog.get_logger(__name__)


class GroupRolledBack(Exception):
    """Raised by a job's ``commit()`` when its group was rolled back: it runs again alone."""


# records the jobs of these ids as finished on the connection, in its transaction; how many of
# them were not finished before
Finish = Callable[[AsyncConnection, list[str]], Awaitable[int]]


class _Group:
    """One shared transaction: its connection, whose turn it is to write, how it ended."""

    def __init__(
        self, spawn: Callable[[Any], None], finish: Finish | None, gate: _CommitGate
    ) -> None:
        self._spawn = spawn
        self._gate = gate
        self.finish = finish
        self.finishing: list[str] = []  # the jobs its COMMIT records as finished (``finish``)
        # the jobs' writes left to its COMMIT, by statement: one executemany each
        self.writes: dict[Executable, list[dict[str, Any]]] = {}
        self.connection: AsyncConnection | None = None
        self.turn = asyncio.Lock()  # one job's statements at a time, in the order they came
        self.seats = 0  # jobs that joined
        self.busy = 0  # of them, those waiting for their turn or writing
        self.written = 0  # of them, those whose part is written and waits for the COMMIT
        self.joinable = True
        self.rolled_back = False
        self.ended: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        # retrieved here, so that a rollback nobody waited for is not reported as unhandled
        self.ended.add_done_callback(lambda ended: ended.cancelled() or ended.exception())
        self._commit_scheduled = False

    async def connect(self, open_connection: Callable[[], AsyncConnection]) -> AsyncConnection:
        if self.connection is None:
            self.connection = await open_connection()
            await self.connection.begin()
        return self.connection

    def part_written(self) -> None:
        """The turn's holder wrote its part: the next job's turn, or the COMMIT."""
        self.busy -= 1
        self.written += 1
        self.turn.release()
        self.commit_when_quiet()

    def commit_when_quiet(self) -> None:
        if self.busy == 0 and not self._commit_scheduled and not self.ended.done():
            self._commit_scheduled = True
            # a loop turn later: the jobs whose messages came with these join first
            asyncio.get_running_loop().call_soon(self._commit_if_quiet)

    def _commit_if_quiet(self) -> None:
        self._commit_scheduled = False
        if self.busy == 0 and not self.ended.done() and not self.rolled_back:
            if not self._gate.enter(self):
                return  # another group commits: this one takes jobs meanwhile
            self.joinable = False
            self._spawn(self._commit())

    async def _commit(self) -> None:
        connection, self.connection = self.connection, None
        try:
            if connection is not None:
                for statement, params in self.writes.items():
                    await connection.execute(statement, params)
                if self.finishing:
                    assert self.finish is not None
                    fresh = await self.finish(connection, self.finishing)
                    if fresh < len(self.finishing):
                        raise GroupRolledBack(
                            f"{len(self.finishing) - fresh} of its jobs were finished before"
                        )
                await connection.commit()
        except Exception as exc:
            log.warning("job group not committed; its jobs run again alone", jobs=self.written)
            self.ended.set_exception(GroupRolledBack(f"the group's COMMIT failed: {exc!r}"))
        else:
            self.ended.set_result(None)
        finally:
            self._gate.leave()
            if connection is not None:
                await _close(connection)

    async def roll_back(self) -> None:
        """The turn's holder failed or left without committing: every part written is undone,
        and the jobs waiting for a turn go to another group."""
        self.rolled_back = True
        self.joinable = False
        self.busy -= 1
        connection, self.connection = self.connection, None
        try:
            if connection is not None:
                await _close(connection)  # rolls back
        finally:
            if not self.ended.done():
                self.ended.set_exception(GroupRolledBack("a job of its group failed"))
            self.turn.release()


class _CommitGate:
    """At most one group's COMMIT at a time; the groups ready meanwhile wait for its end."""

    def __init__(self) -> None:
        self.committing = False
        self.waiting: list[_Group] = []

    def enter(self, group: _Group) -> bool:
        if not self.committing:
            self.committing = True
            return True
        if group not in self.waiting:
            self.waiting.append(group)
        return False

    def leave(self) -> None:
        self.committing = False
        waiting, self.waiting = self.waiting, []
        for group in waiting:
            group.commit_when_quiet()  # still ready (not rolled back, none of its jobs busy)


async def _close(connection: AsyncConnection) -> None:
    try:
        await connection.close()  # rolls back what is not committed
    except Exception:
        log.warning("job group's connection not closed cleanly", exc_info=True)


class GroupCommit:
    """Seats jobs in groups: the worker's one place that decides which jobs share a COMMIT."""

    def __init__(
        self,
        units_of_work: UnitsOfWork,
        open_connection: Callable[[], AsyncConnection],
        *,
        max_jobs: int,
        finish: Finish | None = None,
    ) -> None:
        """``finish``: how a group records its jobs' ends in one statement before its COMMIT
        (``Seat.finish_at_commit``); None: each job records its own."""
        self.units_of_work = units_of_work
        self.open_connection = open_connection
        self.max_jobs = max_jobs
        self.finish = finish
        self._open: _Group | None = None
        self._gate = _CommitGate()
        self._tasks: set[asyncio.Task[None]] = set()

    def seat(self) -> Seat:
        """A job's place in the next group with room: ``async with`` gives its unit of work."""
        return Seat(self)

    async def take_turn(self) -> _Group:
        """Joins the open group (or opens one) and waits for the turn to write in it."""
        while True:
            group = self._open
            if group is None or not group.joinable:
                group = self._open = _Group(self._spawn, self.finish, self._gate)
            group.seats += 1
            group.busy += 1
            if group.seats >= self.max_jobs:
                group.joinable = False
            try:
                await group.turn.acquire()
            except BaseException:  # cancelled while waiting: the others need not wait for it
                group.busy -= 1
                group.commit_when_quiet()
                raise
            if not group.rolled_back:
                return group
            # rolled back while this job waited, without its work: it tries the next group
            group.busy -= 1
            group.turn.release()

    def _spawn(self, work: Any) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


class Seat:
    """One job's place in a group; ``async with seat as uow`` is its unit of work there."""

    def __init__(self, groups: GroupCommit) -> None:
        self._groups = groups
        self._group: _Group | None = None
        self._uow: _GroupUnitOfWork | None = None
        self._written = False
        # its work was rolled back with other jobs' work: the run's outcome is not its own
        self.run_alone = False

    async def __aenter__(self) -> UnitOfWork:
        group = self._group = await self._groups.take_turn()
        try:
            connection = await group.connect(self._groups.open_connection)
        except BaseException:
            await self.leave()
            raise
        units = self._groups.units_of_work
        self._uow = _GroupUnitOfWork(
            units.session_on(connection), self, events=units.events, jobs_added=units.jobs_added
        )
        return self._uow

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._uow is not None:
            await self._uow.__aexit__(exc_type, exc, traceback)  # its session (not the group's)
        if not self._written:
            await self.leave()

    def finish_at_commit(self, uow: UnitOfWork, job_id: str) -> bool:
        """Leaves the record of ``job_id``'s end to the group's COMMIT, when ``uow`` is this
        seat's and the group can; False: the job records it itself."""
        group = self._group
        if group is None or group.finish is None or uow is not self._uow or self._written:
            return False
        group.finishing.append(job_id)
        return True

    def write_at_commit(
        self, uow: UnitOfWork, statement: Executable, params: dict[str, Any]
    ) -> bool:
        """Leaves ``statement`` with ``params`` to the group's COMMIT (with the other jobs'
        writes of the same statement), when ``uow`` is this seat's; False: run it now."""
        group = self._group
        if group is None or uow is not self._uow or self._written:
            return False
        group.writes.setdefault(statement, []).append(params)
        return True

    async def written(self) -> None:
        """The job's part is written: the next job's turn. Returns once the group committed;
        raises ``GroupRolledBack`` if it did not."""
        assert self._group is not None
        group = self._group
        self._written = True
        group.part_written()
        try:
            # shielded: one job cancelled while it waits does not cancel the others' outcome
            await asyncio.shield(group.ended)
        except GroupRolledBack:
            self.run_alone = True
            raise

    async def leave(self) -> None:
        """Ends the turn without the part written (a failure, a rollback): the group goes."""
        if self._written or self._group is None:
            return
        self._written = True  # settled: nothing of it is left in any group
        # alone in the transaction, its failure is its own; with others, maybe theirs
        self.run_alone = self._group.written > 0
        await self._group.roll_back()


class _GroupUnitOfWork(UnitOfWork):
    """A job's unit of work in a group: its commit is the group's COMMIT."""

    def __init__(self, session: Any, seat: Seat, **options: Any) -> None:
        super().__init__(session, **options)
        self._seat = seat

    async def _make_durable(self) -> list[str]:
        added = (
            await self.outbox.write(await self.session.connection()) if self.outbox.pending else []
        )
        if self._session is not None:
            await self._session.flush()
        await self._seat.written()
        return added

    async def rollback(self) -> None:
        self._hooks.clear()
        self.outbox.discard()
        await self._seat.leave()  # the group's rollback is its own
