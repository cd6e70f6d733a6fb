"""The N+1 guard for the shop's reads: a cart, a page of orders and one order each cost the same
few statements however many lines or orders they hold (counted on the app's own engine)."""

from __future__ import annotations

import uuid

from agora.platform.db import Database
from tests.shop.conftest import Shopper, add_product
from tests.support.statements import recorded_round_trips, recorded_statements


async def test_reads_cost_the_same_whatever_their_size(ann: Shopper, db: Database) -> None:
    skus = [f"SKU-{n}" for n in range(12)]
    await add_product(db, "many", [(sku, 100 + n, 100) for n, sku in enumerate(skus)])

    async def costs() -> tuple[int, int, int]:
        with recorded_statements(db) as cart:
            await ann.cart()
        with recorded_statements(db) as page:
            orders = (await ann.ok("GET", "/orders", params={"limit": 100}))["orders"]
        with recorded_statements(db) as one:
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


async def test_an_add_and_a_checkout_cost_a_few_statements_whatever_the_cart_holds(
    ann: Shopper, db: Database
) -> None:
    """The checkout flow's writes: an add is one statement on its own on PostgreSQL (no BEGIN
    or COMMIT), and on SQLite a transaction of the cart, the line (written from the variant its
    SKU names) and the cart's lines; a checkout reads its cart and lines in one statement (with
    its Idempotency-Key's claim on PostgreSQL), reserves every line in one statement on
    PostgreSQL (one a line on SQLite) and reads no price or order back after its writes."""
    skus = [f"SKU-{n}" for n in range(6)]
    await add_product(db, "many", [(sku, 100 + n, 100) for n, sku in enumerate(skus)])
    await ann.add(skus[0])
    postgresql = db.engine.dialect.name == "postgresql"
    for sku in skus:
        with recorded_round_trips(db) as add:
            await ann.add(sku)
        assert len(add) == (1 if postgresql else 5), add
    with recorded_statements(db) as checkout:
        await ann.place()
    # the cart with its lines, the reservations, then the order, its lines, its event and the
    # emptying: three statements on PostgreSQL; on SQLite a reservation a line and four writes
    assert len(checkout) == (3 if postgresql else 1 + len(skus) + 4), checkout

    for sku in skus:
        await ann.add(sku)
    with recorded_round_trips(db) as keyed:
        assert (await ann.checkout(key=str(uuid.uuid4()))).status_code == 201
    # BEGIN, the key's claim with the cart and its lines, the reservations, the writes (the key
    # naming its order among them), COMMIT; the order's job is written too (the recorder leaves
    # the outbox's statements out). SQLite: the claim, the cart, a reservation a line, five writes
    assert len(keyed) == (5 if postgresql else 4 + len(skus) + 5), keyed
