"""``make cluster``'s topology for tests: two nodes and nginx, started by the launcher's own code
(``deploy.cluster``) on free ports, a new database and a Redis namespace of their own."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from deploy.cluster import Cluster, cluster
from tests.support.database import fresh_database
from tests.support.servers import migrate, server_environment


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
