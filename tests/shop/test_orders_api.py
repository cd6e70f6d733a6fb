"""A customer's orders (keyset pages, reading, cancelling) and staff moving orders through their
states; each move recorded as an event and an outbox message in the same transaction."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from agora.platform.db import Database
from agora.platform.provided import ProvidingApp
from agora.settings import JobsSettings
from tests.conftest import register
from tests.shop.conftest import Shopper, add_product, make_staff, outbox_topics, problem, stock_of
from tests.support.apps import client_of, platform_of
from tests.support.concurrency import ROUNDS, at_once, statuses
from tests.support.database import empty_tables


async def test_orders_come_newest_first_in_keyset_pages(ann: Shopper, db: Database) -> None:
    await add_product(db, "mug", [("MUG", 1000, 50)])
    for _ in range(5):
        await ann.add("MUG")
        await ann.place()

    first = await ann.ok("GET", "/orders", params={"limit": 2})
    second = await ann.ok("GET", "/orders", params={"limit": 2, "cursor": first["nextCursor"]})
    third = await ann.ok("GET", "/orders", params={"limit": 2, "cursor": second["nextCursor"]})

    seen = [o["id"] for page in (first, second, third) for o in page["orders"]]
    assert seen == sorted(ann.orders_placed, reverse=True)
    assert third["nextCursor"] is None
    assert first["orders"][0]["total"] == {"amount": 1788, "currency": "EUR"}


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 0},
        {"limit": 101},
        {"limit": -1},
        {"limit": "ten"},
        {"cursor": "not-a-cursor"},
        {"cursor": "bzA"},  # "o0"
        {"cursor": "b2FiYw"},  # "oabc"
        {"cursor": "x" * 41},
    ],
)
async def test_bad_page_parameters_are_a_422(ann: Shopper, params: dict[str, object]) -> None:
    problem(await ann.call("GET", "/orders", params=params), 422)


async def test_a_customer_reads_only_their_own_orders(
    ann: Shopper, bob: Shopper, db: Database
) -> None:
    await add_product(db, "mug", [("MUG", 1000, 5)])
    await ann.add("MUG")
    order = await ann.place()

    assert (await ann.ok("GET", f"/orders/{order['id']}"))["order"] == order
    problem(await bob.call("GET", f"/orders/{order['id']}"), 404)
    problem(await bob.call("POST", f"/orders/{order['id']}/cancel"), 404)
    assert (await bob.ok("GET", "/orders"))["orders"] == []
    problem(await ann.call("GET", "/orders/0"), 422)


async def test_cancelling_a_pending_order_gives_its_stock_back(ann: Shopper, db: Database) -> None:
    await add_product(db, "mug", [("MUG", 1000, 5), ("MUG-XL", 1500, 5)])
    await ann.add("MUG", 2)
    await ann.add("MUG-XL", 3)
    order = await ann.place()
    assert await stock_of(db, "MUG-XL") == (5, 3)

    cancelled = await ann.ok("POST", f"/orders/{order['id']}/cancel", json={"reason": "changed"})

    assert cancelled["order"]["status"] == "cancelled"
    last = cancelled["order"]["events"][-1]
    assert (last["from"], last["to"], last["reason"]) == ("pending_payment", "cancelled", "changed")
    assert last["actor"]["kind"] == "customer"
    assert await stock_of(db, "MUG") == (5, 0)
    assert await stock_of(db, "MUG-XL") == (5, 0)
    body = problem(await ann.call("POST", f"/orders/{order['id']}/cancel"), 409)
    assert "cannot go from cancelled to cancelled" in body["detail"]


async def test_staff_move_an_order_to_delivered_and_stock_follows(
    ann: Shopper, staff: Shopper, db: Database
) -> None:
    await add_product(db, "mug", [("MUG", 1000, 5)])
    await ann.add("MUG", 2)
    order_id = (await ann.place())["id"]
    path = f"/staff/orders/{order_id}/transitions"

    paid = await staff.ok("POST", path, json={"to": "paid", "reason": "bank transfer seen"})
    assert paid["order"]["status"] == "paid"
    problem(await ann.call("POST", f"/orders/{order_id}/cancel"), 409)
    await staff.ok("POST", path, json={"to": "fulfilled"})
    assert await stock_of(db, "MUG") == (3, 0)  # shipped: gone from the shelf and the promises
    delivered = await staff.ok("POST", path, json={"to": "delivered"})

    events = delivered["order"]["events"]
    assert [(e["from"], e["to"]) for e in events] == [
        (None, "pending_payment"),
        ("pending_payment", "paid"),
        ("paid", "fulfilled"),
        ("fulfilled", "delivered"),
    ]
    assert events[1]["actor"]["kind"] == "staff"
    assert events[1]["reason"] == "bank transfer seen"
    body = problem(await staff.call("POST", path, json={"to": "paid"}), 409)
    assert body["errors"][0]["field"] == "status"
    listed = await staff.ok("GET", "/staff/orders", params={"status": "delivered"})
    assert [o["id"] for o in listed["orders"]] == [order_id]


async def test_a_refund_while_only_paid_gives_the_stock_back(
    ann: Shopper, staff: Shopper, db: Database
) -> None:
    await add_product(db, "mug", [("MUG", 1000, 5)])
    await ann.add("MUG", 2)
    order_id = (await ann.place())["id"]
    path = f"/staff/orders/{order_id}/transitions"
    await staff.ok("POST", path, json={"to": "paid"})

    await staff.ok("POST", path, json={"to": "refunded"})

    assert await stock_of(db, "MUG") == (5, 0)


async def test_staff_routes_are_for_staff_only(ann: Shopper, db: Database) -> None:
    await add_product(db, "mug", [("MUG", 1000, 5)])
    await ann.add("MUG")
    order_id = (await ann.place())["id"]

    problem(
        await ann.call("POST", f"/staff/orders/{order_id}/transitions", json={"to": "paid"}), 403
    )
    problem(await ann.call("GET", "/staff/orders"), 403)
    problem(await Shopper(ann.http).call("GET", "/staff/orders"), 401)
    problem(await ann.call("POST", "/staff/vouchers", json={"code": "X", "kind": "fixed"}), 403)


async def test_every_state_change_writes_its_outbox_message(
    make_app: Callable[..., ProvidingApp],
) -> None:
    # runners off: the messages stay in the outbox for the test to read
    app = make_app(jobs=JobsSettings(run_in_server=False, housekeeping=False))
    db = platform_of(app).db
    await empty_tables(db)
    async with app.router.lifespan_context(app), client_of(app) as client:
        customer = Shopper(client, await register(client, "ann"))
        clerk = Shopper(client, await register(client, "clerk"))
        await make_staff(db, "clerk")
        await add_product(db, "mug", [("MUG", 1000, 5)])
        await customer.add("MUG")
        order_id = (await customer.place())["id"]
        assert await outbox_topics(db) == ["shop.order_placed"]

        await clerk.ok("POST", f"/staff/orders/{order_id}/transitions", json={"to": "paid"})
        await customer.add("MUG")
        second = (await customer.place())["id"]
        await customer.ok("POST", f"/orders/{second}/cancel")

        assert sorted(await outbox_topics(db)) == [
            "shop.order_cancelled",
            "shop.order_paid",
            "shop.order_placed",
            "shop.order_placed",
        ]


async def test_of_moves_raced_from_one_state_exactly_one_happens(
    ann: Shopper, staff: Shopper, db: Database
) -> None:
    await add_product(db, "mug", [("MUG", 1000, 50)])
    for _ in range(ROUNDS):
        await ann.add("MUG", 2)
        order_id = (await ann.place())["id"]

        paid, cancelled, paid_again = await at_once(
            staff.call("POST", f"/staff/orders/{order_id}/transitions", json={"to": "paid"}),
            ann.call("POST", f"/orders/{order_id}/cancel"),
            staff.call("POST", f"/staff/orders/{order_id}/transitions", json={"to": "paid"}),
        )

        assert sorted(statuses([paid, cancelled, paid_again])) == [200, 409, 409]
        order = (await ann.ok("GET", f"/orders/{order_id}"))["order"]
        assert len(order["events"]) == 2
    # each round's order is either paid (stock held) or cancelled (stock back)
    orders = (await ann.ok("GET", "/orders"))["orders"]
    held = 2 * sum(order["status"] == "paid" for order in orders)
    assert await stock_of(db, "MUG") == (50, held)


async def test_a_cached_product_page_shows_the_stock_orders_take_and_give_back(
    ann: Shopper, db: Database
) -> None:
    await add_product(db, "mug", [("MUG", 1000, 5)])

    async def available() -> int:
        page = await ann.ok("GET", "/products/mug")  # cached after the first read
        return int(page["variants"][0]["available"])

    assert await available() == 5
    await ann.add("MUG", 2)
    order_id = (await ann.place())["id"]
    assert await available() == 3
    await ann.ok("POST", f"/orders/{order_id}/cancel")
    assert await available() == 5
