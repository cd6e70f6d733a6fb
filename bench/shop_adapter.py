"""Agora's ``/api/shop`` for the shared shop benchmark's load driver (``../shared/bench/shop``).

The harness keeps one adapter per shop in its ``load/adapters.py`` and picks it by name; ours
stays here, and ``python -m bench.shop_adapter CMD agora …`` (run by ``bench/shop.py`` from the
repository's root with the harness's own virtualenv: the standard library and aiohttp only, no
import of ``agora``) registers it beside the others, then hands over to the harness's
``shopload.py`` unchanged: the same paths, closed loops, races and counting for every shop.

What each scenario sends (``bench/shop_seed.py`` wrote the refs: slugs, SKUs, variant ids,
the deep page's cursors, tokens of bench users):

    S1  GET /api/shop/search?q=WORD&category=LEAF&limit=20
    S2  GET /api/shop/search?q=TEXT&limit=20              (``corrected`` says a typo was mended)
    S3  GET /api/shop/products?category=ROOT&limit=20     (the root and every category below it)
        page N > 1: &cursor=C, where C is the cursor a client following ``nextCursor`` holds on
        page N (keyset pagination: there is no offset to ask for)
    S4  GET /api/shop/products/SLUG
    S5  POST /api/shop/cart/lines {sku, quantity: 1}; an anonymous cart, its ``X-Cart-Token``
        sent back, a fresh cart = no token
    S6  signed in (a bench user's token): POST /api/shop/cart/lines per line,
        GET /api/shop/shipping-methods?country=DE&currency=EUR, then
        POST /api/shop/checkout {shippingAddress, shippingMethod} with an ``Idempotency-Key``
        -> 201 {order}. The harness's e-mail of the checkout is the address's ``name`` (what R2
        counts orders by). A user's cart is emptied first only when a checkout of theirs may
        have left lines in it (a failure, or a user new to this process).
    R2  the same prepared checkout, its final POST sent 20 times with the same key.
"""

from __future__ import annotations

import json
import os
import sys
import uuid
from collections.abc import Mapping
from contextlib import AbstractAsyncContextManager
from functools import partial
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlencode

PREFIX = "/api/shop"
CURRENCY = "EUR"  # the seeded catalog's (bench/shop_seed.py)
COUNTRY = "DE"
SHIPPING_METHOD = "standard"
# where the harness's ``load`` folder is, for ``main``
LOAD_DIR_VARIABLE = "AGORA_SHOPBENCH_LOAD"

# the statements the races run with psql (``shopload.py`` formats them with the refs' ids)
SQL = {
    "set_stock": "UPDATE shop_variants SET stock_on_hand = 5, stock_reserved = 0 "
    "WHERE id = {variant}",
    "stock": "SELECT stock_on_hand || ' on hand, ' || stock_reserved || ' reserved' "
    "FROM shop_variants WHERE id = {variant}",
    "net": "SELECT stock_on_hand - stock_reserved FROM shop_variants WHERE id = {variant}",
    "orders_for_variant": "SELECT count(DISTINCT order_id) FROM shop_order_lines "
    "WHERE variant_id = {variant}",
    "orders_for_email": "SELECT count(*) FROM shop_orders "
    "WHERE shipping_address ->> 'name' = '{email}'",
}


class Answer(Protocol):
    """What the client's response offers (aiohttp's ``ClientResponse``)."""

    @property
    def status(self) -> int: ...

    async def read(self) -> bytes: ...


class Session(Protocol):
    """What the client's session offers (aiohttp's ``ClientSession``)."""

    def request(
        self, method: str, url: str, *, data: Any = None, headers: Mapping[str, str] | None = None
    ) -> AbstractAsyncContextManager[Answer]: ...


class Catalogue(Protocol):
    """The harness's view of the generated data (``shopload.Catalogue``): what we use of it."""

    def subtree(self, idx: int) -> list[int]: ...


class AgoraAdapter:
    """One instance per driver process; ``error`` is the harness's ``FlowError`` (what its loops
    count as a failed operation)."""

    name = "agora"
    headers: dict[str, str] = {}  # noqa: RUF012 - the harness's interface: sent with every read
    per_page = 20  # the peers' page size

    def __init__(
        self,
        base_url: str,
        refs: dict[str, Any],
        catalogue: Catalogue | None,
        *,
        error: type[Exception] = RuntimeError,
    ) -> None:
        self.base = base_url.rstrip("/")
        self.refs = refs
        self.cat = catalogue
        self.error = error
        self._next_user = 0

    # --- reads: a path each (wrk replays them) ------------------------------------------------

    def _query(self, path: str, params: list[tuple[str, str]]) -> str:
        return f"{PREFIX}{path}?{urlencode([*params, ('limit', str(self.per_page))])}"

    def s1_search_in_category(self, word: str, leaf_idx: int) -> str:
        return self._query("/search", [("q", word), ("category", self._category(leaf_idx))])

    def s2_search(self, text: str) -> str:
        return self._query("/search", [("q", text)])

    def s3_category_page(self, cat_idx: int, page: int) -> str:
        params = [("category", self._category(cat_idx))]
        if page > 1:
            params.append(("cursor", self.refs["cursors"][f"{cat_idx}:{page}"]))
        return self._query("/products", params)

    def s4_product(self, product_idx: int) -> str:
        return f"{PREFIX}/products/{self._product(product_idx)['slug']}"

    def search_result_count(self, status: int, body: bytes) -> int | None:
        """Every match falls in one price band: their counts add up to the matches."""
        if status != 200:
            return None
        bands: list[dict[str, Any]] = json.loads(body)["facets"]["price"]
        return sum(int(band["count"]) for band in bands)

    def _category(self, idx: int) -> str:
        slug: str = self.refs["categories"][str(idx)]
        return slug

    def _product(self, idx: int) -> dict[str, Any]:
        product: dict[str, Any] = self.refs["products"][str(idx)]
        return product

    # --- flows --------------------------------------------------------------------------------

    async def _call(
        self,
        session: Session,
        method: str,
        path: str,
        *,
        expect: int,
        what: str,
        body: object = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        """The answer's JSON; the harness's error for any other status than ``expect``."""
        sent = {"content-type": "application/json", **(headers or {})}
        data = None if body is None else json.dumps(body, separators=(",", ":"))
        async with session.request(method, self.base + path, data=data, headers=sent) as answer:
            raw = await answer.read()
            if answer.status != expect:
                raise self.error(f"{what}: HTTP {answer.status} {raw[:300]!r}")
        return json.loads(raw) if raw else None

    async def new_user(self, session: Session) -> dict[str, Any]:
        """The next bench user of this process (signed in by their token; not timed)."""
        tokens: list[str] = self.refs["tokens"]
        if self._next_user >= len(tokens):
            raise self.error(f"only {len(tokens)} bench users were seeded")
        token = tokens[self._next_user]
        self._next_user += 1
        # their cart may hold what a run before this one left in it
        return {"auth": {"Authorization": f"Token {token}"}, "dirty": True, "cart": None}

    def _sku(self, product_idx: int, variant_no: int) -> str:
        sku: str = self._product(product_idx)["skus"][variant_no]
        return sku

    async def add_to_cart(
        self,
        session: Session,
        user: dict[str, Any],
        product_idx: int,
        variant_no: int,
        new_cart: bool,
    ) -> None:
        """S5: one unit into an anonymous cart; ``new_cart`` starts another one."""
        if new_cart:
            user["cart"] = None
        headers = {} if user["cart"] is None else {"X-Cart-Token": user["cart"]}
        cart = await self._add_one(session, product_idx, variant_no, headers)
        user["cart"] = cart["token"]

    async def _add_one(
        self, session: Session, product_idx: int, variant_no: int, headers: dict[str, str]
    ) -> Any:
        """One unit of a variant into the cart ``headers`` name (a cart token, or a user)."""
        return await self._call(
            session,
            "POST",
            f"{PREFIX}/cart/lines",
            body={"sku": self._sku(product_idx, variant_no), "quantity": 1},
            headers=headers,
            expect=200,
            what="cart add",
        )

    async def prepare_checkout(
        self, session: Session, user: dict[str, Any], lines: list[tuple[int, int]], email: str
    ) -> None:
        """Everything before placing the order: the lines in the user's cart, a shipping method."""
        auth = user["auth"]
        if user["dirty"]:
            await self._call(
                session, "DELETE", f"{PREFIX}/cart", headers=auth, expect=200, what="cart empty"
            )
        user["dirty"] = True  # until an order took the lines
        for product_idx, variant_no in lines:
            await self._add_one(session, product_idx, variant_no, auth)
        query = urlencode({"country": COUNTRY, "currency": CURRENCY})
        offers = await self._call(
            session,
            "GET",
            f"{PREFIX}/shipping-methods?{query}",
            headers=auth,
            expect=200,
            what="shipping methods",
        )
        if SHIPPING_METHOD not in {method["code"] for method in offers["methods"]}:
            raise self.error(f"no {SHIPPING_METHOD} shipping to {COUNTRY} in {CURRENCY}")
        user["checkout"] = {
            "shippingAddress": {
                "name": email,
                "line1": "1 Lastgasse",
                "city": "Berlin",
                "postalCode": "10115",
                "country": COUNTRY,
            },
            "shippingMethod": SHIPPING_METHOD,
        }
        # one key per checkout attempt: its retries (R2) send the same
        user["key"] = str(uuid.uuid4())

    async def place_order(
        self, session: Session, user: dict[str, Any], confirm: bool = True
    ) -> str:
        """The checkout itself; the order's id. (``confirm``: nothing follows an order here.)"""
        placed = await self._call(
            session,
            "POST",
            f"{PREFIX}/checkout",
            body=user["checkout"],
            headers={**user["auth"], "Idempotency-Key": user["key"]},
            expect=201,
            what="checkout",
        )
        user["dirty"] = False
        return str(placed["order"]["id"])


def main() -> None:
    """``shopload.py``'s command line, with ``agora`` among its shops."""
    load = Path(os.environ[LOAD_DIR_VARIABLE])
    sys.path.insert(0, str(load))
    import adapters  # type: ignore[import-not-found]  # the harness's, found above
    import shopload  # type: ignore[import-not-found]

    adapters.ADAPTERS["agora"] = partial(AgoraAdapter, error=adapters.FlowError)
    shopload.DB["agora"] = SQL
    shopload.main()


if __name__ == "__main__":
    main()
