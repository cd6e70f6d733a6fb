"""``agora serve --workers N``: several processes behind one port, one server to the outside.

Whichever worker answers a scrape of ``/metrics`` reports the figures of all of them; connections
opened at once are spread over the workers, not all taken by the first that wakes.
"""

from __future__ import annotations

import os
import socket
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.support.database import fresh_database
from tests.support.metrics import requests_total, samples
from tests.support.servers import POLL_INTERVAL, READY_TIMEOUT, LiveServer, live_server

WORKERS = 2
POOL_SIZE = 3
REQUESTS = 20
SETTINGS = {"AGORA_DATABASE_POOL_SIZE": str(POOL_SIZE)}


def _scrape(server: LiveServer) -> str:
    # a connection of its own each time: any worker may take it
    response = httpx.get(f"{server.base_url}/metrics", timeout=5.0)
    assert response.status_code == 200
    return response.text


def _pool_size(text: str) -> float:
    return samples(text).get(("agora_db_pool_size", frozenset()), 0.0)


def _tags_served(text: str) -> float:
    return requests_total(text, method="GET", route="/api/tags", status="200")


def _wait_for_every_worker(server: LiveServer) -> None:
    """Every worker writes its pool size when it starts: their sum says all are up."""
    deadline = time.monotonic() + READY_TIMEOUT
    while _pool_size(_scrape(server)) < WORKERS * POOL_SIZE:
        assert time.monotonic() < deadline, f"the workers did not all start\n{server.log_tail()}"
        time.sleep(POLL_INTERVAL)  # polling a condition, bounded by the deadline


def _serve_tags(server: LiveServer) -> None:
    for _ in range(REQUESTS):
        assert httpx.get(f"{server.base_url}/api/tags", timeout=5.0).status_code == 200


@contextmanager
def _workers_up(tmp_path: Path) -> Iterator[LiveServer]:
    with (
        fresh_database(tmp_path) as database_url,
        live_server(
            database_url, tmp_path / "server", workers=WORKERS, environment=SETTINGS
        ) as server,
    ):
        _wait_for_every_worker(server)
        yield server


def test_metrics_add_up_the_figures_of_every_worker(tmp_path: Path) -> None:
    with _workers_up(tmp_path) as server:
        _serve_tags(server)

        for _ in range(5):
            text = _scrape(server)
            assert _tags_served(text) == REQUESTS
            assert _pool_size(text) == WORKERS * POOL_SIZE


def test_a_restart_starts_counting_from_zero_in_a_given_directory(tmp_path: Path) -> None:
    environment = {**SETTINGS, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics")}
    with fresh_database(tmp_path) as database_url:
        for run in ("first", "second"):
            with live_server(
                database_url, tmp_path / run, workers=WORKERS, environment=environment
            ) as server:
                _wait_for_every_worker(server)
                _serve_tags(server)

                # the first run's files were emptied out: only this run's requests count
                assert _tags_served(_scrape(server)) == REQUESTS


def _children(pid: int) -> list[int]:
    children = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as stat:
                fields = stat.read().rpartition(")")[2].split()
            if int(fields[1]) == pid:
                children.append(int(entry))
    return children


# a socket's state in /proc/net/tcp
LISTEN, ESTABLISHED = "0A", "01"


def _sockets_on_port(server: LiveServer, state: str) -> set[str]:
    """The sockets on the server's port in ``state``, named as a process's fd links name them."""
    inodes = set()
    with open("/proc/net/tcp", encoding="ascii") as table:
        for row in list(table)[1:]:
            fields = row.split()
            local_port = int(fields[1].rpartition(":")[2], 16)
            if local_port == server.port and fields[3] == state:
                inodes.add(f"socket:[{fields[9]}]")
    return inodes


def _connections_by_worker(server: LiveServer) -> Counter[int]:
    """How many established connections to the server's port each worker process holds."""
    inodes = _sockets_on_port(server, ESTABLISHED)
    held: Counter[int] = Counter()
    for worker in _children(server.process.pid):
        for fd in os.listdir(f"/proc/{worker}/fd"):
            try:
                if os.readlink(f"/proc/{worker}/fd/{fd}") in inodes:
                    held[worker] += 1
            except OSError:  # closed meanwhile
                continue
    return held


@pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="reads the workers' sockets from /proc"
)
def test_connections_opened_at_once_are_spread_over_the_workers(tmp_path: Path) -> None:
    opened = 32
    with _workers_up(tmp_path) as server:
        deadline = time.monotonic() + READY_TIMEOUT
        # a worker reports itself started (its pool size) a moment before it listens
        while len(_sockets_on_port(server, LISTEN)) < WORKERS:
            assert time.monotonic() < deadline, "the workers did not all listen"
            time.sleep(POLL_INTERVAL)  # polling a condition, bounded by the deadline
        clients = [socket.create_connection((server.host, server.port)) for _ in range(opened)]
        try:
            deadline = time.monotonic() + READY_TIMEOUT
            while sum((held := _connections_by_worker(server)).values()) < opened:
                assert time.monotonic() < deadline, f"not all accepted: {held}"
                time.sleep(POLL_INTERVAL)  # polling a condition, bounded by the deadline
        finally:
            for client in clients:
                client.close()

    assert len(held) == WORKERS, held
    assert min(held.values()) >= opened // 8, held
