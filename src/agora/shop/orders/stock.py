"""Stock moves of orders, each one conditional statement per variant (see ``Variant``):

- reserve: ``stock_reserved + n`` where ``stock_on_hand - stock_reserved >= n``; the row count
  says whether it held. No read comes first, so nothing can change between a check and the
  write, and no lock is needed: on SQLite the statement is the check.
- release (cancelled, refunded before shipping): ``stock_reserved - n``;
- ship (fulfilled): ``stock_on_hand - n`` and ``stock_reserved - n``.

An order of several lines touches its variants in id order, always: two orders that share
variants then wait for each other's rows in the same order on PostgreSQL, and a deadlock (A holds
1 and wants 2 while B holds 2 and wants 1) cannot happen.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from agora.platform.errors import Conflict
from agora.shop.catalog.models import Variant

# (variant id, quantity)
Need = tuple[int, int]


def in_lock_order(needs: Iterable[Need]) -> list[Need]:
    return sorted(needs)


async def reserve(session: AsyncSession, needs: Iterable[Need], *, skus: dict[int, str]) -> None:
    """Reserves every need or raises ``Conflict`` (the caller's transaction is rolled back)."""
    for variant_id, quantity in in_lock_order(needs):
        result = await session.execute(
            update(Variant)
            .where(
                Variant.id == variant_id,
                Variant.stock_on_hand - Variant.stock_reserved >= quantity,
            )
            .values(stock_reserved=Variant.stock_reserved + quantity)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise Conflict(
                f"{skus.get(variant_id, variant_id)} has fewer than {quantity} left in stock",
                field="stock",
            )


async def release(session: AsyncSession, needs: Iterable[Need]) -> None:
    for variant_id, quantity in in_lock_order(needs):
        await session.execute(
            update(Variant)
            .where(Variant.id == variant_id)
            .values(stock_reserved=Variant.stock_reserved - quantity)
            .execution_options(synchronize_session=False)
        )


async def ship(session: AsyncSession, needs: Iterable[Need]) -> None:
    for variant_id, quantity in in_lock_order(needs):
        await session.execute(
            update(Variant)
            .where(Variant.id == variant_id)
            .values(
                stock_on_hand=Variant.stock_on_hand - quantity,
                stock_reserved=Variant.stock_reserved - quantity,
            )
            .execution_options(synchronize_session=False)
        )
