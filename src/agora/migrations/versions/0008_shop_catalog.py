"""shop catalog: categories (a tree by materialized path), products, variants, their option
values, product images

Revision ID: c5d2a7f4e918
Revises: 3a6c1f8e2d47
Create Date: 2026-12-06

Stock is ``stock_on_hand`` and ``stock_reserved`` per variant, with CHECKs that keep what may be
sold (their difference) at zero or above whatever the writes race: an order reserves with one
conditional ``UPDATE`` (``shop/catalog/models.py``, ``Variant``).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from agora.platform.db import UTCDateTime

revision: str = "c5d2a7f4e918"
down_revision: str | None = "3a6c1f8e2d47"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "shop_categories",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("slug", sa.String(length=120), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("path", sa.String(length=1000), nullable=False),
        sa.Column("position", sa.Integer(), server_default="0", nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["shop_categories.id"],
            name=op.f("fk_shop_categories_parent_id_shop_categories"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shop_categories")),
        sa.UniqueConstraint("path", name=op.f("uq_shop_categories_path")),
        sa.UniqueConstraint("slug", name=op.f("uq_shop_categories_slug")),
    )
    op.create_index("ix_shop_categories_parent_id", "shop_categories", ["parent_id"], unique=False)
    op.create_table(
        "shop_products",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=120), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("category_id", sa.Integer(), nullable=True),
        sa.Column("published", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("popularity", sa.Integer(), server_default="0", nullable=False),
        sa.Column("price_min_minor", sa.BigInteger(), nullable=True),
        sa.Column("price_max_minor", sa.BigInteger(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint("popularity >= 0", name=op.f("ck_shop_products_popularity")),
        sa.ForeignKeyConstraint(
            ["category_id"],
            ["shop_categories.id"],
            name=op.f("fk_shop_products_category_id_shop_categories"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shop_products")),
        sa.UniqueConstraint("slug", name=op.f("uq_shop_products_slug")),
    )
    op.create_index("ix_shop_products_category_id", "shop_products", ["category_id"], unique=False)
    op.create_index(
        "ix_shop_products_published_created",
        "shop_products",
        ["published", "created_at", "id"],
        unique=False,
    )
    op.create_index(
        "ix_shop_products_published_price",
        "shop_products",
        ["published", "price_min_minor", "id"],
        unique=False,
    )
    op.create_table(
        "shop_product_images",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("storage_key", sa.String(length=500), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("alt", sa.String(length=300), nullable=False),
        sa.Column("position", sa.Integer(), server_default="0", nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["shop_products.id"],
            name=op.f("fk_shop_product_images_product_id_shop_products"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shop_product_images")),
    )
    op.create_index(
        "ix_shop_product_images_product_id",
        "shop_product_images",
        ["product_id", "position"],
        unique=False,
    )
    op.create_table(
        "shop_variants",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("price_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("stock_on_hand", sa.Integer(), server_default="0", nullable=False),
        sa.Column("stock_reserved", sa.Integer(), server_default="0", nullable=False),
        sa.Column("position", sa.Integer(), server_default="0", nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint("length(currency) = 3", name=op.f("ck_shop_variants_currency")),
        sa.CheckConstraint("price_minor >= 0", name=op.f("ck_shop_variants_price_minor")),
        sa.CheckConstraint("stock_on_hand >= 0", name=op.f("ck_shop_variants_stock_on_hand")),
        sa.CheckConstraint(
            "stock_reserved >= 0 AND stock_reserved <= stock_on_hand",
            name=op.f("ck_shop_variants_stock_reserved"),
        ),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["shop_products.id"],
            name=op.f("fk_shop_variants_product_id_shop_products"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shop_variants")),
        sa.UniqueConstraint("sku", name=op.f("uq_shop_variants_sku")),
    )
    op.create_index(
        "ix_shop_variants_product_id", "shop_variants", ["product_id", "position"], unique=False
    )
    op.create_table(
        "shop_variant_options",
        sa.Column("variant_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("value", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["variant_id"],
            ["shop_variants.id"],
            name=op.f("fk_shop_variant_options_variant_id_shop_variants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("variant_id", "name", name=op.f("pk_shop_variant_options")),
    )
    op.create_index(
        "ix_shop_variant_options_name_value",
        "shop_variant_options",
        ["name", "value"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_shop_variant_options_name_value", table_name="shop_variant_options")
    op.drop_table("shop_variant_options")
    op.drop_index("ix_shop_variants_product_id", table_name="shop_variants")
    op.drop_table("shop_variants")
    op.drop_index("ix_shop_product_images_product_id", table_name="shop_product_images")
    op.drop_table("shop_product_images")
    op.drop_index("ix_shop_products_published_price", table_name="shop_products")
    op.drop_index("ix_shop_products_published_created", table_name="shop_products")
    op.drop_index("ix_shop_products_category_id", table_name="shop_products")
    op.drop_table("shop_products")
    op.drop_index("ix_shop_categories_parent_id", table_name="shop_categories")
    op.drop_table("shop_categories")
