"""Staff routes under ``/api/shop/staff``: every order, moving orders through their states (mark
paid by hand until payments arrive, fulfilled, delivered, refunded, cancelled), vouchers."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from agora.identity.deps import StaffUserId
from agora.identity.routing import TokenFirstRoute
from agora.platform.db import INTEGER_MAX
from agora.platform.deps import SessionDep, UnitOfWorkDep
from agora.platform.error_formats import PROBLEM_DETAILS, Api
from agora.platform.openapi import errors
from agora.shop.orders import lifecycle, queries, vouchers
from agora.shop.orders.api import Cursor, Limit, OrderId
from agora.shop.orders.schemas import OrderResult, OrdersPage, TransitionRequest
from agora.shop.orders.state_machine import Actor, OrderStatus
from agora.shop.orders.vouchers import NewVoucher, VoucherOut

router = APIRouter(prefix="/api/shop/staff", tags=["shop: staff"], route_class=TokenFirstRoute)


@router.get("/orders", summary="Every order, newest first", responses=errors(401, 403, 422))
async def all_orders(
    session: SessionDep,
    _staff: StaffUserId,
    limit: Limit = 20,
    cursor: Cursor = None,
    status: Annotated[OrderStatus | None, Query()] = None,
) -> OrdersPage:
    return await queries.list_orders(
        session, user_id=None, status=status, cursor=cursor, limit=limit
    )


@router.get("/orders/{order_id}", summary="Any order", responses=errors(401, 403, 404, 422))
async def any_order(order_id: OrderId, session: SessionDep, _staff: StaffUserId) -> OrderResult:
    order = await queries.load_order(session, order_id, owner_id=None)
    return OrderResult(order=await queries.order_out(session, order))


@router.post(
    "/orders/{order_id}/transitions",
    summary="Move an order to another state (409 when its state does not allow it)",
    responses=errors(401, 403, 404, 409, 422),
)
async def move_order(
    order_id: OrderId, body: TransitionRequest, uow: UnitOfWorkDep, staff_id: StaffUserId
) -> OrderResult:
    order = await lifecycle.move(
        uow,
        order_id=order_id,
        target=body.to,
        actor=Actor.staff(staff_id),
        reason=body.reason,
        owner_id=None,
    )
    return OrderResult(order=order)


@router.post(
    "/vouchers",
    status_code=status.HTTP_201_CREATED,
    summary="Create a voucher",
    responses=errors(401, 403, 409, 422),
)
async def create_voucher(body: NewVoucher, uow: UnitOfWorkDep, _staff: StaffUserId) -> VoucherOut:
    return await vouchers.create(uow, body)


@router.get("/vouchers", summary="Vouchers by id, with their uses", responses=errors(401, 403, 422))
async def list_vouchers(
    session: SessionDep,
    _staff: StaffUserId,
    after: Annotated[int, Query(ge=0, le=INTEGER_MAX, description="The last id seen")] = 0,
    limit: Limit = 50,
) -> list[VoucherOut]:
    return await vouchers.list_all(session, after=after, limit=limit)


api = Api(router, errors=PROBLEM_DETAILS)
