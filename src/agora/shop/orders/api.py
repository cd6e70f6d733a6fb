"""Checkout and a customer's orders under ``/api/shop``: quote, place (with ``Idempotency-Key``),
list (keyset), read, cancel. Failures are RFC 9457 problem details."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Query, Response, status
from pydantic import BaseModel

from agora.identity.deps import CurrentUserId
from agora.identity.routing import TokenFirstRoute
from agora.platform.db import INTEGER_MAX
from agora.platform.deps import ReadSessionDep, UnitOfWorkDep
from agora.platform.error_formats import PROBLEM_DETAILS, Api
from agora.platform.openapi import errors
from agora.shop.cart.api import CartOwnerDep, CartToken
from agora.shop.cart.service import CartOwner
from agora.shop.checkout.config import CheckoutConfigDep
from agora.shop.checkout.shipping import CountryCode
from agora.shop.money import Currency, MoneyOut
from agora.shop.orders import lifecycle, placing, queries
from agora.shop.orders.queries import PAGE_MAX
from agora.shop.orders.schemas import (
    CancelRequest,
    CheckoutRequest,
    IdempotencyKeyText,
    OrderResult,
    OrdersPage,
    QuoteOut,
)
from agora.shop.orders.state_machine import Actor, OrderStatus

router = APIRouter(
    prefix="/api/shop", tags=["shop: checkout and orders"], route_class=TokenFirstRoute
)

OrderId = Annotated[int, Path(ge=1, le=INTEGER_MAX, description="The order's id")]
Limit = Annotated[int, Query(ge=1, le=PAGE_MAX, description=f"1 to {PAGE_MAX}")]
Cursor = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=40,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="nextCursor of the previous page",
    ),
]
IdempotencyKey = Annotated[
    IdempotencyKeyText | None,
    Header(
        alias="Idempotency-Key",
        description="Makes retries safe: the same key with the same body answers with the same "
        "order; with another body, 409. A UUID per checkout attempt is a good key.",
    ),
]


async def checkout_owner(user_id: CurrentUserId, token: CartToken = None) -> CartOwner:
    return CartOwner(user_id=user_id, token=token)


OwnerDep = Annotated[CartOwner, Depends(checkout_owner)]


class ShippingOffer(BaseModel):
    code: str
    name: str
    rate: MoneyOut


class ShippingOffers(BaseModel):
    methods: list[ShippingOffer]


@router.get(
    "/shipping-methods",
    summary="The shipping methods to a country, with their rates in a currency",
    responses=errors(422),
)
async def shipping_methods(
    config: CheckoutConfigDep,
    country: Annotated[CountryCode, Query(description="ISO 3166-1 alpha-2")],
    currency: Annotated[Currency, Query()],
) -> ShippingOffers:
    offers = config.shipping.offers(country=country, currency=currency)
    return ShippingOffers(
        methods=[
            ShippingOffer(code=method.code, name=method.name, rate=rate.wire())
            for method, rate in offers
        ]
    )


@router.post(
    "/checkout/quote",
    summary="What checking out the cart would cost now (changes nothing; anonymous carts too)",
    responses=errors(401, 404, 409, 422),
)
async def checkout_quote(
    body: CheckoutRequest, uow: UnitOfWorkDep, owner: CartOwnerDep, config: CheckoutConfigDep
) -> QuoteOut:
    return await placing.quote(uow, owner=owner, request=body, config=config)


@router.post(
    "/checkout",
    status_code=status.HTTP_201_CREATED,
    summary="Place an order for the cart: stock reserved, voucher used, totals computed here",
    responses=errors(401, 409, 422),
)
async def checkout(
    body: CheckoutRequest,
    uow: UnitOfWorkDep,
    owner: OwnerDep,
    config: CheckoutConfigDep,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> OrderResult:
    result = await placing.place_order(
        uow, owner=owner, request=body, idempotency_key=idempotency_key, config=config
    )
    if result.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return OrderResult(order=result.order)


@router.get("/orders", summary="Your orders, newest first", responses=errors(401, 422))
async def my_orders(
    session: ReadSessionDep, user_id: CurrentUserId, limit: Limit = 20, cursor: Cursor = None
) -> OrdersPage:
    return await queries.list_orders(session, user_id=user_id, cursor=cursor, limit=limit)


@router.get("/orders/{order_id}", summary="One of your orders", responses=errors(401, 404, 422))
async def my_order(
    order_id: OrderId, session: ReadSessionDep, user_id: CurrentUserId
) -> OrderResult:
    order = await queries.load_order(session, order_id, owner_id=user_id)
    return OrderResult(order=await queries.order_out(session, order))


@router.post(
    "/orders/{order_id}/cancel",
    summary="Cancel your order while it waits for payment (its stock goes back)",
    responses=errors(401, 404, 409, 422),
)
async def cancel(
    order_id: OrderId, uow: UnitOfWorkDep, user_id: CurrentUserId, body: CancelRequest | None = None
) -> OrderResult:
    order = await lifecycle.move(
        uow,
        order_id=order_id,
        target=OrderStatus.CANCELLED,
        actor=Actor.customer(user_id),
        reason=None if body is None else body.reason,
        owner_id=user_id,
    )
    return OrderResult(order=order)


api = Api(router, errors=PROBLEM_DETAILS)
