"""Background jobs across real processes: crashes, two workers, RabbitMQ away, the jobs CLI.

Each test has a database of its own (a SQLite file, or a PostgreSQL database when
``AGORA_TEST_DATABASE_URL`` is set) and a RabbitMQ queue of its own, so runs in parallel never
take each other's messages. Tests marked ``broker`` need ``AGORA_TEST_BROKER_URL``.
"""

from __future__ import annotations

import signal
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from agora.app import APIS, create_app
from agora.container import Container
from agora.migrations.runner import upgrade
from agora.platform.db import utcnow
from agora.platform.outbox import OutboxMessage
from agora.settings import JobsSettings
from tests.support.apps import client_of
from tests.support.config import TEST_BROKER_URL, settings_under_test
from tests.support.database import fresh_database
from tests.support.jobs import (
    PROBE,
    PROBE_API,
    Probe,
    commit_then_die,
    create_probe_table,
    delete_queue,
    effects,
    eventually,
    fast_jobs,
    jobs_environment,
    register_probe,
    runs,
    worker_process,
)
from tests.support.servers import agora_command, free_port

needs_broker = pytest.mark.skipif(
    TEST_BROKER_URL is None, reason="AGORA_TEST_BROKER_URL is not set (CI's second tier sets it)"
)


@dataclass
class Site:
    """One deployment under test: its database, its queue, a container to look with."""

    database_url: str
    workdir: Path
    queue: str
    container: Container

    @property
    def db(self) -> Any:
        return self.container.platform.db

    def environment(self, *, broker: bool = True, **jobs: object) -> dict[str, str]:
        return jobs_environment(
            self.database_url,
            self.workdir,
            broker_url=TEST_BROKER_URL if broker else None,
            queue=self.queue,
            **jobs,
        )

    async def outbox(self) -> int:
        async with self.db.autocommit_sessions() as session:
            return int(await session.scalar(select(func.count()).select_from(OutboxMessage)) or 0)

    async def add(
        self, key: str, log: Path, *, run_at: datetime | None = None, **probe: Any
    ) -> str:
        async with self.container.unit_of_work() as uow:
            job_id = uow.outbox.add(PROBE, Probe(key=key, log=str(log), **probe), run_at=run_at)
            await uow.commit()
        return job_id


@pytest.fixture
def database(tmp_path: Path) -> Iterator[str]:
    with fresh_database(tmp_path) as url:
        upgrade(url)
        yield url


@pytest.fixture
async def site(database: str, tmp_path: Path) -> AsyncIterator[Site]:
    queue = f"agora.test.{uuid.uuid4().hex[:12]}"
    settings = settings_under_test(
        tmp_path, database_url=database, jobs=JobsSettings(queue=queue, run_in_server=False)
    )
    container = Container.from_settings(settings)
    await create_probe_table(container.platform.db)
    yield Site(database, tmp_path, queue, container)
    await container.close()
    if TEST_BROKER_URL is not None:
        await delete_queue(TEST_BROKER_URL, queue)


def cli(site: Site, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        agora_command(*args),
        env=site.environment(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("broker", [False, pytest.param(True, marks=needs_broker)])
async def test_jobs_of_a_process_killed_after_its_commit_run_after_a_restart(
    site: Site, tmp_path: Path, broker: bool
) -> None:
    log = tmp_path / "runs.log"
    # a process commits three jobs and is killed with SIGKILL before anything published them
    ids = commit_then_die(site.environment(broker=broker), log, count=3)
    assert len(ids) == 3
    assert await site.outbox() == 3

    with worker_process(site.environment(broker=broker), tmp_path / "worker.log"):

        async def all_done() -> bool:
            counts = [await effects(site.db, f"k{n}") for n in range(3)]
            return counts == [1, 1, 1] and await site.outbox() == 0

        await eventually(all_done, what="the committed jobs' effects")
    assert sorted(run.key for run in runs(log)) == ["k0", "k1", "k2"]


@pytest.mark.parametrize("broker", [False, pytest.param(True, marks=needs_broker)])
def test_agora_worker_runs_until_sigterm_and_exits_cleanly(
    site: Site, tmp_path: Path, broker: bool
) -> None:
    command = agora_command("worker", "--concurrency", "2")
    log = tmp_path / "worker.log"
    with worker_process(site.environment(broker=broker), log, command=command) as worker:
        assert worker.process.poll() is None
    assert worker.process.returncode == 0
    assert '"event": "worker stopped"' in log.read_text()


@needs_broker
@pytest.mark.parametrize("killed", ["before its effect", "after its effect"])
async def test_a_worker_killed_in_the_middle_of_a_job_has_it_delivered_again_with_one_effect(
    site: Site, tmp_path: Path, killed: str
) -> None:
    log, release = tmp_path / "runs.log", tmp_path / "release"
    before = killed == "before its effect"
    environment = site.environment()
    with worker_process(environment, tmp_path / "first.log", concurrency=1) as first:
        job_id = await site.add("held", log, release=str(release), hold_before_effect=before)

        async def holding() -> bool:
            return bool(runs(log, "held", event="start" if before else "done"))

        # the first worker holds the job, unacknowledged, and is killed there
        await eventually(holding, what="the first run")
        first.process.send_signal(signal.SIGKILL)
        first.process.wait()
    release.touch()
    with worker_process(environment, tmp_path / "second.log") as second:

        async def finished() -> bool:
            return await site.outbox() == 0 and (
                before or f'"job_id": "{job_id}"' in second.log_path.read_text()
            )

        await eventually(finished, what="the redelivered job")
    started = runs(log, "held")
    assert await effects(site.db, "held") == 1
    assert started[0].pid == first.process.pid
    if before:
        # delivered again to the second worker, which ran it: its second run
        assert [run.attempt for run in started] == [1, 2]
        assert started[1].pid != first.process.pid
    else:
        # delivered again, and recognised: the job had ended with its effect
        assert [run.attempt for run in started] == [1]
        assert "job copy skipped" in second.log_path.read_text()


@needs_broker
async def test_writes_succeed_while_the_broker_is_unreachable_and_the_backlog_drains_later(
    site: Site, tmp_path: Path
) -> None:
    nowhere = f"amqp://guest:guest@127.0.0.1:{free_port()}/"
    settings = settings_under_test(
        tmp_path,
        database_url=site.database_url,
        broker_url=nowhere,
        jobs=fast_jobs(queue=site.queue, broker_timeout_seconds=1),
    )
    container = Container.from_settings(settings)
    register_probe(container.jobs.handlers)
    app = create_app(container=container, apis=(*APIS, PROBE_API))
    log = tmp_path / "runs.log"
    async with app.router.lifespan_context(app), client_of(app) as client:
        for n in range(5):
            response = await client.post("/probe/jobs", params={"key": f"w{n}", "log": str(log)})
            assert response.status_code == 201, response.text
        ready = await client.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["status"] == "degraded"
        assert ready.json()["checks"]["broker"].startswith("unavailable")
        assert ready.json()["jobs"]["backlog"] == 5
    assert not runs(log)

    with worker_process(site.environment(), tmp_path / "worker.log"):

        async def drained() -> bool:
            return await site.outbox() == 0

        await eventually(drained, what="the backlog's draining")
    assert sorted(run.key for run in runs(log)) == [f"w{n}" for n in range(5)]


@needs_broker
async def test_a_failing_job_becomes_a_dead_letter_and_agora_jobs_retry_runs_it_again(
    site: Site, tmp_path: Path
) -> None:
    log, fail = tmp_path / "runs.log", tmp_path / "fail"
    fail.touch()
    job_id = await site.add("doomed", log, fail_while=str(fail))
    with worker_process(site.environment(max_attempts=3), tmp_path / "worker.log"):

        async def dead() -> bool:
            return bool(await site.container.jobs.store.dead_letters())

        await eventually(dead, what="the dead letter")
        listed = cli(site, "jobs", "dead")
        assert listed.returncode == 0, listed.stderr
        assert f"{job_id}  test.probe  attempts=3" in listed.stdout
        assert "RuntimeError: probe doomed was told to fail" in listed.stdout
        stats = cli(site, "jobs", "stats")
        assert "dead 1" in stats.stdout

        fail.unlink()
        retried = cli(site, "jobs", "retry", job_id)
        assert retried.returncode == 0, retried.stderr
        assert "1 dead letter(s) will run again" in retried.stdout

        async def done() -> bool:
            return await effects(site.db, "doomed") == 1 and await site.outbox() == 0

        await eventually(done, what="the retried job's effect")
    assert [run.attempt for run in runs(log, "doomed")] == [1, 2, 3, 1]
    assert cli(site, "jobs", "retry", job_id).returncode == 1  # nothing dead by that id now
    assert cli(site, "jobs", "retry").returncode == 2  # neither an id nor --all


@needs_broker
async def test_a_delayed_job_runs_once_after_its_time_with_two_workers(
    site: Site, tmp_path: Path
) -> None:
    log = tmp_path / "runs.log"
    environment = site.environment()
    with (
        worker_process(environment, tmp_path / "one.log"),
        worker_process(environment, tmp_path / "two.log"),
    ):
        run_at = utcnow() + timedelta(seconds=2)
        await site.add("later", log, run_at=run_at)

        async def done() -> bool:
            return await site.outbox() == 0

        await eventually(done, what="the delayed job")
    [run] = runs(log, "later")
    assert run.at >= run_at.timestamp()
    assert await effects(site.db, "later") == 1


@needs_broker
async def test_a_published_job_whose_message_was_lost_is_published_again(
    site: Site, tmp_path: Path
) -> None:
    settings = settings_under_test(
        tmp_path,
        database_url=site.database_url,
        broker_url=TEST_BROKER_URL,
        jobs=fast_jobs(queue=site.queue, lease_seconds=1),
    )
    relaying = Container.from_settings(settings)
    await relaying.jobs.start_in_server()
    log = tmp_path / "runs.log"
    try:
        await site.add("lost", log)

        def published() -> float | None:
            return relaying.platform.metrics.registry.get_sample_value(
                "agora_jobs_published_total", {"topic": "test.probe"}
            )

        async def published_once() -> bool:
            return (published() or 0) >= 1

        await eventually(published_once, what="the first publish")
        # the message is lost (a queue purged by hand, a broker that lost its disk); on a slow
        # machine the lease (1 s) may have run out already and a copy been purged with it
        publisher = relaying.jobs.publisher
        assert publisher is not None
        channel = await publisher.connect()
        queue = await channel.declare_queue(publisher.queue, durable=True)
        await queue.purge()
        lost = published() or 0

        async def published_again() -> bool:
            return (published() or 0) > lost

        await eventually(published_again, what="the second publish")
    finally:
        await relaying.close()
    with worker_process(site.environment(), tmp_path / "worker.log"):

        async def done() -> bool:
            return await site.outbox() == 0

        await eventually(done, what="the republished job")
    # its effect once. (Its runs: one, unless the worker, starting slower than the test's 1 s
    # lease, published a copy too; that copy found the job done and did nothing.)
    assert runs(log, "lost")
    assert await effects(site.db, "lost") == 1
