"""Real concurrent requests against a live ``agora serve``: no overselling, no deadlock between
crossing carts, one order for twenty retries of one key, a voucher used exactly up to its limit.

The server is a real process on a database of its own (SQLite by default, PostgreSQL with
``AGORA_TEST_DATABASE_URL``, then with two worker processes); every checkout of a burst is sent
at once over its own connection.
On PostgreSQL they run side by side in the database; on SQLite the writes queue, which must give
the same answers.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from agora.platform.db import Database
from tests.shop.conftest import Shopper, add_product, make_staff, stock_of
from tests.support.concurrency import at_once
from tests.support.config import CHEAP_PASSWORD_HASHING, TEST_DATABASE_URL
from tests.support.database import fresh_database
from tests.support.servers import LiveServer, live_server

pytestmark = pytest.mark.e2e

CROWD = 50
# PostgreSQL: two processes, as production runs, so the races cross processes too; SQLite: one
# (the embedded default; its writers then queue in one event loop)
WORKERS = 2 if TEST_DATABASE_URL else 1


@pytest.fixture(scope="module")
def server_and_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, str]]:
    """One server for the module; each test uses products and users of its own."""
    directory = tmp_path_factory.mktemp("shop-live")
    cheap = {f"AGORA_{name.upper()}": str(value) for name, value in CHEAP_PASSWORD_HASHING.items()}
    with (
        fresh_database(directory) as url,
        live_server(url, directory / "server", environment=cheap, workers=WORKERS) as server,
    ):
        yield server, url


@pytest.fixture
async def db(server_and_url: tuple[LiveServer, str]) -> AsyncIterator[Database]:
    database = Database(server_and_url[1])
    yield database
    await database.dispose()


@pytest.fixture
async def http(server_and_url: tuple[LiveServer, str]) -> AsyncIterator[httpx.AsyncClient]:
    # a pooled connection is dropped after 2 s idle, before the server's keep-alive (5 s) closes
    # it: else a request sent on it just as the server closes it fails (ReadError)
    limits = httpx.Limits(
        max_connections=CROWD * 2, max_keepalive_connections=CROWD * 2, keepalive_expiry=2.0
    )
    async with httpx.AsyncClient(
        base_url=server_and_url[0].base_url, limits=limits, timeout=60.0
    ) as client:
        yield client


async def crowd(http: httpx.AsyncClient, size: int) -> list[Shopper]:
    """``size`` new signed-in shoppers."""
    run = uuid.uuid4().hex[:8]

    async def sign_up(n: int) -> Shopper:
        name = f"s{run}{n}"
        user = {"username": name, "email": f"{name}@example.com", "password": "password123"}
        response = await http.post("/api/users", json={"user": user})
        assert response.status_code == 201, response.text
        return Shopper(http, response.json()["user"]["token"], name=name)

    return list(await asyncio.gather(*(sign_up(n) for n in range(size))))


def sku() -> str:
    return f"SKU-{uuid.uuid4().hex[:10]}"


def tally(responses: list[httpx.Response]) -> Counter[int]:
    return Counter(response.status_code for response in responses)


def fields(response: httpx.Response) -> list[str]:
    body: dict[str, Any] = response.json()
    return [error["field"] for error in body.get("errors", [])]


async def test_fifty_checkouts_for_the_last_five_units_make_five_orders(
    http: httpx.AsyncClient, db: Database
) -> None:
    last = sku()
    await add_product(db, f"p-{last}", [(last, 2500, 5)])
    shoppers = await crowd(http, CROWD)
    await asyncio.gather(*(shopper.add(last) for shopper in shoppers))

    responses = await at_once(*(shopper.checkout() for shopper in shoppers))

    assert tally(responses) == {201: 5, 409: 45}
    for refused in (r for r in responses if r.status_code == 409):
        assert refused.headers["content-type"] == "application/problem+json"
        assert fields(refused) == ["stock"]
        assert "left in stock" in refused.json()["detail"]
    assert await stock_of(db, last) == (5, 5)
    placed = [r.json()["order"]["id"] for r in responses if r.status_code == 201]
    assert len(set(placed)) == 5


async def test_crossing_carts_never_deadlock(http: httpx.AsyncClient, db: Database) -> None:
    first, second = sku(), sku()
    await add_product(db, f"p-{first}", [(first, 1000, 1000), (second, 1000, 1000)])
    shoppers = await crowd(http, 40)
    # half put A then B in their carts, half B then A: the order they were added in is not the
    # order their stock is locked in
    for n, shopper in enumerate(shoppers):
        for variant in (first, second) if n % 2 else (second, first):
            await shopper.add(variant, 1 + n % 3)

    responses = await at_once(*(shopper.checkout() for shopper in shoppers))

    assert tally(responses) == {201: 40}
    wanted = sum(1 + n % 3 for n in range(40))
    assert await stock_of(db, first) == (1000, wanted)
    assert await stock_of(db, second) == (1000, wanted)


async def test_twenty_retries_with_one_key_make_one_order(
    http: httpx.AsyncClient, db: Database
) -> None:
    item = sku()
    await add_product(db, f"p-{item}", [(item, 1000, 10)])
    (shopper,) = await crowd(http, 1)
    await shopper.add(item, 2)
    key = str(uuid.uuid4())

    responses = await at_once(*(shopper.checkout(key=key) for _ in range(20)))

    assert tally(responses) == {201: 20}
    orders = {r.json()["order"]["id"] for r in responses}
    assert len(orders) == 1
    assert sum(r.headers.get("Idempotent-Replayed") == "true" for r in responses) == 19
    assert await stock_of(db, item) == (10, 2)
    assert [o["id"] for o in (await shopper.ok("GET", "/orders"))["orders"]] == list(orders)


async def test_a_voucher_limited_to_ten_uses_is_used_ten_times(
    http: httpx.AsyncClient, db: Database
) -> None:
    item = sku()
    await add_product(db, f"p-{item}", [(item, 1000, 1000)])
    shoppers = await crowd(http, CROWD + 1)
    clerk = shoppers.pop()
    await make_staff(db, clerk.name)
    code = f"TEN{uuid.uuid4().hex[:6]}".upper()
    voucher = {"code": code, "kind": "percentage", "value": 1000, "usageLimit": 10}
    await clerk.ok("POST", "/staff/vouchers", 201, json=voucher)
    await asyncio.gather(*(shopper.add(item) for shopper in shoppers))

    responses = await at_once(*(shopper.checkout(voucherCode=code) for shopper in shoppers))

    assert tally(responses) == {201: 10, 409: 40}
    assert all(fields(r) == ["voucherCode"] for r in responses if r.status_code == 409)
    vouchers = await clerk.ok("GET", "/staff/vouchers", params={"limit": 100})
    assert [v["uses"] for v in vouchers if v["code"] == code] == [10]
    # the refused checkouts reserved nothing: their reservations rolled back with them
    assert await stock_of(db, item) == (1000, 10)
    assert all(
        r.json()["order"]["figures"]["discount"]["amount"] == 100
        for r in responses
        if r.status_code == 201
    )
