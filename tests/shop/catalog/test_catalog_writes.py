"""Staff build the catalog: categories in a tree, products with variants, prices, stock, images,
publishing. Customers can't; bad input is a clear 4xx that changes nothing."""

from __future__ import annotations

import io
from typing import Any

import pytest
from httpx import AsyncClient
from PIL import Image

from agora.platform.provided import ProvidingApp
from agora.settings import Settings
from tests.conftest import auth, register
from tests.shop.catalog.conftest import SHOP, Staff, get, slugs, variant
from tests.shop.conftest import problem


async def test_customers_and_visitors_cannot_write(client: AsyncClient, staff: Staff) -> None:
    body = {"name": "Shoes"}
    problem(await client.post(f"{SHOP}/categories", json=body), 401)
    customer = await register(client, "customer")
    refused = problem(
        await client.post(f"{SHOP}/categories", json=body, headers=auth(customer)), 403
    )
    assert refused["detail"] == "user is for staff only"
    assert (await get(client, "/categories"))["categories"] == []


async def test_a_product_with_variants_is_created_and_published(
    client: AsyncClient, staff: Staff
) -> None:
    await staff.category("Clothes")
    created = await staff.product(
        "Linen Shirt",
        category="clothes",
        description="Cool in summer",
        variants=[
            variant(price=3900, stock=5, sku="SHIRT-M", size="M", colour="white"),
            variant(price=4200, stock=0, sku="SHIRT-XL", size="XL", colour="white"),
        ],
    )

    assert created["slug"] == "linen-shirt"
    assert created["price"] == {
        "min": {"amount": 3900, "currency": "EUR"},
        "max": {"amount": 4200, "currency": "EUR"},
    }
    assert [v["title"] for v in created["variants"]] == ["white / M", "white / XL"]
    page = await get(client, "/products/linen-shirt")
    assert page["inStock"] is True
    assert page["variants"][0] == {
        "sku": "SHIRT-M",
        "title": "white / M",
        "options": {"colour": "white", "size": "M"},
        "price": {"amount": 3900, "currency": "EUR"},
        "available": 5,
    }
    # money is integers of minor units, never a float, everywhere
    assert all(type(v["price"]["amount"]) is int for v in page["variants"])


async def test_drafts_are_hidden_until_published(client: AsyncClient, staff: Staff) -> None:
    await staff.product("Secret Gadget", published=False)
    problem(await client.get(f"{SHOP}/products/secret-gadget"), 404)
    assert slugs(await get(client, "/products")) == []
    assert (await staff.ok("GET", "/products/secret-gadget/staff"))["published"] is False

    await staff.ok("POST", "/products/secret-gadget/publish")
    assert slugs(await get(client, "/products")) == ["secret-gadget"]

    await staff.ok("POST", "/products/secret-gadget/unpublish")
    problem(await client.get(f"{SHOP}/products/secret-gadget"), 404)


async def test_a_product_without_a_variant_cannot_be_published(staff: Staff) -> None:
    await staff.product("Empty", variants=[], published=False)
    refused = problem(await staff.send("POST", "/products/empty/publish"), 409)
    assert "variant" in refused["detail"]
    body = {"name": "Empty too", "variants": [], "published": True}
    problem(await staff.send("POST", "/products", json=body), 409)


async def test_prices_and_stock_change(client: AsyncClient, staff: Staff) -> None:
    await staff.product("Mug", variants=[variant(price=800, stock=3, sku="MUG")])

    await staff.ok("PUT", "/variants/MUG/price", json={"amount": 950, "currency": "EUR"})
    changed = await staff.ok("PUT", "/variants/MUG/stock", json={"stockOnHand": 0})

    assert changed["variants"][0]["stockOnHand"] == 0
    page = await get(client, "/products/mug")
    assert page["price"]["min"]["amount"] == 950
    assert page["inStock"] is False


async def test_stock_cannot_go_below_what_orders_reserved(app: ProvidingApp, staff: Staff) -> None:
    await staff.product("Lamp", variants=[variant(stock=5, sku="LAMP")])
    # an order's reservation, as the orders module makes it
    from sqlalchemy import update

    from agora.shop.catalog.models import Variant
    from tests.support.apps import platform_of

    async with platform_of(app).db.engine.begin() as connection:
        await connection.execute(
            update(Variant).where(Variant.sku == "LAMP").values(stock_reserved=3)
        )

    refused = problem(await staff.send("PUT", "/variants/LAMP/stock", json={"stockOnHand": 2}), 409)
    assert refused["detail"] == "stockOnHand can't be below the 3 units reserved for orders"
    problem(await staff.send("DELETE", "/variants/LAMP"), 409)
    after = await staff.ok("PUT", "/variants/LAMP/stock", json={"stockOnHand": 3})
    assert after["variants"][0]["available"] == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"amount": -1, "currency": "EUR"}, "amount"),
        ({"amount": 9.99, "currency": "EUR"}, "amount"),
        ({"amount": "999", "currency": "EUR"}, "amount"),
        ({"amount": 10**13, "currency": "EUR"}, "amount"),
        ({"amount": 100, "currency": "eur"}, "currency"),
        ({"amount": 100, "currency": "EURO"}, "currency"),
        ({"amount": 100}, "currency"),
    ],
)
async def test_a_bad_price_is_refused(staff: Staff, body: dict[str, Any], field: str) -> None:
    await staff.product("Pen", variants=[variant(price=100, sku="PEN")])

    refused = problem(await staff.send("PUT", "/variants/PEN/price", json=body), 422)

    assert refused["errors"][0]["field"] == field
    assert (await staff.ok("GET", "/products/pen/staff"))["variants"][0]["price"]["amount"] == 100


async def test_one_currency_per_product(staff: Staff) -> None:
    await staff.product("Cap", variants=[variant(sku="CAP-1", currency="EUR")])
    refused = problem(
        await staff.send(
            "POST", "/products/cap/variants", json=variant(sku="CAP-2", currency="USD")
        ),
        409,
    )
    assert refused["errors"][0]["field"] == "currency"
    mixed = {"name": "Hat", "variants": [variant(currency="EUR"), variant(currency="GBP")]}
    problem(await staff.send("POST", "/products", json=mixed), 409)


async def test_taken_slugs_and_skus_are_conflicts(staff: Staff) -> None:
    await staff.product("Kettle", variants=[variant(sku="KETTLE")])

    taken = {"name": "Other", "slug": "kettle", "variants": [variant()]}
    problem(await staff.send("POST", "/products", json=taken), 409)
    dup = problem(
        await staff.send(
            "POST", "/products", json={"name": "K2", "variants": [variant(sku="KETTLE")]}
        ),
        409,
    )
    assert dup["errors"][0]["field"] == "sku"
    twice = {"name": "K3", "variants": [variant(sku="X1"), variant(sku="X1")]}
    problem(await staff.send("POST", "/products", json=twice), 422)
    # the same name again gets a slug of its own
    again = await staff.product("Kettle")
    assert again["slug"].startswith("kettle-")


async def test_unknown_references_are_404(staff: Staff) -> None:
    problem(await staff.send("POST", "/products", json={"name": "X", "category": "nope"}), 404)
    problem(
        await staff.send("PUT", "/variants/NOPE/price", json={"amount": 1, "currency": "EUR"}),
        404,
    )
    problem(await staff.send("PATCH", "/products/nope", json={"name": "Y"}), 404)
    problem(await staff.send("POST", "/categories", json={"name": "X", "parent": "nope"}), 404)


async def test_categories_move_with_their_subtree(client: AsyncClient, staff: Staff) -> None:
    await staff.category("Computers")
    await staff.category("Laptops", parent="computers")
    await staff.category("Gaming Laptops", parent="laptops")
    await staff.category("Electronics")

    await staff.ok("PATCH", "/categories/computers", json={"parent": "electronics"})

    tree = {c["slug"]: c for c in (await get(client, "/categories"))["categories"]}
    assert (tree["computers"]["parent"], tree["computers"]["depth"]) == ("electronics", 1)
    assert tree["gaming-laptops"]["depth"] == 3
    refused = problem(
        await staff.send("PATCH", "/categories/computers", json={"parent": "gaming-laptops"}), 422
    )
    assert refused["errors"][0]["field"] == "parent"


async def test_the_tree_lists_parents_first_and_siblings_by_position(
    client: AsyncClient, staff: Staff
) -> None:
    await staff.category("Garden", position=2)
    await staff.category("Books", position=1)
    await staff.category("Novels", parent="books")
    await staff.category("Comics", parent="books")
    await staff.category("Audio", position=1)

    tree = (await get(client, "/categories"))["categories"]

    order = [(c["slug"], c["depth"]) for c in tree]
    assert order == [("audio", 0), ("books", 0), ("comics", 1), ("novels", 1), ("garden", 0)]


async def test_a_category_in_use_cannot_be_deleted(staff: Staff) -> None:
    await staff.category("Books")
    await staff.category("Novels", parent="books")
    await staff.product("Dune", category="novels")

    problem(await staff.send("DELETE", "/categories/books"), 409)
    problem(await staff.send("DELETE", "/categories/novels"), 409)
    await staff.ok("DELETE", "/products/dune", 204)
    await staff.ok("DELETE", "/categories/novels", 204)
    await staff.ok("DELETE", "/categories/books", 204)


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (4, 4), "red").save(out, "PNG")
    return out.getvalue()


async def test_images_are_stored_and_removed(client: AsyncClient, staff: Staff) -> None:
    await staff.product("Poster")

    added = await staff.ok(
        "POST",
        "/products/poster/images",
        201,
        files={"image": ("p.png", _png(), "image/png")},
        data={"alt": "A red poster"},
    )
    image = added["images"][0]
    assert image["alt"] == "A red poster"
    served = await client.get(image["url"].removeprefix("http://test"))
    assert served.status_code == 200
    assert (await get(client, "/products"))["products"][0]["image"] == image["url"]

    not_image = {"image": ("p.png", b"not an image", "image/png")}
    problem(await staff.send("POST", "/products/poster/images", files=not_image), 415)
    await staff.ok("DELETE", f"/products/poster/images/{image['id']}")
    assert (await client.get(image["url"].removeprefix("http://test"))).status_code == 404


async def test_a_product_page_shows_its_pictures_in_order_beside_its_variants(
    client: AsyncClient, staff: Staff
) -> None:
    # the page is one statement: a row per variant and option, then a row per picture
    await staff.product(
        "Tee", variants=[variant(sku="TEE-S", size="S", colour="red"), variant(sku="TEE-M")]
    )
    for alt in ("front", "back", "side"):
        png = {"image": ("p.png", _png(), "image/png")}
        await staff.ok("POST", "/products/tee/images", 201, files=png, data={"alt": alt})

    page = await get(client, "/products/tee")
    assert [image["alt"] for image in page["images"]] == ["front", "back", "side"]
    assert [(v["sku"], v["options"]) for v in page["variants"]] == [
        ("TEE-S", {"colour": "red", "size": "S"}),
        ("TEE-M", {}),
    ]


async def test_a_picture_for_no_product_leaves_no_file(
    app: ProvidingApp, staff: Staff, settings: Settings
) -> None:
    png = {"image": ("p.png", _png(), "image/png")}
    problem(await staff.send("POST", "/products/nowhere/images", files=png), 404)
    assert not list((settings.media_dir / "products").glob("*"))
