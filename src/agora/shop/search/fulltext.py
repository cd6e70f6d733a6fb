"""A full-text match on each database, as pieces a query adds: the condition, the relevance
score (higher is better) and, on SQLite, the FTS5 table to join (``index.py`` builds both).

Every word must match (stemmed: "laptops" finds "laptop"). The words come from ``terms.words``,
letters and digits only, so quoting them is all the escaping either syntax needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Float, Select, func, literal_column, table
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlalchemy.sql.elements import ColumnElement

from agora.shop.catalog.models import Product

_FTS = table("shop_products_fts", literal_column("rowid"))
_FTS_TABLE: ColumnElement[Any] = literal_column("shop_products_fts")
_VECTOR = literal_column("shop_products.search_vector", type_=TSVECTOR)
# SQLite's bm25 weights of the indexed columns (name, description): a word in the name counts
# as much as ten in the description, like PostgreSQL's weights A and B
_NAME_WEIGHT, _DESCRIPTION_WEIGHT = 10.0, 1.0


@dataclass(frozen=True, slots=True)
class Match:
    condition: ColumnElement[bool]
    score: ColumnElement[float]
    postgresql: bool

    def apply(self, query: Select[*tuple[Any, ...]]) -> Select[*tuple[Any, ...]]:
        """``query`` (on ``shop_products``) narrowed to the products that match."""
        if not self.postgresql:
            query = query.join(_FTS, _FTS.c.rowid == Product.id)
        return query.where(self.condition)


def match(words: list[str], *, postgresql: bool) -> Match:
    if postgresql:
        query = func.plainto_tsquery(literal_column("'english'"), " ".join(words))
        return Match(
            condition=_VECTOR.bool_op("@@")(query),
            score=func.ts_rank(_VECTOR, query, type_=Float()),
            postgresql=True,
        )
    phrase = " ".join(f'"{word}"' for word in words)
    bm25 = func.bm25(_FTS_TABLE, _NAME_WEIGHT, _DESCRIPTION_WEIGHT, type_=Float())
    # bm25 is lower for better matches
    return Match(condition=_FTS_TABLE.op("MATCH")(phrase), score=-bm25, postgresql=False)
