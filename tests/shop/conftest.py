"""Shop test helpers: catalog rows added straight to the database (the catalog's own tests cover
its routes), signed-in and anonymous shoppers that speak the REST API as a user would, and staff.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from httpx import AsyncClient, Response
from sqlalchemy import select, update

from agora.identity.models import User
from agora.platform.db import Database
from agora.platform.outbox import OutboxMessage
from agora.platform.provided import ProvidingApp
from agora.shop.catalog.models import Product, Variant
from tests.blog.conftest import new_user
from tests.conftest import auth
from tests.support.apps import platform_of

PROBLEM_JSON = "application/problem+json"
ADDRESS = {
    "name": "Ada Lovelace",
    "line1": "1 Rue de Rivoli",
    "city": "Paris",
    "postalCode": "75001",
    "country": "FR",
}
CHECKOUT = {"shippingAddress": ADDRESS, "shippingMethod": "standard"}


async def add_product(
    db: Database,
    slug: str,
    variants: list[tuple[str, int, int]],
    *,
    currency: str = "EUR",
    published: bool = True,
) -> dict[str, int]:
    """A product with variants ``(sku, price in minor units, stock on hand)``; their ids by SKU."""
    async with db.sessions() as session:
        product = Product(slug=slug, name=slug.replace("-", " ").title(), published=published)
        session.add(product)
        await session.flush()
        rows = [
            Variant(
                product_id=product.id,
                sku=sku,
                title=sku,
                price_minor=price,
                currency=currency,
                stock_on_hand=stock,
                stock_reserved=0,
            )
            for sku, price, stock in variants
        ]
        session.add_all(rows)
        await session.commit()
        return {row.sku: row.id for row in rows}


async def stock_of(db: Database, sku: str) -> tuple[int, int]:
    """(on hand, reserved) of a variant, as committed."""
    async with db.sessions() as session:
        row = (
            await session.execute(
                select(Variant.stock_on_hand, Variant.stock_reserved).where(Variant.sku == sku)
            )
        ).one()
        return row[0], row[1]


async def set_price(db: Database, sku: str, price: int) -> None:
    async with db.sessions() as session:
        await session.execute(update(Variant).where(Variant.sku == sku).values(price_minor=price))
        await session.commit()


async def set_stock(db: Database, sku: str, on_hand: int) -> None:
    async with db.sessions() as session:
        await session.execute(
            update(Variant).where(Variant.sku == sku).values(stock_on_hand=on_hand)
        )
        await session.commit()


async def outbox_topics(db: Database) -> list[str]:
    """The shop's messages waiting in the outbox."""
    async with db.sessions() as session:
        query = select(OutboxMessage.topic).where(OutboxMessage.topic.startswith("shop."))
        return list(await session.scalars(query))


async def make_staff(db: Database, username: str) -> None:
    async with db.sessions() as session:
        await session.execute(update(User).where(User.username == username).values(is_staff=True))
        await session.commit()


def problem(response: Response, status: int) -> dict[str, Any]:
    """The response is an RFC 9457 problem of ``status``; returns its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    return body


@dataclass
class Shopper:
    """A visitor of the shop: signed in (``token``) or anonymous, with the cart token they hold."""

    http: AsyncClient
    token: str | None = None
    cart_token: str | None = None
    name: str = "anonymous"
    orders_placed: list[int] = field(default_factory=list)

    def headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = {} if self.token is None else auth(self.token)
        if self.cart_token is not None:
            headers["X-Cart-Token"] = self.cart_token
        return {**headers, **(extra or {})}

    async def call(
        self, method: str, path: str, *, headers: dict[str, str] | None = None, **options: Any
    ) -> Response:
        response = await self.http.request(
            method, f"/api/shop{path}", headers=self.headers(headers), **options
        )
        if path.startswith("/cart") and response.status_code == 200:
            # a signed-in cart has no token: the anonymous one was merged
            self.cart_token = response.json()["token"]
        return response

    async def ok(self, method: str, path: str, status: int = 200, **options: Any) -> Any:
        response = await self.call(method, path, **options)
        assert response.status_code == status, response.text
        return response.json()

    async def add(self, sku: str, quantity: int = 1) -> dict[str, Any]:
        cart: dict[str, Any] = await self.ok(
            "POST", "/cart/lines", json={"sku": sku, "quantity": quantity}
        )
        return cart

    async def cart(self) -> dict[str, Any]:
        cart: dict[str, Any] = await self.ok("GET", "/cart")
        return cart

    async def checkout(self, key: str | None = None, **body: Any) -> Response:
        headers = {} if key is None else {"Idempotency-Key": key}
        return await self.call("POST", "/checkout", json={**CHECKOUT, **body}, headers=headers)

    async def place(self, **body: Any) -> dict[str, Any]:
        response = await self.checkout(**body)
        assert response.status_code == 201, response.text
        order: dict[str, Any] = response.json()["order"]
        self.orders_placed.append(order["id"])
        return order


async def shopper(app: ProvidingApp, client: AsyncClient, username: str) -> Shopper:
    return Shopper(client, await new_user(app, username), name=username)


@pytest.fixture
def db(app: ProvidingApp) -> Database:
    return platform_of(app).db


@pytest.fixture
async def ann(app: ProvidingApp, client: AsyncClient) -> Shopper:
    return await shopper(app, client, "ann")


@pytest.fixture
async def bob(app: ProvidingApp, client: AsyncClient) -> Shopper:
    return await shopper(app, client, "bob")


@pytest.fixture
async def staff(app: ProvidingApp, client: AsyncClient) -> Shopper:
    clerk = await shopper(app, client, "clerk")
    await make_staff(platform_of(app).db, "clerk")
    return clerk


@pytest.fixture
def visitor(client: AsyncClient) -> Shopper:
    return Shopper(client)
