"""The shop benchmark's wiring against the real routes: a small catalog from the shared harness's
own generator, loaded by ``bench.shop_seed``, and every request our adapter builds
(``bench.shop_adapter``) answered as the benchmark expects, on this test's app. A route or a
field renamed breaks this test, not a benchmark run an hour later. The races' SQL runs against
the real schema too. Skipped without the harness (``../shared/bench/shop`` or
``AGORA_SHOPBENCH_DIR``)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from bench import shop_seed
from bench.shop import harness_dir
from bench.shop_adapter import SQL, AgoraAdapter
from httpx import AsyncClient
from sqlalchemy import text

from agora.container import Container
from agora.platform.provided import ProvidingApp
from tests.shop.conftest import set_stock
from tests.support.apps import BASE_URL, platform_of
from tests.support.modules import module_from_file

pytestmark = pytest.mark.skipif(
    not (harness_dir() / "load" / "adapters.py").exists(),
    reason=f"the shared shop harness is not at {harness_dir()}",
)

DEEP_PAGE = 2


def _harness_adapters() -> ModuleType:
    """The harness's ``adapters.py`` (its ``FlowError`` is what its loops count as a failure)."""
    return module_from_file("shopbench_adapters", harness_dir() / "load" / "adapters.py")


@dataclass(frozen=True, slots=True)
class _Answer:
    status: int
    body: bytes

    async def read(self) -> bytes:
        return self.body


@dataclass(frozen=True, slots=True)
class InProcessSession:
    """The part of aiohttp's session the adapter uses, over the test app's own client."""

    client: AsyncClient

    @asynccontextmanager
    async def request(
        self, method: str, url: str, *, data: Any = None, headers: Mapping[str, str] | None = None
    ) -> AsyncIterator[_Answer]:
        response = await self.client.request(method, url, content=data, headers=headers)
        yield _Answer(response.status_code, response.content)


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small catalog from the harness's generator: 8 roots, a leaf or two below each of their
    64 children, 400 products."""
    out = tmp_path_factory.mktemp("shopbench-data")
    command = [sys.executable, str(harness_dir() / "gen_data.py"), str(out)]
    sizes = ["--products", "400", "--categories", "140", "--samples", "2000"]
    subprocess.run([*command, *sizes], check=True, capture_output=True)
    return out


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


async def _sql(app: ProvidingApp, statement: str) -> Any:
    async with platform_of(app).db.engine.begin() as connection:
        result = await connection.execute(text(statement))
        return result.scalar() if result.returns_rows else None


async def test_every_request_of_the_adapter_is_answered_as_the_benchmark_expects(
    app: ProvidingApp, container: Container, client: AsyncClient, generated: Path
) -> None:
    db = platform_of(app).db
    seeded = await shop_seed.seed(db, generated)
    assert (seeded["categories"], seeded["products"]) == (140, 400)
    tokens = [container.tokens.issue(id_) for id_ in await shop_seed.user_ids(db)]
    refs = await shop_seed.refs(db, generated, tokens, DEEP_PAGE)
    adapter = AgoraAdapter(BASE_URL, refs, None, error=_harness_adapters().FlowError)
    categories = _jsonl(generated / "categories.jsonl")
    products = _jsonl(generated / "products.jsonl")
    leaf = next(c for c in categories if c["level"] == 3 and " " not in c["noun"])
    root = next(c for c in categories if c["parent"] is None)

    # the reads wrk replays: each answers 200 with what the scenario is about
    found = await client.get(adapter.s1_search_in_category(leaf["noun"], leaf["idx"]))
    in_leaf = sum(1 for p in products if p["category"] == leaf["idx"])
    assert adapter.search_result_count(found.status_code, found.content) == in_leaf > 0
    typo = await client.get(adapter.s2_search(leaf["noun"][:-2] + leaf["noun"][:-3:-1]))
    assert typo.json()["corrected"] is True
    assert (adapter.search_result_count(typo.status_code, typo.content) or 0) > 0
    first = await client.get(adapter.s3_category_page(root["idx"], 1))
    assert first.status_code == 200
    assert len(first.json()["products"]) == adapter.per_page
    # the deep page's cursor is where following nextCursor leads
    second = await client.get(adapter.s3_category_page(root["idx"], DEEP_PAGE))
    followed = await client.get(
        adapter.s3_category_page(root["idx"], 1) + f"&cursor={first.json()['nextCursor']}"
    )
    assert second.json()["products"] == followed.json()["products"] != []
    detail = await client.get(adapter.s4_product(products[0]["idx"]))
    assert detail.json()["name"] == products[0]["title"]
    assert [v["sku"] for v in detail.json()["variants"]] == [
        v["sku"] for v in products[0]["variants"]
    ]

    # S5: an anonymous cart, kept by its token until a fresh one is asked for
    session = InProcessSession(client)
    visitor = await adapter.new_user(session)
    in_stock = [p for p in products if all(v["stock"] >= 3 for v in p["variants"])]
    await adapter.add_to_cart(session, visitor, in_stock[0]["idx"], 0, True)
    await adapter.add_to_cart(session, visitor, in_stock[1]["idx"], 1, False)
    cart = await client.get("/api/shop/cart", headers={"X-Cart-Token": visitor["cart"]})
    assert len(cart.json()["lines"]) == 2

    # S6 and R2: a signed-in checkout, and its retry with the same key makes no second order
    buyer = await adapter.new_user(session)
    email = "buyer-1@example.com"
    lines = [(in_stock[2]["idx"], 0), (in_stock[3]["idx"], 2)]
    await adapter.prepare_checkout(session, buyer, lines, email)
    order = await adapter.place_order(session, buyer)
    assert await adapter.place_order(session, buyer, confirm=False) == order
    assert await _sql(app, SQL["orders_for_email"].format(email=email)) == 1
    # the next checkout starts from the cart the order emptied
    await adapter.prepare_checkout(session, buyer, lines[:1], "buyer-2@example.com")
    assert await adapter.place_order(session, buyer) != order

    # R1: the races' statements on the real schema, and a refusal is the harness's failure
    variant = refs["products"][str(in_stock[4]["idx"])]["variants"][0]
    await _sql(app, SQL["set_stock"].format(variant=variant))
    assert await _sql(app, SQL["stock"].format(variant=variant)) == "5 on hand, 0 reserved"
    late = await adapter.new_user(session)
    await adapter.prepare_checkout(session, late, [(in_stock[4]["idx"], 0)], "late@example.com")
    await set_stock(platform_of(app).db, refs["products"][str(in_stock[4]["idx"])]["skus"][0], 0)
    with pytest.raises(adapter.error, match="checkout: HTTP 409"):
        await adapter.place_order(session, late)
    assert await _sql(app, SQL["net"].format(variant=variant)) == 0
    assert await _sql(app, SQL["orders_for_variant"].format(variant=variant)) == 0
