"""Operations endpoints: ``/healthz``, ``/readyz`` and the Prometheus ``/metrics``."""

from __future__ import annotations

from httpx import AsyncClient

from agora.settings import Settings
from tests.conftest import register
from tests.support.apps import ClientFor
from tests.support.metrics import requests_total, samples

# Nothing listens on port 1 of the loopback interface: connecting is refused at once.
UNREACHABLE_POSTGRES = "postgresql+asyncpg://nobody@127.0.0.1:1/none"


async def test_healthz_answers(client: AsyncClient) -> None:
    response = await client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_checks_the_database_and_redis_when_configured(
    client: AsyncClient, settings: Settings
) -> None:
    response = await client.get("/readyz")

    assert response.status_code == 200
    expected = {"database": "ok"} | ({"redis": "ok"} if settings.redis_url else {})
    assert response.json() == {
        "status": "ready",
        "checks": expected,
        "jobs": {"backlog": 0, "oldest_due_seconds": 0.0, "dead": 0},
    }


async def test_readyz_is_503_when_the_database_is_unreachable(client_for: ClientFor) -> None:
    client = await client_for(database_url=UNREACHABLE_POSTGRES, clean=False)

    response = await client.get("/readyz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"].startswith("unavailable")
    # where the database lives is not told to the caller
    assert "127.0.0.1" not in response.text
    # liveness does not depend on the database
    assert (await client.get("/healthz")).status_code == 200


async def test_readyz_is_degraded_but_200_when_only_redis_is_unreachable(
    client_for: ClientFor,
) -> None:
    client = await client_for(redis_url="redis://127.0.0.1:1/0")

    response = await client.get("/readyz")

    # the node serves without Redis (no read cache, rate limits on their fallback): it stays in
    # the load balancer's rotation, and says what is missing
    assert response.status_code == 200
    assert response.json()["status"] == "degraded"
    checks = response.json()["checks"]
    assert checks["database"] == "ok"
    assert checks["redis"].startswith("unavailable")


async def test_metrics_count_requests_by_route_template(client: AsyncClient) -> None:
    await register(client, "jake")
    for username in ("jake", "jake", "nobody"):
        await client.get(f"/api/profiles/{username}")

    response = await client.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    profile = "/api/profiles/{username}"
    assert requests_total(text, method="GET", route=profile, status="200") == 2
    assert requests_total(text, method="GET", route=profile, status="404") == 1
    assert requests_total(text, method="POST", route="/api/users", status="201") == 1
    # one series per template, never one per username
    assert 'route="/api/profiles/jake"' not in text
    assert 'route="/api/profiles/nobody"' not in text


async def test_metrics_put_unknown_paths_under_one_label(client: AsyncClient) -> None:
    for path in ("/nope/1", "/nope/2", "/wp-admin"):
        await client.get(path)

    text = (await client.get("/metrics")).text

    assert requests_total(text, method="GET", route="<unmatched>", status="404") == 3
    assert "/wp-admin" not in text


async def test_documentation_and_media_are_counted_by_their_routes(client: AsyncClient) -> None:
    await client.get("/openapi.json")
    await client.get("/docs")
    await client.get("/media/avatars/missing.png")

    text = (await client.get("/metrics")).text

    assert requests_total(text, method="GET", route="/openapi.json", status="200") == 1
    assert requests_total(text, method="GET", route="/docs", status="200") == 1
    assert requests_total(text, method="GET", route="/media/{path}", status="404") == 1
    assert 'route="<unmatched>"' not in text


async def test_metrics_record_latency_per_route(client: AsyncClient) -> None:
    await client.get("/api/tags")

    found = samples((await client.get("/metrics")).text)

    count_labels = frozenset({"method": "GET", "route": "/api/tags"}.items())
    assert found[("agora_http_request_duration_seconds_count", count_labels)] == 1
    assert ("agora_http_requests_in_flight", frozenset()) in found


async def test_metrics_expose_the_database_pool(client: AsyncClient) -> None:
    await client.get("/readyz")

    found = samples((await client.get("/metrics")).text)

    names = {name for name, _ in found}
    assert {"agora_db_pool_size", "agora_db_pool_checked_out"} <= names
    # the scrape itself holds no connection
    assert found[("agora_db_pool_checked_out", frozenset())] == 0


async def test_each_app_keeps_its_own_metrics(client: AsyncClient, client_for: ClientFor) -> None:
    await client.get("/api/tags")
    other = await client_for()

    text = (await other.get("/metrics")).text

    assert requests_total(text, method="GET", route="/api/tags", status="200") == 0
