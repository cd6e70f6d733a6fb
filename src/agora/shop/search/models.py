"""The search's vocabulary: every word of the catalog's names and descriptions, once.

A query word that is not in it is probably misspelt, and the most similar word that is
(by trigrams, as PostgreSQL's ``pg_trgm`` measures it) replaces it (``typos.py``). The full-text
indexes themselves are not models: PostgreSQL's is a generated ``tsvector`` column of
``shop_products``, SQLite's an FTS5 table kept by triggers (``index.py`` has the DDL).
"""

from __future__ import annotations

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from agora.platform.db import Base

TERM_MAX = 64


class SearchTerm(Base):
    __tablename__ = "shop_search_terms"

    term: Mapped[str] = mapped_column(String(TERM_MAX), primary_key=True)
