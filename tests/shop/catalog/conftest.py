"""The catalog's fixtures: a staff member who builds the catalog through the API, and helpers
that read it as a customer would. (``staff`` here is a ``Staff``, not the orders' ``Shopper``.)"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from httpx import AsyncClient, Response

from agora.platform.provided import ProvidingApp
from tests.conftest import auth, register
from tests.shop.conftest import make_staff
from tests.support.apps import platform_of

SHOP = "/api/shop"


@dataclass
class Staff:
    """A signed-in staff member building the catalog through the API."""

    client: AsyncClient
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return auth(self.token)

    async def send(self, method: str, path: str, **kwargs: Any) -> Response:
        return await self.client.request(method, SHOP + path, headers=self.headers, **kwargs)

    async def ok(self, method: str, path: str, status: int = 200, **kwargs: Any) -> Any:
        response = await self.send(method, path, **kwargs)
        assert response.status_code == status, response.text
        return response.json() if response.content else None

    async def category(self, name: str, parent: str | None = None, **extra: Any) -> dict[str, Any]:
        body = {"name": name, "parent": parent, **extra}
        created: dict[str, Any] = await self.ok("POST", "/categories", 201, json=body)
        return created

    async def product(
        self,
        name: str,
        *,
        category: str | None = None,
        description: str = "",
        variants: list[dict[str, Any]] | None = None,
        published: bool = True,
        **extra: Any,
    ) -> dict[str, Any]:
        if variants is None:
            variants = [variant(name)]
        body = {
            "name": name,
            "description": description,
            "category": category,
            "variants": variants,
            "published": published,
            **extra,
        }
        created: dict[str, Any] = await self.ok("POST", "/products", 201, json=body)
        return created


_skus = iter(range(1, 1_000_000))


def variant(
    name: str = "v",
    *,
    price: int = 1000,
    currency: str = "EUR",
    stock: int = 10,
    sku: str | None = None,
    **options: str,
) -> dict[str, Any]:
    """A variant's body: ``variant(price=2500, size="M")``."""
    return {
        "sku": sku or f"SKU-{next(_skus)}",
        "options": options,
        "price": {"amount": price, "currency": currency},
        "stockOnHand": stock,
    }


@pytest.fixture
async def staff(app: ProvidingApp, client: AsyncClient) -> Staff:
    token = await register(client, "clerk")
    await make_staff(platform_of(app).db, "clerk")
    return Staff(client=client, token=token)


async def get(client: AsyncClient, path: str, **params: Any) -> dict[str, Any]:
    response = await client.get(SHOP + path, params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def slugs(page: dict[str, Any]) -> list[str]:
    return [product["slug"] for product in page["products"]]
