"""What orders tell the rest of the system: an outbox topic per state an order reaches, written
in the transaction that moved it (``uow.outbox``), so no change is ever lost or announced without
having happened. Payments, emails and the staff panel (a later issue) subscribe to these; until
then the handlers only acknowledge them."""

from __future__ import annotations

import logging

from pydantic import BaseModel

from agora.platform.jobs.handlers import JobContext, JobHandlers
from agora.platform.outbox import Topic
from agora.shop.orders.state_machine import OrderStatus

logger = logging.getLogger(__name__)


class OrderChanged(BaseModel):
    order_id: int
    user_id: int
    from_status: OrderStatus | None
    to_status: OrderStatus
    total_minor: int
    currency: str
    actor_id: int | None
    at: str  # ISO 8601 UTC


ORDER_TOPICS: dict[OrderStatus, Topic[OrderChanged]] = {
    OrderStatus.PENDING_PAYMENT: Topic("shop.order_placed", OrderChanged),
    OrderStatus.PAID: Topic("shop.order_paid", OrderChanged),
    OrderStatus.FULFILLED: Topic("shop.order_fulfilled", OrderChanged),
    OrderStatus.DELIVERED: Topic("shop.order_delivered", OrderChanged),
    OrderStatus.CANCELLED: Topic("shop.order_cancelled", OrderChanged),
    OrderStatus.REFUNDED: Topic("shop.order_refunded", OrderChanged),
}


async def acknowledge(payload: OrderChanged, job: JobContext) -> None:
    logger.info("order %s: %s -> %s", payload.order_id, payload.from_status, payload.to_status)


def register(handlers: JobHandlers) -> None:
    """Called once by the composition root."""
    for topic in ORDER_TOPICS.values():
        handlers.register(topic, acknowledge)
