"""Real ``agora`` processes: ``agora serve`` on a free loopback port, ``agora migrate``.

``agora_server`` runs a server with exactly the environment it is given (the benchmark's, for
instance); ``live_server`` is the tests' one: migrated first, on the test settings, and it must
exit 0 after SIGTERM. Synchronous on purpose: use them from sync tests and fixtures.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.support.config import TEST_JWT_SECRET, TEST_REDIS_URL

HOST = "127.0.0.1"
# seconds for a new server to answer its readiness path: a bound, generous for a busy machine
# (two workers importing the app on two loaded cores took over 30 s)
READY_TIMEOUT = 90.0
# seconds for a server to drain and exit after SIGTERM: its own drain limit (agora serve
# --graceful-timeout, 20 by default) plus a margin for the shutdown itself
STOP_TIMEOUT = 25.0
POLL_INTERVAL = 0.05


class ServerFailed(AssertionError):
    """A server that would not start, answer or stop as it should; the message ends with its
    log's last lines."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def agora_command(*args: str) -> list[str]:
    """``agora ARGS`` from the environment running this interpreter (``.venv/bin/agora``)."""
    script = Path(sys.executable).with_name("agora")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "agora"]
    return [*command, *args]


def file_tail(path: Path, lines: int = 60) -> str:
    """The last ``lines`` of a log file, for a failure's message."""
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
        return f"--- last lines of {self.log_path} ---\n{file_tail(self.log_path, lines)}"

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
            raise ServerFailed(
                f"agora serve did not exit within {timeout:.0f} s of SIGTERM\n{self.log_tail()}"
            ) from None

    def wait_ready(self, path: str = "/readyz", timeout: float = READY_TIMEOUT) -> None:
        """Until ``path`` answers 200; fails if the process exits or ``timeout`` passes."""
        deadline = time.monotonic() + timeout
        last = "no answer yet"
        with httpx.Client(base_url=self.base_url, timeout=2.0) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise ServerFailed(
                        f"agora serve exited with {self.process.returncode} while starting\n"
                        f"{self.log_tail()}"
                    )
                try:
                    response = client.get(path)
                    if response.status_code == 200:
                        return
                    last = f"{response.status_code} {response.text}"
                except httpx.TransportError as exc:
                    last = repr(exc)
                time.sleep(POLL_INTERVAL)  # polling a condition, bounded by the deadline
        self.terminate()
        self.wait_exit()
        raise ServerFailed(
            f"agora serve was not ready within {timeout:.0f} s (last: {last})\n{self.log_tail()}"
        )


@contextmanager
def agora_server(
    environment: Mapping[str, str],
    log_path: Path,
    *,
    cwd: Path | None = None,
    workers: int = 1,
    arguments: Sequence[str] = (),
    port: int | None = None,
) -> Iterator[LiveServer]:
    """``agora serve`` on ``port`` (a free one when None) with exactly ``environment``, its
    output in ``log_path``; yields once ``/readyz`` answers 200; on exit SIGTERM, and a kill if it
    outlives ``STOP_TIMEOUT`` (its exit status is then in ``server.process.returncode``)."""
    port = port or free_port()
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            agora_command(
                "serve", "--host", HOST, "--port", str(port), "--workers", str(workers), *arguments
            ),
            env=dict(environment),
            cwd=cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = LiveServer(process=process, host=HOST, port=port, log_path=log_path)
    try:
        server.wait_ready()
        yield server
    finally:
        server.terminate()
        server.wait_exit()


# --- the tests' servers -------------------------------------------------------------------------


def server_environment(database_url: str, workdir: Path) -> dict[str, str]:
    # the developer's own AGORA_* settings must not leak into the server under test
    env = {key: value for key, value in os.environ.items() if not key.startswith("AGORA_")}
    env.update(
        AGORA_ENVIRONMENT="test",
        AGORA_DATABASE_URL=database_url,
        AGORA_JWT_SECRET=TEST_JWT_SECRET,
        AGORA_MEDIA_DIR=str(workdir / "media"),
        AGORA_MAIL_DIR=str(workdir / "mail"),
        # the conformance suites register dozens of users from one address
        AGORA_RATE_LIMITS_ENABLED="false",
        AGORA_LOG_JSON="true",
        AGORA_ACCESS_LOG="true",
        # the hourly purges would add their first occurrences to every test's outbox
        AGORA_JOBS_HOUSEKEEPING="false",
    )
    if TEST_REDIS_URL:
        env["AGORA_REDIS_URL"] = TEST_REDIS_URL
    return env


def migrate(database_url: str, workdir: Path) -> None:
    result = subprocess.run(
        agora_command("migrate"),
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
    with agora_server(
        {**server_environment(database_url, workdir), **(environment or {})},
        workdir / "server.log",
        cwd=workdir,  # no stray .env file from the developer's checkout
        workers=workers,
        arguments=arguments,
    ) as server:
        yield server
    status = server.process.returncode
    assert status == 0, f"agora serve exited with {status} after SIGTERM\n{server.log_tail()}"
