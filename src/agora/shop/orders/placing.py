"""Checkout: the signed-in user's cart becomes an order, or nothing happens.

One transaction, its statements in a fixed order so that concurrent checkouts never deadlock:

1. the ``Idempotency-Key`` row (``INSERT ... ON CONFLICT DO NOTHING``): a retry of a request
   still running waits here for it to commit, then answers with its order (the same key with
   another body is a 409);
2. the stock, reserved variant by variant in id order (``stock.reserve``: conditional updates,
   a 409 when one falls short);
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

from dataclasses import dataclass

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from agora.platform.db import dialect_insert, utcnow
from agora.platform.errors import Conflict, Unauthorized
from agora.platform.uow import UnitOfWork
from agora.shop.cart.models import CartLine
from agora.shop.cart.service import CartOwner, find_cart
from agora.shop.cart.views import line_variants
from agora.shop.catalog.models import Variant
from agora.shop.checkout.config import CheckoutConfig
from agora.shop.checkout.totals import PricedLine, Totals, compute_totals
from agora.shop.money import Money
from agora.shop.orders import stock, vouchers
from agora.shop.orders.lifecycle import record_event
from agora.shop.orders.models import IdempotencyKey, Order, OrderLine
from agora.shop.orders.queries import load_order, order_out, order_view
from agora.shop.orders.schemas import CheckoutRequest, Figures, OrderOut, QuoteOut
from agora.shop.orders.state_machine import Actor, OrderStatus, placed

KEY_FIELD = "Idempotency-Key"


@dataclass(frozen=True, slots=True)
class Placed:
    order: OrderOut
    replayed: bool  # True: an earlier request with the same key made it


async def _claim_key(
    session: AsyncSession, *, user_id: int, key: str, fingerprint: str
) -> int | None:
    """Claims ``key`` for this request, or returns the order an earlier request made with it."""
    insert = dialect_insert(session)(IdempotencyKey).values(
        user_id=user_id, key=key, request_hash=fingerprint, created_at=utcnow()
    )
    claimed = await session.execute(insert.on_conflict_do_nothing().returning(IdempotencyKey.key))
    if claimed.first() is not None:
        return None
    earlier = (
        await session.execute(
            select(IdempotencyKey.request_hash, IdempotencyKey.order_id).where(
                IdempotencyKey.user_id == user_id, IdempotencyKey.key == key
            )
        )
    ).one()
    if earlier.request_hash != fingerprint:
        raise Conflict("was used for another request: use a new key", field=KEY_FIELD)
    if earlier.order_id is None:  # cannot be seen committed; kept for safety
        raise Conflict("belongs to a checkout still running", field=KEY_FIELD)
    order_id: int = earlier.order_id
    return order_id


@dataclass(frozen=True, slots=True)
class _Priced:
    lines: list[tuple[PricedLine, int, str]]  # the line, its variant id, the product's name
    totals: Totals
    voucher_id: int | None


async def _price(
    uow: UnitOfWork,
    *,
    cart_id: int,
    request: CheckoutRequest,
    config: CheckoutConfig,
    reserve: bool,
) -> _Priced:
    """The cart priced for ``request`` (its stock reserved first when ``reserve``)."""
    session = uow.session
    rows = await line_variants(session, cart_id)
    if not rows:
        raise Conflict("is empty", field="cart")
    for _, variant, product in rows:
        if not product.published:
            raise Conflict(f"{variant.sku} is no longer on sale", field="cart")
    needs = [(variant.id, line.quantity) for line, variant, _ in rows]
    address = request.shipping_address
    # what needs no row held is checked before any is: a bad request locks nothing
    config.shipping.rate(
        method=request.shipping_method, country=address.country, currency=rows[0][1].currency
    )
    voucher = (
        None if request.voucher_code is None else await vouchers.find(session, request.voucher_code)
    )
    # the prices as they are now, not as the cart or this session saw them: a reservation
    # reads them from the rows it holds, in the same statement
    if reserve:
        prices = await stock.reserve(uow, needs, skus={v.id: v.sku for _, v, _ in rows})
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
        (PricedLine(variant.sku, prices[variant.id], line.quantity), variant.id, product.name)
        for line, variant, product in rows
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
    cart_id, _ = await find_cart(uow, owner, create=False)
    if cart_id is None:
        raise Conflict("is empty", field="cart")
    priced = await _price(uow, cart_id=cart_id, request=request, config=config, reserve=False)
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
    session = uow.session
    user_id = owner.user_id
    if user_id is None:
        raise Unauthorized("is missing", field="token")
    if idempotency_key is not None:
        earlier = await _claim_key(
            session, user_id=user_id, key=idempotency_key, fingerprint=request.fingerprint()
        )
        if earlier is not None:
            answer = await order_out(session, await load_order(session, earlier, owner_id=user_id))
            # nothing to keep: end the transaction the claim began (on SQLite it holds the writer)
            await uow.rollback()
            return Placed(answer, replayed=True)
    cart_id, _ = await find_cart(uow, owner, create=False)
    if cart_id is None:
        raise Conflict("is empty", field="cart")
    priced = await _price(uow, cart_id=cart_id, request=request, config=config, reserve=True)
    if priced.voucher_id is not None:
        await vouchers.count_use(session, priced.voucher_id)
    totals = priced.totals
    now = utcnow()
    order = Order(
        user_id=user_id,
        status=OrderStatus.PENDING_PAYMENT,
        currency=totals.total.currency,
        subtotal_minor=totals.subtotal.amount,
        discount_minor=totals.discount.amount,
        shipping_minor=totals.shipping.amount,
        tax_minor=totals.tax.amount,
        total_minor=totals.total.amount,
        tax_rate_basis_points=config.tax_rate_basis_points,
        voucher_code=request.voucher_code,
        shipping_method=request.shipping_method,
        shipping_address=request.shipping_address.model_dump(mode="json", by_alias=True),
        created_at=now,
        updated_at=now,
    )
    session.add(order)
    await session.flush()
    lines = [
        {
            "order_id": order.id,
            "variant_id": variant_id,
            "sku": line.sku,
            "name": name,
            "unit_price_minor": line.unit_price.amount,
            "quantity": line.quantity,
            "total_minor": line.total.amount,
        }
        for line, variant_id, name in priced.lines
    ]
    # one statement for every line (the ORM would send one a line on SQLite, to learn ids
    # nothing here needs)
    await session.execute(insert(OrderLine), lines)
    event = record_event(uow, order, placed(actor=Actor.customer(user_id), at=now))
    if idempotency_key is not None:
        await session.execute(
            update(IdempotencyKey)
            .where(IdempotencyKey.user_id == user_id, IdempotencyKey.key == idempotency_key)
            .values(order_id=order.id)
        )
    await session.execute(delete(CartLine).where(CartLine.cart_id == cart_id))
    # the answer from the rows in hand (the commit writes them): no reading back
    answer = order_view(order, [OrderLine(**line) for line in lines], [event])
    await uow.commit()
    return Placed(answer, replayed=False)
