"""Property: for any blog, the ``tag`` and ``author`` filters return exactly the matching articles.

Hypothesis runs the body many times against one app, so each example starts by deleting every
article (tags, favorites and comments go with them) and names its tags with a fresh prefix: no
example can see another's data. The authors are created once and reused — that is only users.
"""

from __future__ import annotations

import itertools
from typing import Any
from weakref import WeakKeyDictionary

from httpx import AsyncClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete

from agora.blog.events import ArticlesChanged
from agora.blog.models import Article
from agora.platform.provided import ProvidingApp
from tests.blog.conftest import list_articles, new_user, slugs
from tests.conftest import create_article
from tests.support.apps import events_of, platform_of

# near misses on purpose: "ann" must not match "anna", "py" must not match "python"
AUTHORS = ("ann", "anna", "nn")
TAGS = ("py", "python", "Py", "p", "go")

_examples = itertools.count()

articles_strategy = st.lists(
    st.tuples(
        st.sampled_from(range(len(AUTHORS))),
        st.lists(st.sampled_from(TAGS), max_size=4),
    ),
    max_size=7,
)


# the authors' tokens, made once per app: the examples of one test share its app
_AUTHOR_TOKENS: WeakKeyDictionary[ProvidingApp, dict[str, str]] = WeakKeyDictionary()


async def _tokens(app: ProvidingApp) -> dict[str, str]:
    if app not in _AUTHOR_TOKENS:
        _AUTHOR_TOKENS[app] = {name: await new_user(app, name) for name in AUTHORS}
    return _AUTHOR_TOKENS[app]


async def _fresh_blog(app: ProvidingApp) -> str:
    """Empties the articles and returns a tag prefix no earlier example used."""
    async with platform_of(app).db.engine.begin() as connection:
        await connection.execute(delete(Article))
    # rows deleted behind the service's back: tell the read cache, as the service would
    await events_of(app).publish(ArticlesChanged())
    return f"e{next(_examples)}-"


def _expected(written: list[dict[str, Any]], keep: Any) -> list[str]:
    return [article["slug"] for article in reversed(written) if keep(article)]


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(blog=articles_strategy, tag=st.sampled_from(TAGS), author=st.sampled_from(AUTHORS))
async def test_tag_and_author_filters_match_exactly(
    app: ProvidingApp,
    client: AsyncClient,
    blog: list[tuple[int, list[str]]],
    tag: str,
    author: str,
) -> None:
    tokens = await _tokens(app)
    prefix = await _fresh_blog(app)
    written = [
        await create_article(
            client,
            tokens[AUTHORS[author_index]],
            title=f"Post {number}",
            tags=[prefix + name for name in tags],
        )
        for number, (author_index, tags) in enumerate(blog)
    ]

    cases = {
        "tag": ({"tag": prefix + tag}, lambda a: prefix + tag in a["tagList"]),
        "author": ({"author": author}, lambda a: a["author"]["username"] == author),
        "both": (
            {"tag": prefix + tag, "author": author},
            lambda a: prefix + tag in a["tagList"] and a["author"]["username"] == author,
        ),
    }
    for name, (params, keep) in cases.items():
        expected = _expected(written, keep)
        page = await list_articles(client, limit=100, **params)
        assert slugs(page) == expected, name
        assert page["articlesCount"] == len(expected), name
        # a one-item page still counts them all
        first = await list_articles(client, limit=1, **params)
        assert (slugs(first), first["articlesCount"]) == (expected[:1], len(expected)), name

    everything = await list_articles(client, limit=100)
    assert slugs(everything) == _expected(written, lambda _: True)
