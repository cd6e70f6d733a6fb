"""Background jobs on the embedded default: the server itself drains the outbox, no broker.

A tiny API of the tests' own commits probe jobs (``tests.support.jobs``) the way a service
does, through the request's unit of work; what a job did is read from its run log and from the
effect it records.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy import func, select, update

from agora.app import APIS, create_app
from agora.container import Container
from agora.platform.db import utcnow
from agora.platform.jobs.schedule import Scheduler
from agora.platform.jobs.store import Backoff, ClaimedJob, StartRequest
from agora.platform.outbox import OutboxMessage
from agora.settings import Settings
from tests.support.apps import client_of
from tests.support.database import empty_tables
from tests.support.jobs import (
    PROBE,
    PROBE_API,
    Probe,
    create_probe_table,
    effects,
    eventually,
    fast_jobs,
    register_probe,
    runs,
)


@pytest.fixture
def make_container(
    make_settings: Callable[..., Settings],
) -> Callable[..., Container]:
    def build(**jobs: Any) -> Container:
        container = Container.from_settings(make_settings(jobs=fast_jobs(**jobs)))
        register_probe(container.jobs.handlers)
        return container

    return build


@pytest.fixture
async def started(
    make_container: Callable[..., Container],
) -> AsyncIterator[Callable[..., Any]]:
    """``await started(**jobs_settings)``: a started app with the probe API, and its client."""
    stack: list[Any] = []

    async def start(**jobs: Any) -> tuple[Container, AsyncClient]:
        container = make_container(**jobs)
        app = create_app(container=container, apis=(*APIS, PROBE_API))
        if not stack:
            await empty_tables(container.platform.db)
            await create_probe_table(container.platform.db)
        lifespan = app.router.lifespan_context(app)
        await lifespan.__aenter__()
        client = client_of(app)
        await client.__aenter__()
        stack.append((lifespan, client))
        return container, client

    yield start
    for lifespan, client in reversed(stack):
        await client.__aexit__(None, None, None)
        await lifespan.__aexit__(None, None, None)


async def outbox_rows(container: Container) -> int:
    async with container.platform.db.autocommit_sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(OutboxMessage)) or 0)


async def test_a_job_committed_by_a_request_runs_without_a_broker(
    started: Callable[..., Any], tmp_path: Path
) -> None:
    container, client = await started()
    log = tmp_path / "runs.log"
    response = await client.post("/probe/jobs", params={"key": "a", "log": str(log)})
    assert response.status_code == 201, response.text

    async def done() -> bool:
        return await effects(container.platform.db, "a") == 1 and not await outbox_rows(container)

    await eventually(done, what="the job's effect")
    assert [run.attempt for run in runs(log, "a")] == [1]


async def test_a_rolled_back_request_adds_no_job(
    started: Callable[..., Any], tmp_path: Path
) -> None:
    container, client = await started()
    log = tmp_path / "runs.log"
    response = await client.post(
        "/probe/jobs", params={"key": "no", "log": str(log), "refuse": "true"}
    )
    assert response.status_code == 422
    assert await outbox_rows(container) == 0
    metrics = (await client.get("/metrics")).text
    assert 'agora_jobs_enqueued_total{topic="test.probe"}' not in metrics


async def test_a_job_that_always_fails_ends_as_a_dead_letter_and_runs_again_when_retried(
    started: Callable[..., Any], tmp_path: Path
) -> None:
    container, client = await started(max_attempts=3)
    fail = tmp_path / "fail"
    fail.touch()
    log = tmp_path / "runs.log"
    async with container.unit_of_work() as uow:
        job_id = uow.outbox.add(PROBE, Probe(key="d", log=str(log), fail_while=str(fail)))
        await uow.commit()
    store = container.jobs.store

    async def dead() -> bool:
        return bool(await store.dead_letters())

    await eventually(dead, what="the dead letter")
    [letter] = await store.dead_letters()
    assert (letter.id, letter.topic, letter.attempts) == (job_id, "test.probe", 3)
    assert letter.last_error == "RuntimeError: probe d was told to fail"
    assert [run.attempt for run in runs(log, "d")] == [1, 2, 3]
    metrics = (await client.get("/metrics")).text
    assert 'agora_jobs_dead_total{topic="test.probe"} 1.0' in metrics
    assert 'agora_jobs_failed_total{topic="test.probe"} 3.0' in metrics
    assert "agora_jobs_dead_letters 1.0" in metrics

    fail.unlink()
    assert await store.retry_dead(job_id) == 1

    async def done() -> bool:
        return await effects(container.platform.db, "d") == 1

    await eventually(done, what="the retried job's effect")
    assert [run.attempt for run in runs(log, "d")] == [1, 2, 3, 1]


async def test_a_job_that_took_its_runner_down_each_time_is_buried_unrun(
    started: Callable[..., Any], tmp_path: Path
) -> None:
    # a job whose runs each ended with their process (a crash, an out-of-memory kill) leaves no
    # failure on record, only its counted starts; it must not take runner after runner down
    waiting, _ = await started(run_in_server=False, max_attempts=3)
    log = tmp_path / "runs.log"
    async with waiting.unit_of_work() as uow:
        job_id = uow.outbox.add(PROBE, Probe(key="poison", log=str(log)))
        await uow.commit()
    async with waiting.platform.db.sessions.begin() as session:
        # three runs started (claimed, counted) and never reported back: their leases are over
        await session.execute(
            update(OutboxMessage).where(OutboxMessage.id == job_id).values(attempts=3)
        )
    await started(max_attempts=3)  # a server that drains
    store = waiting.jobs.store

    async def dead() -> bool:
        return bool(await store.dead_letters())

    await eventually(dead, what="the dead letter")
    [letter] = await store.dead_letters()
    assert letter.id == job_id
    assert "stopped during each of its 3 runs" in (letter.last_error or "")
    assert runs(log, "poison") == []


async def test_a_worker_starts_a_published_job_once_and_refuses_stale_copies(
    make_container: Callable[..., Container], tmp_path: Path
) -> None:
    # what a worker asks for each message it gets (``JobStore.start_many``), on either database
    container = make_container()
    await empty_tables(container.platform.db)
    async with container.unit_of_work() as uow:
        ids = [uow.outbox.add(PROBE, Probe(key=f"k{n}", log=str(tmp_path))) for n in range(3)]
        await uow.commit()
    store = container.jobs.store
    try:
        first = await store.start_many([StartRequest(job_id, 0, False) for job_id in ids])
        assert {job_id: job.attempt for job_id, job in first.items()} == dict.fromkeys(ids, 1)
        # another copy published after no run: the job started since, so this copy is stale
        assert await store.start_many([StartRequest(ids[0], 0, False)]) == {}
        # redelivered by the broker (its worker died mid-run): this run replaces the lost one
        again = await store.start_many([StartRequest(ids[0], 0, True)])
        assert again[ids[0]].attempt == 2
        assert again[ids[0]].payload["key"] == "k0"
    finally:
        await container.close()


async def test_a_stale_copys_failure_does_not_undo_the_record_of_later_runs(
    make_container: Callable[..., Container], tmp_path: Path
) -> None:
    # a first delivery runs without a start; its failure is what counts its run, and a copy
    # older than the row's runs (a duplicate publish) must not set them back
    container = make_container(max_attempts=5)
    await empty_tables(container.platform.db)
    async with container.unit_of_work() as uow:
        job_id = uow.outbox.add(PROBE, Probe(key="stale", log=str(tmp_path)))
        await uow.commit()
    store = container.jobs.store
    try:
        payload = {"key": "stale", "log": str(tmp_path)}
        third = ClaimedJob.first_delivery(job_id, PROBE.name, payload, runs_before=2)
        assert not await store.failed(third, "third run failed")
        stale = ClaimedJob.first_delivery(job_id, PROBE.name, payload, runs_before=0)
        assert not await store.failed(stale, "an old copy failed")
        async with container.platform.db.autocommit_sessions() as session:
            row = await session.get(OutboxMessage, job_id)
        assert row is not None
        assert (row.attempts, row.last_error) == (3, "third run failed")
    finally:
        await container.close()


async def test_a_delayed_job_runs_once_after_its_time_with_two_servers(
    started: Callable[..., Any], tmp_path: Path
) -> None:
    first, _ = await started()
    await started()  # a second server on the same database, draining too
    log = tmp_path / "runs.log"
    run_at = utcnow() + timedelta(seconds=1)
    async with first.unit_of_work() as uow:
        uow.outbox.add(PROBE, Probe(key="later", log=str(log)), run_at=run_at)
        await uow.commit()

    async def done() -> bool:
        return await effects(first.platform.db, "later") == 1 and not await outbox_rows(first)

    await eventually(done, what="the delayed job")
    [run] = runs(log, "later")
    assert run.at >= run_at.timestamp()


async def test_readyz_and_metrics_show_the_outbox(
    started: Callable[..., Any], tmp_path: Path
) -> None:
    _, client = await started(run_in_server=False)  # nothing drains: the jobs wait
    for key in ("x", "y"):
        response = await client.post("/probe/jobs", params={"key": key, "log": "/dev/null"})
        assert response.status_code == 201
    ready = (await client.get("/readyz")).json()
    assert ready["status"] == "ready"
    assert ready["jobs"]["backlog"] == 2
    assert ready["jobs"]["dead"] == 0
    assert ready["jobs"]["oldest_due_seconds"] >= 0
    metrics = (await client.get("/metrics")).text
    assert 'agora_jobs_enqueued_total{topic="test.probe"} 2.0' in metrics
    assert "agora_jobs_outbox_backlog 2.0" in metrics
    assert "agora_jobs_outbox_oldest_due_seconds" in metrics


async def test_a_periodic_job_is_written_once_per_due_time_however_many_nodes_tick(
    make_container: Callable[..., Container], tmp_path: Path
) -> None:
    nodes = [make_container() for _ in range(3)]
    db = nodes[0].platform.db
    await empty_tables(db)
    for node in nodes:
        node.jobs.handlers.every(
            PROBE, seconds=60, payload=lambda due: Probe(key=due.isoformat(), log="/dev/null")
        )
    schedulers = [Scheduler(node.platform.db, node.jobs.handlers.periodic) for node in nodes]
    noon = datetime(2026, 1, 1, 12, 0, 30, tzinfo=UTC)

    written = await asyncio.gather(*(s.tick(noon) for s in schedulers))
    assert sorted(len(topics) for topics in written) == [0, 0, 1]
    written = await asyncio.gather(*(s.tick(noon + timedelta(seconds=20)) for s in schedulers))
    assert sum(len(topics) for topics in written) == 0  # the same due time: nothing new
    await schedulers[1].tick(noon + timedelta(seconds=40))  # 12:01:10: the next one

    async with db.autocommit_sessions() as session:
        rows = (await session.scalars(select(OutboxMessage).order_by(OutboxMessage.run_at))).all()
    assert [(row.payload["key"], row.run_at) for row in rows] == [
        ("2026-01-01T12:00:00+00:00", datetime(2026, 1, 1, 12, 0, tzinfo=UTC)),
        ("2026-01-01T12:01:00+00:00", datetime(2026, 1, 1, 12, 1, tzinfo=UTC)),
    ]
    for node in nodes:
        await node.close()


async def test_a_cron_job_runs_through_the_drain(
    make_container: Callable[..., Container], tmp_path: Path
) -> None:
    container = make_container()
    await empty_tables(container.platform.db)
    await create_probe_table(container.platform.db)
    log = tmp_path / "runs.log"
    container.jobs.handlers.every(
        PROBE, cron="* * * * *", payload=lambda due: Probe(key=f"cron-{due:%H%M}", log=str(log))
    )
    await container.jobs.start_in_server()
    try:

        async def ran() -> bool:
            return bool(runs(log))

        await eventually(ran, what="the cron job's run")
    finally:
        await container.close()
    [run] = runs(log)  # the minute's occurrence, once
    assert run.key.startswith("cron-")


def test_a_periodic_job_needs_one_valid_schedule(make_settings: Callable[..., Settings]) -> None:
    handlers = Container.from_settings(make_settings()).jobs.handlers

    def payload(due: datetime) -> Probe:
        return Probe(key="k", log="/dev/null")

    with pytest.raises(ValueError, match="not a cron expression"):
        handlers.every(PROBE, cron="every tuesday", payload=payload)
    with pytest.raises(ValueError, match="either seconds or cron"):
        handlers.every(PROBE, payload=payload)
    with pytest.raises(ValueError, match="too often"):
        handlers.every(PROBE, seconds=0.1, payload=payload)


def test_backoff_doubles_with_jitter_up_to_its_ceiling() -> None:
    backoff = Backoff(base_seconds=2, max_seconds=30)
    for attempt, ceiling in [(1, 2), (2, 4), (3, 8), (4, 16), (5, 30), (9, 30)]:
        delays = [backoff.delay(attempt) for _ in range(50)]
        assert all(ceiling / 2 <= delay <= ceiling for delay in delays)
        assert len(set(delays)) > 1
