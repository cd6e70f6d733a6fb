"""The catalog's tables: categories (a tree), products, their variants and option values, images.
The only module of the catalog that knows tables; cart and orders read variants and change their
stock through the statements documented on ``Variant``.

Money is an integer number of minor units (cents) beside an ISO 4217 currency code, never a
float: ``price_minor=1999, currency="EUR"`` is 19.99 €.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from agora.platform.db import Base, UTCDateTime, utcnow

SLUG_MAX = 120
NAME_MAX = 200
SKU_MAX = 64
OPTION_NAME_MAX = 50
OPTION_VALUE_MAX = 100
ALT_MAX = 300
# "/1/5/12/": ids of at most 10 digits and a slash each; a tree deeper than this is refused
PATH_MAX = 1000
# the currency, upper case, three letters (ISO 4217)
CURRENCY_LENGTH = 3


class Category(Base):
    """A node of the category tree.

    ``path`` holds the ids from the root down to this node, each followed by a slash
    (``/1/5/12/``): the node and all its descendants are the rows whose path starts with it,
    one range of an indexed column on every database (``path >= '/1/5/' AND path < '/1/50'``:
    ``'0'`` follows ``'/'``), without a recursive query. Moving a node rewrites its subtree's
    paths in one ``UPDATE``.
    """

    __tablename__ = "shop_categories"
    __table_args__ = (Index("ix_shop_categories_parent_id", "parent_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # NO ACTION (the default), not RESTRICT: checked at the end of the statement, so one DELETE
    # may remove a whole subtree; deleting a parent alone is still refused
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("shop_categories.id"), default=None)
    slug: Mapped[str] = mapped_column(String(SLUG_MAX), unique=True)
    name: Mapped[str] = mapped_column(String(NAME_MAX))
    path: Mapped[str] = mapped_column(String(PATH_MAX), unique=True)
    # the order among siblings
    position: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Product(Base):
    """What a customer browses; what they buy is one of its variants.

    ``price_min_minor`` / ``price_max_minor`` are the lowest and highest prices of its variants
    (None without variants), kept by the catalog's writes: the listing sorts by price and shows a
    range without reading the variants.
    """

    __tablename__ = "shop_products"
    __table_args__ = (
        Index("ix_shop_products_category_id", "category_id"),
        # the public listing's two orders, each a keyset (the id breaks ties)
        Index("ix_shop_products_published_created", "published", "created_at", "id"),
        Index("ix_shop_products_published_price", "published", "price_min_minor", "id"),
        CheckConstraint("popularity >= 0", name="popularity"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(SLUG_MAX), unique=True)
    name: Mapped[str] = mapped_column(String(NAME_MAX))
    description: Mapped[str] = mapped_column(Text, default="")
    category_id: Mapped[int | None] = mapped_column(
        ForeignKey("shop_categories.id", ondelete="RESTRICT"), default=None
    )
    # drafts are seen by staff only
    published: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # how much customers want it (sales, views): breaks ties in search, skewed in the benchmark
    popularity: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    price_min_minor: Mapped[int | None] = mapped_column(BigInteger, default=None)
    price_max_minor: Mapped[int | None] = mapped_column(BigInteger, default=None)
    # the currency of its variants' prices (one per product), None without variants
    currency: Mapped[str | None] = mapped_column(String(CURRENCY_LENGTH), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Variant(Base):
    """One buyable version of a product (a size, a colour), with its SKU, price and stock.

    Stock is two numbers: ``stock_on_hand`` (what the warehouse holds, set by staff) and
    ``stock_reserved`` (promised to orders not yet shipped). What may still be sold is their
    difference, and the CHECK keeps it from going below zero whatever races. An order reserves
    with one conditional statement and checks the row count (no read first, so no lock is needed
    on SQLite either)::

        UPDATE shop_variants SET stock_reserved = stock_reserved + :n
        WHERE id = :id AND stock_on_hand - stock_reserved >= :n

    releases with ``stock_reserved - :n``, and ships with both ``- :n``.
    """

    __tablename__ = "shop_variants"
    __table_args__ = (
        Index("ix_shop_variants_product_id", "product_id", "position"),
        CheckConstraint("price_minor >= 0", name="price_minor"),
        CheckConstraint("length(currency) = 3", name="currency"),
        CheckConstraint("stock_on_hand >= 0", name="stock_on_hand"),
        CheckConstraint(
            "stock_reserved >= 0 AND stock_reserved <= stock_on_hand", name="stock_reserved"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("shop_products.id", ondelete="CASCADE"))
    sku: Mapped[str] = mapped_column(String(SKU_MAX), unique=True)
    # how a customer tells it from its siblings ("M / Red"), made from the option values
    title: Mapped[str] = mapped_column(String(NAME_MAX), default="")
    price_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(CURRENCY_LENGTH))
    stock_on_hand: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    stock_reserved: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    position: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class VariantOption(Base):
    """One option value of a variant (``size`` = ``M``): a row each, so filters and facet counts
    are plain indexed SQL on both databases, not JSON functions."""

    __tablename__ = "shop_variant_options"
    __table_args__ = (Index("ix_shop_variant_options_name_value", "name", "value"),)

    variant_id: Mapped[int] = mapped_column(
        ForeignKey("shop_variants.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(OPTION_NAME_MAX), primary_key=True)
    value: Mapped[str] = mapped_column(String(OPTION_VALUE_MAX))


class ProductImage(Base):
    """A picture of a product, stored through the platform's storage port under ``storage_key``
    and served at ``url``."""

    __tablename__ = "shop_product_images"
    __table_args__ = (Index("ix_shop_product_images_product_id", "product_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("shop_products.id", ondelete="CASCADE"))
    storage_key: Mapped[str] = mapped_column(String(500))
    url: Mapped[str] = mapped_column(String(2048))
    alt: Mapped[str] = mapped_column(String(ALT_MAX), default="")
    position: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
