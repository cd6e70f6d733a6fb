"""The stock moves as a service, through a real unit of work: all or nothing, in variant order,
never below zero, and the catalog told after the commit only."""

from __future__ import annotations

import pytest

from agora.container import Container
from agora.platform.errors import Conflict
from agora.platform.provided import ProvidingApp
from agora.shop.catalog.events import StockChanged
from agora.shop.orders import stock
from tests.shop.conftest import add_product, stock_of


def test_variants_are_locked_in_id_order_whatever_the_cart_order() -> None:
    assert stock.in_lock_order([(9, 1), (2, 5), (7, 2)]) == [(2, 5), (7, 2), (9, 1)]


async def test_a_reservation_is_all_or_nothing(app: ProvidingApp, container: Container) -> None:
    db = container.platform.db
    ids = await add_product(db, "pair", [("LEFT", 100, 5), ("RIGHT", 100, 1)])
    seen: list[StockChanged] = []

    async def record(event: StockChanged) -> None:
        seen.append(event)

    container.units_of_work.events.on(StockChanged, record)

    async with container.unit_of_work() as uow:
        with pytest.raises(Conflict, match="RIGHT has fewer than 2 left"):
            await stock.reserve(
                uow, [(ids["RIGHT"], 2), (ids["LEFT"], 3)], skus={v: k for k, v in ids.items()}
            )
        await uow.rollback()

    assert await stock_of(db, "LEFT") == (5, 0)  # reserved first (lower id), rolled back
    assert seen == []
    async with container.unit_of_work() as uow:
        await stock.reserve(uow, [(ids["RIGHT"], 1), (ids["LEFT"], 3)], skus={})
        await uow.commit()
    assert await stock_of(db, "LEFT") == (5, 3)
    assert await stock_of(db, "RIGHT") == (1, 1)
    assert len(seen) == 1


async def test_release_and_ship_move_the_two_numbers(
    app: ProvidingApp, container: Container
) -> None:
    db = container.platform.db
    ids = await add_product(db, "mug", [("MUG", 100, 10)])
    async with container.unit_of_work() as uow:
        await stock.reserve(uow, [(ids["MUG"], 6)], skus={})
        await stock.release(uow, [(ids["MUG"], 2)])
        await stock.ship(uow, [(ids["MUG"], 3)])
        await uow.commit()

    assert await stock_of(db, "MUG") == (7, 1)
