"""``make cluster``'s topology for tests: two nodes and nginx, started by the launcher's own code
(``deploy.cluster``) on free ports, a new database and a Redis namespace of their own."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from deploy.cluster import Cluster, cluster, nginx_binary
from tests.support.config import TEST_DATABASE_URL, TEST_REDIS_URL
from tests.support.database import fresh_database
from tests.support.servers import migrate, server_environment

# a test module's marks when it starts a cluster: `pytestmark = [pytest.mark.e2e, *NEEDS_CLUSTER]`
NEEDS_CLUSTER = [
    pytest.mark.skipif(
        TEST_DATABASE_URL is None or TEST_REDIS_URL is None,
        reason="needs AGORA_TEST_DATABASE_URL and AGORA_TEST_REDIS_URL (the nodes share both)",
    ),
    pytest.mark.skipif(nginx_binary() is None, reason="nginx is not installed (make cluster does)"),
]


@contextmanager
def cluster_under_test(directory: Path, **environment: str) -> Iterator[Cluster]:
    """Two nodes on the tests' settings and nginx in front, with ``environment`` besides; with
    ``AGORA_BROKER_URL`` an ``agora worker`` too. Logs and nginx's files under ``directory``."""
    with fresh_database(directory) as database_url:
        migrate(database_url, directory)
        environment = {
            **server_environment(database_url, directory),
            "AGORA_REDIS_NAMESPACE": f"agora-e2e-{uuid.uuid4().hex[:12]}",
            **environment,
        }
        worker = "AGORA_BROKER_URL" in environment
        with cluster(environment, directory, worker=worker) as started:
            yield started
