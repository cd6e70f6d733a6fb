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
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection

from agora.platform import driver_statements
from agora.platform.db import utcnow
from agora.platform.errors import Conflict, Invalid, NotFound
from agora.platform.uow import UnitOfWork
from agora.shop.cart import statements
from agora.shop.cart.schemas import LINE_QUANTITY_MAX, CartOut
from agora.shop.cart.views import Line, cart_lines, cart_view, view_of
from agora.shop.money import CurrencyMismatch

TOKEN_FIELD = "X-Cart-Token"  # noqa: S105 - a header name


@dataclass(frozen=True, slots=True)
class CartOwner:
    """Who is asking: a signed-in user, the holder of an anonymous cart's token, or both."""

    user_id: int | None
    token: str | None


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def _anonymous_cart(connection: AsyncConnection, token: str, *, touch: bool) -> int | None:
    """The id of the cart ``token`` opens; ``touch``: its ``updated_at`` set in the same
    statement (what the purge of forgotten anonymous carts goes by)."""
    if touch:
        values = {"hash": hash_token(token), "now": utcnow()}
        return await connection.scalar(statements.touch_anonymous(), values)
    return await connection.scalar(statements.find_anonymous(), {"hash": hash_token(token)})


async def _user_cart(
    connection: AsyncConnection, user_id: int, *, create: bool, touch: bool
) -> int | None:
    """The id of the user's cart: made when missing if ``create`` (two first requests of a user
    at once make one cart), its ``updated_at`` set if ``touch``; one statement either way."""
    if create:
        now = utcnow()
        values = {"user_id": user_id, "created_at": now, "updated_at": now}
        made: int = await connection.scalar(statements.user_cart_upsert(connection), values)
        return made
    if touch:
        values = {"owner": user_id, "now": utcnow()}
        return await connection.scalar(statements.touch_user_cart(), values)
    return await connection.scalar(statements.find_user_cart(), {"owner": user_id})


async def find_cart(
    uow: UnitOfWork, owner: CartOwner, *, create: bool, touch: bool = False
) -> tuple[int | None, str | None]:
    """The id of the cart ``owner`` means (made when ``create``; its ``updated_at`` set when
    ``touch``, as a write does), and the token to hand back: the one the client holds, or a new
    one for a new anonymous cart. Merges a shown anonymous cart into a signed-in user's. One
    statement to find (or make, or touch) the cart, whichever it is."""
    connection = await uow.session.connection()
    if owner.user_id is None:
        if owner.token is not None:
            cart_id = await _anonymous_cart(connection, owner.token, touch=touch)
            if cart_id is None:
                raise NotFound("is unknown or was merged into an account", field=TOKEN_FIELD)
            return cart_id, owner.token
        if not create:
            return None, None
        token = secrets.token_urlsafe(32)
        now = utcnow()
        values = {"token_hash": hash_token(token), "created_at": now, "updated_at": now}
        return await connection.scalar(statements.new_anonymous(), values), token
    anonymous = (
        None if owner.token is None else await _anonymous_cart(connection, owner.token, touch=False)
    )
    merging = anonymous is not None
    cart_id = await _user_cart(
        connection, owner.user_id, create=create or merging, touch=touch or merging
    )
    if anonymous is not None and cart_id is not None:
        await _merge(connection, source=anonymous, into=cart_id)
    return cart_id, None


async def _merge(connection: AsyncConnection, *, source: int, into: int) -> None:
    """Moves the lines of cart ``source`` into cart ``into`` and deletes ``source``. A variant
    in both is summed and capped at what may be bought; a line in another currency than
    ``into``'s is dropped (a cart holds one currency)."""
    theirs = await cart_lines(connection, source)
    ours = {row.variant_id: row for row in await cart_lines(connection, into)}
    currency = next((row.currency for row in ours.values()), None)
    now = utcnow()
    for line in theirs:
        if currency is not None and line.currency != currency:
            continue
        currency = line.currency
        held = ours[line.variant_id].quantity if line.variant_id in ours else 0
        quantity = min(held + line.quantity, max(line.available, 0), LINE_QUANTITY_MAX)
        if quantity > held:
            values = {"cart_id": into, "variant_id": line.variant_id, "quantity": quantity}
            await connection.execute(statements.put_line(connection), {**values, "added_at": now})
    await connection.execute(statements.delete_cart(), {"cart": source})


async def set_quantity(
    uow: UnitOfWork, owner: CartOwner, *, sku: str, quantity: int, add: bool
) -> CartOut:
    """Sets (or, when ``add``, adds to) the quantity of ``sku`` in ``owner``'s cart.

    Written first, checked on what the cart holds after the write (a refusal rolls the write
    back): a concurrent add is counted, and the answer's read of the cart is the check's read,
    so an add costs three statements (the cart; the line, written from the variant its SKU
    names; the cart's view). On PostgreSQL an add to a cart that exists or is a user's is first
    tried as one statement alone (``_add_alone``)."""
    if add:
        rows = await _add_alone(uow, owner, sku=sku, wanted=quantity)
        if rows:
            return view_of(rows, token=owner.token)
    cart_id, token = await find_cart(uow, owner, create=add, touch=True)
    if cart_id is None:
        raise NotFound("holds no such line", field="sku")
    connection = await uow.session.connection()
    values = {"cart": cart_id, "sku": sku, "wanted": quantity}
    if add:
        statement = statements.add_to_line(connection)
        written = (await connection.execute(statement, {**values, "now": utcnow()})).first()
        if written is None:
            raise NotFound("is not a product on sale", field="sku")
    else:
        written = (await connection.execute(statements.set_line(), values)).first()
        if written is None:
            raise NotFound("is not in the cart", field="sku")
    variant_id, wanted = written
    rows = await cart_lines(connection, cart_id)
    line = next(row for row in rows if row.variant_id == variant_id)
    for other in rows:
        if other.currency != line.currency:
            raise CurrencyMismatch(other.currency, line.currency, field="sku")
    if wanted > LINE_QUANTITY_MAX:
        raise Invalid(f"would pass {LINE_QUANTITY_MAX} of one item", field="quantity")
    available = max(line.available, 0)
    if wanted > available:
        raise Conflict(f"only {available} left in stock", field="quantity")
    view = view_of(rows, token=token)
    await uow.commit()
    return view


async def _add_alone(uow: UnitOfWork, owner: CartOwner, *, sku: str, wanted: int) -> Sequence[Line]:
    """The cart's lines after adding ``wanted`` of ``sku`` in one autocommit statement
    (``statements.add_alone_for_user``: no BEGIN and COMMIT, one round trip where the
    transaction takes five); no rows when it did not add: a refusal, a write to the cart
    committed since the statement began, or not its case (SQLite; a new anonymous cart or a
    merge, which the transaction does). The transaction then adds, or explains the refusal.
    The statement goes to the driver itself (``platform/driver_statements.py``)."""
    if (owner.user_id is None) == (owner.token is None):
        return ()
    connection = uow.autocommit_connection()
    if connection is None or connection.sync_engine.dialect.name != "postgresql":
        return ()
    values: dict[str, object] = {
        "sku": sku,
        "wanted": wanted,
        "most": LINE_QUANTITY_MAX,
        "now": utcnow(),
    }
    if owner.user_id is not None:
        statement = statements.add_alone_for_user()
        values["owner"] = owner.user_id
    else:
        assert owner.token is not None  # one of the two, checked above
        statement = statements.add_alone_for_token()
        values["hash"] = hash_token(owner.token)
    async with connection:
        found = await driver_statements.rows(connection, statement, values, alone=True)
    return [Line.of(row) for row in found]


async def remove_line(uow: UnitOfWork, owner: CartOwner, *, sku: str) -> CartOut:
    cart_id, token = await find_cart(uow, owner, create=False)
    connection = await uow.session.connection()
    variant_id = await connection.scalar(statements.variant_of_sku(), {"sku": sku})
    if cart_id is None or variant_id is None:
        raise NotFound("is not in the cart", field="sku")
    values = {"cart": cart_id, "variant": variant_id}
    result = await connection.execute(statements.remove_line(), values)
    if not result.rowcount:
        raise NotFound("is not in the cart", field="sku")
    view = await cart_view(connection, cart_id, token=token)
    await uow.commit()
    return view


async def show(uow: UnitOfWork, owner: CartOwner) -> CartOut:
    """The cart at today's prices (merging a shown anonymous cart into a signed-in user's)."""
    cart_id, token = await find_cart(uow, owner, create=False)
    if cart_id is None:
        return CartOut(token=None, currency=None, lines=[], subtotal=None)
    view = await cart_view(await uow.session.connection(), cart_id, token=token)
    await uow.commit()
    return view


async def empty(uow: UnitOfWork, owner: CartOwner) -> CartOut:
    cart_id, token = await find_cart(uow, owner, create=False)
    if cart_id is None:
        return CartOut(token=None, currency=None, lines=[], subtotal=None)
    connection = await uow.session.connection()
    await connection.execute(statements.empty_cart(), {"cart": cart_id})
    await uow.commit()
    return CartOut(token=token, currency=None, lines=[], subtotal=None)
