"""Throwaway databases and real ``agora serve`` processes, for tests that need more than the app.

Every database made here is new and dropped afterwards: a SQLite file in the test's directory, or,
when ``AGORA_TEST_DATABASE_URL`` is set (CI's PostgreSQL tier), a database of its own named
``agora_e2e_<random>`` on that server. So results never depend on what earlier tests left behind.

The helpers are synchronous on purpose (they call ``asyncio.run``); use them from sync tests.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url

REPO_ROOT = Path(__file__).resolve().parents[2]
TEST_DATABASE_URL = os.environ.get("AGORA_TEST_DATABASE_URL") or None
TEST_REDIS_URL = os.environ.get("AGORA_TEST_REDIS_URL") or None
JWT_SECRET = "e2e-secret-" + "x" * 32

# CI clones main with shared/ beside it; on a developer machine it lives in /work/shared
CONFORMANCE_CANDIDATES = (
    REPO_ROOT.parent / "shared" / "conformance" / "realworld",
    Path("/work/shared/conformance/realworld"),
)

READY_TIMEOUT = 30.0  # seconds for a new server to answer /readyz
# seconds for a server to drain and exit after SIGTERM: its own drain limit (agora serve
# --graceful-timeout, 20 by default) plus a margin for the shutdown itself
STOP_TIMEOUT = 25.0
POLL_INTERVAL = 0.05


def find_conformance_dir() -> Path | None:
    """The folder holding the RealWorld suites (the Postman collection and ``current/``)."""
    for candidate in CONFORMANCE_CANDIDATES:
        if (candidate / "Conduit.postman_collection.json").is_file() and (
            candidate / "current" / "bruno" / "bruno.json"
        ).is_file():
            return candidate
    return None


# --- databases -----------------------------------------------------------------------------------


async def _on_maintenance_db(server_url: str, statement: str) -> None:
    admin = make_url(server_url).set(drivername="postgresql", database="postgres")
    connection = await asyncpg.connect(admin.render_as_string(hide_password=False))
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@contextmanager
def fresh_database(directory: Path, server_url: str | None = TEST_DATABASE_URL) -> Iterator[str]:
    """Yields the URL of a new, empty database that is dropped on exit.

    ``server_url`` names a PostgreSQL server (any database on it); None means a SQLite file in
    ``directory``. The default follows ``AGORA_TEST_DATABASE_URL``.
    """
    if server_url is None:
        yield f"sqlite+aiosqlite:///{directory / f'agora-{uuid.uuid4().hex[:8]}.db'}"
        return
    name = f"agora_e2e_{uuid.uuid4().hex[:12]}"
    asyncio.run(_on_maintenance_db(server_url, f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(
            _on_maintenance_db(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        )


# --- server processes ----------------------------------------------------------------------------


def agora_command() -> list[str]:
    """The ``agora`` console script of the environment running the tests (``.venv/bin/agora``)."""
    script = Path(sys.executable).with_name("agora")
    return [str(script)] if script.exists() else [sys.executable, "-m", "agora"]


def server_environment(database_url: str, workdir: Path) -> dict[str, str]:
    # the developer's own AGORA_* settings must not leak into the server under test
    env = {key: value for key, value in os.environ.items() if not key.startswith("AGORA_")}
    env.update(
        AGORA_ENVIRONMENT="test",
        AGORA_DATABASE_URL=database_url,
        AGORA_JWT_SECRET=JWT_SECRET,
        AGORA_MEDIA_DIR=str(workdir / "media"),
        # the conformance suites register dozens of users from one address
        AGORA_RATE_LIMITS_ENABLED="false",
        AGORA_LOG_JSON="true",
        AGORA_ACCESS_LOG="true",
    )
    if TEST_REDIS_URL:
        env["AGORA_REDIS_URL"] = TEST_REDIS_URL
    return env


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _tail(path: Path, lines: int = 60) -> str:
    if not path.exists():
        return "(no output)"
    text = path.read_text(encoding="utf-8", errors="replace").splitlines()
    return "\n".join(text[-lines:]) or "(no output)"


@dataclass
class LiveServer:
    process: subprocess.Popen[bytes]
    host: str
    port: int
    log_path: Path

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def log_tail(self, lines: int = 60) -> str:
        return f"--- last lines of {self.log_path} ---\n{_tail(self.log_path, lines)}"

    def terminate(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)

    def wait_exit(self, timeout: float = STOP_TIMEOUT) -> int:
        """The exit status; kills the process (and fails) when it outlives ``timeout``."""
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            pytest.fail(
                f"agora serve did not exit within {timeout:.0f} s of SIGTERM\n{self.log_tail()}",
                pytrace=False,
            )

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        last = "no answer yet"
        with httpx.Client(base_url=self.base_url, timeout=2.0) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    pytest.fail(
                        f"agora serve exited with {self.process.returncode} while starting\n"
                        f"{self.log_tail()}",
                        pytrace=False,
                    )
                try:
                    response = client.get("/readyz")
                    if response.status_code == 200:
                        return
                    last = f"{response.status_code} {response.text}"
                except httpx.TransportError as exc:
                    last = repr(exc)
                time.sleep(POLL_INTERVAL)  # polling a condition, bounded by the deadline
        self.terminate()
        self.wait_exit()
        pytest.fail(
            f"agora serve was not ready within {timeout:.0f} s (last: {last})\n{self.log_tail()}",
            pytrace=False,
        )


def migrate(database_url: str, workdir: Path) -> None:
    result = subprocess.run(
        [*agora_command(), "migrate"],
        env=server_environment(database_url, workdir),
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"agora migrate failed:\n{result.stdout}\n{result.stderr}"


@contextmanager
def live_server(
    database_url: str,
    workdir: Path,
    *,
    workers: int = 1,
    environment: dict[str, str] | None = None,
    arguments: Sequence[str] = (),
) -> Iterator[LiveServer]:
    """``agora migrate``, ``agora serve`` on a free port; on exit SIGTERM, and it must exit 0.

    ``environment``: further variables for the server (settings, for instance);
    ``arguments``: further options of ``agora serve``.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    migrate(database_url, workdir)
    host, port = "127.0.0.1", free_port()
    log_path = workdir / "server.log"
    with log_path.open("wb") as log:
        command = [*agora_command(), "serve", "--host", host, "--port", str(port)]
        process = subprocess.Popen(
            [*command, "--workers", str(workers), *arguments],
            env={**server_environment(database_url, workdir), **(environment or {})},
            cwd=workdir,  # no stray .env file from the developer's checkout
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = LiveServer(process=process, host=host, port=port, log_path=log_path)
    try:
        server.wait_ready()
        yield server
    finally:
        server.terminate()
        status = server.wait_exit()
    assert status == 0, f"agora serve exited with {status} after SIGTERM\n{server.log_tail()}"
