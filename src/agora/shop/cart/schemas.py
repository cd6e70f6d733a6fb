"""The cart's wire shapes. Requests carry SKUs and quantities, never prices (``NoClientPrices``);
answers carry the catalog's current prices as integer minor units."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from pydantic_core import PydanticCustomError

from agora.platform.wire import SingleLine
from agora.shop.catalog.models import SKU_MAX
from agora.shop.money import MoneyOut, NoClientPrices

# more of one variant than a cart takes: a typo, or someone probing; a 422, never a 500
LINE_QUANTITY_MAX = 999
Sku = Annotated[str, Field(min_length=1, max_length=SKU_MAX), SingleLine]


def _a_number(value: object) -> object:
    # JSON Schema calls 2.0 an integer, so it passes (as 2); "2" and true are not numbers
    if isinstance(value, (str, bool)):
        raise PydanticCustomError("int_type", "must be an integer")
    return value


Quantity = Annotated[
    int,
    Field(ge=1, le=LINE_QUANTITY_MAX, description=f"1 to {LINE_QUANTITY_MAX}"),
    BeforeValidator(_a_number),
]


class AddLine(NoClientPrices):
    """Add ``quantity`` of the variant ``sku`` (to what the cart holds of it already)."""

    sku: Sku
    quantity: Quantity = 1


class SetQuantity(NoClientPrices):
    quantity: Quantity


class CartLineOut(BaseModel):
    model_config = ConfigDict(serialize_by_alias=True)

    sku: str
    name: str = Field(description="The product's name")
    title: str = Field(description="The variant's, such as 'M / Red'")
    quantity: int
    unit_price: MoneyOut = Field(alias="unitPrice", description="The catalog's price now")
    line_total: MoneyOut = Field(alias="lineTotal")
    available: int = Field(description="How many more may be bought right now")


class CartOut(BaseModel):
    model_config = ConfigDict(serialize_by_alias=True)

    token: str | None = Field(
        description="An anonymous cart's token: send it back as X-Cart-Token (null when signed in)"
    )
    currency: str | None
    lines: list[CartLineOut]
    subtotal: MoneyOut | None = Field(description="Before shipping, vouchers and tax")
