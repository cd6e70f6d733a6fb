"""The full-text indexes, which the models cannot describe (each database has its own kind).

PostgreSQL: ``shop_products.search_vector``, a ``tsvector`` column generated from the name
(weight A) and the description (weight B) with the English configuration, under a GIN index;
and a GIN trigram index (``pg_trgm``) on the vocabulary for typo correction.

SQLite: ``shop_products_fts``, an FTS5 table over the same two columns (Porter stemming),
holding no copy of the text (``content='shop_products'``) and kept by triggers on
``shop_products``; and ``shop_search_terms_fts``, an FTS5 table with the trigram tokenizer over
the vocabulary, from which typo correction takes its candidates.

Written by the migration ``0009_shop_search``; the names are listed here so that the comparison
of models and database (Alembic, ``tests/test_migrations.py``) leaves these objects alone.
"""

from __future__ import annotations

# on the column as text: a query's `term % :word` compares it as text (the column is a varchar),
# and an index on the bare varchar column is not used for that (a scan of the vocabulary instead)
TRIGRAM_INDEX = (
    "CREATE INDEX ix_shop_search_terms_trgm ON shop_search_terms "
    "USING gin ((term::text) gin_trgm_ops)"
)
POSTGRESQL_UP = (
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    """
    ALTER TABLE shop_products ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('english', name), 'A')
        || setweight(to_tsvector('english', description), 'B')
    ) STORED
    """,
    "CREATE INDEX ix_shop_products_search ON shop_products USING gin (search_vector)",
    TRIGRAM_INDEX,
)
# the extension stays: other schemas of the database may use it
POSTGRESQL_DOWN = (
    "DROP INDEX ix_shop_search_terms_trgm",
    "DROP INDEX ix_shop_products_search",
    "ALTER TABLE shop_products DROP COLUMN search_vector",
)

SQLITE_UP = (
    """
    CREATE VIRTUAL TABLE shop_products_fts USING fts5(
        name, description, content='shop_products', content_rowid='id',
        tokenize='porter unicode61 remove_diacritics 2'
    )
    """,
    """
    CREATE TRIGGER shop_products_fts_insert AFTER INSERT ON shop_products BEGIN
        INSERT INTO shop_products_fts(rowid, name, description)
        VALUES (new.id, new.name, new.description);
    END
    """,
    """
    CREATE TRIGGER shop_products_fts_delete AFTER DELETE ON shop_products BEGIN
        INSERT INTO shop_products_fts(shop_products_fts, rowid, name, description)
        VALUES ('delete', old.id, old.name, old.description);
    END
    """,
    """
    CREATE TRIGGER shop_products_fts_update AFTER UPDATE OF name, description ON shop_products
    BEGIN
        INSERT INTO shop_products_fts(shop_products_fts, rowid, name, description)
        VALUES ('delete', old.id, old.name, old.description);
        INSERT INTO shop_products_fts(rowid, name, description)
        VALUES (new.id, new.name, new.description);
    END
    """,
    "INSERT INTO shop_products_fts(shop_products_fts) VALUES ('rebuild')",
    """
    CREATE VIRTUAL TABLE shop_search_terms_fts USING fts5(
        term, content='shop_search_terms', tokenize='trigram'
    )
    """,
    """
    CREATE TRIGGER shop_search_terms_fts_insert AFTER INSERT ON shop_search_terms BEGIN
        INSERT INTO shop_search_terms_fts(rowid, term) VALUES (new.rowid, new.term);
    END
    """,
    """
    CREATE TRIGGER shop_search_terms_fts_delete AFTER DELETE ON shop_search_terms BEGIN
        INSERT INTO shop_search_terms_fts(shop_search_terms_fts, rowid, term)
        VALUES ('delete', old.rowid, old.term);
    END
    """,
    "INSERT INTO shop_search_terms_fts(shop_search_terms_fts) VALUES ('rebuild')",
)
SQLITE_DOWN = (
    "DROP TRIGGER shop_search_terms_fts_delete",
    "DROP TRIGGER shop_search_terms_fts_insert",
    "DROP TABLE shop_search_terms_fts",
    "DROP TRIGGER shop_products_fts_update",
    "DROP TRIGGER shop_products_fts_delete",
    "DROP TRIGGER shop_products_fts_insert",
    "DROP TABLE shop_products_fts",
)

# what the models leave out on purpose: tables (FTS5's own, and its shadow tables), columns and
# indexes
_OUTSIDE_PREFIXES = ("shop_products_fts", "shop_search_terms_fts")
_OUTSIDE_NAMES = frozenset(
    {"search_vector", "ix_shop_products_search", "ix_shop_search_terms_trgm"}
)


def outside_the_models(name: str | None) -> bool:
    """Whether a database object of this name is one of the search indexes above."""
    return name is not None and (name in _OUTSIDE_NAMES or name.startswith(_OUTSIDE_PREFIXES))
