"""Typo tolerance: a query word that is not in the catalog's vocabulary is replaced by the most
similar word that is, if one is similar enough ("laptpo" → "laptop").

Similarity is ``pg_trgm``'s (shared trigrams over all trigrams, ``terms.similarity``), computed
here on both databases so they agree; the databases only find the candidates, fast: PostgreSQL
with the trigram GIN index (``term % :word``), SQLite with the FTS5 trigram table (any of the
word's trigrams). One statement says which words are known, one finds every candidate.
"""

from __future__ import annotations

from sqlalchemy import Select, column, literal, literal_column, select, table, union_all
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.selectable import CompoundSelect

from agora.platform.db import on_postgresql
from agora.shop.search.models import SearchTerm
from agora.shop.search.terms import TERM_MIN, similarity, trigrams

# pg_trgm's default threshold for `%`
THRESHOLD = 0.3
CANDIDATES_PER_WORD = 20
_TERMS_FTS = table("shop_search_terms_fts", column("term", SearchTerm.term.type), column("rank"))


def _postgresql_candidates(word: str) -> Select[str, str]:
    return (
        select(literal(word).label("word"), SearchTerm.term)
        .where(SearchTerm.term.bool_op("%")(word))
        .order_by(SearchTerm.term.op("<->")(word))
        .limit(CANDIDATES_PER_WORD)
    )


def _sqlite_candidates(word: str) -> Select[str, str]:
    inner = trigrams(word)
    # FTS5's trigrams are the word's inner ones (no padding): 'lap' OR 'apt' OR ...
    phrase = " OR ".join(f'"{gram}"' for gram in sorted(inner) if " " not in gram)
    return (
        select(literal(word).label("word"), _TERMS_FTS.c.term)
        .where(literal_column(_TERMS_FTS.name).op("MATCH")(phrase))
        .order_by(_TERMS_FTS.c.rank)
        .limit(CANDIDATES_PER_WORD)
    )


def candidates_statement(
    words: list[str], *, postgresql: bool
) -> Select[str, str] | CompoundSelect[str, str]:
    """(word, known term) rows: the known terms that may be what each word meant."""
    find = _postgresql_candidates if postgresql else _sqlite_candidates
    parts = [find(word).subquery().select() for word in words]
    return union_all(*parts) if len(parts) > 1 else parts[0]


async def corrected(session: AsyncSession, words: list[str]) -> list[str] | None:
    """The words with the unknown ones replaced by their closest known word; None when nothing
    could be corrected (every word known, or no known word close enough)."""
    worth = [word for word in words if len(word) >= TERM_MIN and not word.isdigit()]
    if not worth:
        return None
    known = set(await session.scalars(select(SearchTerm.term).where(SearchTerm.term.in_(worth))))
    unknown = [word for word in worth if word not in known]
    if not unknown:
        return None
    rows = await session.execute(candidates_statement(unknown, postgresql=on_postgresql(session)))
    best: dict[str, tuple[float, str]] = {}
    for word, term in rows:
        score = similarity(word, term)
        if score >= THRESHOLD and (word not in best or (score, term) > best[word]):
            best[word] = (score, term)
    if not best:
        return None
    return [best[word][1] if word in best else word for word in words]
