"""``make cluster``'s topology, started by its own code on free ports: two ``agora serve`` nodes on
one PostgreSQL and one Redis, nginx in front. Requests through nginx reach both nodes in turn,
links the API builds name nginx's address (the nodes believe its X-Forwarded-*), a node
killed outright costs clients nothing (nginx sends their requests to the other one), and with a
broker the cluster's worker runs the jobs the nodes relay.
"""

from __future__ import annotations

import asyncio
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from deploy.cluster import Cluster
from tests.support.cluster import NEEDS_CLUSTER, cluster_under_test
from tests.support.config import TEST_BROKER_URL
from tests.support.jobs import delete_queue
from tests.support.servers import POLL_INTERVAL

pytestmark = [pytest.mark.e2e, *NEEDS_CLUSTER]

DEADLINE = 10.0  # seconds for what the cluster did to show: a line in a log, a mail


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """One cluster for the tests that leave it as they found it."""
    with cluster_under_test(tmp_path_factory.mktemp("cluster")) as started:
        yield started


def answered_by(running: Cluster, request_ids: set[str]) -> list[set[str]]:
    """Which of ``request_ids`` each node's access log names, once every one is in a log."""
    deadline = time.monotonic() + DEADLINE
    while True:
        logs = [node.log_path.read_text(errors="replace") for node in running.nodes]
        found = [{rid for rid in request_ids if rid in log} for log in logs]
        if set().union(*found) == request_ids or time.monotonic() > deadline:
            return found
        time.sleep(POLL_INTERVAL)  # polling a condition, bounded by the deadline


def test_requests_through_nginx_reach_both_nodes_in_turn(running: Cluster) -> None:
    request_ids = [str(uuid.uuid4()) for _ in range(8)]
    with httpx.Client(base_url=running.proxy.base_url, timeout=10.0) as client:
        for request_id in request_ids:
            response = client.get("/api/tags", headers={"X-Request-ID": request_id})
            assert response.status_code == 200, response.text
            assert response.headers["X-Request-ID"] == request_id
    first, second = answered_by(running, set(request_ids))
    assert first | second == set(request_ids), "every request is in one node's log"
    assert not first & second, "and in one only"
    # round robin, no stickiness: one client's requests alternate between the nodes
    assert len(first) == len(second) == len(request_ids) // 2


def test_links_name_the_address_the_client_used(running: Cluster) -> None:
    with httpx.Client(base_url=running.proxy.base_url, timeout=10.0) as client:
        feed = client.get("/api/feeds/articles.atom")
    assert feed.status_code == 200, feed.text
    # built by a node from nginx's X-Forwarded-Host and -Proto, not from its own address
    assert f'href="{running.proxy.base_url}/api/feeds/articles.atom"' in feed.text
    for node in running.nodes:
        assert node.base_url not in feed.text


def test_a_killed_node_costs_the_clients_nothing(tmp_path: Path) -> None:
    with cluster_under_test(tmp_path) as running:
        killed, survivor = running.nodes
        killed.process.send_signal(signal.SIGKILL)
        killed.process.wait(timeout=10)
        with httpx.Client(base_url=running.proxy.base_url, timeout=10.0) as client:
            statuses = [client.get("/readyz").status_code for _ in range(6)]
        # nginx finds the connection refused and sends each request on to the surviving node
        assert statuses == [200] * 6
        assert survivor.process.poll() is None


@pytest.mark.skipif(TEST_BROKER_URL is None, reason="needs AGORA_TEST_BROKER_URL (RabbitMQ)")
def test_with_a_broker_the_worker_runs_what_the_nodes_relay(tmp_path: Path) -> None:
    assert TEST_BROKER_URL is not None
    queue = f"agora.e2e.{uuid.uuid4().hex[:12]}"
    try:
        with cluster_under_test(
            tmp_path, AGORA_BROKER_URL=TEST_BROKER_URL, AGORA_JOBS_QUEUE=queue
        ) as running:
            assert running.worker is not None
            with httpx.Client(base_url=running.proxy.base_url, timeout=10.0) as http:
                registered = http.post(
                    "/api/users",
                    json={
                        "user": {
                            "username": "ada",
                            "email": "ada@example.com",
                            "password": "correct horse battery",
                        }
                    },
                )
            assert registered.status_code == 201, registered.text
            # the verification mail: committed by a node, relayed to RabbitMQ, sent by the worker
            mails = mails_to(tmp_path / "mail", "ada@example.com")
            assert len(mails) == 1, running.worker.log_tail()
    finally:
        asyncio.run(delete_queue(TEST_BROKER_URL, queue))


def mails_to(directory: Path, address: str) -> list[Path]:
    """The mails written for ``address``, once there is one (or the deadline passed)."""
    deadline = time.monotonic() + DEADLINE
    while True:
        found = [
            mail for mail in directory.glob("*.eml") if address in mail.read_text(errors="replace")
        ]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(POLL_INTERVAL)  # polling a condition, bounded by the deadline
