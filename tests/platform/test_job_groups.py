"""Group commit for jobs (``platform/jobs/group_commit.py``): the jobs running at the same moment
end in one transaction, and one job's failure is still never another's.

The tests drive the runner the drain and the worker share (``JobRunner``) with probe jobs
(``tests.support.jobs``) claimed from a real outbox, on SQLite or on PostgreSQL.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, select

from agora.container import Container
from agora.platform.db import on_postgresql
from agora.platform.outbox import OutboxMessage
from agora.settings import Settings
from tests.support.database import empty_tables
from tests.support.jobs import PROBE, Probe, create_probe_table, effects, fast_jobs, register_probe


@pytest.fixture
async def make_container(
    make_settings: Callable[..., Settings],
) -> AsyncIterator[Callable[..., Any]]:
    """``await make_container(**jobs_settings)``: a container whose runner nothing starts but
    the test, on empty tables; it counts the transactions its database commits."""
    made: list[Container] = []

    async def build(**jobs: Any) -> Container:
        container = Container.from_settings(
            make_settings(jobs=fast_jobs(run_in_server=False, **jobs))
        )
        register_probe(container.jobs.handlers)
        db = container.platform.db
        if not made:
            await empty_tables(db)
            await create_probe_table(db)
        made.append(container)
        return container

    yield build
    for container in made:
        await container.close()


def count_commits(container: Container) -> list[int]:
    """A one-item list that counts the COMMITs of ``container``'s database from now on."""
    commits = [0]

    def committed(_connection: Any) -> None:
        commits[0] += 1

    event.listen(container.platform.db.engine.sync_engine, "commit", committed)
    return commits


async def run_together(container: Container, probes: list[Probe]) -> list[str]:
    """Commits ``probes``, claims them and runs them all at once, as a busy worker does; their
    job ids."""
    async with container.unit_of_work() as uow:
        ids = [uow.outbox.add(PROBE, probe) for probe in probes]
        await uow.commit()
    jobs = await container.jobs.store.claim_due(len(probes))
    by_id = {job.id: job for job in jobs}
    await asyncio.gather(*(container.jobs.runner.run(by_id[job_id]) for job_id in ids))
    return ids


async def outbox(container: Container) -> dict[str, OutboxMessage]:
    async with container.platform.db.autocommit_sessions() as session:
        rows = await session.scalars(select(OutboxMessage))
        return {row.id: row for row in rows}


def counted(container: Container, metric: str) -> float:
    value = container.platform.metrics.registry.get_sample_value(
        f"agora_jobs_{metric}_total", {"topic": PROBE.name}
    )
    return value or 0.0


@pytest.mark.parametrize(("group_max", "transactions"), [(32, 1), (1, 5)])
async def test_jobs_running_at_once_commit_in_one_transaction_each_with_its_effect_once(
    make_container: Callable[..., Any], tmp_path: Path, group_max: int, transactions: int
) -> None:
    container = await make_container(group_max=group_max)
    log = str(tmp_path / "runs.log")
    commits = count_commits(container)
    ids = await run_together(container, [Probe(key=f"k{n}", log=log) for n in range(5)])
    # (the jobs were written in one statement, autocommit: no COMMIT of their own)
    assert commits[0] == transactions  # AGORA_JOBS_GROUP_MAX=1: one each, as before
    assert [await effects(container.platform.db, f"k{n}") for n in range(5)] == [1] * 5
    assert not set(ids) & set(await outbox(container))  # each ended with its effect
    assert counted(container, "succeeded") == 5


@pytest.mark.parametrize("max_attempts", [3, 1])
async def test_a_job_failing_in_its_groups_transaction_fails_alone_as_without_groups(
    make_container: Callable[..., Any], tmp_path: Path, max_attempts: int
) -> None:
    # the failing job writes its effect, then raises: the group's transaction, holding its
    # neighbours' work too, is rolled back; they run again alone and succeed, and it fails
    # alone, its run counted once: a retry later, or a dead letter when it was the last
    container = await make_container(max_attempts=max_attempts)
    log, fail = str(tmp_path / "runs.log"), tmp_path / "fail"
    fail.touch()
    failing = Probe(key="b", log=log, fail_while=str(fail), fail_in_transaction=True)
    ids = await run_together(container, [Probe(key="a", log=log), failing, Probe(key="c", log=log)])
    db = container.platform.db
    assert [await effects(db, key) for key in ("a", "b", "c")] == [1, 0, 1]
    rows = await outbox(container)
    assert list(rows) == [ids[1]]
    row = rows[ids[1]]
    assert row.attempts == 1
    assert row.last_error == "RuntimeError: probe b was told to fail"
    assert (row.dead_at is not None) == (max_attempts == 1)
    assert (counted(container, "succeeded"), counted(container, "failed")) == (2, 1)


async def test_a_job_failing_before_its_transaction_leaves_its_group_alone(
    make_container: Callable[..., Any], tmp_path: Path
) -> None:
    container = await make_container()
    log, fail = str(tmp_path / "runs.log"), tmp_path / "fail"
    fail.touch()
    commits = count_commits(container)
    failing = Probe(key="b", log=log, fail_while=str(fail))
    await run_together(container, [Probe(key="a", log=log), failing, Probe(key="c", log=log)])
    assert commits[0] == 1  # a and c in one transaction, nothing run again
    db = container.platform.db
    assert [await effects(db, key) for key in ("a", "b", "c")] == [1, 0, 1]
    assert (counted(container, "succeeded"), counted(container, "failed")) == (2, 1)


async def test_a_copy_of_a_finished_job_in_a_group_leaves_every_effect_once(
    make_container: Callable[..., Any], tmp_path: Path
) -> None:
    # a second copy of a message (the relay published it twice) runs beside other jobs after the
    # first copy finished: on PostgreSQL the group learns it only at its COMMIT, where it records
    # its jobs together, rolls back, and each job runs again alone
    container = await make_container()
    log = str(tmp_path / "runs.log")
    async with container.unit_of_work() as uow:
        ids = [uow.outbox.add(PROBE, Probe(key=key, log=log)) for key in "abc"]
        await uow.commit()
    jobs = {job.id: job for job in await container.jobs.store.claim_due(3)}
    copy = jobs[ids[0]]
    await container.jobs.runner.run(copy)
    commits = count_commits(container)
    await asyncio.gather(*(container.jobs.runner.run(jobs[job_id]) for job_id in ids))
    db = container.platform.db
    # PostgreSQL: the group rolled back, then one transaction each; SQLite: each job records
    # itself in the group (the copy finds its record and does nothing), one COMMIT
    assert commits[0] == (3 if on_postgresql(db.engine) else 1)
    assert [await effects(db, key) for key in "abc"] == [1, 1, 1]
    assert await outbox(container) == {}
    assert counted(container, "failed") == 0


async def test_a_write_left_to_the_commit_that_fails_there_fails_alone(
    make_container: Callable[..., Any], tmp_path: Path
) -> None:
    # the probe's effect waits for its group's COMMIT (``write_at_commit``), where the jobs'
    # effects go in one statement; one too long for its column fails that statement: the group
    # rolls back, its neighbours run again alone and succeed, and the long one fails alone
    container = await make_container()
    db = container.platform.db
    if not on_postgresql(db.engine):
        pytest.skip("SQLite does not enforce a column's length")
    log, long = str(tmp_path / "runs.log"), "b" * 101
    probes = [Probe(key="a", log=log), Probe(key=long, log=log), Probe(key="c", log=log)]
    await run_together(container, probes)
    assert [await effects(db, key) for key in ("a", long, "c")] == [1, 0, 1]
    assert (counted(container, "succeeded"), counted(container, "failed")) == (2, 1)
