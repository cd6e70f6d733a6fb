"""Carts through the API: anonymous carts by token, merged at the first signed-in call; quantities
checked against stock; prices from the catalog at every step; bad input a 4xx that changes
nothing."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import insert, select, update

from agora.identity.models import User
from agora.platform.db import Database, on_postgresql, utcnow
from agora.shop.cart.models import Cart, CartLine
from agora.shop.cart.service import hash_token
from tests.shop.conftest import Shopper, add_product, problem, set_price
from tests.support.concurrency import at_once, statuses
from tests.support.database import someone_waits_for_a_lock


async def test_an_anonymous_visitor_gets_a_cart_token_with_the_first_line(
    visitor: Shopper, db: Database
) -> None:
    await add_product(db, "tee", [("TEE-M", 1999, 5)])
    assert (await visitor.cart())["lines"] == []
    assert visitor.cart_token is None

    cart = await visitor.add("TEE-M", 2)

    assert cart["token"] == visitor.cart_token
    assert cart["token"] is not None
    assert cart["lines"] == [
        {
            "sku": "TEE-M",
            "name": "Tee",
            "title": "TEE-M",
            "quantity": 2,
            "unitPrice": {"amount": 1999, "currency": "EUR"},
            "lineTotal": {"amount": 3998, "currency": "EUR"},
            "available": 5,
        }
    ]
    assert cart["subtotal"] == {"amount": 3998, "currency": "EUR"}
    assert (await visitor.cart())["lines"][0]["quantity"] == 2
    # someone else without the token sees none of it
    assert (await Shopper(visitor.http).cart())["lines"] == []


async def test_an_anonymous_cart_merges_into_the_users_at_the_first_signed_in_call(
    visitor: Shopper, ann: Shopper, db: Database
) -> None:
    await add_product(db, "tee", [("TEE-M", 1999, 5), ("TEE-L", 1999, 5)])
    await ann.add("TEE-M", 1)
    await visitor.add("TEE-M", 2)
    await visitor.add("TEE-L", 1)

    ann.cart_token = visitor.cart_token  # the visitor signs in as ann
    merged = await ann.cart()

    assert merged["token"] is None
    assert {line["sku"]: line["quantity"] for line in merged["lines"]} == {"TEE-M": 3, "TEE-L": 1}
    # the anonymous cart is gone: its token is refused, and signing in again changes nothing
    problem(await visitor.call("GET", "/cart"), 404)
    ann.cart_token = visitor.cart_token
    again = await ann.cart()
    assert {line["sku"]: line["quantity"] for line in again["lines"]} == {"TEE-M": 3, "TEE-L": 1}


async def test_a_merge_never_takes_more_than_the_stock(
    visitor: Shopper, ann: Shopper, db: Database
) -> None:
    await add_product(db, "tee", [("TEE-M", 1999, 3)])
    await ann.add("TEE-M", 2)
    await visitor.add("TEE-M", 2)

    ann.cart_token = visitor.cart_token
    assert (await ann.cart())["lines"][0]["quantity"] == 3


async def test_quantities_are_checked_against_stock(ann: Shopper, db: Database) -> None:
    await add_product(db, "tee", [("TEE-M", 1999, 3)])
    await ann.add("TEE-M", 2)

    body = problem(await ann.call("POST", "/cart/lines", json={"sku": "TEE-M", "quantity": 2}), 409)

    assert "only 3 left" in body["detail"]
    assert (await ann.ok("PUT", "/cart/lines/TEE-M", json={"quantity": 3}))["lines"][0][
        "quantity"
    ] == 3
    problem(await ann.call("PUT", "/cart/lines/TEE-M", json={"quantity": 4}), 409)
    assert (await ann.cart())["lines"][0]["quantity"] == 3


async def _carts(db: Database) -> dict[int, Any]:
    """Every cart's id and when it last changed (what the purge of forgotten carts goes by)."""
    async with db.sessions() as session:
        rows = await session.execute(select(Cart.id, Cart.updated_at))
        return {row.id: row.updated_at for row in rows}


async def test_a_refused_add_leaves_the_carts_as_they_were(
    ann: Shopper, visitor: Shopper, db: Database
) -> None:
    """No cart is made for a user by an add refused for the stock, and a refused add to a cart
    (signed in, or by token) leaves it as it was: its last change is still the last add."""
    await add_product(db, "tee", [("TEE-M", 1999, 3)])

    problem(await ann.call("POST", "/cart/lines", json={"sku": "TEE-M", "quantity": 4}), 409)
    assert await _carts(db) == {}

    await ann.add("TEE-M", 2)
    await visitor.add("TEE-M", 2)
    before = await _carts(db)
    for shopper in (ann, visitor):
        refused = await shopper.call("POST", "/cart/lines", json={"sku": "TEE-M", "quantity": 2})
        assert "only 3 left" in problem(refused, 409)["detail"]
    assert await _carts(db) == before
    assert (await ann.cart())["lines"][0]["quantity"] == 2


async def test_the_cart_shows_todays_price(ann: Shopper, db: Database) -> None:
    await add_product(db, "tee", [("TEE-M", 1999, 3)])
    await ann.add("TEE-M")
    await set_price(db, "TEE-M", 2500)
    assert (await ann.cart())["lines"][0]["unitPrice"]["amount"] == 2500


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"sku": "TEE-M", "quantity": 0}, 422, "quantity"),
        ({"sku": "TEE-M", "quantity": -1}, 422, "quantity"),
        ({"sku": "TEE-M", "quantity": 1000}, 422, "quantity"),
        ({"sku": "TEE-M", "quantity": 10**30}, 422, "quantity"),
        ({"sku": "TEE-M", "quantity": 1.5}, 422, "quantity"),
        ({"sku": "TEE-M", "quantity": "2"}, 422, "quantity"),
        ({"sku": "NOPE", "quantity": 1}, 404, "sku"),
        ({"sku": "DRAFT", "quantity": 1}, 404, "sku"),
        ({"sku": "MUG-USD", "quantity": 1}, 422, "sku"),
        ({"sku": "TEE-M", "quantity": 1, "price": 1}, 422, "price"),
        ({"sku": "", "quantity": 1}, 422, "sku"),
    ],
)
async def test_bad_lines_are_refused_and_change_nothing(
    ann: Shopper, db: Database, body: dict[str, Any], status: int, field: str
) -> None:
    await add_product(db, "tee", [("TEE-M", 1999, 5)])
    await add_product(db, "draft", [("DRAFT", 100, 5)], published=False)
    await add_product(db, "mug", [("MUG-USD", 100, 5)], currency="USD")
    await ann.add("TEE-M", 1)

    problem_body = problem(await ann.call("POST", "/cart/lines", json=body), status)

    assert field in [error["field"] for error in problem_body["errors"]]
    cart = await ann.cart()
    assert [(line["sku"], line["quantity"]) for line in cart["lines"]] == [("TEE-M", 1)]


async def test_removing_lines_and_emptying(ann: Shopper, db: Database) -> None:
    await add_product(db, "tee", [("TEE-M", 1999, 5), ("TEE-L", 1999, 5)])
    await ann.add("TEE-M")
    await ann.add("TEE-L")

    assert [line["sku"] for line in (await ann.ok("DELETE", "/cart/lines/TEE-M"))["lines"]] == [
        "TEE-L"
    ]
    problem(await ann.call("DELETE", "/cart/lines/TEE-M"), 404)
    problem(await ann.call("PUT", "/cart/lines/TEE-M", json={"quantity": 1}), 404)
    assert (await ann.ok("DELETE", "/cart"))["lines"] == []
    assert (await ann.cart())["lines"] == []


async def test_a_bad_or_unknown_cart_token_is_a_4xx(visitor: Shopper) -> None:
    visitor.cart_token = "x" * 43
    problem(await visitor.call("GET", "/cart"), 404)
    visitor.cart_token = "bad token!"
    problem(await visitor.call("GET", "/cart"), 422)


async def test_adds_sent_at_once_all_count(ann: Shopper, db: Database) -> None:
    await add_product(db, "tee", [("TEE-M", 1999, 100)])
    await ann.add("TEE-M")

    responses = await at_once(
        *(ann.call("POST", "/cart/lines", json={"sku": "TEE-M"}) for _ in range(8))
    )

    assert statuses(responses) == [200] * 8
    assert (await ann.cart())["lines"][0]["quantity"] == 9


@pytest.mark.parametrize("signed_in", [True, False])
@pytest.mark.parametrize(("other", "status"), [("TEE-L", 200), ("MUG-USD", 422)])
async def test_an_add_waiting_for_another_write_to_the_cart_sees_that_write(
    ann: Shopper, visitor: Shopper, db: Database, other: str, status: int, signed_in: bool
) -> None:
    """Another request's add to the same cart (its cart touched, its line written, not yet
    committed) when this add's statement begins: this add waits for it, then answers with both
    lines, or refuses a second currency, as if it had come second."""
    if not on_postgresql(db.engine):
        pytest.skip("SQLite runs one write transaction at a time: nothing to wait for mid-way")
    ids = await add_product(db, "tee", [("TEE-M", 1999, 5), ("TEE-L", 1999, 5)])
    ids |= await add_product(db, "mug", [("MUG-USD", 100, 5)], currency="USD")
    shopper = ann if signed_in else visitor
    await shopper.add("TEE-L")
    await shopper.ok("DELETE", "/cart")
    if signed_in:
        owner = Cart.user_id == select(User.id).where(User.username == ann.name).scalar_subquery()
    else:
        owner = Cart.token_hash == hash_token(str(visitor.cart_token))
    async with db.engine.connect() as adding:
        touched = update(Cart).where(owner).values(updated_at=utcnow()).returning(Cart.id)
        cart_id = await adding.scalar(touched)
        line = {"cart_id": cart_id, "variant_id": ids[other], "quantity": 1, "added_at": utcnow()}
        await adding.execute(insert(CartLine).values(line))
        answer = asyncio.ensure_future(
            shopper.call("POST", "/cart/lines", json={"sku": "TEE-M", "quantity": 1})
        )
        await someone_waits_for_a_lock(db)
        await adding.commit()

    response = await answer
    lines = {line["sku"]: line["quantity"] for line in (await shopper.cart())["lines"]}
    if status == 200:
        assert response.status_code == 200, response.text
        assert {line["sku"] for line in response.json()["lines"]} == {"TEE-L", "TEE-M"}
        assert lines == {"TEE-L": 1, "TEE-M": 1}
    else:
        assert "sku" in [error["field"] for error in problem(response, 422)["errors"]]
        assert lines == {"MUG-USD": 1}
