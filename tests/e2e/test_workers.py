"""``agora serve --workers N``: several processes behind one port, one server to the outside.

Whichever worker answers a scrape of ``/metrics`` reports the figures of all of them.
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from tests.e2e.support import POLL_INTERVAL, READY_TIMEOUT, LiveServer, fresh_database, live_server
from tests.metrics_text import requests_total, samples

WORKERS = 2
POOL_SIZE = 3
REQUESTS = 20


def _scrape(server: LiveServer) -> str:
    # a connection of its own each time: any worker may take it
    response = httpx.get(f"{server.base_url}/metrics", timeout=5.0)
    assert response.status_code == 200
    return response.text


def _pool_size(text: str) -> float:
    return samples(text).get(("agora_db_pool_size", frozenset()), 0.0)


def _wait_for_every_worker(server: LiveServer) -> None:
    """Every worker writes its pool size when it starts: their sum says all are up."""
    deadline = time.monotonic() + READY_TIMEOUT
    while _pool_size(_scrape(server)) < WORKERS * POOL_SIZE:
        assert time.monotonic() < deadline, f"the workers did not all start\n{server.log_tail()}"
        time.sleep(POLL_INTERVAL)  # polling a condition, bounded by the deadline


def test_metrics_add_up_the_figures_of_every_worker(tmp_path: Path) -> None:
    settings = {"AGORA_DATABASE_POOL_SIZE": str(POOL_SIZE)}
    with (
        fresh_database(tmp_path) as database_url,
        live_server(
            database_url, tmp_path / "server", workers=WORKERS, settings=settings
        ) as server,
    ):
        _wait_for_every_worker(server)
        for _ in range(REQUESTS):
            assert httpx.get(f"{server.base_url}/api/tags", timeout=5.0).status_code == 200

        for _ in range(5):
            text = _scrape(server)
            assert requests_total(text, method="GET", route="/api/tags", status="200") == REQUESTS
            assert _pool_size(text) == WORKERS * POOL_SIZE
