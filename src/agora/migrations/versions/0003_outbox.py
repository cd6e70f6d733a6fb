"""outbox, processed_jobs, periodic_jobs: jobs committed with their cause, run once by message id

Revision ID: b1e7c3a9d2f4
Revises: 7c2f0e4d9b1a
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from agora.platform.db import UTCDateTime

revision: str = "b1e7c3a9d2f4"
down_revision: str | None = "7c2f0e4d9b1a"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "outbox",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("topic", sa.String(length=100), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("run_at", UTCDateTime(), nullable=False),
        sa.Column("leased_until", UTCDateTime(), nullable=True),
        sa.Column("published_at", UTCDateTime(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("dead_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
    )
    op.create_index(
        "ix_outbox_due",
        "outbox",
        ["run_at"],
        unique=False,
        postgresql_where=sa.text("dead_at IS NULL"),
        sqlite_where=sa.text("dead_at IS NULL"),
    )
    op.create_table(
        "processed_jobs",
        sa.Column("message_id", sa.String(length=32), nullable=False),
        sa.Column("processed_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("message_id", name=op.f("pk_processed_jobs")),
    )
    op.create_table(
        "periodic_jobs",
        sa.Column("topic", sa.String(length=100), nullable=False),
        sa.Column("last_due_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("topic", name=op.f("pk_periodic_jobs")),
    )


def downgrade() -> None:
    op.drop_table("periodic_jobs")
    op.drop_table("processed_jobs")
    op.drop_index("ix_outbox_due", table_name="outbox")
    op.drop_table("outbox")
