"""Checkout through the API: totals computed on the server, stock reserved, the order and its
first event recorded, the cart emptied; every bad request a clear 4xx that changes nothing."""

from __future__ import annotations

from agora.platform.db import Database
from tests.shop.conftest import ADDRESS, Shopper, problem, set_price, stock_of


async def test_a_checkout_places_an_order_with_server_side_totals(
    ann: Shopper, db: Database
) -> None:
    await add_product(db, "tee", [("TEE-M", 1999, 5), ("TEE-L", 2099, 5)])
    await ann.add("TEE-M", 2)
    await ann.add("TEE-L")

    order = await ann.place()

    assert order["status"] == "pending_payment"
    assert [(line["sku"], line["quantity"]) for line in order["lines"]] == [
        ("TEE-M", 2),
        ("TEE-L", 1),
    ]
    figures = order["figures"]
    assert figures["subtotal"] == {"amount": 6097, "currency": "EUR"}
    assert figures["shipping"] == {"amount": 490, "currency": "EUR"}
    # 20 % of 6587 = 1317.4
    assert figures["tax"] == {"amount": 1317, "currency": "EUR"}
    assert figures["total"] == {"amount": 6097 + 490 + 1317, "currency": "EUR"}
    assert [(e["from"], e["to"]) for e in order["events"]] == [(None, "pending_payment")]
    assert await stock_of(db, "TEE-M") == (5, 2)
    assert (await ann.cart())["lines"] == []


async def test_the_price_charged_is_the_catalogs_at_checkout(ann: Shopper, db: Database) -> None:
    await add_product(db, "mug", [("MUG", 1000, 5)])
    cart = await ann.add("MUG")
    assert cart["lines"][0]["unitPrice"] == {"amount": 1000, "currency": "EUR"}

    await set_price(db, "MUG", 1250)

    assert (await ann.cart())["subtotal"] == {"amount": 1250, "currency": "EUR"}
    order = await ann.place()
    assert order["lines"][0]["unitPrice"]["amount"] == 1250


from tests.shop.conftest import add_product  # noqa: E402
