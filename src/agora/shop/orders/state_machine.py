"""An order's life cycle, as plain code: which moves exist, who may make them, and the record
each one leaves.

    pending_payment ──► paid ──► fulfilled ──► delivered
          │              │           │             │
          ▼              └───────────┴─────────────┴──► refunded
      cancelled

- ``cancelled`` only from ``pending_payment`` (nothing was charged; the stock goes back);
- ``refunded`` from ``paid``, ``fulfilled`` or ``delivered`` (the money goes back; refunded while
  only paid, the reserved stock goes back too; once shipped, the goods are gone);
- ``cancelled`` and ``refunded`` are final.

A move the graph has no edge for is a ``Conflict`` (409): the order is in a state that does not
allow it. A customer may only cancel their own order while it waits for payment; every other
move is staff's (``Forbidden``, 403). Each move returns an ``OrderEventRecord``: who, when, from,
to, why; the order's history is the list of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from agora.platform.errors import Conflict, Forbidden


class OrderStatus(StrEnum):
    PENDING_PAYMENT = "pending_payment"
    PAID = "paid"
    FULFILLED = "fulfilled"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"
    REFUNDED = "refunded"


S = OrderStatus
TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    S.PENDING_PAYMENT: frozenset({S.PAID, S.CANCELLED}),
    S.PAID: frozenset({S.FULFILLED, S.REFUNDED}),
    S.FULFILLED: frozenset({S.DELIVERED, S.REFUNDED}),
    S.DELIVERED: frozenset({S.REFUNDED}),
    S.CANCELLED: frozenset(),
    S.REFUNDED: frozenset(),
}
FINAL = frozenset(status for status, onward in TRANSITIONS.items() if not onward)


class StockEffect(StrEnum):
    NONE = "none"
    RELEASE = "release"  # the reserved units are for sale again
    SHIP = "ship"  # the reserved units left the warehouse


def stock_effect(current: OrderStatus, target: OrderStatus) -> StockEffect:
    """What a move does to the stock its order reserved when placed: released when the order
    ends before shipping (cancelled, or refunded while only paid), shipped when fulfilled."""
    if target is S.FULFILLED:
        return StockEffect.SHIP
    if target is S.CANCELLED or (target is S.REFUNDED and current is S.PAID):
        return StockEffect.RELEASE
    return StockEffect.NONE


class ActorKind(StrEnum):
    CUSTOMER = "customer"
    STAFF = "staff"
    SYSTEM = "system"  # a job or a payment provider, later


@dataclass(frozen=True, slots=True)
class Actor:
    kind: ActorKind
    user_id: int | None

    @classmethod
    def customer(cls, user_id: int) -> Actor:
        return cls(ActorKind.CUSTOMER, user_id)

    @classmethod
    def staff(cls, user_id: int) -> Actor:
        return cls(ActorKind.STAFF, user_id)


@dataclass(frozen=True, slots=True)
class OrderEventRecord:
    """One step of an order's history: ``from_status`` is None for its creation."""

    from_status: OrderStatus | None
    to_status: OrderStatus
    actor: Actor
    reason: str | None
    at: datetime


def may_move(current: OrderStatus, target: OrderStatus) -> bool:
    return target in TRANSITIONS[current]


def placed(*, actor: Actor, at: datetime) -> OrderEventRecord:
    """The first record of every order."""
    return OrderEventRecord(None, S.PENDING_PAYMENT, actor, "placed", at)


def transition(
    current: OrderStatus,
    target: OrderStatus,
    *,
    actor: Actor,
    reason: str | None,
    at: datetime,
) -> OrderEventRecord:
    """The record of moving an order from ``current`` to ``target``, or why it may not move."""
    if not may_move(current, target):
        allowed = ", ".join(sorted(TRANSITIONS[current])) or "none, it is final"
        raise Conflict(f"cannot go from {current} to {target} (allowed: {allowed})", field="status")
    if actor.kind is ActorKind.CUSTOMER and target is not S.CANCELLED:
        raise Forbidden("only staff may move an order to " + target, field="status")
    return OrderEventRecord(current, target, actor, reason, at)
