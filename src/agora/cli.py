"""``agora serve | migrate | seed``: the one entry point for running Agora."""

from __future__ import annotations

import argparse
import asyncio
import atexit
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from pydantic import ValidationError

from agora.settings import Settings


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
    if args.forwarded_allow_ips is not None:
        # the app applies the proxy headers itself (agora.platform.forwarded), in every worker
        os.environ["AGORA_FORWARDED_ALLOW_IPS"] = args.forwarded_allow_ips
    _prepare_metrics_directory(args.workers)
    # uvicorn drains on SIGTERM, then restores the previous handler and raises the signal again;
    # with the default handler that kills the process (status 143) although shutdown went well.
    signal.signal(signal.SIGTERM, _exit_cleanly)
    uvicorn.run(
        "agora.app:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        proxy_headers=False,  # the app's own ForwardedHeadersMiddleware does it, Host included
        # SIGTERM: stop accepting, let in-flight requests finish for this long, then exit
        timeout_graceful_shutdown=args.graceful_timeout,
        log_level=settings.log_level.lower(),
        access_log=False,
        server_header=False,
    )
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
        print("agora: demo content loaded (users jake, jane, ada, linus; password 'password123')")
    else:
        print("agora: the database already has content; demo content not loaded")
    return 0


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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result: int = args.handler(args)
    return result
