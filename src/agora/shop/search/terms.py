"""Words as the search sees them, and the vocabulary the catalog's writes keep."""

from __future__ import annotations

import re
from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from agora.platform.db import dialect_insert
from agora.shop.search.models import TERM_MAX, SearchTerm

_WORD = re.compile(r"[^\W_]+")
# shorter words are not corrected (too many look alike) nor kept in the vocabulary
TERM_MIN = 3
# words that say nothing about a product: left out of queries on both databases (PostgreSQL's
# English configuration drops them from documents, SQLite's tokenizer does not)
STOP_WORDS = frozenset(
    "a an and are as at be by for from in is it of on or the to with".split()  # noqa: SIM905
)
_BATCH = 500


def words(text: str) -> list[str]:
    """The words of ``text``, lower case, in order, without repeats or stop words."""
    seen: dict[str, None] = {}
    for word in _WORD.findall(text.casefold()):
        if word not in STOP_WORDS:
            seen.setdefault(word, None)
    return list(seen)


def vocabulary(texts: Iterable[str]) -> set[str]:
    # numbers (model numbers, sizes) are never corrected, so they need no place in it
    return {
        word
        for text in texts
        for word in words(text)
        if TERM_MIN <= len(word) <= TERM_MAX and not word.isdigit()
    }


async def add_terms(bind: AsyncSession | AsyncConnection, texts: Iterable[str]) -> None:
    """Adds the words of ``texts`` to the vocabulary (those already there stay). Words of
    products deleted since stay too: they cost a row, and at worst correct a typo into a word
    that finds nothing, which the typo would not have found either."""
    terms = sorted(vocabulary(texts))
    insert = dialect_insert(bind)
    for start in range(0, len(terms), _BATCH):
        rows = [{"term": term} for term in terms[start : start + _BATCH]]
        await bind.execute(insert(SearchTerm).values(rows).on_conflict_do_nothing())


def trigrams(word: str) -> set[str]:
    """The trigrams of a word as ``pg_trgm`` makes them: two spaces before, one after."""
    padded = f"  {word} "
    return {padded[i : i + 3] for i in range(len(padded) - 2)}


def similarity(left: str, right: str) -> float:
    """``pg_trgm``'s ``similarity``: shared trigrams over all trigrams of the two."""
    a, b = trigrams(left), trigrams(right)
    return len(a & b) / len(a | b)
