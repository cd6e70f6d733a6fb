"""A PostgreSQL cluster and a Redis server of a test's own, on free ports, to stop and start.

Outage tests must not stop the machine's shared services, so they start these: PostgreSQL in a
temporary directory (``initdb`` as the ``postgres`` user when the tests run as root, which initdb
refuses), and ``redis-server`` without persistence, as a restarted production Redis without
persistence comes back empty. Both are skipped with a reason where the binaries are missing.
"""

from __future__ import annotations

import asyncio
import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg
import pytest
import redis

from tests.support.servers import POLL_INTERVAL, free_port

START_TIMEOUT = 30.0


def _postgres_bindir() -> Path | None:
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).parent
    # Debian keeps them out of PATH, one folder per major version; the newest wins
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    return Path(candidates[0]).parent if candidates else None


class PostgresCluster:
    """``initdb`` into a temporary directory; ``pg_ctl`` start/stop on a free port."""

    def __init__(self, bindir: Path, directory: Path) -> None:
        self.bindir = bindir
        self.directory = directory
        self.port = free_port()
        self._run_as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/agora"

    def _run(self, tool: str, *args: str) -> None:
        command = [*self._run_as, str(self.bindir / tool), *args]
        result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        assert result.returncode == 0, f"{tool} failed:\n{result.stdout}\n{result.stderr}"

    def create(self) -> None:
        if self._run_as:
            postgres = pwd.getpwnam("postgres")
            os.chown(self.directory, postgres.pw_uid, postgres.pw_gid)
        self._run("initdb", "-D", str(self.directory / "data"), "-A", "trust", "-U", "postgres")
        self.start()
        asyncio.run(self._create_database())

    async def _create_database(self) -> None:
        connection = await asyncpg.connect(
            host="127.0.0.1", port=self.port, user="postgres", database="postgres"
        )
        try:
            await connection.execute("CREATE DATABASE agora")
        finally:
            await connection.close()

    def start(self) -> None:
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1"
        log = str(self.directory / "postgres.log")
        self._run("pg_ctl", "-D", str(self.directory / "data"), "-o", options, "-l", log, "start")

    def stop(self, mode: str = "fast") -> None:
        """``fast``: sessions are told to end; ``immediate``: as if the machine lost power."""
        self._run("pg_ctl", "-D", str(self.directory / "data"), "-m", mode, "-w", "stop")

    def is_running(self) -> bool:
        return (self.directory / "data" / "postmaster.pid").exists()


@contextmanager
def postgres_cluster() -> Iterator[PostgresCluster]:
    bindir = _postgres_bindir()
    if bindir is None:
        pytest.skip("the PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    directory = Path(tempfile.mkdtemp(prefix="agora-pg-"))
    cluster = PostgresCluster(bindir, directory)
    try:
        cluster.create()
        yield cluster
    finally:
        if cluster.is_running():
            cluster.stop("immediate")
        shutil.rmtree(directory, ignore_errors=True)


class RedisServer:
    """``redis-server`` on a free port: killed and restarted on the same port, or paused."""

    def __init__(self, executable: str) -> None:
        self.executable = executable
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        # no RDB snapshot, no append-only file: a restart comes back empty
        persistence = ["--save", "", "--appendonly", "no"]
        self.process = subprocess.Popen(
            [self.executable, "--port", str(self.port), "--bind", "127.0.0.1", *persistence],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + START_TIMEOUT
        with redis.Redis(port=self.port, socket_timeout=1.0) as probe:
            while True:
                try:
                    probe.ping()
                    return
                except redis.ConnectionError:
                    if self.process.poll() is not None or time.monotonic() > deadline:
                        raise
                time.sleep(POLL_INTERVAL)  # polling a condition, bounded by the deadline

    def kill(self) -> None:
        """SIGKILL: gone at once, with everything it held (it keeps nothing on disk)."""
        if self.process is not None:
            self.process.send_signal(signal.SIGCONT)  # a paused process must run to die
            self.process.kill()
            self.process.wait()
            self.process = None

    def pause(self) -> None:
        """SIGSTOP: connections are accepted by the kernel but never answered."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)


@contextmanager
def redis_server() -> Iterator[RedisServer]:
    executable = shutil.which("redis-server")
    if executable is None:
        pytest.skip("redis-server is not installed")
    server = RedisServer(executable)
    server.start()
    try:
        yield server
    finally:
        server.kill()
