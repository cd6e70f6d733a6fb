"""Checkout through the API: totals computed on the server, stock reserved, the order and its
first event recorded, the cart emptied; every bad request a clear 4xx that changes nothing."""

from __future__ import annotations

from typing import Any

import pytest

from agora.platform.db import Database
from tests.shop.conftest import (
    ADDRESS,
    CHECKOUT,
    Shopper,
    add_product,
    problem,
    set_price,
    set_stock,
    stock_of,
)


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


async def test_the_same_idempotency_key_and_body_give_the_same_order(
    ann: Shopper, db: Database
) -> None:
    await add_product(db, "mug", [("MUG", 1000, 5)])
    await ann.add("MUG")
    first = await ann.checkout(key="k-1")
    assert first.status_code == 201, first.text

    again = await ann.checkout(key="k-1")

    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert await stock_of(db, "MUG") == (5, 1)
    other_body = await ann.checkout(key="k-1", shippingMethod="express")
    assert "another request" in problem(other_body, 409)["detail"]
    # the key is the user's: another user's same key is a new checkout
    assert (await ann.ok("GET", "/orders"))["orders"][0]["id"] == first.json()["order"]["id"]


async def test_a_failed_checkout_leaves_its_key_free_for_a_retry(
    ann: Shopper, db: Database
) -> None:
    await add_product(db, "mug", [("MUG", 1000, 1)])
    await ann.add("MUG")
    await set_stock(db, "MUG", 0)

    problem(await ann.checkout(key="k-2"), 409)
    await set_stock(db, "MUG", 1)

    assert (await ann.checkout(key="k-2")).status_code == 201


async def test_a_voucher_takes_its_share_and_counts_a_use(
    ann: Shopper, staff: Shopper, db: Database
) -> None:
    await add_product(db, "mug", [("MUG", 1000, 5)])
    await staff.ok(
        "POST",
        "/staff/vouchers",
        201,
        json={"code": "save10", "kind": "percentage", "value": 1000, "usageLimit": 1},
    )
    await ann.add("MUG", 2)

    order = await ann.place(voucherCode=" Save10 ")

    assert order["voucherCode"] == "SAVE10"
    assert order["figures"]["discount"] == {"amount": 200, "currency": "EUR"}
    vouchers = await staff.ok("GET", "/staff/vouchers")
    assert [(v["code"], v["uses"]) for v in vouchers] == [("SAVE10", 1)]
    await ann.add("MUG")
    assert "used up" in problem(await ann.checkout(voucherCode="SAVE10"), 409)["detail"]
    assert await stock_of(db, "MUG") == (5, 2)


@pytest.mark.parametrize(
    ("voucher", "message"),
    [
        (
            {"kind": "fixed", "value": 100, "currency": "EUR", "expiresAt": "2020-01-01T00:00:00Z"},
            "expired",
        ),
        ({"kind": "fixed", "value": 100, "currency": "EUR", "minimum": 100000}, "at least"),
        ({"kind": "fixed", "value": 100, "currency": "USD"}, "must be USD, not EUR"),
    ],
)
async def test_a_voucher_that_does_not_apply_is_a_422_and_changes_nothing(
    ann: Shopper, staff: Shopper, db: Database, voucher: dict[str, Any], message: str
) -> None:
    await add_product(db, "mug", [("MUG", 1000, 5)])
    await staff.ok("POST", "/staff/vouchers", 201, json={"code": "NOPE", **voucher})
    await ann.add("MUG")

    body = problem(await ann.checkout(voucherCode="NOPE"), 422)

    assert message in body["detail"]
    assert body["errors"][0]["field"] == "voucherCode"
    assert await stock_of(db, "MUG") == (5, 0)
    assert len((await ann.cart())["lines"]) == 1
    assert (await staff.ok("GET", "/staff/vouchers"))[0]["uses"] == 0


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"shippingMethod": "teleport"}, "shippingMethod"),
        (
            {"shippingMethod": "express", "shippingAddress": {**ADDRESS, "country": "JP"}},
            "shippingMethod",
        ),
        ({"shippingAddress": {**ADDRESS, "country": "France"}}, "country"),
        ({"shippingAddress": {**ADDRESS, "name": ""}}, "name"),
        ({"total": {"amount": 1, "currency": "EUR"}}, "total"),
        ({"price": 1}, "price"),
        ({"surprise": 1}, "surprise"),
    ],
)
async def test_bad_checkout_input_is_a_422_and_changes_nothing(
    ann: Shopper, db: Database, change: dict[str, Any], field: str
) -> None:
    await add_product(db, "mug", [("MUG", 1000, 5)])
    await ann.add("MUG")

    body = problem(await ann.call("POST", "/checkout", json={**CHECKOUT, **change}), 422)

    assert field in [error["field"] for error in body["errors"]]
    assert await stock_of(db, "MUG") == (5, 0)
    assert (await ann.ok("GET", "/orders"))["orders"] == []


async def test_an_unknown_voucher_is_a_404_and_changes_nothing(ann: Shopper, db: Database) -> None:
    await add_product(db, "mug", [("MUG", 1000, 5)])
    await ann.add("MUG")

    body = problem(await ann.checkout(voucherCode="UNKNOWN"), 404)

    assert body["errors"] == [{"field": "voucherCode", "detail": "is unknown"}]
    assert await stock_of(db, "MUG") == (5, 0)


async def test_a_price_in_the_request_is_refused_by_name(ann: Shopper, db: Database) -> None:
    await add_product(db, "mug", [("MUG", 1000, 5)])
    body = problem(
        await ann.call("POST", "/cart/lines", json={"sku": "MUG", "quantity": 1, "unitPrice": 1}),
        422,
    )
    assert body["errors"] == [
        {"field": "unitPrice", "detail": "is set by the server from the catalog: leave it out"}
    ]


async def test_an_empty_cart_or_an_anonymous_visitor_cannot_check_out(
    ann: Shopper, visitor: Shopper
) -> None:
    assert "empty" in problem(await ann.checkout(), 409)["detail"]
    problem(await visitor.checkout(), 401)


async def test_a_quote_shows_the_figures_and_changes_nothing(ann: Shopper, db: Database) -> None:
    await add_product(db, "mug", [("MUG", 1000, 5)])
    await ann.add("MUG")

    quote = await ann.ok("POST", "/checkout/quote", json=CHECKOUT)

    assert quote["figures"]["total"] == {"amount": 1788, "currency": "EUR"}
    assert quote["taxRateBasisPoints"] == 2000
    assert await stock_of(db, "MUG") == (5, 0)


async def test_an_anonymous_visitor_gets_a_quote_too(visitor: Shopper, db: Database) -> None:
    await add_product(db, "mug", [("MUG", 1000, 5)])
    await visitor.add("MUG")

    quote = await visitor.ok("POST", "/checkout/quote", json=CHECKOUT)

    assert quote["figures"]["total"] == {"amount": 1788, "currency": "EUR"}
    problem(await Shopper(visitor.http).call("POST", "/checkout/quote", json=CHECKOUT), 409)


async def test_shipping_methods_by_country_and_currency(visitor: Shopper) -> None:
    offers = await visitor.ok(
        "GET", "/shipping-methods", params={"country": "GB", "currency": "GBP"}
    )
    assert offers["methods"] == [
        {
            "code": "standard",
            "name": "Standard delivery",
            "rate": {"amount": 390, "currency": "GBP"},
        },
        {"code": "express", "name": "Express delivery", "rate": {"amount": 990, "currency": "GBP"}},
    ]
    problem(
        await visitor.call("GET", "/shipping-methods", params={"country": "GB", "currency": "XYZ"}),
        422,
    )


async def test_bad_fields_are_explained_in_words_a_client_can_act_on(
    ann: Shopper, db: Database
) -> None:
    await add_product(db, "mug", [("MUG", 1000, 5)])
    await ann.add("MUG")
    address = {**ADDRESS, "country": "France", "postalCode": "!"}

    body = problem(await ann.checkout(shippingAddress=address, shippingMethod="Fast"), 422)

    assert {error["field"]: error["detail"] for error in body["errors"]} == {
        "country": "must be two capital letters (ISO 3166-1 alpha-2), such as FR",
        "postalCode": "must be 3 to 12 letters, digits, spaces or hyphens",
        "shippingMethod": (
            "must be a code of lower-case letters, digits, '_' and '-', such as standard"
        ),
    }
    bad_key = problem(await ann.checkout(key="two words"), 422)
    assert bad_key["errors"] == [
        {
            "field": "Idempotency-Key",
            "detail": "must be 1 to 200 printable ASCII characters without spaces",
        }
    ]
    assert await stock_of(db, "MUG") == (5, 0)
