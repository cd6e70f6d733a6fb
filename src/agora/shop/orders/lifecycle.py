"""Moving an order through its states (the rules are ``state_machine``'s), with what each move
does in the same transaction: the stock released or shipped, the event recorded, the outbox
message written.

The move is a conditional ``UPDATE ... WHERE status = :current``: of two moves at once from the
same state (two staff clicking "paid", a customer cancelling while staff mark it paid) exactly
one happens; the other gets 409, on PostgreSQL and SQLite alike, without a lock held across
statements.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from agora.platform.db import utcnow
from agora.platform.errors import Conflict
from agora.platform.uow import UnitOfWork
from agora.platform.wire import iso_utc_millis
from agora.shop.orders import stock
from agora.shop.orders.models import Order, OrderEvent, OrderLine
from agora.shop.orders.queries import load_order, order_out
from agora.shop.orders.schemas import OrderOut
from agora.shop.orders.state_machine import (
    Actor,
    OrderEventRecord,
    OrderStatus,
    StockEffect,
    stock_effect,
    transition,
)
from agora.shop.orders.topics import ORDER_TOPICS, OrderChanged


def event_values(order_id: int, record: OrderEventRecord) -> dict[str, object]:
    """The history row of one step, as the columns of ``OrderEvent``."""
    return {
        "order_id": order_id,
        "from_status": record.from_status,
        "to_status": record.to_status,
        "actor_kind": record.actor.kind,
        "actor_id": record.actor.user_id,
        "reason": record.reason,
        "created_at": record.at,
    }


def announce(uow: UnitOfWork, order: Order, record: OrderEventRecord) -> None:
    """The outbox message of one step, in the unit of work's transaction."""
    uow.outbox.add(
        ORDER_TOPICS[record.to_status],
        OrderChanged(
            order_id=order.id,
            user_id=order.user_id,
            from_status=record.from_status,
            to_status=record.to_status,
            total_minor=order.total_minor,
            currency=order.currency,
            actor_id=record.actor.user_id,
            at=iso_utc_millis(record.at),
        ),
    )


def record_event(uow: UnitOfWork, order: Order, record: OrderEventRecord) -> OrderEvent:
    """The history row and the outbox message of one step, in the unit of work's transaction;
    the row (written with the session's next flush)."""
    event = OrderEvent(**event_values(order.id, record))
    uow.session.add(event)
    announce(uow, order, record)
    return event


async def _needs(session: AsyncSession, order_id: int) -> list[stock.Need]:
    rows = await session.execute(
        select(OrderLine.variant_id, OrderLine.quantity).where(
            OrderLine.order_id == order_id, OrderLine.variant_id.is_not(None)
        )
    )
    return [(variant_id, quantity) for variant_id, quantity in rows if variant_id]


async def move(
    uow: UnitOfWork,
    *,
    order_id: int,
    target: OrderStatus,
    actor: Actor,
    reason: str | None,
    owner_id: int | None,
) -> OrderOut:
    """Moves the order (a customer's own when ``owner_id`` is given) to ``target``."""
    session = uow.session
    order = await load_order(session, order_id, owner_id=owner_id)
    current = OrderStatus(order.status)
    now = utcnow()
    record = transition(current, target, actor=actor, reason=reason, at=now)
    result = await session.execute(
        update(Order)
        .where(Order.id == order.id, Order.status == current)
        .values(status=target, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict("was changed by someone else meanwhile: read it again", field="order")
    effect = stock_effect(current, target)
    if effect is StockEffect.RELEASE:
        await stock.release(uow, await _needs(session, order.id))
    elif effect is StockEffect.SHIP:
        await stock.ship(uow, await _needs(session, order.id))
    record_event(uow, order, record)
    await session.flush()
    answer = await order_out(session, await load_order(session, order.id, owner_id=None))
    await uow.commit()
    return answer
