"""Carts: whose cart a request means, merging an anonymous cart into its user's, and the lines.

A signed-in request means its user's cart; an anonymous one the cart of its ``X-Cart-Token``
(made, with a new token, by the first line added). A signed-in request that shows a token takes
that cart's lines into the user's (quantities summed, capped at what is in stock) and the
anonymous cart is gone: signing in never loses a cart.

Quantities are checked against stock when they change; checkout checks again, atomically.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from agora.platform.db import dialect_insert, utcnow
from agora.platform.errors import Conflict, Invalid, NotFound
from agora.platform.uow import UnitOfWork
from agora.shop.cart.models import Cart, CartLine
from agora.shop.cart.schemas import LINE_QUANTITY_MAX, CartOut
from agora.shop.cart.views import cart_view, line_variants, view_of
from agora.shop.catalog.models import Product, Variant
from agora.shop.money import CurrencyMismatch

TOKEN_FIELD = "X-Cart-Token"  # noqa: S105 - a header name


@dataclass(frozen=True, slots=True)
class CartOwner:
    """Who is asking: a signed-in user, the holder of an anonymous cart's token, or both."""

    user_id: int | None
    token: str | None


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def _anonymous_cart(session: AsyncSession, token: str, *, touch: bool) -> int | None:
    """The id of the cart ``token`` opens; ``touch``: its ``updated_at`` set in the same
    statement (what the purge of forgotten anonymous carts goes by)."""
    if touch:
        return await session.scalar(
            update(Cart)
            .where(Cart.token_hash == hash_token(token))
            .values(updated_at=utcnow())
            .returning(Cart.id)
            .execution_options(synchronize_session=False)
        )
    return await session.scalar(select(Cart.id).where(Cart.token_hash == hash_token(token)))


async def _user_cart(
    session: AsyncSession, user_id: int, *, create: bool, touch: bool
) -> int | None:
    """The id of the user's cart: made when missing if ``create`` (two first requests of a user
    at once make one cart), its ``updated_at`` set if ``touch``; one statement either way."""
    now = utcnow()
    if create:
        insert = dialect_insert(session)(Cart).values(
            user_id=user_id, created_at=now, updated_at=now
        )
        return await session.scalar(
            insert.on_conflict_do_update(
                index_elements=[Cart.user_id], set_={"updated_at": insert.excluded.updated_at}
            ).returning(Cart.id)
        )
    if touch:
        return await session.scalar(
            update(Cart)
            .where(Cart.user_id == user_id)
            .values(updated_at=now)
            .returning(Cart.id)
            .execution_options(synchronize_session=False)
        )
    return await session.scalar(select(Cart.id).where(Cart.user_id == user_id))


async def find_cart(
    uow: UnitOfWork, owner: CartOwner, *, create: bool, touch: bool = False
) -> tuple[int | None, str | None]:
    """The id of the cart ``owner`` means (made when ``create``; its ``updated_at`` set when
    ``touch``, as a write does), and the token to hand back: the one the client holds, or a new
    one for a new anonymous cart. Merges a shown anonymous cart into a signed-in user's. One
    statement to find (or make, or touch) the cart, whichever it is."""
    session = uow.session
    if owner.user_id is None:
        if owner.token is not None:
            cart_id = await _anonymous_cart(session, owner.token, touch=touch)
            if cart_id is None:
                raise NotFound("is unknown or was merged into an account", field=TOKEN_FIELD)
            return cart_id, owner.token
        if not create:
            return None, None
        token = secrets.token_urlsafe(32)
        now = utcnow()
        created = await session.scalar(
            insert(Cart)
            .values(token_hash=hash_token(token), created_at=now, updated_at=now)
            .returning(Cart.id)
        )
        return created, token
    anonymous = (
        None if owner.token is None else await _anonymous_cart(session, owner.token, touch=False)
    )
    merging = anonymous is not None
    cart_id = await _user_cart(
        session, owner.user_id, create=create or merging, touch=touch or merging
    )
    if anonymous is not None and cart_id is not None:
        await _merge(session, source=anonymous, into=cart_id)
    return cart_id, None


async def _merge(session: AsyncSession, *, source: int, into: int) -> None:
    """Moves the lines of cart ``source`` into cart ``into`` and deletes ``source``. A variant
    in both is summed and capped at what may be bought; a line in another currency than
    ``into``'s is dropped (a cart holds one currency)."""
    theirs = await line_variants(session, source)
    ours = {variant.id: (line, variant) for line, variant, _ in await line_variants(session, into)}
    currency = next((variant.currency for _, variant in ours.values()), None)
    for line, variant, _product in theirs:
        if currency is not None and variant.currency != currency:
            continue
        currency = variant.currency
        held = ours[variant.id][0].quantity if variant.id in ours else 0
        quantity = min(held + line.quantity, _available(variant), LINE_QUANTITY_MAX)
        if quantity > held:
            await _put_line(session, into, variant.id, quantity)
    await session.execute(delete(Cart).where(Cart.id == source))


def _available(variant: Variant) -> int:
    return max(variant.stock_on_hand - variant.stock_reserved, 0)


async def _put_line(
    session: AsyncSession, cart_id: int, variant_id: int, quantity: int, *, add: bool = False
) -> int:
    """Sets the line's quantity (adds to it when ``add``) in one statement, so two adds at once
    both count; returns the quantity the line now holds."""
    insert = dialect_insert(session)(CartLine).values(
        cart_id=cart_id, variant_id=variant_id, quantity=quantity, added_at=utcnow()
    )
    new = CartLine.quantity + insert.excluded.quantity if add else insert.excluded.quantity
    held = await session.scalar(
        insert.on_conflict_do_update(
            index_elements=[CartLine.cart_id, CartLine.variant_id], set_={"quantity": new}
        ).returning(CartLine.quantity)
    )
    return int(held or 0)


async def _change_line(session: AsyncSession, cart_id: int, variant_id: int, quantity: int) -> int:
    """Sets the quantity of a line the cart holds; 0 when it holds none."""
    held = await session.scalar(
        update(CartLine)
        .where(CartLine.cart_id == cart_id, CartLine.variant_id == variant_id)
        .values(quantity=quantity)
        .returning(CartLine.quantity)
        .execution_options(synchronize_session=False)
    )
    return int(held or 0)


async def _buyable(session: AsyncSession, sku: str) -> Variant:
    row = (
        await session.execute(
            select(Variant, Product.published)
            .join(Product, Product.id == Variant.product_id)
            .where(Variant.sku == sku)
        )
    ).first()
    if row is None or not row[1]:
        raise NotFound("is not a product on sale", field="sku")
    variant: Variant = row[0]
    return variant


async def set_quantity(
    uow: UnitOfWork, owner: CartOwner, *, sku: str, quantity: int, add: bool
) -> CartOut:
    """Sets (or, when ``add``, adds to) the quantity of ``sku`` in ``owner``'s cart.

    Written first, checked on what the cart holds after the write (a refusal rolls the write
    back): a concurrent add is counted, and the answer's read of the cart is the check's read,
    so an add costs four statements (the variant, the cart, the line, the cart's view)."""
    session = uow.session
    variant = await _buyable(session, sku)
    cart_id, token = await find_cart(uow, owner, create=add, touch=True)
    if cart_id is None:
        raise NotFound("holds no such line", field="sku")
    if add:
        wanted = await _put_line(session, cart_id, variant.id, quantity, add=True)
    else:
        wanted = await _change_line(session, cart_id, variant.id, quantity)
        if not wanted:
            raise NotFound("is not in the cart", field="sku")
    rows = await line_variants(session, cart_id)
    for _, other, _ in rows:
        if other.currency != variant.currency:
            raise CurrencyMismatch(other.currency, variant.currency, field="sku")
    if wanted > LINE_QUANTITY_MAX:
        raise Invalid(f"would pass {LINE_QUANTITY_MAX} of one item", field="quantity")
    if wanted > _available(variant):
        raise Conflict(f"only {_available(variant)} left in stock", field="quantity")
    view = view_of(rows, token=token)  # before the commit, which expires the rows
    await uow.commit()
    return view


async def remove_line(uow: UnitOfWork, owner: CartOwner, *, sku: str) -> CartOut:
    session = uow.session
    cart_id, token = await find_cart(uow, owner, create=False)
    variant_id = await session.scalar(select(Variant.id).where(Variant.sku == sku))
    if cart_id is None or variant_id is None:
        raise NotFound("is not in the cart", field="sku")
    result = await session.execute(
        delete(CartLine).where(CartLine.cart_id == cart_id, CartLine.variant_id == variant_id)
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        raise NotFound("is not in the cart", field="sku")
    view = await cart_view(session, cart_id, token=token)
    await uow.commit()
    return view


async def show(uow: UnitOfWork, owner: CartOwner) -> CartOut:
    """The cart at today's prices (merging a shown anonymous cart into a signed-in user's)."""
    cart_id, token = await find_cart(uow, owner, create=False)
    if cart_id is None:
        return CartOut(token=None, currency=None, lines=[], subtotal=None)
    view = await cart_view(uow.session, cart_id, token=token)
    await uow.commit()
    return view


async def empty(uow: UnitOfWork, owner: CartOwner) -> CartOut:
    cart_id, token = await find_cart(uow, owner, create=False)
    if cart_id is None:
        return CartOut(token=None, currency=None, lines=[], subtotal=None)
    await uow.session.execute(delete(CartLine).where(CartLine.cart_id == cart_id))
    await uow.commit()
    return CartOut(token=token, currency=None, lines=[], subtotal=None)
