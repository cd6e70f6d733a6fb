"""Load generators: wrk (preferred, C) or a small asyncio one (fallback), same closed-loop model.

``C`` connections each send a request, wait for the whole response and send the next, for a fixed
duration. Latency is per request, as the client sees it; errors are socket errors and statuses of
400 and above.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import random
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

WRK_SCRIPT = Path(__file__).with_name("wrk.lua")
WRK_INSTALL_TIMEOUT = 300


@dataclass(frozen=True, slots=True)
class Request:
    """What one scenario sends; ``{slug}`` in the path and the token rotate per request: drawn
    at random, or the next line of ``pairs_file`` (``<line of tokens_file> <slug>``), so that no
    pair repeats."""

    method: str
    path: str
    tokens_file: Path | None = None
    slugs_file: Path | None = None
    body: str | None = None
    pairs_file: Path | None = None


@dataclass(frozen=True, slots=True)
class LoadResult:
    requests: int
    seconds: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    socket_errors: int
    bad_statuses: int
    # CPU time the server process spent per request (user + system), when it could be read
    server_cpu_ms: float | None = None

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def errors(self) -> int:
        return self.socket_errors + self.bad_statuses


class LoadGenerator:
    name = "abstract"

    def describe(self) -> str:
        return self.name

    def run(
        self, base_url: str, request: Request, *, connections: int, threads: int, seconds: float
    ) -> LoadResult:
        raise NotImplementedError


# --- wrk ---------------------------------------------------------------------------------------

_RESULT = re.compile(r"^BENCH_RESULT (.*)$", re.MULTILINE)


class Wrk(LoadGenerator):
    name = "wrk"

    def __init__(self, executable: str) -> None:
        self.executable = executable

    def describe(self) -> str:
        completed = subprocess.run(
            [self.executable, "--version"], capture_output=True, text=True, check=False
        )
        first = (completed.stdout or completed.stderr).splitlines()
        return first[0].split(" [")[0] if first else "wrk"

    def run(
        self, base_url: str, request: Request, *, connections: int, threads: int, seconds: float
    ) -> LoadResult:
        command = [
            self.executable,
            f"-t{threads}",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            "--timeout",
            "5s",
            "-s",
            str(WRK_SCRIPT),
            base_url,
            "--",
            request.method,
            request.path,
            str(request.tokens_file or "-"),
            str(request.slugs_file or "-"),
            request.body or "-",
            str(request.pairs_file or "-"),
            str(threads),
        ]
        completed = subprocess.run(
            command, capture_output=True, text=True, check=False, timeout=seconds + 60
        )
        match = _RESULT.search(completed.stdout)
        if completed.returncode != 0 or match is None:
            raise RuntimeError(f"wrk failed ({completed.returncode}): {completed.stderr.strip()}")
        fields = {
            key: float(value) for key, value in (item.split("=") for item in match[1].split())
        }
        return LoadResult(
            requests=int(fields["requests"]),
            seconds=fields["duration_us"] / 1e6,
            p50_ms=fields["p50_us"] / 1000,
            p90_ms=fields["p90_us"] / 1000,
            p99_ms=fields["p99_us"] / 1000,
            max_ms=fields["max_us"] / 1000,
            socket_errors=int(
                fields["connect"] + fields["read"] + fields["write"] + fields["timeout"]
            ),
            bad_statuses=int(fields["status"]),
        )


def find_wrk(*, install: bool) -> Wrk | None:
    """wrk from PATH; if missing and we are root on Debian, ``apt-get install wrk`` first."""
    if shutil.which("wrk") is None and install and os.geteuid() == 0 and shutil.which("apt-get"):
        print("bench: wrk is missing; installing Debian's package with apt-get")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}

        def apt_get(*args: str) -> None:
            subprocess.run(
                ["apt-get", *args],
                env=env,
                check=False,
                capture_output=True,
                timeout=WRK_INSTALL_TIMEOUT,
            )

        apt_get("install", "-y", "-qq", "wrk")
        if shutil.which("wrk") is None:  # stale package lists
            apt_get("update", "-qq")
            apt_get("install", "-y", "-qq", "wrk")
    found = shutil.which("wrk")
    return Wrk(found) if found else None


# --- the asyncio fallback ---------------------------------------------------------------------


def _lines(path: Path | None) -> list[str]:
    if path is None:
        return []
    return [line for line in path.read_text().splitlines() if line]


def _percentile(ordered: list[float], percent: float) -> float:
    if not ordered:
        return 0.0
    index = min(len(ordered) - 1, max(0, round(percent / 100 * len(ordered)) - 1))
    return ordered[index]


class AsyncioLoad(LoadGenerator):
    """HTTP/1.1 keep-alive over raw asyncio streams. It shares the CPU with the server, so its
    numbers are lower than wrk's: use it only to compare runs made with it."""

    name = "python-asyncio (fallback: shares the CPU with the server)"

    def run(
        self, base_url: str, request: Request, *, connections: int, threads: int, seconds: float
    ) -> LoadResult:
        return asyncio.run(self._run(base_url, request, connections, seconds))

    async def _run(
        self, base_url: str, request: Request, connections: int, seconds: float
    ) -> LoadResult:
        url = urlsplit(base_url)
        host, port = url.hostname or "127.0.0.1", url.port or 80
        tokens, slugs = _lines(request.tokens_file), _lines(request.slugs_file)
        pairs = itertools.cycle(
            (tokens[int(user) - 1], slug)
            for user, slug in (line.split(" ", 1) for line in _lines(request.pairs_file))
        )
        has_pairs = request.pairs_file is not None
        body = (request.body or "").encode()
        latencies: list[float] = []
        errors = {"socket": 0, "status": 0}
        deadline = time.perf_counter() + seconds

        def encode() -> bytes:
            path, token = request.path, random.choice(tokens) if tokens else None
            if has_pairs:
                token, slug = next(pairs)
                path = path.replace("{slug}", slug)
            elif slugs:
                path = path.replace("{slug}", random.choice(slugs))
            head = [f"{request.method} {path} HTTP/1.1", f"Host: {host}:{port}"]
            if token:
                head.append(f"Authorization: Token {token}")
            if body:
                head += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
            return ("\r\n".join(head) + "\r\n\r\n").encode() + body

        async def connection() -> None:
            reader, writer = await asyncio.open_connection(host, port)
            try:
                while time.perf_counter() < deadline:
                    started = time.perf_counter()
                    writer.write(encode())
                    status_line = await reader.readline()
                    length = 0
                    while (line := await reader.readline()) not in (b"\r\n", b""):
                        name, _, value = line.partition(b":")
                        if name.strip().lower() == b"content-length":
                            length = int(value)
                    await reader.readexactly(length)
                    latencies.append(time.perf_counter() - started)
                    if int(status_line.split()[1]) >= 400:
                        errors["status"] += 1
            except (OSError, asyncio.IncompleteReadError, IndexError, ValueError):
                errors["socket"] += 1
            finally:
                writer.close()

        started = time.perf_counter()
        await asyncio.gather(*(connection() for _ in range(connections)))
        elapsed = time.perf_counter() - started
        ordered = sorted(latencies)
        return LoadResult(
            requests=len(ordered),
            seconds=elapsed,
            p50_ms=_percentile(ordered, 50) * 1000,
            p90_ms=_percentile(ordered, 90) * 1000,
            p99_ms=_percentile(ordered, 99) * 1000,
            max_ms=(ordered[-1] * 1000) if ordered else 0.0,
            socket_errors=errors["socket"],
            bad_statuses=errors["status"],
        )
