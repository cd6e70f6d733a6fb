"""What a listing or a search may be narrowed to, as SQL conditions on ``shop_products``.

A product matches when one of its variants meets every variant condition at once (a price in
the range, in stock, and each option asked for): "a size M in stock under 20 €" is one variant,
not an M out of stock beside an L in stock. Values of one option are alternatives (size M or L),
different options must all hold (size M and colour red).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import exists, select, true
from sqlalchemy.sql.elements import ColumnElement

from agora.shop.catalog.categories import in_subtree
from agora.shop.catalog.models import Category, Product, Variant, VariantOption


@dataclass(frozen=True, slots=True)
class ProductFilter:
    # the slug of the category whose subtree is asked for, None for all; its path (categories.py)
    # is looked up when the filter is used (``with_category_path``)
    category: str | None = None
    category_path: str | None = None
    min_price_minor: int | None = None
    max_price_minor: int | None = None
    currency: str | None = None
    in_stock: bool = False
    # option name → the values accepted
    options: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def key(self) -> list[object]:
        """Everything it says, as plain values (for a cache key)."""
        return [
            self.category,
            self.min_price_minor,
            self.max_price_minor,
            self.currency,
            self.in_stock,
            sorted((name, sorted(values)) for name, values in self.options.items()),
        ]


def available() -> ColumnElement[int]:
    """Units of a variant that may still be ordered."""
    return Variant.stock_on_hand - Variant.stock_reserved


def in_stock() -> ColumnElement[bool]:
    """Whether the product (of the enclosing query) has a variant that may be ordered."""
    return exists().where(Variant.product_id == Product.id, available() > 0)


def conditions(where: ProductFilter) -> list[ColumnElement[bool]]:
    """The conditions on ``Product`` of the public catalog narrowed by ``where``."""
    # a product is public once published, and sellable once it has a variant (a price)
    found: list[ColumnElement[bool]] = [
        # "= true", which an index on published serves ("IS true" is another operator)
        Product.published == true(),
        Product.price_min_minor.is_not(None),
    ]
    if where.category_path is not None:
        subtree = select(Category.id).where(in_subtree(Category.path, where.category_path))
        found.append(Product.category_id.in_(subtree))
    if where.currency is not None:
        found.append(Product.currency == where.currency)
    variant: list[ColumnElement[bool]] = []
    if where.min_price_minor is not None:
        variant.append(Variant.price_minor >= where.min_price_minor)
    if where.max_price_minor is not None:
        variant.append(Variant.price_minor <= where.max_price_minor)
    if where.in_stock:
        variant.append(available() > 0)
    for name, values in sorted(where.options.items()):
        variant.append(
            exists().where(
                VariantOption.variant_id == Variant.id,
                VariantOption.name == name,
                VariantOption.value.in_(values),
            )
        )
    if variant:
        found.append(exists().where(Variant.product_id == Product.id, *variant))
    return found
