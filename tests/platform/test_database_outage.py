"""While the database cannot serve, requests get 503 with ``Retry-After`` in RealWorld's error
shape, never a 500; when it is back, the same app serves again without a restart.

The restarts are of a PostgreSQL cluster of the module's own (initdb costs seconds, so one serves
every test here), never of the machine's shared server.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from httpx import ASGITransport, AsyncClient, Response

from agora.migrations.runner import upgrade
from agora.platform.ports import Platform
from agora.platform.provided import ProvidingApp
from tests.conftest import auth, create_article, register
from tests.support.apps import ClientFor, platform_of
from tests.support.services import PostgresCluster, postgres_cluster


@pytest.fixture(scope="module")
def cluster() -> Iterator[PostgresCluster]:
    with postgres_cluster() as running:
        upgrade(running.url)
        yield running


@pytest.fixture
def database(cluster: PostgresCluster) -> Iterator[PostgresCluster]:
    """The module's cluster, running at the start and at the end of each test."""
    if not cluster.is_running():
        cluster.start()
    yield cluster
    if not cluster.is_running():
        cluster.start()


def assert_unavailable(response: Response) -> None:
    assert response.status_code == 503, response.text
    assert 0 < int(response.headers["retry-after"]) <= 60
    messages = response.json()["errors"]["body"]
    assert messages
    assert all(isinstance(message, str) and message for message in messages)
    assert "127.0.0.1" not in response.text  # where the database lives is not the client's


NEW_ARTICLE = {"article": {"title": "During", "description": "d", "body": "b"}}


@pytest.mark.parametrize("mode", ["fast", "immediate"])
async def test_a_database_restart_answers_503_then_the_app_recovers(
    database: PostgresCluster, client_for: ClientFor, mode: str
) -> None:
    # no read cache: every read below must really ask the database
    client = await client_for(database_url=database.url, read_cache_seconds=0)
    token = await register(client, "jake")
    slug = (await create_article(client, token))["slug"]

    database.stop(mode)
    during = {
        "list": await client.get("/api/articles"),
        "read": await client.get(f"/api/articles/{slug}"),
        "me": await client.get("/api/user", headers=auth(token)),
        "write": await client.post("/api/articles", json=NEW_ARTICLE, headers=auth(token)),
        "comment": await client.post(
            f"/api/articles/{slug}/comments",
            json={"comment": {"body": "hello"}},
            headers=auth(token),
        ),
        "login": await client.post(
            "/api/users/login",
            json={"user": {"email": "jake@example.com", "password": "password123"}},
        ),
    }
    ready_during = await client.get("/readyz")
    database.start()

    for response in during.values():
        assert_unavailable(response)
    assert ready_during.status_code == 503
    # the same app, the same pool: it serves again, and nothing of the refused writes was kept
    assert (await client.get("/readyz")).status_code == 200
    listed = await client.get("/api/articles")
    assert listed.status_code == 200
    assert [article["slug"] for article in listed.json()["articles"]] == [slug]
    comments = await client.get(f"/api/articles/{slug}/comments")
    assert comments.json()["comments"] == []
    assert (await client.post("/api/articles", json=NEW_ARTICLE, headers=auth(token))).is_success


async def test_a_pool_with_no_free_connection_in_time_answers_503(
    make_app: Callable[..., ProvidingApp],
) -> None:
    # on the suite's own database (SQLite or PostgreSQL): a pool of one connection, held here
    app = make_app(database_pool_size=1, database_timeout_seconds=0.2, read_cache_seconds=0)
    platform: Platform = platform_of(app)
    async with (
        app.router.lifespan_context(app),
        AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as client,
    ):
        async with platform.db.engine.connect():
            response = await client.get("/api/articles")
        after = await client.get("/api/articles")

    assert_unavailable(response)
    assert after.status_code == 200


async def test_a_sqlite_file_that_cannot_be_opened_answers_503(
    client_for: ClientFor, tmp_path: Path
) -> None:
    # a directory where the database file should be: SQLite cannot open it
    client = await client_for(database_url=f"sqlite+aiosqlite:///{tmp_path}", clean=False)

    assert_unavailable(await client.get("/api/articles"))
    assert_unavailable(await client.get("/api/profiles/jake"))
    assert (await client.get("/readyz")).status_code == 503
