"""One ``agora serve --workers 1`` process on a free loopback port, its output in a log file.

Started and stopped by the test suite's own machinery (``tests/support/servers.py``), on the
benchmark's settings: production mode, no rate limits, a pool as large as the load.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.support.servers import ServerFailed, agora_server


@dataclass(frozen=True, slots=True)
class Server:
    base_url: str
    jwt_secret: str
    log_path: Path
    pid: int


def _environment(database_url: str, secret: str, pool_size: int) -> dict[str, str]:
    env = {
        **os.environ,
        "AGORA_ENVIRONMENT": "production",
        "AGORA_DATABASE_URL": database_url,
        "AGORA_JWT_SECRET": secret,
        "AGORA_RATE_LIMITS_ENABLED": "false",
        # one connection per concurrent request: a smaller pool makes requests queue for one
        "AGORA_DATABASE_POOL_SIZE": str(pool_size),
        "AGORA_ACCESS_LOG": "true",
        "AGORA_LOG_JSON": "true",
    }
    env.pop("AGORA_REDIS_URL", None)
    env.pop("AGORA_PUBLIC_URL", None)  # links follow the address the load generator uses
    return env


def shared_services_environment(
    database_url: str, secret: str, redis_url: str, *, bench: str, **settings: str
) -> dict[str, str]:
    """A production ``agora serve`` on the bench's PostgreSQL and Redis: this process's variables
    without its ``AGORA_`` ones, a Redis namespace of the run's own, rate limits and the jobs'
    housekeeping off (neither is what a bench measures); ``settings`` on top."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("AGORA_")}
    env.update(
        AGORA_ENVIRONMENT="production",
        AGORA_DATABASE_URL=database_url,
        AGORA_JWT_SECRET=secret,
        AGORA_REDIS_URL=redis_url,
        AGORA_REDIS_NAMESPACE=f"agora-{bench}-{uuid.uuid4().hex[:8]}",
        AGORA_RATE_LIMITS_ENABLED="false",
        AGORA_JOBS_HOUSEKEEPING="false",
    )
    env.update(settings)
    return env


@contextlib.contextmanager
def running_server(database_url: str, log_path: Path, *, pool_size: int) -> Iterator[Server]:
    secret = secrets.token_urlsafe(48)
    try:
        with agora_server(_environment(database_url, secret, pool_size), log_path) as server:
            yield Server(
                base_url=server.base_url,
                jwt_secret=secret,
                log_path=log_path,
                pid=server.process.pid,
            )
    except ServerFailed as failed:
        # a report, not a test: say what happened, without a traceback
        raise SystemExit(f"bench: {failed}") from None


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process so far (Linux), to report CPU per request: unlike
    requests/s it hardly moves when other programs compete for the same cores."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
