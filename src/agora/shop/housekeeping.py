"""The shop's hourly purges: what checkout and anonymous visitors leave behind.

- an ``Idempotency-Key`` protects retries of one checkout, which come within minutes; it is kept
  a day (as Stripe does), then a new request with the same key is a new checkout;
- an anonymous cart untouched for 30 days belongs to a visitor who is not coming back (its token
  lived only in their browser).
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import and_

from agora.platform.jobs.handlers import JobContext, JobHandlers
from agora.platform.jobs.housekeeping import Purge, delete_in_batches, every_hour, purge_batches
from agora.platform.outbox import Topic
from agora.shop.cart.models import Cart
from agora.shop.orders.models import IdempotencyKey

KEYS_KEPT = timedelta(days=1)
ANONYMOUS_CARTS_KEPT = timedelta(days=30)

PURGE_IDEMPOTENCY_KEYS = Topic("shop.purge_idempotency_keys", Purge)
PURGE_ANONYMOUS_CARTS = Topic("shop.purge_anonymous_carts", Purge)

# by order id: a committed key always has its order (one key per order), and a single column
# is what a batch is chosen by
_old_keys = purge_batches(
    IdempotencyKey.order_id, lambda now: IdempotencyKey.created_at < now - KEYS_KEPT
)
_abandoned_carts = purge_batches(
    Cart.id,
    lambda now: and_(Cart.user_id.is_(None), Cart.updated_at < now - ANONYMOUS_CARTS_KEPT),
)


async def purge_idempotency_keys(_payload: Purge, job: JobContext) -> None:
    await delete_in_batches(job, _old_keys)


async def purge_anonymous_carts(_payload: Purge, job: JobContext) -> None:
    await delete_in_batches(job, _abandoned_carts)


def register(handlers: JobHandlers, *, schedule: bool) -> None:
    """Called once by the composition root; ``schedule``: run them hourly (housekeeping on)."""
    handlers.register(PURGE_IDEMPOTENCY_KEYS, purge_idempotency_keys)
    handlers.register(PURGE_ANONYMOUS_CARTS, purge_anonymous_carts)
    if schedule:
        every_hour(handlers, PURGE_IDEMPOTENCY_KEYS)
        every_hour(handlers, PURGE_ANONYMOUS_CARTS)
