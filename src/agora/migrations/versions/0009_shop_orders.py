"""shop cart, checkout and orders: carts and their lines, orders with their lines and events,
vouchers, checkout idempotency keys

Revision ID: e3375e4c4d0b
Revises: c5d2a7f4e918
Create Date: 2026-12-06

Amounts are BIGINT minor units; an order's CHECK holds its figures together
(total = subtotal - discount + shipping + tax), a voucher's keeps its uses within its limit.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from agora.platform.db import UTCDateTime

revision: str = "e3375e4c4d0b"
down_revision: str | None = "c5d2a7f4e918"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "shop_vouchers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("minimum_minor", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=True),
        sa.Column("usage_limit", sa.Integer(), nullable=True),
        sa.Column("uses", sa.Integer(), server_default="0", nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint("kind IN ('percentage', 'fixed')", name=op.f("ck_shop_vouchers_kind")),
        sa.CheckConstraint(
            "usage_limit IS NULL OR uses <= usage_limit", name=op.f("ck_shop_vouchers_within_limit")
        ),
        sa.CheckConstraint("value > 0", name=op.f("ck_shop_vouchers_value_positive")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shop_vouchers")),
        sa.UniqueConstraint("code", name=op.f("uq_shop_vouchers_code")),
    )
    op.create_table(
        "shop_carts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("token_hash", sa.String(length=64), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "(user_id IS NULL) <> (token_hash IS NULL)", name=op.f("ck_shop_carts_one_owner")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_shop_carts_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shop_carts")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_shop_carts_token_hash")),
        sa.UniqueConstraint("user_id", name=op.f("uq_shop_carts_user_id")),
    )
    op.create_table(
        "shop_orders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("subtotal_minor", sa.BigInteger(), nullable=False),
        sa.Column("discount_minor", sa.BigInteger(), nullable=False),
        sa.Column("shipping_minor", sa.BigInteger(), nullable=False),
        sa.Column("tax_minor", sa.BigInteger(), nullable=False),
        sa.Column("total_minor", sa.BigInteger(), nullable=False),
        sa.Column("tax_rate_basis_points", sa.Integer(), nullable=False),
        sa.Column("voucher_code", sa.String(length=40), nullable=True),
        sa.Column("shipping_method", sa.String(length=40), nullable=False),
        sa.Column("shipping_address", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "status IN ('pending_payment', 'paid', 'fulfilled', 'delivered', 'cancelled', 'refunded')",
            name=op.f("ck_shop_orders_status"),
        ),
        sa.CheckConstraint(
            "total_minor = subtotal_minor - discount_minor + shipping_minor + tax_minor",
            name=op.f("ck_shop_orders_figures_add_up"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_shop_orders_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shop_orders")),
    )
    with op.batch_alter_table("shop_orders", schema=None) as batch_op:
        batch_op.create_index("ix_shop_orders_status_id", ["status", "id"], unique=False)
        batch_op.create_index("ix_shop_orders_user_id_id", ["user_id", "id"], unique=False)

    op.create_table(
        "shop_idempotency_keys",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["shop_orders.id"],
            name=op.f("fk_shop_idempotency_keys_order_id_shop_orders"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_shop_idempotency_keys_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "key", name=op.f("pk_shop_idempotency_keys")),
    )
    op.create_table(
        "shop_order_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("from_status", sa.String(length=20), nullable=True),
        sa.Column("to_status", sa.String(length=20), nullable=False),
        sa.Column("actor_kind", sa.String(length=16), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"],
            ["users.id"],
            name=op.f("fk_shop_order_events_actor_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["shop_orders.id"],
            name=op.f("fk_shop_order_events_order_id_shop_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shop_order_events")),
    )
    with op.batch_alter_table("shop_order_events", schema=None) as batch_op:
        batch_op.create_index("ix_shop_order_events_order_id_id", ["order_id", "id"], unique=False)

    op.create_table(
        "shop_cart_lines",
        sa.Column("cart_id", sa.Integer(), nullable=False),
        sa.Column("variant_id", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("added_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_shop_cart_lines_quantity_positive")),
        sa.ForeignKeyConstraint(
            ["cart_id"],
            ["shop_carts.id"],
            name=op.f("fk_shop_cart_lines_cart_id_shop_carts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["variant_id"],
            ["shop_variants.id"],
            name=op.f("fk_shop_cart_lines_variant_id_shop_variants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("cart_id", "variant_id", name=op.f("pk_shop_cart_lines")),
    )
    with op.batch_alter_table("shop_cart_lines", schema=None) as batch_op:
        batch_op.create_index("ix_shop_cart_lines_variant_id", ["variant_id"], unique=False)

    op.create_table(
        "shop_order_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("variant_id", sa.Integer(), nullable=True),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("unit_price_minor", sa.BigInteger(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("total_minor", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_shop_order_lines_quantity_positive")),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["shop_orders.id"],
            name=op.f("fk_shop_order_lines_order_id_shop_orders"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["variant_id"],
            ["shop_variants.id"],
            name=op.f("fk_shop_order_lines_variant_id_shop_variants"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shop_order_lines")),
    )
    with op.batch_alter_table("shop_order_lines", schema=None) as batch_op:
        batch_op.create_index("ix_shop_order_lines_order_id", ["order_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("shop_order_lines", schema=None) as batch_op:
        batch_op.drop_index("ix_shop_order_lines_order_id")

    op.drop_table("shop_order_lines")
    with op.batch_alter_table("shop_cart_lines", schema=None) as batch_op:
        batch_op.drop_index("ix_shop_cart_lines_variant_id")

    op.drop_table("shop_cart_lines")
    with op.batch_alter_table("shop_order_events", schema=None) as batch_op:
        batch_op.drop_index("ix_shop_order_events_order_id_id")

    op.drop_table("shop_order_events")
    op.drop_table("shop_idempotency_keys")
    with op.batch_alter_table("shop_orders", schema=None) as batch_op:
        batch_op.drop_index("ix_shop_orders_user_id_id")
        batch_op.drop_index("ix_shop_orders_status_id")

    op.drop_table("shop_orders")
    op.drop_table("shop_carts")
    op.drop_table("shop_vouchers")
