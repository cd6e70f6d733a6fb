"""staff flag: users.is_staff

Revision ID: 3a6c1f8e2d47
Revises: 9e4b7d2c1a06
Create Date: 2026-12-06

Staff manage the shop (its catalog now, its orders next). Nobody is staff until an operator says
so (``agora users staff EMAIL``).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "3a6c1f8e2d47"
down_revision: str | None = "9e4b7d2c1a06"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(
            sa.Column("is_staff", sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("is_staff")
