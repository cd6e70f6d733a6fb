"""Cart routes under ``/api/shop/cart``, for signed-in users and anonymous visitors alike.

An anonymous visitor's first added line makes a cart and answers with its ``token``; they send it
back as ``X-Cart-Token``. A signed-in request that sends a token merges that cart into the user's.
Every answer shows the catalog's prices of the moment. Failures are RFC 9457 problem details.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path

from agora.identity.deps import OptionalUserId
from agora.identity.routing import TokenFirstRoute
from agora.platform.deps import UnitOfWorkDep
from agora.platform.error_formats import PROBLEM_DETAILS, Api
from agora.platform.openapi import errors
from agora.shop.cart import service
from agora.shop.cart.schemas import AddLine, CartOut, SetQuantity, Sku
from agora.shop.cart.service import CartOwner

router = APIRouter(prefix="/api/shop/cart", tags=["shop: cart"], route_class=TokenFirstRoute)

CartToken = Annotated[
    str | None,
    Header(
        alias="X-Cart-Token",
        min_length=1,
        max_length=100,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="An anonymous cart's token, as an earlier answer gave it",
    ),
]
SkuPath = Annotated[Sku, Path(description="The variant's SKU")]


async def cart_owner(user_id: OptionalUserId, token: CartToken = None) -> CartOwner:
    return CartOwner(user_id=user_id, token=token)


CartOwnerDep = Annotated[CartOwner, Depends(cart_owner)]


@router.get("", summary="The cart, at the catalog's prices now", responses=errors(401, 404, 422))
async def get_cart(uow: UnitOfWorkDep, owner: CartOwnerDep) -> CartOut:
    return await service.show(uow, owner)


@router.post(
    "/lines",
    summary="Add a quantity of a variant (the cart is made on the first line)",
    responses=errors(401, 404, 409, 422),
)
async def add_line(body: AddLine, uow: UnitOfWorkDep, owner: CartOwnerDep) -> CartOut:
    return await service.set_quantity(uow, owner, sku=body.sku, quantity=body.quantity, add=True)


@router.put(
    "/lines/{sku}",
    summary="Set the quantity of a line (remove it with DELETE)",
    responses=errors(401, 404, 409, 422),
)
async def set_line(
    sku: SkuPath, body: SetQuantity, uow: UnitOfWorkDep, owner: CartOwnerDep
) -> CartOut:
    return await service.set_quantity(uow, owner, sku=sku, quantity=body.quantity, add=False)


@router.delete("/lines/{sku}", summary="Remove a line", responses=errors(401, 404, 422))
async def remove_line(sku: SkuPath, uow: UnitOfWorkDep, owner: CartOwnerDep) -> CartOut:
    return await service.remove_line(uow, owner, sku=sku)


@router.delete("", summary="Empty the cart", responses=errors(401, 404, 422))
async def empty_cart(uow: UnitOfWorkDep, owner: CartOwnerDep) -> CartOut:
    return await service.empty(uow, owner)


api = Api(router, errors=PROBLEM_DETAILS)
