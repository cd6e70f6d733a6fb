"""A Hypothesis state machine over the real API: whatever customers and staff do, in whatever
order (adding to carts, checking out, cancelling, moving orders through every state, legal or
not), no order reaches a state outside the graph, no stock goes negative, and what is reserved is
exactly what pending and paid orders hold.

It runs on the tests' database (SQLite, or PostgreSQL in the second tier) through the in-process
app, in an event loop of its own (Hypothesis drives the steps synchronously).
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import Callable, Coroutine
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any, TypeVar

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from agora.app import create_app
from agora.platform.db import Database
from agora.settings import Settings
from agora.shop.orders.state_machine import TRANSITIONS, OrderStatus
from tests.blog.conftest import new_user
from tests.shop.conftest import Shopper, add_product, make_staff, stock_of
from tests.support.apps import client_of, platform_of
from tests.support.database import empty_tables

T = TypeVar("T")
HOLDING = {OrderStatus.PENDING_PAYMENT, OrderStatus.PAID}
STOCK = (6, 4)


class World:
    """The app, its loop and its users, shared by every example of one test."""

    def __init__(self, app_settings: Settings) -> None:
        self.runner = asyncio.Runner()
        self.stack = AsyncExitStack()
        self.app = create_app(app_settings)
        self.db: Database = platform_of(self.app).db
        self.run(self._start())

    def run(self, work: Coroutine[Any, Any, T]) -> T:
        return self.runner.run(work)

    async def _start(self) -> None:
        await empty_tables(self.db)
        await self.stack.enter_async_context(self.app.router.lifespan_context(self.app))
        http = await self.stack.enter_async_context(client_of(self.app))
        self.customers = [
            Shopper(http, await new_user(self.app, n), name=n) for n in ("ann", "bob")
        ]
        self.staff = Shopper(http, await new_user(self.app, "clerk"), name="clerk")
        await make_staff(self.db, "clerk")

    def close(self) -> None:
        self.run(self.stack.aclose())
        self.runner.close()


@dataclass
class Placed:
    status: OrderStatus
    owner: int
    lines: dict[str, int]
    shipped: bool = False


class Orders(RuleBasedStateMachine):
    world: World

    def __init__(self) -> None:
        super().__init__()
        self.skus: list[str] = []
        self.orders: dict[int, Placed] = {}

    @initialize()
    def catalog(self) -> None:
        run = uuid.uuid4().hex[:8]
        self.skus = [f"A-{run}", f"B-{run}"]
        variants = [(sku, 1000, stock) for sku, stock in zip(self.skus, STOCK, strict=True)]
        self.world.run(add_product(self.world.db, f"p-{run}", variants))
        for customer in self.world.customers:
            self.world.run(customer.call("DELETE", "/cart"))

    def call(self, shopper: Shopper, method: str, path: str, **options: Any) -> Any:
        response = self.world.run(shopper.call(method, path, **options))
        assert response.status_code < 500, response.text
        return response

    @rule(
        who=st.integers(0, 1),
        which=st.integers(0, 1),
        # mostly sensible amounts, sometimes none or fewer than none
        quantity=st.one_of(st.integers(1, 3), st.integers(-1, 0)),
    )
    def add_to_cart(self, who: int, which: int, quantity: int) -> None:
        response = self.call(
            self.world.customers[who],
            "POST",
            "/cart/lines",
            json={"sku": self.skus[which], "quantity": quantity},
        )
        assert response.status_code in ({200, 409} if quantity > 0 else {422}), response.text

    @rule(who=st.integers(0, 1))
    def checkout(self, who: int) -> None:
        response = self.call(self.world.customers[who], "POST", "/checkout", json=CHECKOUT_BODY)
        assert response.status_code in {201, 409}, response.text
        if response.status_code == 201:
            order = response.json()["order"]
            lines = {line["sku"]: line["quantity"] for line in order["lines"]}
            self.orders[order["id"]] = Placed(OrderStatus.PENDING_PAYMENT, who, lines)

    @precondition(lambda self: bool(self.orders))
    @rule(data=st.data(), who=st.integers(0, 1))
    def cancel(self, data: st.DataObject, who: int) -> None:
        order_id = data.draw(st.sampled_from(sorted(self.orders)))
        order = self.orders[order_id]
        response = self.call(self.world.customers[who], "POST", f"/orders/{order_id}/cancel")
        if order.owner != who:
            assert response.status_code == 404
        elif order.status is OrderStatus.PENDING_PAYMENT:
            assert response.status_code == 200, response.text
            order.status = OrderStatus.CANCELLED
        else:
            assert response.status_code == 409

    @precondition(lambda self: bool(self.orders))
    @rule(data=st.data())
    def staff_move(self, data: st.DataObject) -> None:
        order_id = data.draw(st.sampled_from(sorted(self.orders)))
        order = self.orders[order_id]
        # a legal move half the time (when there is one), any state the other half
        legal = sorted(TRANSITIONS[order.status])
        anything = st.sampled_from(list(OrderStatus))
        to = data.draw(st.one_of(st.sampled_from(legal), anything) if legal else anything)
        response = self.call(
            self.world.staff, "POST", f"/staff/orders/{order_id}/transitions", json={"to": to}
        )
        if to in TRANSITIONS[order.status]:
            assert response.status_code == 200, response.text
            order.status = to
            order.shipped = order.shipped or to is OrderStatus.FULFILLED
        else:
            assert response.status_code == 409, response.text

    @invariant()
    def stock_matches_the_orders(self) -> None:
        for sku, initial in zip(self.skus, STOCK, strict=True):
            on_hand, reserved = self.world.run(stock_of(self.world.db, sku))
            orders = self.orders.values()
            held = sum(o.lines.get(sku, 0) for o in orders if o.status in HOLDING)
            shipped = sum(o.lines.get(sku, 0) for o in orders if o.shipped)
            assert 0 <= reserved <= on_hand
            assert reserved == held
            assert on_hand == initial - shipped

    @invariant()
    def histories_follow_the_graph(self) -> None:
        for order_id, placed in self.orders.items():
            shopper = self.world.customers[placed.owner]
            order = self.world.run(shopper.ok("GET", f"/orders/{order_id}"))["order"]
            assert order["status"] == placed.status
            events = order["events"]
            assert events[0]["from"] is None
            for before, after in itertools.pairwise(events):
                assert after["from"] == before["to"]
                assert OrderStatus(after["to"]) in TRANSITIONS[OrderStatus(after["from"])]
            assert events[-1]["to"] == placed.status


CHECKOUT_BODY = {
    "shippingAddress": {
        "name": "Ada",
        "line1": "1 Rue de Rivoli",
        "city": "Paris",
        "postalCode": "75001",
        "country": "FR",
    },
    "shippingMethod": "standard",
}


def test_no_sequence_of_calls_breaks_the_orders(make_settings: Callable[..., Settings]) -> None:
    world = World(make_settings())
    Orders.world = world
    try:
        run_state_machine_as_test(
            Orders,
            settings=settings(
                max_examples=40,
                stateful_step_count=20,
                deadline=None,
                suppress_health_check=[HealthCheck.too_slow],
            ),
        )
    finally:
        world.close()
