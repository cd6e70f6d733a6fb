"""A job for tests and the benchmark, and real processes that commit or run it.

``PROBE`` is a topic whose handler writes what happened where a test can read it: each run's
start and end in a log file (``Probe.log``), and its effect — a row in ``probe_effects``, a
table of the tests' own — recorded with ``JobContext.first_time`` in the same transaction, as
every real handler does. A test counts runs in the log and effects in the table: "delivered
twice, effect once" is then two lines and one row.

Run as ``python -m tests.support.jobs worker`` it is ``agora worker`` with the probe's handler
registered; ``python -m tests.support.jobs commit --count N --log PATH`` commits N probe jobs
with every runner off, prints their ids, and waits to be killed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import Column, Integer, MetaData, String, Table, bindparam, func, select

from agora.container import Container
from agora.platform import event_loop
from agora.platform.db import Database
from agora.platform.deps import UnitOfWorkDep
from agora.platform.error_formats import REALWORLD, Api
from agora.platform.errors import Invalid
from agora.platform.jobs.handlers import JobContext, JobHandlers
from agora.platform.outbox import Topic
from agora.settings import JobsSettings, Settings
from agora.worker import run_worker
from tests.support.servers import POLL_INTERVAL, server_environment

HOLD_TIMEOUT = 60.0
WORKER_READY_TIMEOUT = 30.0


class Probe(BaseModel):
    key: str
    log: str  # the file each run appends its start and end to
    # the run waits until this file exists (a test kills it meanwhile): after its effect is
    # committed, or before when ``hold_before_effect``
    release: str | None = None
    hold_before_effect: bool = False
    # the run fails while this file exists: before its transaction, or inside it (after its
    # effect is written) when ``fail_in_transaction``
    fail_while: str | None = None
    fail_in_transaction: bool = False


PROBE = Topic("test.probe", Probe)

probe_tables = MetaData()
probe_effects = Table(
    "probe_effects",
    probe_tables,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("message_id", String(32), nullable=False),
    Column("key", String(100), nullable=False),
)


# built once and run on the transaction's connection, as real handlers' hot statements are
# ("Statements built once", docs/architecture.md): through the ORM session, a statement built per
# run was the largest share of a job in the worker
_ADD_EFFECT = probe_effects.insert().values(
    message_id=bindparam("message_id"), key=bindparam("key")
)

probe_router = APIRouter(prefix="/probe")


@probe_router.post("/jobs", status_code=201)
async def add_probe_job(uow: UnitOfWorkDep, key: str, log: str, refuse: bool = False) -> str:
    """Commits a probe job, as a service would; ``refuse``: the rule fails after adding it."""
    job_id = uow.outbox.add(PROBE, Probe(key=key, log=log))
    if refuse:
        raise Invalid("is refused", field="probe")
    await uow.commit()
    return job_id


# an API of the tests' own, mounted beside the real ones: `create_app(apis=(*APIS, PROBE_API))`
PROBE_API = Api(probe_router, REALWORLD)


def _append(path: str, line: str) -> None:
    # one write() of a short line with O_APPEND: lines of concurrent runs never interleave
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)


def _exists(path: str) -> bool:
    return os.path.exists(path)  # a stat() on a local file: not worth a thread


async def probe(payload: Probe, job: JobContext) -> None:
    _append(payload.log, f"start {payload.key} {job.attempt} {os.getpid()} {time.time():.6f}")
    failing = bool(payload.fail_while and _exists(payload.fail_while))
    if failing and not payload.fail_in_transaction:
        raise RuntimeError(f"probe {payload.key} was told to fail")
    if payload.release and payload.hold_before_effect:
        await _hold(payload.release)
    async with job.unit_of_work() as uow:
        if await job.first_time(uow):
            # in a group, with the group's other effects in one statement at its COMMIT
            await job.write_at_commit(
                uow, _ADD_EFFECT, {"message_id": job.message_id, "key": payload.key}
            )
        if failing:
            raise RuntimeError(f"probe {payload.key} was told to fail")
        await uow.commit()
    _append(payload.log, f"done {payload.key} {job.attempt} {os.getpid()} {time.time():.6f}")
    if payload.release and not payload.hold_before_effect:
        await _hold(payload.release)


async def _hold(release: str) -> None:
    for _ in range(int(HOLD_TIMEOUT / POLL_INTERVAL)):
        if _exists(release):
            return
        await asyncio.sleep(POLL_INTERVAL)  # polling a condition, bounded by the deadline


def register_probe(handlers: JobHandlers) -> None:
    handlers.register(PROBE, probe)


async def create_probe_table(db: Database) -> None:
    """The effects' table, created if missing and emptied (empty_tables knows only the app's)."""
    async with db.engine.begin() as connection:
        await connection.run_sync(probe_tables.create_all)
        await connection.execute(probe_effects.delete())


async def effects(db: Database, key: str) -> int:
    async with db.autocommit_sessions() as session:
        count = await session.scalar(
            select(func.count()).select_from(probe_effects).where(probe_effects.c.key == key)
        )
    return int(count or 0)


@dataclass(frozen=True)
class Run:
    event: str  # "start" or "done"
    key: str
    attempt: int
    pid: int
    at: float  # time.time()


def runs(log: Path, key: str | None = None, event: str = "start") -> list[Run]:
    """The runs of ``key`` (every key when None) the log records, ``event`` lines only."""
    if not log.exists():
        return []
    found = []
    for line in log.read_text().splitlines():
        what, name, attempt, pid, at = line.split()
        if what == event and (key is None or name == key):
            found.append(Run(what, name, int(attempt), int(pid), float(at)))
    return found


# --- processes ----------------------------------------------------------------------------------

REPOSITORY = Path(__file__).resolve().parents[2]
# runners that notice at once and retry soon: the tests wait for outcomes, not for timers
FAST_JOBS: dict[str, Any] = {
    "poll_seconds": 0.1,
    "backoff_seconds": 0.1,
    "backoff_max_seconds": 0.5,
    # the hourly purges would add their first occurrences to every test's outbox
    "housekeeping": False,
}


def fast_jobs(**overrides: Any) -> JobsSettings:
    """The jobs' settings of an app under test: ``FAST_JOBS`` and ``overrides``."""
    return JobsSettings(**{**FAST_JOBS, **overrides})


def jobs_environment(
    database_url: str, workdir: Path, *, broker_url: str | None, queue: str, **jobs: object
) -> dict[str, str]:
    """The environment of a worker or committer on ``database_url`` (and ``broker_url``)."""
    env = server_environment(database_url, workdir)
    env["PYTHONPATH"] = str(REPOSITORY)  # python -m tests.support.jobs from anywhere
    env["AGORA_JOBS_QUEUE"] = queue
    if broker_url is not None:
        env["AGORA_BROKER_URL"] = broker_url
    for name, value in {**FAST_JOBS, **jobs}.items():
        env[f"AGORA_JOBS_{name.upper()}"] = str(value)
    return env


async def delete_queue(broker_url: str, queue: str) -> None:
    """Removes a test run's queue from the broker (durable queues outlive their tests)."""
    import aio_pika

    connection = await aio_pika.connect(broker_url)
    async with connection:
        channel = await connection.channel()
        await channel.queue_delete(queue)


def probe_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "tests.support.jobs", *args]


def commit_then_die(environment: Mapping[str, str], log: Path, *, count: int) -> list[str]:
    """A process commits ``count`` probe jobs with every runner off — as if it died between
    the commit and the publish — and is killed with SIGKILL; the jobs' ids."""
    committer = subprocess.Popen(
        probe_command("commit", "--count", str(count), "--log", str(log)),
        env=dict(environment),
        stdout=subprocess.PIPE,
    )
    assert committer.stdout is not None
    ids = []
    try:
        for line in committer.stdout:
            if line.strip() == b"committed":
                break
            ids.append(line.strip().decode())
    finally:
        committer.send_signal(signal.SIGKILL)
        committer.wait()
        committer.stdout.close()
    return ids


@dataclass
class Worker:
    process: subprocess.Popen[bytes]
    log_path: Path

    def log_tail(self, lines: int = 40) -> str:
        text = (
            self.log_path.read_text(errors="replace").splitlines() if self.log_path.exists() else []
        )
        return f"--- {self.log_path} ---\n" + "\n".join(text[-lines:])

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()


@contextmanager
def worker_process(
    environment: Mapping[str, str],
    log_path: Path,
    *,
    concurrency: int = 4,
    command: Sequence[str] | None = None,
) -> Iterator[Worker]:
    """The probe's worker (or ``command``) with exactly ``environment``; yields once it
    consumes; on exit SIGTERM, and it must exit 0 (unless the test killed it)."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            list(command or probe_command("worker", "--concurrency", str(concurrency))),
            env=dict(environment),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    worker = Worker(process, log_path)
    try:
        deadline = time.monotonic() + WORKER_READY_TIMEOUT
        while b"worker started" not in (log_path.read_bytes() if log_path.exists() else b""):
            if process.poll() is not None or time.monotonic() > deadline:
                worker.kill()
                raise AssertionError(f"the worker did not start\n{worker.log_tail()}")
            time.sleep(POLL_INTERVAL)  # polling a condition, bounded by the deadline
        yield worker
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                status = process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                worker.kill()
                raise AssertionError(f"the worker outlived SIGTERM\n{worker.log_tail()}") from None
            assert status == 0, f"the worker exited with {status}\n{worker.log_tail()}"


async def _commit(settings: Settings, count: int, log: str) -> None:
    container = Container.from_settings(settings)  # no runner started: nothing moves the jobs
    for number in range(count):
        async with container.unit_of_work() as uow:
            job_id = uow.outbox.add(PROBE, Probe(key=f"k{number}", log=log))
            await uow.commit()
        print(job_id, flush=True)
    print("committed", flush=True)
    await asyncio.Event().wait()  # until killed


def main() -> None:
    parser = argparse.ArgumentParser(prog="tests.support.jobs")
    commands = parser.add_subparsers(dest="command", required=True)
    worker = commands.add_parser("worker")
    worker.add_argument("--concurrency", type=int, default=None)
    commit = commands.add_parser("commit")
    commit.add_argument("--count", type=int, default=1)
    commit.add_argument("--log", required=True)
    args = parser.parse_args()
    settings = Settings()
    if args.command == "worker":
        event_loop.run(  # as `agora worker` runs
            run_worker(
                settings,
                concurrency=args.concurrency,
                prepare=lambda container: register_probe(container.jobs.handlers),
            )
        )
    else:
        asyncio.run(_commit(settings, args.count, args.log))


if __name__ == "__main__":
    main()


async def eventually(
    check: Callable[[], Awaitable[bool]], *, within: float = 30.0, what: str = "the condition"
) -> None:
    """Until ``check()`` is true; fails after ``within`` seconds."""
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {within:.0f} s")
        await asyncio.sleep(POLL_INTERVAL)  # polling a condition, bounded by the deadline
