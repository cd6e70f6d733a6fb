"""articles.favorites_count kept by a trigger on favorites

The count follows every insert and delete of a favorite, whoever makes it: a favorite written in
one statement, and favorites that vanish by cascade (a user's account deleted) — which the
application's own bookkeeping never saw. The upgrade also recounts, so any drift is repaired.

Revision ID: 7c2f0e4d9b1a
Revises: a381793f8b1a
Create Date: 2026-11-30
"""

from collections.abc import Sequence

from alembic import op

revision: str = "7c2f0e4d9b1a"
down_revision: str | None = "a381793f8b1a"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_POSTGRESQL_UP = (
    """
    CREATE FUNCTION favorites_count_follows() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'INSERT' THEN
            UPDATE articles SET favorites_count = favorites_count + 1 WHERE id = NEW.article_id;
        ELSE
            UPDATE articles SET favorites_count = favorites_count - 1 WHERE id = OLD.article_id;
        END IF;
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE TRIGGER favorites_count AFTER INSERT OR DELETE ON favorites
    FOR EACH ROW EXECUTE FUNCTION favorites_count_follows()
    """,
)
_POSTGRESQL_DOWN = (
    "DROP TRIGGER favorites_count ON favorites",
    "DROP FUNCTION favorites_count_follows()",
)
_SQLITE_UP = (
    """
    CREATE TRIGGER favorites_count_insert AFTER INSERT ON favorites BEGIN
        UPDATE articles SET favorites_count = favorites_count + 1 WHERE id = NEW.article_id;
    END
    """,
    """
    CREATE TRIGGER favorites_count_delete AFTER DELETE ON favorites BEGIN
        UPDATE articles SET favorites_count = favorites_count - 1 WHERE id = OLD.article_id;
    END
    """,
)
_SQLITE_DOWN = (
    "DROP TRIGGER favorites_count_insert",
    "DROP TRIGGER favorites_count_delete",
)
_RECOUNT = """
    UPDATE articles SET favorites_count =
        (SELECT count(*) FROM favorites WHERE favorites.article_id = articles.id)
"""


def _postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    for statement in (*(_POSTGRESQL_UP if _postgresql() else _SQLITE_UP), _RECOUNT):
        op.execute(statement)


def downgrade() -> None:
    for statement in _POSTGRESQL_DOWN if _postgresql() else _SQLITE_DOWN:
        op.execute(statement)
