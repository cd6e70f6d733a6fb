"""One ``agora serve --workers 1`` process on a free loopback port, its output in a log file."""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bench.seed import agora_command

HOST = "127.0.0.1"
START_TIMEOUT = 30.0
STOP_TIMEOUT = 25.0


@dataclass(frozen=True, slots=True)
class Server:
    base_url: str
    jwt_secret: str
    log_path: Path
    pid: int


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_ready(base_url: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"bench: the server exited with {process.returncode}; see {log_path}")
        try:
            with urllib.request.urlopen(f"{base_url}/api/ping", timeout=1) as response:  # noqa: S310
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.2)
    raise SystemExit(
        f"bench: the server did not answer within {START_TIMEOUT:.0f} s; see {log_path}"
    )


@contextlib.contextmanager
def running_server(database_url: str, log_path: Path, *, pool_size: int) -> Iterator[Server]:
    port = free_port()
    secret = secrets.token_urlsafe(48)
    env = {
        **os.environ,
        "AGORA_ENVIRONMENT": "production",
        "AGORA_DATABASE_URL": database_url,
        "AGORA_JWT_SECRET": secret,
        "AGORA_RATE_LIMITS_ENABLED": "false",
        # one connection per concurrent request: a smaller pool makes requests queue for a
        # connection (unfairly: some wait seconds), and its overflow connections are closed and
        # reopened all the time, each new one costing PostgreSQL a backend and fresh plans
        "AGORA_DATABASE_POOL_SIZE": str(pool_size),
        "AGORA_ACCESS_LOG": "true",
        "AGORA_LOG_JSON": "true",
        "AGORA_PUBLIC_URL": f"http://{HOST}:{port}",
    }
    env.pop("AGORA_REDIS_URL", None)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            agora_command("serve", "--workers", "1", "--host", HOST, "--port", str(port)),
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        base_url = f"http://{HOST}:{port}"
        try:
            _wait_ready(base_url, process, log_path)
            yield Server(base_url=base_url, jwt_secret=secret, log_path=log_path, pid=process.pid)
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
