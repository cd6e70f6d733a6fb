"""The N+1 guard for the shop's reads: a cart, a page of orders and one order each cost the same
few statements however many lines or orders they hold (counted on the app's own engine)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event

from agora.platform.db import Database
from tests.shop.conftest import Shopper, add_product


@contextmanager
def counting(db: Database) -> Iterator[list[str]]:
    statements: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    event.listen(db.engine.sync_engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", record)


async def test_reads_cost_the_same_whatever_their_size(ann: Shopper, db: Database) -> None:
    skus = [f"SKU-{n}" for n in range(12)]
    await add_product(db, "many", [(sku, 100 + n, 100) for n, sku in enumerate(skus)])

    async def costs() -> tuple[int, int, int]:
        with counting(db) as cart:
            await ann.cart()
        with counting(db) as page:
            orders = (await ann.ok("GET", "/orders", params={"limit": 100}))["orders"]
        with counting(db) as one:
            await ann.ok("GET", f"/orders/{orders[0]['id']}")
        return len(cart), len(page), len(one)

    await ann.add(skus[0])
    await ann.place()
    await ann.add(skus[0])
    small = await costs()
    for sku in skus:
        await ann.add(sku)
    for _ in range(10):
        await ann.place()
        for sku in skus:
            await ann.add(sku)
    large = await costs()

    assert small == large
    assert max(large) <= 4
