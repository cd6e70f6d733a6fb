"""Staff writes raced against each other with real concurrent requests: every answer is a 2xx or
a clear 4xx, never a 500, and the catalog adds up afterwards (a unique slug or SKU is taken once,
a category moved while children are added under it keeps every child below it)."""

from __future__ import annotations

from httpx import AsyncClient
from sqlalchemy import select

from agora.platform.provided import ProvidingApp
from agora.shop.catalog.models import Category
from tests.shop.catalog.conftest import Staff, variant
from tests.support.apps import platform_of
from tests.support.concurrency import ROUNDS, at_once, statuses


async def test_a_slug_asked_for_twice_at_once_is_taken_once(staff: Staff) -> None:
    for round_ in range(ROUNDS):
        body = {"name": f"Twin {round_}", "slug": f"twin-{round_}", "variants": [variant()]}
        answers = await at_once(*(staff.send("POST", "/products", json=body) for _ in range(3)))
        assert sorted(statuses(answers)) == [201, 409, 409], [a.text for a in answers]


async def test_a_sku_asked_for_twice_at_once_is_taken_once(staff: Staff) -> None:
    for round_ in range(ROUNDS):
        sku = f"DUP-{round_}"
        answers = await at_once(
            *(
                staff.send(
                    "POST", "/products", json={"name": f"P{round_}", "variants": [variant(sku=sku)]}
                )
                for _ in range(3)
            )
        )
        assert sorted(statuses(answers)) == [201, 409, 409], [a.text for a in answers]


async def test_a_category_slug_asked_for_twice_at_once_is_taken_once(staff: Staff) -> None:
    for round_ in range(ROUNDS):
        body = {"name": f"Shelf {round_}"}
        answers = await at_once(*(staff.send("POST", "/categories", json=body) for _ in range(3)))
        assert sorted(statuses(answers)) == [201, 409, 409], [a.text for a in answers]


async def test_children_added_while_their_parent_moves_stay_below_it(
    app: ProvidingApp, client: AsyncClient, staff: Staff
) -> None:
    for round_ in range(ROUNDS):
        await staff.category(f"Left {round_}")
        await staff.category(f"Right {round_}")
        await staff.category(f"Box {round_}", parent=f"left-{round_}")
        creates = [
            staff.send(
                "POST",
                "/categories",
                json={"name": f"Item {round_} {n}", "parent": f"box-{round_}"},
            )
            for n in range(4)
        ]
        move = staff.send("PATCH", f"/categories/box-{round_}", json={"parent": f"right-{round_}"})
        answers = await at_once(*creates[:2], move, *creates[2:])
        assert set(statuses(answers)) <= {200, 201}, [a.text for a in answers]

    async with platform_of(app).db.autocommit_sessions() as session:
        categories = {c.id: c for c in await session.scalars(select(Category))}
    for category in categories.values():
        expected = "/" if category.parent_id is None else categories[category.parent_id].path
        assert category.path == f"{expected}{category.id}/", category.slug


async def test_prices_changed_at_once_leave_the_range_right(
    client: AsyncClient, staff: Staff
) -> None:
    skus = [f"R-{n}" for n in range(4)]
    await staff.product("Range", variants=[variant(sku=sku, price=1000) for sku in skus])
    for round_ in range(ROUNDS):
        prices = [2000 + round_ * 10 + n for n in range(len(skus))]
        answers = await at_once(
            *(
                staff.send(
                    "PUT", f"/variants/{sku}/price", json={"amount": price, "currency": "EUR"}
                )
                for sku, price in zip(skus, prices, strict=True)
            )
        )
        assert set(statuses(answers)) == {200}
        page = await staff.ok("GET", "/products/range/staff")
        assert page["price"]["min"]["amount"] == min(prices)
        assert page["price"]["max"]["amount"] == max(prices)


async def test_two_currencies_at_once_cannot_both_land(staff: Staff) -> None:
    for round_ in range(ROUNDS):
        a, b = f"C{round_}-A", f"C{round_}-B"
        await staff.product(f"Money {round_}", variants=[variant(sku=a), variant(sku=b)])
        answers = await at_once(
            staff.send("PUT", f"/variants/{a}/price", json={"amount": 100, "currency": "USD"}),
            staff.send("PUT", f"/variants/{b}/price", json={"amount": 100, "currency": "GBP"}),
        )
        # each variant's sibling is still EUR when it is checked: both are refused, or one
        # lands and the other then sees a third currency; never two new ones side by side
        assert set(statuses(answers)) <= {200, 409}
        page = await staff.ok("GET", f"/products/money-{round_}/staff")
        assert len({v["price"]["currency"] for v in page["variants"]}) == 1
