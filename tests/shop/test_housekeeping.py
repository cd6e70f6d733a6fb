"""The shop's hourly purges: idempotency keys older than a day and anonymous carts untouched for
30 days go; what a retry or a returning visitor may still need stays."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import func, insert, select

from agora.container import Container
from agora.identity.models import User
from agora.platform.db import utcnow
from agora.platform.outbox import OutboxMessage
from agora.settings import Settings
from agora.shop.cart.models import Cart
from agora.shop.orders.models import IdempotencyKey, Order
from tests.support.database import empty_tables
from tests.support.jobs import eventually, fast_jobs

DAY = timedelta(days=1)


async def test_the_hourly_purges_delete_old_keys_and_abandoned_carts(
    make_settings: Callable[..., Settings],
) -> None:
    container = Container.from_settings(make_settings(jobs=fast_jobs(housekeeping=True)))
    db = container.platform.db
    await empty_tables(db)
    now = utcnow()
    async with db.sessions.begin() as session:
        user_id = await session.scalar(
            insert(User)
            .values(username="jake", email="jake@example.com", password_hash="x")
            .returning(User.id)
        )
        for key, age in (("old", 2 * DAY), ("fresh", timedelta(hours=1))):
            order_id = await session.scalar(
                insert(Order)
                .values(
                    user_id=user_id,
                    status="pending_payment",
                    currency="EUR",
                    subtotal_minor=0,
                    discount_minor=0,
                    shipping_minor=0,
                    tax_minor=0,
                    total_minor=0,
                    tax_rate_basis_points=0,
                    shipping_method="standard",
                    shipping_address={},
                    created_at=now - age,
                    updated_at=now - age,
                )
                .returning(Order.id)
            )
            await session.execute(
                insert(IdempotencyKey).values(
                    user_id=user_id,
                    key=key,
                    request_hash="0" * 64,
                    order_id=order_id,
                    created_at=now - age,
                )
            )
        carts = {"abandoned": 31 * DAY, "recent": 29 * DAY}
        for name, age in carts.items():
            await session.execute(
                insert(Cart).values(token_hash=name.ljust(64, "0"), updated_at=now - age)
            )
        # a signed-in user's cart stays, however old
        await session.execute(insert(Cart).values(user_id=user_id, updated_at=now - 90 * DAY))

    async def kept() -> tuple[set[str], set[str | None]]:
        async with db.autocommit_sessions() as session:
            keys = set(await session.scalars(select(IdempotencyKey.key)))
            tokens = {
                None if token is None else token.rstrip("0")
                for token in await session.scalars(select(Cart.token_hash))
            }
            return keys, tokens

    async def purged() -> bool:
        async with db.autocommit_sessions() as session:
            waiting = await session.scalar(select(func.count()).select_from(OutboxMessage))
        return (await kept())[0] == {"fresh"} and not waiting

    await container.jobs.start_in_server()
    try:
        await eventually(purged, what="the shop's purges")
        assert await kept() == ({"fresh"}, {"recent", None})
    finally:
        await container.close()
