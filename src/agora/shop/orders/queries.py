"""Reading orders: one order with its lines and history, and pages of orders by keyset.

A page is ordered newest first by id; its cursor is the last id it showed, opaque to clients
(base64url), so the next page is ``id < cursor`` on an index: as fast on page 1,000 as on page 1,
and nothing is skipped or shown twice when orders arrive meanwhile.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from agora.platform.db import INTEGER_MAX
from agora.platform.errors import Invalid, NotFound
from agora.shop.money import Money
from agora.shop.orders.models import Order, OrderEvent, OrderLine
from agora.shop.orders.schemas import (
    ActorOut,
    Figures,
    OrderEventOut,
    OrderLineOut,
    OrderOut,
    OrdersPage,
    OrderSummary,
)
from agora.shop.orders.state_machine import ActorKind, OrderStatus

PAGE_MAX = 100


def encode_cursor(order_id: int) -> str:
    return base64.urlsafe_b64encode(f"o{order_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        text = ""
    digits = text[1:]
    if not text.startswith("o") or not digits.isdigit() or not 0 < int(digits) <= INTEGER_MAX:
        raise Invalid("is not a cursor this server handed out", field="cursor")
    return int(digits)


def figures(order: Order) -> Figures:
    def money(amount: int) -> Money:
        return Money(amount, order.currency)

    return Figures(
        subtotal=money(order.subtotal_minor).wire(),
        discount=money(order.discount_minor).wire(),
        shipping=money(order.shipping_minor).wire(),
        tax=money(order.tax_minor).wire(),
        total=money(order.total_minor).wire(),
    )


async def load_order(session: AsyncSession, order_id: int, *, owner_id: int | None) -> Order:
    """The order as committed now (not as this session saw it before); a 404 for another
    customer's order, so ids reveal nothing."""
    order = await session.scalar(
        select(Order).where(Order.id == order_id).execution_options(populate_existing=True)
    )
    if order is None or (owner_id is not None and order.user_id != owner_id):
        raise NotFound("not found", field="order")
    return order


async def order_out(session: AsyncSession, order: Order) -> OrderOut:
    lines = await session.scalars(
        select(OrderLine).where(OrderLine.order_id == order.id).order_by(OrderLine.id)
    )
    events = await session.scalars(
        select(OrderEvent).where(OrderEvent.order_id == order.id).order_by(OrderEvent.id)
    )
    return order_view(order, lines, events)


def order_view(order: Order, lines: Iterable[OrderLine], events: Iterable[OrderEvent]) -> OrderOut:
    """The order's answer from its rows (in their order); a checkout has them in hand."""
    return OrderOut(
        id=order.id,
        status=OrderStatus(order.status),
        currency=order.currency,
        lines=[
            OrderLineOut(
                sku=line.sku,
                name=line.name,
                quantity=line.quantity,
                unitPrice=Money(line.unit_price_minor, order.currency).wire(),
                lineTotal=Money(line.total_minor, order.currency).wire(),
            )
            for line in lines
        ],
        figures=figures(order),
        taxRateBasisPoints=order.tax_rate_basis_points,
        voucherCode=order.voucher_code,
        shippingMethod=order.shipping_method,
        shippingAddress=order.shipping_address,
        createdAt=order.created_at,
        updatedAt=order.updated_at,
        events=[
            OrderEventOut(
                **{"from": None if e.from_status is None else OrderStatus(e.from_status)},
                to=OrderStatus(e.to_status),
                actor=ActorOut(kind=ActorKind(e.actor_kind), id=e.actor_id),
                reason=e.reason,
                at=e.created_at,
            )
            for e in events
        ],
    )


async def list_orders(
    session: AsyncSession,
    *,
    user_id: int | None,
    status: OrderStatus | None = None,
    cursor: str | None,
    limit: int,
) -> OrdersPage:
    """``user_id``'s orders (everyone's for staff: None), newest first."""
    query = select(Order).order_by(Order.id.desc()).limit(limit + 1)
    if user_id is not None:
        query = query.where(Order.user_id == user_id)
    if status is not None:
        query = query.where(Order.status == status)
    if cursor is not None:
        query = query.where(Order.id < decode_cursor(cursor))
    orders = list(await session.scalars(query))
    more = len(orders) > limit
    orders = orders[:limit]
    return OrdersPage(
        orders=[
            OrderSummary(
                id=order.id,
                status=OrderStatus(order.status),
                total=Money(order.total_minor, order.currency).wire(),
                createdAt=order.created_at,
                updatedAt=order.updated_at,
            )
            for order in orders
        ],
        nextCursor=encode_cursor(orders[-1].id) if more else None,
    )
