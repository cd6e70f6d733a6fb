"""Checkout: the signed-in user's cart becomes an order, or nothing happens.

One transaction, its statements in a fixed order so that concurrent checkouts never deadlock:

1. the ``Idempotency-Key`` row (``INSERT ... ON CONFLICT DO NOTHING``): a retry of a request
   still running waits here for it to commit, then answers with its order (the same key with
   another body is a 409); on PostgreSQL the same statement reads the signed-in user's cart;
2. the stock, reserved variant by variant in id order (``stock.reserve``: conditional updates,
   one statement for them all on PostgreSQL, a 409 when one falls short);
3. the prices, read again by the reservation's statement from the rows it holds: what the
   cart showed may have changed, what is charged is the catalog's price at this moment, never
   the client's;
4. shipping, voucher (its use counted by a conditional update: a 409 once used up), tax,
   totals (``checkout/totals.py``);
5. the order, its lines, its first event and the ``shop.order_placed`` outbox message; the cart
   is emptied.

Any failure rolls the whole transaction back: no stock, voucher use or key is left behind.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from agora.platform import driver_statements
from agora.platform.db import utcnow
from agora.platform.errors import Conflict, Unauthorized
from agora.platform.uow import UnitOfWork
from agora.shop.cart import statements as cart_statements
from agora.shop.cart.service import CartOwner, find_cart
from agora.shop.cart.views import Line, cart_lines
from agora.shop.catalog.models import Variant
from agora.shop.checkout.config import CheckoutConfig
from agora.shop.checkout.totals import PricedLine, Totals, compute_totals
from agora.shop.money import Money
from agora.shop.orders import statements, stock, vouchers
from agora.shop.orders.lifecycle import announce, event_values
from agora.shop.orders.models import Order, OrderEvent, OrderLine
from agora.shop.orders.queries import load_order, order_out, order_view
from agora.shop.orders.schemas import CheckoutRequest, Figures, OrderOut, QuoteOut
from agora.shop.orders.state_machine import Actor, OrderEventRecord, OrderStatus, placed

KEY_FIELD = "Idempotency-Key"


@dataclass(frozen=True, slots=True)
class Placed:
    order: OrderOut
    replayed: bool  # True: an earlier request with the same key made it


async def _claim_key(
    connection: AsyncConnection, *, user_id: int, key: str, fingerprint: str
) -> int | None:
    """Claims ``key`` for this request, or returns the order an earlier request made with it."""
    values = {"user_id": user_id, "key": key, "request_hash": fingerprint, "created_at": utcnow()}
    claimed = await connection.execute(statements.claim_key(connection), values)
    if claimed.first() is not None:
        return None
    return await _earlier_order(connection, user_id=user_id, key=key, fingerprint=fingerprint)


@dataclass(frozen=True, slots=True)
class _Claim:
    earlier_order: int | None  # the order an earlier request with the key made
    cart: tuple[int, Sequence[Line]] | None = None  # the cart's id and lines, when read with it


async def _claim(
    connection: AsyncConnection, *, owner: CartOwner, user_id: int, key: str, fingerprint: str
) -> _Claim:
    """``_claim_key``; on PostgreSQL, for a signed-in user's own cart, in one statement with the
    cart's read (a Conflict when it is empty)."""
    if connection.dialect.name != "postgresql" or owner.token is not None:
        earlier = await _claim_key(connection, user_id=user_id, key=key, fingerprint=fingerprint)
        return _Claim(earlier)
    values = {"owner": user_id, "claimed": key, "request_hash": fingerprint, "now": utcnow()}
    statement = statements.claim_key_and_lines_postgresql()
    # the transaction's first statement: through SQLAlchemy, which begins it
    rows = await driver_statements.rows(connection, statement, values)
    # each row: whether it claimed, a line's columns, the cart's id
    claimed, cart_id = rows[0][0], rows[0][-1]
    if not claimed:
        return _Claim(
            await _earlier_order(connection, user_id=user_id, key=key, fingerprint=fingerprint)
        )
    if cart_id is None:
        raise Conflict("is empty", field="cart")
    return _Claim(None, (cart_id, [Line.of(row, start=1) for row in rows]))


async def _earlier_order(
    connection: AsyncConnection, *, user_id: int, key: str, fingerprint: str
) -> int:
    """The order of the earlier request that claimed ``key`` (a Conflict when it was another
    request)."""
    earlier = (
        await connection.execute(statements.earlier_claim(), {"owner": user_id, "claimed": key})
    ).one()
    if earlier.request_hash != fingerprint:
        raise Conflict("was used for another request: use a new key", field=KEY_FIELD)
    if earlier.order_id is None:  # cannot be seen committed; kept for safety
        raise Conflict("belongs to a checkout still running", field=KEY_FIELD)
    order_id: int = earlier.order_id
    return order_id


async def _cart(uow: UnitOfWork, owner: CartOwner) -> tuple[int, Sequence[Line]]:
    """The id of the cart ``owner`` checks out and its lines (a Conflict when there are none):
    a signed-in user's in one statement; a shown anonymous cart is merged into it first."""
    connection = await uow.session.connection()
    if owner.user_id is not None and owner.token is None:
        found = await connection.execute(cart_statements.lines_of_user(), {"owner": owner.user_id})
        # each row: a line's columns, then the cart's id
        rows = found.all()
        if rows:
            return rows[0].cart_id, [Line.of(row) for row in rows]
    else:
        cart_id, _ = await find_cart(uow, owner, create=False)
        lines = [] if cart_id is None else await cart_lines(connection, cart_id)
        if cart_id is not None and lines:
            return cart_id, lines
    raise Conflict("is empty", field="cart")


@dataclass(frozen=True, slots=True)
class _Priced:
    lines: list[tuple[PricedLine, int, str]]  # the line, its variant id, the product's name
    totals: Totals
    voucher_id: int | None


async def _price(
    uow: UnitOfWork,
    *,
    rows: Sequence[Line],
    request: CheckoutRequest,
    config: CheckoutConfig,
    reserve: bool,
) -> _Priced:
    """The cart's lines priced for ``request`` (their stock reserved first when ``reserve``)."""
    session = uow.session
    for row in rows:
        if not row.published:
            raise Conflict(f"{row.sku} is no longer on sale", field="cart")
    needs = [(row.variant_id, row.quantity) for row in rows]
    address = request.shipping_address
    # what needs no row held is checked before any is: a bad request locks nothing
    config.shipping.rate(
        method=request.shipping_method, country=address.country, currency=rows[0].currency
    )
    voucher = (
        None if request.voucher_code is None else await vouchers.find(session, request.voucher_code)
    )
    # the prices as they are now, not as the cart or this session saw them: a reservation
    # reads them from the rows it holds, in the same statement
    if reserve:
        prices = await stock.reserve(uow, needs, skus={row.variant_id: row.sku for row in rows})
    else:
        prices = {
            variant_id: Money(price, currency)
            for variant_id, price, currency in (
                await session.execute(
                    select(Variant.id, Variant.price_minor, Variant.currency).where(
                        Variant.id.in_([variant_id for variant_id, _ in needs])
                    )
                )
            )
        }
    lines = [
        (PricedLine(row.sku, prices[row.variant_id], row.quantity), row.variant_id, row.name)
        for row in rows
    ]
    currency = lines[0][0].unit_price.currency
    shipping = config.shipping.rate(
        method=request.shipping_method, country=address.country, currency=currency
    )
    totals = compute_totals(
        [line for line, _, _ in lines],
        currency=currency,
        shipping=shipping,
        tax_rate_basis_points=config.tax_rate_basis_points,
        voucher=None if voucher is None else vouchers.terms_of(voucher),
        now=utcnow(),
    )
    return _Priced(lines=lines, totals=totals, voucher_id=None if voucher is None else voucher.id)


async def quote(
    uow: UnitOfWork, *, owner: CartOwner, request: CheckoutRequest, config: CheckoutConfig
) -> QuoteOut:
    """What checking out would cost now; changes nothing (but merges a shown anonymous cart)."""
    _, rows = await _cart(uow, owner)
    priced = await _price(uow, rows=rows, request=request, config=config, reserve=False)
    await uow.commit()
    totals = priced.totals
    return QuoteOut(
        currency=totals.total.currency,
        figures=Figures(**{name: getattr(totals, name).wire() for name in Figures.model_fields}),
        taxRateBasisPoints=config.tax_rate_basis_points,
    )


async def place_order(
    uow: UnitOfWork,
    *,
    owner: CartOwner,
    request: CheckoutRequest,
    idempotency_key: str | None,
    config: CheckoutConfig,
) -> Placed:
    user_id = owner.user_id
    if user_id is None:
        raise Unauthorized("is missing", field="token")
    connection = await uow.session.connection()
    claim = _Claim(None)
    if idempotency_key is not None:
        claim = await _claim(
            connection,
            owner=owner,
            user_id=user_id,
            key=idempotency_key,
            fingerprint=request.fingerprint(),
        )
        if claim.earlier_order is not None:
            session = uow.session
            order = await load_order(session, claim.earlier_order, owner_id=user_id)
            answer = await order_out(session, order)
            # nothing to keep: end the transaction the claim began (on SQLite it holds the writer)
            await uow.rollback()
            return Placed(answer, replayed=True)
    cart_id, rows = claim.cart or await _cart(uow, owner)
    priced = await _price(uow, rows=rows, request=request, config=config, reserve=True)
    if priced.voucher_id is not None:
        await vouchers.count_use(uow.session, priced.voucher_id)
    totals = priced.totals
    now = utcnow()
    values = {
        "user_id": user_id,
        "status": OrderStatus.PENDING_PAYMENT.value,
        "currency": totals.total.currency,
        "subtotal_minor": totals.subtotal.amount,
        "discount_minor": totals.discount.amount,
        "shipping_minor": totals.shipping.amount,
        "tax_minor": totals.tax.amount,
        "total_minor": totals.total.amount,
        "tax_rate_basis_points": config.tax_rate_basis_points,
        "voucher_code": request.voucher_code,
        "shipping_method": request.shipping_method,
        "shipping_address": request.shipping_address.model_dump(mode="json", by_alias=True),
        "created_at": now,
        "updated_at": now,
    }
    record = placed(actor=Actor.customer(user_id), at=now)
    lines = [
        {
            "variant_id": variant_id,
            "sku": line.sku,
            "name": name,
            "unit_price_minor": line.unit_price.amount,
            "quantity": line.quantity,
            "total_minor": line.total.amount,
        }
        for line, variant_id, name in priced.lines
    ]
    if connection.dialect.name == "postgresql":
        order_id = await _record_in_one_statement(
            connection, values, lines, record, key=idempotency_key, cart_id=cart_id
        )
    else:
        order_id = await _record(
            connection, values, lines, record, key=idempotency_key, cart_id=cart_id
        )
    order = Order(id=order_id, **values)  # the answer's, never added to the session
    event = event_values(order_id, record)
    announce(uow, order, record)
    # the answer from the rows in hand (the commit writes them): no reading back
    answer = order_view(
        order, [OrderLine(order_id=order_id, **line) for line in lines], [OrderEvent(**event)]
    )
    await uow.commit()
    return Placed(answer, replayed=False)


async def _record(
    connection: AsyncConnection,
    order: dict[str, object],
    lines: list[dict[str, object]],
    record: OrderEventRecord,
    *,
    key: str | None,
    cart_id: int,
) -> int:
    """The order, its lines, its first event, its key and the cart emptied: a statement each."""
    order_id: int = (await connection.execute(statements.new_order(), order)).scalar_one()
    rows = [{**line, "order_id": order_id} for line in lines]
    await connection.execute(statements.new_lines(), rows)
    await connection.execute(statements.new_event(), event_values(order_id, record))
    if key is not None:
        values = {"owner": order["user_id"], "claimed": key, "made": order_id}
        await connection.execute(statements.key_made(), values)
    await connection.execute(cart_statements.empty_cart(), {"cart": cart_id})
    return order_id


async def _record_in_one_statement(
    connection: AsyncConnection,
    order: dict[str, object],
    lines: list[dict[str, object]],
    record: OrderEventRecord,
    *,
    key: str | None,
    cart_id: int,
) -> int:
    """What ``_record`` writes, in one statement (PostgreSQL)."""
    values = {
        **order,
        **{f"line_{plural}": [line[column] for line in lines] for column, plural in _LINE_ARRAYS},
        "from_status": record.from_status,
        "to_status": record.to_status,
        "actor_kind": record.actor.kind,
        "actor_id": record.actor.user_id,
        "reason": record.reason,
        "event_at": record.at,
        "idempotency_key": key,
        "cart_id": cart_id,
    }
    made = await driver_statements.rows(connection, statements.record_order_postgresql(), values)
    order_id: int = made[0][0]
    return order_id


# an order line's column, and the array parameter of record_order_postgresql that holds it
_LINE_ARRAYS = (
    ("variant_id", "variant_ids"),
    ("sku", "skus"),
    ("name", "names"),
    ("unit_price_minor", "unit_prices"),
    ("quantity", "quantities"),
    ("total_minor", "totals"),
)
