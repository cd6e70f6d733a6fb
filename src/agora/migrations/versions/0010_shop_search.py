"""shop search: the vocabulary, and each database's full-text indexes

Revision ID: e81b4c6a2f53
Revises: e3375e4c4d0b
Create Date: 2026-12-06

PostgreSQL: a generated ``tsvector`` column with a GIN index, and ``pg_trgm`` on the vocabulary;
SQLite: FTS5 tables kept by triggers. The statements live in ``agora.shop.search.index``, which
says why each exists.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from agora.shop.search import index

revision: str = "e81b4c6a2f53"
down_revision: str | None = "e3375e4c4d0b"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _on_postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    op.create_table(
        "shop_search_terms",
        sa.Column("term", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("term", name=op.f("pk_shop_search_terms")),
    )
    for statement in index.POSTGRESQL_UP if _on_postgresql() else index.SQLITE_UP:
        op.execute(statement)


def downgrade() -> None:
    for statement in index.POSTGRESQL_DOWN if _on_postgresql() else index.SQLITE_DOWN:
        op.execute(statement)
    op.drop_table("shop_search_terms")
