"""Vouchers in the database: finding one by code, counting a use under concurrency, and staff
creating them. The terms themselves are plain rules (``checkout/vouchers.py``).

A use is counted by one conditional statement, ``uses = uses + 1 WHERE uses < usage_limit``, in
the checkout's transaction, checked by its row count: of 50 checkouts at once with a voucher of
limit 10, exactly 10 update a row, whatever the database; the others get 409 and roll back
(their stock reservations with them). A checkout that fails later rolls its use back too.
"""

from __future__ import annotations

from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError
from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from agora.platform.db import INTEGER_MAX
from agora.platform.errors import Conflict, NotFound
from agora.platform.uow import UnitOfWork
from agora.platform.wire import VERBATIM, Timestamp
from agora.shop.checkout.vouchers import FIELD, VoucherKind, VoucherTerms
from agora.shop.money import AMOUNT_MAX, WHOLE, Currency
from agora.shop.orders.models import Voucher
from agora.shop.orders.schemas import VoucherCode


class NewVoucher(BaseModel):
    model_config = ConfigDict(extra="forbid", serialize_by_alias=True, populate_by_name=True)

    code: VoucherCode
    kind: VoucherKind
    value: Annotated[int, Field(ge=1, le=AMOUNT_MAX)] = Field(
        description="Basis points for a percentage (1000 = 10 %), minor units for fixed"
    )
    currency: Currency | None = None
    minimum: Annotated[int, Field(ge=0, le=AMOUNT_MAX)] = Field(
        default=0, description="The smallest subtotal it applies to, in minor units"
    )
    expires_at: Timestamp | None = Field(default=None, alias="expiresAt")
    usage_limit: Annotated[int, Field(ge=1, le=INTEGER_MAX)] | None = Field(
        default=None, alias="usageLimit"
    )

    @model_validator(mode="after")
    def _coherent(self) -> Self:
        problem = None
        if self.kind is VoucherKind.PERCENTAGE and self.value > WHOLE:
            problem = "a percentage is at most 10000 basis points (100 %)"
        elif self.kind is VoucherKind.FIXED and self.currency is None:
            problem = "a fixed voucher needs a currency"
        elif self.minimum and self.currency is None:
            problem = "a minimum order needs a currency"
        elif self.expires_at is not None and self.expires_at.tzinfo is None:
            problem = "expiresAt needs a time zone, such as Z"
        if problem is not None:
            raise PydanticCustomError(VERBATIM, problem)
        return self


class VoucherOut(NewVoucher):
    id: int
    uses: int


def terms_of(voucher: Voucher) -> VoucherTerms:
    return VoucherTerms(
        code=voucher.code,
        kind=VoucherKind(voucher.kind),
        value=voucher.value,
        currency=voucher.currency,
        minimum=voucher.minimum_minor,
        expires_at=voucher.expires_at,
    )


async def find(session: AsyncSession, code: str) -> Voucher:
    voucher = await session.scalar(select(Voucher).where(Voucher.code == code.upper()))
    if voucher is None:
        raise NotFound("is unknown", field=FIELD)
    return voucher


async def count_use(session: AsyncSession, voucher_id: int) -> None:
    result = await session.execute(
        update(Voucher)
        .where(
            Voucher.id == voucher_id,
            or_(Voucher.usage_limit.is_(None), Voucher.uses < Voucher.usage_limit),
        )
        .values(uses=Voucher.uses + 1)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict("has been used up", field=FIELD)


def voucher_out(voucher: Voucher) -> VoucherOut:
    return VoucherOut(
        id=voucher.id,
        code=voucher.code,
        kind=VoucherKind(voucher.kind),
        value=voucher.value,
        currency=voucher.currency,
        minimum=voucher.minimum_minor,
        expires_at=voucher.expires_at,
        usage_limit=voucher.usage_limit,
        uses=voucher.uses,
    )


async def create(uow: UnitOfWork, new: NewVoucher) -> VoucherOut:
    voucher = Voucher(
        code=new.code,
        kind=new.kind,
        value=new.value,
        currency=new.currency,
        minimum_minor=new.minimum,
        expires_at=new.expires_at,
        usage_limit=new.usage_limit,
        uses=0,
    )
    uow.session.add(voucher)
    try:
        await uow.session.flush()
    except IntegrityError:
        raise Conflict("has already been taken", field="code") from None
    answer = voucher_out(voucher)
    await uow.commit()
    return answer


async def list_all(session: AsyncSession, *, after: int, limit: int) -> list[VoucherOut]:
    vouchers = await session.scalars(
        select(Voucher).where(Voucher.id > after).order_by(Voucher.id).limit(limit)
    )
    return [voucher_out(voucher) for voucher in vouchers]
