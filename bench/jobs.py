"""The jobs scenario: PostgreSQL + RabbitMQ, one ``agora worker``, jobs committed as a server would.

This process plays the server: it commits probe jobs (``tests.support.jobs``), one per
transaction through a unit of work, and its relay (started as a server starts it) publishes them
with confirms. One worker process consumes them; each run appends its start and end to a log
and records its effect with ``first_time`` in a transaction, as real handlers do.

- sustained: ``--jobs`` jobs committed as fast as the committers go; jobs/s from the first
  commit to the last handler done.
- fixed rate: jobs committed at ``--rate`` per second for ``--seconds``, on a schedule that
  does not wait for slow commits (an open loop); latency from each commit's return to its
  handler's start, p50 and p99.

``python -m bench.jobs`` runs it alone and writes its section of docs/performance.md;
``make bench`` runs it after the blog's scenarios.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import make_url, text
from tests.support.database import fresh_database
from tests.support.jobs import (
    PROBE,
    Probe,
    create_probe_table,
    delete_queue,
    jobs_environment,
    runs,
    worker_process,
)

from agora.container import Container
from agora.migrations.runner import upgrade
from agora.platform import event_loop
from agora.platform.heap import freeze_startup_objects
from agora.settings import JobsSettings, Settings
from bench import report
from bench.server import cpu_seconds

ROOT = Path(__file__).resolve().parent.parent
REPORT = ROOT / "docs" / "performance.md"
WORKER_LOG = ROOT / "var" / "bench" / "worker.log"
DEFAULT_BROKER_URL = "amqp://guest:guest@127.0.0.1:5672/"
DEFAULT_SERVER_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
DRAIN_TIMEOUT = 120.0

TARGET_JOBS_PER_SECOND = 1000.0
TARGET_P99_MS = 250.0


@dataclass(frozen=True, slots=True)
class JobsResult:
    sustained_jobs: int
    sustained_seconds: float
    rate: float
    rate_jobs: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    committed_late_ms: float  # p99 of how late the committer was on its own schedule
    worker_cpu_ms: float | None  # the worker's CPU time per job in the sustained phase
    bench_cpu_ms: float  # this process's (commits and relay) per job, same phase
    # every core's busy time per job, same phase: with PostgreSQL, RabbitMQ and the kernel (and
    # whatever else runs: only a quiet machine's figure is the chain's)
    machine_cpu_ms: float
    # transactions the database committed per job, same phase (committers, relay and worker:
    # PostgreSQL's own count, so it does not move with the machine's load)
    commits_per_job: float
    # same phase, per job: PostgreSQL's processes (this database's backends and the server's
    # own: WAL writer, checkpointer, ...) and RabbitMQ's (the Erlang VM); None when not local
    postgres_cpu_ms: float | None
    rabbitmq_cpu_ms: float | None
    concurrency: int
    committers: int
    group_max: int

    @property
    def jobs_per_second(self) -> float:
        return self.sustained_jobs / self.sustained_seconds

    def checks(self) -> list[report.Check]:
        return [
            report.Check(
                f"≥ {TARGET_JOBS_PER_SECOND:,.0f} jobs/s sustained",
                self.jobs_per_second >= TARGET_JOBS_PER_SECOND,
            ),
            report.Check(
                f"p99 ≤ {TARGET_P99_MS:g} ms at {self.rate:g} jobs/s",
                self.p99_ms <= TARGET_P99_MS,
            ),
        ]


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.jobs", description=__doc__)
    parser.add_argument("--jobs", type=int, default=20_000, help="jobs of the sustained phase")
    parser.add_argument("--rate", type=float, default=500.0, help="jobs/s of the fixed-rate phase")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of that phase")
    parser.add_argument("--concurrency", type=int, default=32, help="the worker's prefetch")
    parser.add_argument("--committers", type=int, default=24, help="concurrent committers")
    parser.add_argument(
        "--group-max",
        type=int,
        default=JobsSettings().group_max,
        help="the worker's most jobs per transaction (group commit); 1: one transaction each",
    )
    parser.add_argument("--output", type=Path, default=REPORT, help="report file")
    parser.add_argument("--no-report", action="store_true", help="print only; leave the report")
    return parser.parse_args(argv)


@contextmanager
def _site(workdir: Path, broker_url: str) -> Iterator[tuple[str, str]]:
    """A database of its own, migrated, and a queue of its own: (database URL, queue)."""
    server_url = os.environ.get("AGORA_BENCH_DATABASE_URL", DEFAULT_SERVER_URL)
    with fresh_database(workdir, server_url) as url:
        upgrade(url)
        queue = f"agora.bench.{uuid.uuid4().hex[:12]}"
        try:
            yield url, queue
        finally:
            asyncio.run(delete_queue(broker_url, queue))


def _settings(url: str, broker_url: str, queue: str) -> Settings:
    return Settings(
        database_url=url,
        broker_url=broker_url,
        database_pool_size=28,
        log_level="WARNING",
        jobs=JobsSettings(queue=queue),
    )


async def _commit(container: Container, key: str, log: str) -> float:
    async with container.unit_of_work() as uow:
        uow.outbox.add(PROBE, Probe(key=key, log=log))
        await uow.commit()
    return time.time()


async def _sustained(container: Container, log: Path, jobs: int, committers: int) -> float:
    """Seconds from the first commit to the last handler done."""
    keys = iter(range(jobs))
    started = time.time()

    async def committer() -> None:
        for number in keys:
            await _commit(container, f"s{number}", str(log))

    await asyncio.gather(*(committer() for _ in range(committers)))
    await _wait_done(log, jobs)
    return max(run.at for run in runs(log, event="done")) - started


async def _fixed_rate(
    container: Container, log: Path, rate: float, seconds: float
) -> tuple[dict[str, float], list[float]]:
    """Commit times by key, and how late each commit started on its schedule (ms)."""
    count = int(rate * seconds)
    committed: dict[str, float] = {}
    late: list[float] = []
    tasks = []

    async def one(key: str) -> None:
        committed[key] = await _commit(container, key, str(log))

    start = time.monotonic() + 0.2
    for number in range(count):
        due = start + number / rate
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        late.append(max(0.0, (time.monotonic() - due) * 1000))
        tasks.append(asyncio.create_task(one(f"r{number}")))
    await asyncio.gather(*tasks)
    await _wait_done(log, count)
    return committed, late


def _machine_busy_seconds() -> float:
    """Every core's busy time so far (Linux ``/proc/stat``: all but idle and iowait)."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


# PostgreSQL's processes that work for every database (the WAL is shared)
_POSTGRES_SHARED = ("walwriter", "checkpointer", "background writer", "autovacuum")


def _services_cpu_seconds(database: str) -> tuple[float, float]:
    """CPU time so far of PostgreSQL's processes that serve ``database`` (its backends and the
    shared ones: other databases' backends are other work) and of RabbitMQ's Erlang VM."""
    postgres = rabbitmq = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if command.startswith("postgres:"):
            if f" {database} " not in command and not any(
                name in command for name in _POSTGRES_SHARED
            ):
                continue
            seconds = cpu_seconds(int(entry.name))
            postgres += seconds or 0.0
        elif "beam.smp" in command and "rabbit" in command:
            rabbitmq += cpu_seconds(int(entry.name)) or 0.0
    return postgres, rabbitmq


def _done_lines(log: Path, offset: int) -> tuple[int, int]:
    """The "done" lines appended to ``log`` after ``offset``, and the offset to read from next
    (a line still being written waits for the next look)."""
    if not log.exists():
        return 0, offset
    with log.open("rb") as file:
        file.seek(offset)
        appended = file.read()
    complete = appended[: appended.rfind(b"\n") + 1]
    lines = complete.count(b"\ndone ") + complete.startswith(b"done ")
    return lines, offset + len(complete)


async def _wait_done(log: Path, count: int) -> None:
    """Until the log records ``count`` handlers done; reads only what was appended since the
    last look (parsing the whole log each time cost this process more than its relay)."""
    deadline = time.monotonic() + DRAIN_TIMEOUT
    done, offset = 0, 0
    while True:
        lines, offset = _done_lines(log, offset)
        done += lines
        if done >= count:
            return
        if time.monotonic() > deadline:
            raise SystemExit(f"bench: the worker did not finish {count} jobs; see {WORKER_LOG}")
        await asyncio.sleep(0.2)


# PostgreSQL publishes a backend's counts at most once a second (and when it goes idle)
STATS_SETTLE_SECONDS = 1.5


async def _commits(container: Container, *, settled: bool = False) -> int:
    """Transactions committed in the bench's database so far (``pg_stat_database``); with
    ``settled``, after every backend had the time to publish its counts."""
    if settled:
        await asyncio.sleep(STATS_SETTLE_SECONDS)
    async with container.platform.db.autocommit_connection() as connection:
        count = await connection.scalar(
            text("SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()")
        )
    return int(count or 0)


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def _measure(
    url: str, broker_url: str, queue: str, workdir: Path, args: argparse.Namespace, worker: int
) -> JobsResult:
    container = Container.from_settings(_settings(url, broker_url, queue))
    database = make_url(url).database or ""
    await create_probe_table(container.platform.db)
    await container.jobs.start_in_server()  # the relay, as every server process runs it
    freeze_startup_objects()  # as a server's startup does
    try:
        warm = workdir / "warm.log"
        await _sustained(container, warm, 500, args.committers)
        sustained_log = workdir / "sustained.log"
        worker_before, bench_before = cpu_seconds(worker), time.process_time()
        machine_before = _machine_busy_seconds()
        postgres_before, rabbitmq_before = _services_cpu_seconds(database)
        commits_before = await _commits(container)
        seconds = await _sustained(container, sustained_log, args.jobs, args.committers)
        worker_after, bench_cpu = cpu_seconds(worker), time.process_time() - bench_before
        machine_cpu = (_machine_busy_seconds() - machine_before) * 1000 / args.jobs
        postgres_after, rabbitmq_after = _services_cpu_seconds(database)
        postgres_cpu = (postgres_after - postgres_before) * 1000 / args.jobs
        rabbitmq_cpu = (rabbitmq_after - rabbitmq_before) * 1000 / args.jobs
        commits_per_job = (await _commits(container, settled=True) - commits_before) / args.jobs
        worker_cpu = (
            None
            if worker_before is None or worker_after is None
            else (worker_after - worker_before) * 1000 / args.jobs
        )
        print(
            f"  sustained: {args.jobs / seconds:,.0f} jobs/s ({args.jobs:,} in {seconds:.1f} s); "
            f"CPU per job: worker {worker_cpu or 0:.2f} ms, committers and relay "
            f"{bench_cpu * 1000 / args.jobs:.2f} ms, PostgreSQL {postgres_cpu:.2f} ms, "
            f"RabbitMQ {rabbitmq_cpu:.2f} ms, the whole machine {machine_cpu:.2f} ms; "
            f"{commits_per_job:.2f} transactions per job"
        )
        rate_log = workdir / "rate.log"
        committed, late = await _fixed_rate(container, rate_log, args.rate, args.seconds)
    finally:
        await container.close()
    latencies = [(run.at - committed[run.key]) * 1000 for run in runs(rate_log) if run.attempt == 1]
    result = JobsResult(
        sustained_jobs=args.jobs,
        sustained_seconds=seconds,
        rate=args.rate,
        rate_jobs=len(committed),
        p50_ms=statistics.median(latencies),
        p99_ms=_percentile(latencies, 0.99),
        max_ms=max(latencies),
        committed_late_ms=_percentile(late, 0.99),
        concurrency=args.concurrency,
        committers=args.committers,
        group_max=args.group_max,
        worker_cpu_ms=worker_cpu,
        bench_cpu_ms=bench_cpu * 1000 / args.jobs,
        machine_cpu_ms=machine_cpu,
        commits_per_job=commits_per_job,
        postgres_cpu_ms=postgres_cpu or None,
        rabbitmq_cpu_ms=rabbitmq_cpu or None,
    )
    print(
        f"  at {args.rate:g} jobs/s: commit → handler start p50 {result.p50_ms:.1f} ms, "
        f"p99 {result.p99_ms:.1f} ms, max {result.max_ms:.1f} ms "
        f"(committer late p99 {result.committed_late_ms:.1f} ms)"
    )
    return result


def run(args: argparse.Namespace) -> JobsResult:
    broker_url = os.environ.get("AGORA_BENCH_BROKER_URL", DEFAULT_BROKER_URL)
    with (
        tempfile.TemporaryDirectory(prefix="agora-bench-jobs-") as tmp,
        _site(Path(tmp), broker_url) as (url, queue),
    ):
        workdir = Path(tmp)
        environment = jobs_environment(
            url,
            workdir,
            broker_url=broker_url,
            queue=queue,
            concurrency=args.concurrency,
            poll_seconds=1.0,
            group_max=args.group_max,
        )
        environment.update(AGORA_DATABASE_POOL_SIZE=str(args.concurrency + 8))
        with worker_process(environment, WORKER_LOG, concurrency=args.concurrency) as worker:
            # on uvloop, as a server's relay and requests run under uvicorn
            return event_loop.run(
                _measure(url, broker_url, queue, workdir, args, worker.process.pid)
            )


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f} ms"


def render(result: JobsResult) -> str:
    checks = result.checks()
    verdict = "; ".join(f"{c.target}: **{'PASS' if c.passed else 'MISS'}**" for c in checks)
    return "\n".join(
        [
            f"- Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, load average at the end "
            f"{os.getloadavg()[0]:.1f}: PostgreSQL + RabbitMQ, one "
            f"`agora worker` (prefetch {result.concurrency}, up to {result.group_max} jobs per "
            f"transaction), {result.committers} committers in "
            "the bench process (one job per transaction, relayed by the process's own relay).",
            "",
            "| measure | result |",
            "|---|---:|",
            f"| sustained, commit → handler done | {result.jobs_per_second:,.0f} jobs/s "
            f"({result.sustained_jobs:,} jobs in {result.sustained_seconds:.1f} s) |",
            f"| at {result.rate:g} jobs/s ({result.rate_jobs:,} jobs): commit → handler start "
            f"p50 | {result.p50_ms:.1f} ms |",
            f"| same, p99 | {result.p99_ms:.1f} ms |",
            f"| same, max | {result.max_ms:.1f} ms |",
            f"| committer behind its schedule, p99 | {result.committed_late_ms:.1f} ms |",
            f"| worker CPU per job (sustained) | {result.worker_cpu_ms or 0:.2f} ms |",
            f"| committers' and relay's CPU per job (sustained) | {result.bench_cpu_ms:.2f} ms |",
            f"| PostgreSQL's CPU per job (sustained; this database's backends, WAL writer, ...) "
            f"| {_ms(result.postgres_cpu_ms)} |",
            f"| RabbitMQ's CPU per job (sustained) | {_ms(result.rabbitmq_cpu_ms)} |",
            f"| the whole machine's CPU per job (sustained; {os.cpu_count()} cores) "
            f"| {result.machine_cpu_ms:.2f} ms |",
            f"| transactions committed per job (sustained; every process) "
            f"| {result.commits_per_job:.2f} |",
            "",
            f"Targets: {verdict}",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    print("bench: jobs on PostgreSQL + RabbitMQ, one worker", flush=True)
    result = run(args)
    for check in result.checks():
        print(f"  {check.target}: {'PASS' if check.passed else 'MISS'}")
    if not args.no_report:
        report.write(args.output, render(result), begin=JOBS_BEGIN, end=JOBS_END)
        print(f"bench: jobs results written to {args.output}")
    return 0


JOBS_BEGIN = "<!-- bench:jobs:begin (generated by `make bench`; edits here are replaced) -->"
JOBS_END = "<!-- bench:jobs:end -->"


if __name__ == "__main__":
    sys.exit(main())
