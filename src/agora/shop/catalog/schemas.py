"""The catalog's wire shapes, in camelCase like the rest of ``/api/shop``. Money is an integer
number of minor units and an ISO 4217 code (``{"amount": 1999, "currency": "EUR"}`` is 19.99 €,
``agora.shop.money``): never a float."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from pydantic.alias_generators import to_camel

from agora.platform.db import INTEGER_MAX
from agora.platform.wire import SafeStr, SingleLine, Timestamp, omittable
from agora.shop.catalog.models import (
    ALT_MAX,
    NAME_MAX,
    OPTION_NAME_MAX,
    OPTION_VALUE_MAX,
    SKU_MAX,
    SLUG_MAX,
)
from agora.shop.money import Currency, MoneyOut

# the largest price accepted, in minor units (ten billion major units of any currency)
PRICE_MAX = 10**12
OPTIONS_MAX = 10
VARIANTS_MAX = 100
DESCRIPTION_MAX = 20_000

Name = Annotated[str, StringConstraints(min_length=1, max_length=NAME_MAX), SingleLine]
Slug = Annotated[
    str,
    StringConstraints(min_length=1, max_length=SLUG_MAX, pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$"),
    Field(description="Lower-case letters and digits, words joined by '-'", examples=["laptops"]),
]
Sku = Annotated[
    str,
    StringConstraints(min_length=1, max_length=SKU_MAX, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$"),
    Field(description="The variant's stock keeping unit: letters, digits, '.', '_', '-'"),
]
# strict: a JSON integer only, never "999" or 9.0 (money and counts are not guessed at)
PriceMinor = Annotated[
    int,
    Field(
        strict=True,
        ge=0,
        le=PRICE_MAX,
        description="Minor units of the currency (cents): 1999 is 19.99",
    ),
]
Quantity = Annotated[int, Field(strict=True, ge=0, le=INTEGER_MAX)]
Description = Annotated[str, StringConstraints(max_length=DESCRIPTION_MAX), SafeStr]
OptionName = Annotated[str, StringConstraints(min_length=1, max_length=OPTION_NAME_MAX), SingleLine]
OptionValue = Annotated[
    str, StringConstraints(min_length=1, max_length=OPTION_VALUE_MAX), SingleLine
]
Options = Annotated[
    dict[OptionName, OptionValue],
    Field(max_length=OPTIONS_MAX, description='Option values, e.g. {"size": "M"}'),
]
Position = Annotated[int, Field(ge=0, le=INTEGER_MAX)]


class _Wire(BaseModel):
    # camelCase on the wire; the code builds answers by field name
    model_config = ConfigDict(
        alias_generator=to_camel, serialize_by_alias=True, validate_by_name=True
    )


class _In(_Wire):
    model_config = ConfigDict(extra="forbid")


class MoneyIn(_In):
    """A price a staff member sets: integer minor units and the currency."""

    amount: PriceMinor
    currency: Currency


# --- requests --------------------------------------------------------------------------------


class NewCategory(_In):
    name: Name
    slug: Slug | None = Field(default=None, description="Made from the name when left out")
    parent: Slug | None = Field(default=None, description="The parent category's slug")
    position: Position = 0


class CategoryChange(_In):
    """Only the fields sent change; ``parent: null`` moves the category to the top."""

    name: Name | None = omittable()
    slug: Slug | None = omittable()
    parent: Slug | None = None
    position: Position | None = omittable()


class NewVariant(_In):
    sku: Sku
    title: Annotated[str, StringConstraints(max_length=NAME_MAX)] | None = Field(
        default=None, description="Made from the option values when left out"
    )
    options: Options = Field(default_factory=dict)
    price: MoneyIn
    stock_on_hand: Quantity = 0
    position: Position = 0


class NewProduct(_In):
    name: Name
    slug: Slug | None = Field(default=None, description="Made from the name when left out")
    description: Description = ""
    category: Slug | None = Field(default=None, description="The category's slug")
    published: bool = False
    popularity: Quantity = 0
    variants: Annotated[list[NewVariant], Field(max_length=VARIANTS_MAX)] = Field(
        default_factory=list
    )


class ProductChange(_In):
    """Only the fields sent change; ``category: null`` takes the product out of its category."""

    name: Name | None = omittable()
    slug: Slug | None = omittable()
    description: Description | None = omittable()
    category: Slug | None = None
    popularity: Quantity | None = omittable()


class VariantChange(_In):
    title: Annotated[str, StringConstraints(max_length=NAME_MAX)] | None = omittable()
    options: Options | None = omittable()
    position: Position | None = omittable()


class StockChange(_In):
    stock_on_hand: Quantity = Field(description="What the warehouse holds now")


class ImageChange(_In):
    alt: Annotated[str, StringConstraints(max_length=ALT_MAX), SingleLine]


# --- answers ---------------------------------------------------------------------------------


class CategoryOut(_Wire):
    id: int
    slug: str
    name: str
    parent: str | None = Field(description="The parent's slug")
    depth: int = Field(description="0 for a top-level category")
    position: int


class CategoryRef(_Wire):
    slug: str
    name: str


class PriceRange(_Wire):
    """The lowest and the highest price of a product's variants."""

    min: MoneyOut
    max: MoneyOut


class VariantOut(_Wire):
    sku: str
    title: str
    options: dict[str, str]
    price: MoneyOut
    available: int = Field(description="Units that may still be ordered")


class StaffVariantOut(VariantOut):
    stock_on_hand: int = Field(description="What the warehouse holds")
    stock_reserved: int = Field(description="Promised to orders not shipped yet")


class ImageOut(_Wire):
    id: int
    url: str
    alt: str


class ProductSummary(_Wire):
    """A product in a listing or a search's results."""

    slug: str
    name: str
    category: CategoryRef | None
    price: PriceRange | None
    in_stock: bool
    image: str | None = Field(description="The first image's URL")
    created_at: Timestamp


class ProductDetail(_Wire):
    slug: str
    name: str
    description: str
    category: CategoryRef | None
    price: PriceRange | None
    in_stock: bool
    published: bool
    popularity: int
    variants: list[VariantOut]
    images: list[ImageOut]
    created_at: Timestamp
    updated_at: Timestamp


class StaffProductDetail(ProductDetail):
    """A product as staff see it: drafts too, and the stock behind each variant's availability."""

    variants: list[StaffVariantOut]  # type: ignore[assignment]


class ProductPage(_Wire):
    products: list[ProductSummary]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page; null: done")


class CategoriesOut(_Wire):
    categories: list[CategoryOut]
