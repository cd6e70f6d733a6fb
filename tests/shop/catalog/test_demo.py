"""``agora seed`` brings a small shop too: products to browse and search, and jake, who may
manage them."""

from __future__ import annotations

from httpx import AsyncClient

from agora.seed import DEMO_PASSWORD, seed_demo
from agora.settings import Settings
from tests.conftest import auth
from tests.shop.catalog.conftest import SHOP, get, slugs


async def test_the_demo_has_a_shop_jake_may_manage(client: AsyncClient, settings: Settings) -> None:
    assert await seed_demo(settings)

    assert len((await get(client, "/products", limit=100))["products"]) == 6
    assert slugs(await get(client, "/products", category="computers", inStock="true")) == [
        "laptop-sleeve",
        "gaming-laptop-17",
        "laptop-pro-14",
    ]
    assert "laptop-pro-14" in slugs(await get(client, "/search", q="laptpo"))
    login = {"user": {"email": "jake@example.com", "password": DEMO_PASSWORD}}
    token = (await client.post("/api/users/login", json=login)).json()["user"]["token"]
    staff_view = await client.get(f"{SHOP}/products/wireless-mouse/staff", headers=auth(token))
    assert staff_view.status_code == 200
    assert staff_view.json()["variants"][0]["stockOnHand"] == 0
