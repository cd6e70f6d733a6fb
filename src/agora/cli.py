"""``agora serve | migrate | seed | worker | jobs``: the one entry point for running Agora."""

from __future__ import annotations

import argparse
import asyncio
import atexit
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from agora.platform.worker_sockets import socket_for_workers
from agora.settings import Settings

if TYPE_CHECKING:
    from agora.platform.jobs.store import JobStore

# uvicorn's sans-I/O WebSocket protocol on the `websockets` library (a connection is a protocol
# object with timers for its keepalive pings, where the legacy implementation keeps several tasks
# per connection; a frame is written straight to the transport), in a subclass that keeps less
# for an idle connection (agora.platform.websocket_protocol)
WEBSOCKET_IMPLEMENTATION = "agora.platform.websocket_protocol:LeanWebSocketProtocol"
# uvicorn's httptools protocol, handing a WebSocket's request to the one above as parsed
HTTP_IMPLEMENTATION = "agora.platform.websocket_protocol:LeanHttpProtocol"


def _settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        messages = "; ".join(str(error["msg"]) for error in exc.errors())
        print(f"agora: configuration refused: {messages}", file=sys.stderr)
        raise SystemExit(2) from None


def _exit_cleanly(_signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(0)


def _prepare_metrics_directory(workers: int) -> None:
    """With several workers, each writes its metrics into files in one directory, so that a
    scrape answered by any worker reports the whole server (prometheus_client's multiprocess
    mode). The operator may name the directory; otherwise it is a temporary one."""
    from agora.platform.observability import MULTIPROCESS_DIR_VARIABLE

    given = os.environ.get(MULTIPROCESS_DIR_VARIABLE)
    if given:
        Path(given).mkdir(parents=True, exist_ok=True)
        # an earlier run's files would be added to this run's figures
        for stale in Path(given).glob("*.db"):
            stale.unlink()
    elif workers > 1:
        directory = tempfile.mkdtemp(prefix="agora-metrics-")
        atexit.register(shutil.rmtree, directory, ignore_errors=True)
        os.environ[MULTIPROCESS_DIR_VARIABLE] = directory


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    settings = _settings()
    if args.migrate:
        _migrate(args)
    if args.workers > 1 and settings.redis_url is None and settings.read_cache_seconds:
        # each worker would cache in its own memory and miss the other workers' invalidations
        print(
            "agora: several workers without AGORA_REDIS_URL: the read cache is off "
            "(set AGORA_REDIS_URL to share it)",
            file=sys.stderr,
        )
        os.environ["AGORA_READ_CACHE_SECONDS"] = "0"
    if args.workers > 1 and settings.redis_url is None:
        print(
            "agora: several workers without AGORA_REDIS_URL: a chat message reaches live only the "
            "clients of the worker that took it (the others get it with the next event, or on "
            "reconnect); set AGORA_REDIS_URL to share the fan-out",
            file=sys.stderr,
        )
    if args.forwarded_allow_ips is not None:
        # the app applies the proxy headers itself (agora.platform.forwarded), in every worker
        os.environ["AGORA_FORWARDED_ALLOW_IPS"] = args.forwarded_allow_ips
    _prepare_metrics_directory(args.workers)
    # uvicorn drains on SIGTERM, then restores the previous handler and raises the signal again;
    # with the default handler that kills the process (status 143) although shutdown went well.
    signal.signal(signal.SIGTERM, _exit_cleanly)
    options: dict[str, Any] = {
        "factory": True,
        "host": args.host,
        "port": args.port,
        "workers": args.workers,
        "proxy_headers": False,  # the app's ForwardedHeadersMiddleware does it, Host included
        # SIGTERM: stop accepting, let in-flight requests finish for this long, then exit
        "timeout_graceful_shutdown": args.graceful_timeout,
        "timeout_keep_alive": args.keep_alive_timeout,
        "log_level": settings.log_level.lower(),
        "access_log": False,
        "server_header": False,
        "http": HTTP_IMPLEMENTATION,  # httptools, handing a WebSocket's request over parsed
        # the chat's WebSocket: a larger frame is refused with 1009 before it is read whole;
        # no per-message compression, which would compress each fan-out frame per recipient
        "ws": WEBSOCKET_IMPLEMENTATION,
        "ws_max_size": settings.chat_gateway.max_frame_bytes,
        "ws_per_message_deflate": False,
    }
    try:
        held = socket_for_workers(args.host, args.port) if args.workers > 1 else None
    except OSError as exc:  # the port taken: uvicorn's own words and exit status for it
        print(f"agora: cannot serve on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 3
    if held is None:
        uvicorn.run("agora.app:create_app", **options)
        return 0
    # a listening socket for each worker (platform/worker_sockets.py), as uvicorn.run would
    # start its workers otherwise
    from uvicorn.supervisors import Multiprocess

    Multiprocess(uvicorn.Config("agora.app:create_app", **options), sockets=[held]).run()
    return 0


def _migrate(args: argparse.Namespace) -> int:
    from agora.migrations.runner import downgrade, upgrade

    settings = _settings()
    if getattr(args, "revision", None) and args.down:
        downgrade(settings.database_url, args.revision)
    else:
        upgrade(settings.database_url, getattr(args, "revision", None) or "head")
    return 0


def _seed(args: argparse.Namespace) -> int:
    from agora.seed import seed_demo

    settings = _settings()
    created = asyncio.run(seed_demo(settings, only_if_empty=args.if_empty))
    if created:
        print(
            "agora: demo content loaded (users jake, jane, ada, linus; password 'password123'; "
            "jake is the demo shop's staff)"
        )
    else:
        print("agora: the database already has content; demo content not loaded")
    return 0


def _worker(args: argparse.Namespace) -> int:
    from agora.platform import event_loop
    from agora.worker import run_worker

    event_loop.run(run_worker(_settings(), concurrency=args.concurrency))
    return 0


async def _on_jobs(work: Callable[[JobStore], Awaitable[int]]) -> int:
    from agora.container import Container

    container = Container.from_settings(_settings())
    try:
        return await work(container.jobs.store)
    finally:
        await container.close()


def _jobs_dead(args: argparse.Namespace) -> int:
    async def show(store: JobStore) -> int:
        letters = await store.dead_letters(limit=args.limit)
        if not letters:
            print("no dead letters")
        for letter in letters:
            died = letter.dead_at.isoformat() if letter.dead_at else "?"
            print(f"{letter.id}  {letter.topic}  attempts={letter.attempts}  died={died}")
            print(f"    {letter.last_error or '(no error recorded)'}")
        return 0

    return asyncio.run(_on_jobs(show))


def _jobs_retry(args: argparse.Namespace) -> int:
    if (args.id is None) == (not args.all):
        print("agora: give one job id, or --all", file=sys.stderr)
        return 2

    async def retry(store: JobStore) -> int:
        revived = await store.retry_dead(None if args.all else args.id)
        print(f"{revived} dead letter(s) will run again")
        return 0 if revived or args.all else 1

    return asyncio.run(_on_jobs(retry))


def _jobs_stats(_args: argparse.Namespace) -> int:
    async def show(store: JobStore) -> int:
        stats = await store.stats()
        print(f"backlog {stats.backlog}")
        print(f"oldest_due_seconds {stats.oldest_due_seconds:.1f}")
        print(f"dead {stats.dead}")
        return 0

    return asyncio.run(_on_jobs(show))


def _users_staff(args: argparse.Namespace) -> int:
    from agora.identity.staff import set_staff
    from agora.platform.db import Database

    async def run() -> bool:
        db = Database(_settings().database_url)
        try:
            return await set_staff(db, email=args.email, staff=not args.revoke)
        finally:
            await db.dispose()

    if not asyncio.run(run()):
        print(f"agora: no account with the address {args.email}", file=sys.stderr)
        return 1
    print(f"{args.email} is {'no longer ' if args.revoke else ''}staff")
    return 0


def _add_users_commands(commands: Any) -> None:
    users = commands.add_parser(
        "users", help="manage accounts", description="Roles of existing accounts."
    )
    actions = users.add_subparsers(dest="action", required=True, metavar="ACTION")
    staff = actions.add_parser(
        "staff",
        help="make an account staff (it may then manage the shop's catalog and orders)",
        description="Grant the staff role to the account with this email address, or take it "
        "back with --revoke. It applies to the account's next request.",
    )
    staff.add_argument("email", help="the account's email address")
    staff.add_argument("--revoke", action="store_true", help="take the role back")
    staff.set_defaults(handler=_users_staff)


def _add_jobs_commands(commands: Any) -> None:
    worker = commands.add_parser(
        "worker",
        help="run background jobs",
        description="Run background jobs until SIGTERM: with AGORA_BROKER_URL, consume RabbitMQ "
        "and relay the outbox to it; without, drain the outbox in this process.",
    )
    worker.add_argument(
        "--concurrency",
        type=int,
        default=None,
        help="jobs run at once (default AGORA_JOBS_CONCURRENCY)",
    )
    worker.set_defaults(handler=_worker)

    jobs = commands.add_parser(
        "jobs", help="inspect the outbox", description="Dead letters, retries and the backlog."
    )
    actions = jobs.add_subparsers(dest="action", required=True, metavar="ACTION")
    dead = actions.add_parser("dead", help="list dead letters: topic, attempts, last error")
    dead.add_argument("--limit", type=int, default=100, help="at most this many (default 100)")
    dead.set_defaults(handler=_jobs_dead)
    retry = actions.add_parser("retry", help="run dead letters again, with fresh attempts")
    retry.add_argument("id", nargs="?", help="the job's id (from `agora jobs dead`)")
    retry.add_argument("--all", action="store_true", help="every dead letter")
    retry.set_defaults(handler=_jobs_retry)
    stats = actions.add_parser("stats", help="backlog, oldest due job's wait, dead letters")
    stats.set_defaults(handler=_jobs_stats)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="agora",
        description="Agora: a RealWorld blog API (and more) on one identity. "
        "Configuration comes from AGORA_* environment variables; see README.md.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser(
        "serve",
        help="serve the HTTP API",
        description="Serve the API with uvicorn. SIGTERM drains in-flight requests, then exits.",
    )
    serve.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="TCP port (default 8000)")
    serve.add_argument(
        "--workers", type=int, default=1, help="worker processes (default 1; each has its own pool)"
    )
    serve.add_argument(
        "--migrate", action="store_true", help="apply database migrations before serving"
    )
    serve.add_argument(
        "--graceful-timeout",
        type=int,
        default=20,
        help="seconds in-flight requests get to finish after SIGTERM (default 20)",
    )
    serve.add_argument(
        "--keep-alive-timeout",
        type=int,
        default=5,
        help="seconds an idle connection stays open (default 5); behind a proxy that keeps "
        "connections to the nodes, longer than the proxy keeps them idle",
    )
    serve.add_argument(
        "--forwarded-allow-ips",
        default=None,
        help="proxies trusted for X-Forwarded-For / -Proto / -Host: comma-separated addresses or "
        "networks, '*' for any (default AGORA_FORWARDED_ALLOW_IPS, else 127.0.0.1)",
    )
    serve.set_defaults(handler=_serve)

    migrate = commands.add_parser(
        "migrate",
        help="apply database migrations",
        description="Bring the database at AGORA_DATABASE_URL to the newest schema (Alembic).",
    )
    migrate.add_argument("revision", nargs="?", help="target revision (default: head)")
    migrate.add_argument(
        "--down", action="store_true", help="downgrade to REVISION instead (e.g. 'base')"
    )
    migrate.set_defaults(handler=_migrate)

    seed = commands.add_parser(
        "seed",
        help="load demo content",
        description="Load demo users, articles, tags, comments, favorites and follows.",
    )
    seed.add_argument(
        "--if-empty", action="store_true", help="only when the database has no users yet"
    )
    seed.set_defaults(handler=_seed)
    _add_jobs_commands(commands)
    _add_users_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result: int = args.handler(args)
    return result
