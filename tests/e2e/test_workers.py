"""``agora serve --workers N``: several processes behind one port, one server to the outside.

Whichever worker answers a scrape of ``/metrics`` reports the figures of all of them.
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx

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


def test_metrics_add_up_the_figures_of_every_worker(tmp_path: Path) -> None:
    with (
        fresh_database(tmp_path) as database_url,
        live_server(
            database_url, tmp_path / "server", workers=WORKERS, environment=SETTINGS
        ) as server,
    ):
        _wait_for_every_worker(server)
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
