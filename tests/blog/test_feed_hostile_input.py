"""Whatever users write, and whatever older versions stored, both Atom feeds stay valid.

A feed is one XML document for many authors: a single title XML 1.0 cannot carry took the site
feed down for everyone until twenty newer articles pushed it out. So every text that reaches a
feed is either refused at the door with a clear 422, or carried into the XML safely.
"""

from __future__ import annotations

import itertools
import json
from typing import Any
from urllib.parse import quote

import pytest
from httpx import AsyncClient, Response
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, insert

from agora.blog.events import ArticlesChanged
from agora.blog.feeds import UNNAMED, UNTITLED
from agora.blog.models import Article, ArticleTag, Tag
from agora.identity.models import User
from agora.platform.provided import ProvidingApp
from tests.blog.atom import ATOM, SITE_FEED, entries, fetch_feed
from tests.blog.conftest import PASSWORD, new_user
from tests.conftest import auth, create_article
from tests.support.apps import events_of, platform_of

# --- refused at the door --------------------------------------------------------------------

FEED_BREAKERS = ["\x07\ufffe", "\x00", "\x1b[31mred", "two\nlines", "tab\there", "\x85.", "\uffff"]


@pytest.mark.parametrize("text", FEED_BREAKERS, ids=repr)
@pytest.mark.parametrize("field", ["title", "description", "tagList"])
async def test_a_single_line_field_refuses_control_characters(
    client: AsyncClient, alice: str, field: str, text: str
) -> None:
    article: dict[str, Any] = {"title": "t", "description": "d", "body": "b"}
    article[field] = [text] if field == "tagList" else text

    response = await client.post("/api/articles", json={"article": article}, headers=auth(alice))

    assert response.status_code == 422
    assert response.json() == {"errors": {field: ["must not contain control characters"]}}
    assert entries(await fetch_feed(client)) == []


@pytest.mark.parametrize("field", ["title", "description", "body"])
async def test_a_lone_surrogate_is_refused_clearly(
    client: AsyncClient, alice: str, field: str
) -> None:
    article = {"title": "t", "description": "d", "body": "b", field: "half \ud83d of an emoji"}

    response = await _send(client, "POST", "/api/articles", {"article": article}, alice)

    assert response.status_code == 422
    assert response.json() == {"errors": {field: ["must be valid Unicode text"]}}


async def test_an_update_refuses_control_characters_too(client: AsyncClient, alice: str) -> None:
    created = await create_article(client, alice, title="Fine")

    response = await client.put(
        f"/api/articles/{created['slug']}",
        json={"article": {"title": "\x07\ufffe"}},
        headers=auth(alice),
    )

    assert response.status_code == 422
    assert response.json() == {"errors": {"title": ["must not contain control characters"]}}
    feed = await fetch_feed(client)
    assert [entry.findtext(f"{ATOM}title") for entry in entries(feed)] == ["Fine"]


# --- rows written before the rules ---------------------------------------------------------


async def _store_article(
    app: ProvidingApp, *, username: str, title: str, description: str, tags: list[str]
) -> None:
    """Writes straight to the tables, as an older version of the API could have."""
    async with platform_of(app).db.engine.begin() as connection:
        author_id = await connection.scalar(
            insert(User)
            .values(username=username, email=f"{len(username)}@old.example", password_hash="x")
            .returning(User.id)
        )
        article_id = await connection.scalar(
            insert(Article)
            .values(slug="old", title=title, description=description, body="b", author_id=author_id)
            .returning(Article.id)
        )
        for name in tags:
            tag_id = await connection.scalar(insert(Tag).values(name=name).returning(Tag.id))
            await connection.execute(
                insert(ArticleTag).values(article_id=article_id, tag_id=tag_id)
            )
    await events_of(app).publish(ArticlesChanged())


async def test_feeds_stay_valid_over_rows_no_xml_can_carry(
    app: ProvidingApp, client: AsyncClient
) -> None:
    await _store_article(
        app, username="\x1b\x01", title="\x07\ufffe ", description="\x02", tags=["\x0b", "ok"]
    )

    for path in (SITE_FEED, f"/api/feeds/profiles/{quote(chr(0x1B) + chr(1))}.atom"):
        (entry,) = entries(await fetch_feed(client, path))

        assert entry.findtext(f"{ATOM}title") == UNTITLED
        assert entry.findtext(f"{ATOM}author/{ATOM}name") == UNNAMED
        assert entry.find(f"{ATOM}summary") is None
        assert [c.get("term") for c in entry.findall(f"{ATOM}category")] == ["ok"]


# --- property: any text a client can send -----------------------------------------------------

# Text a person may well type: any script, with the marks, spaces and syntax that trip formats up
FRIENDLY = [
    "\u0301", "\u20dd",  # combining marks
    "\u200e", "\u200f", "\u202e", "\u2066", "\ufeff",  # bidi marks, overrides, the BOM
    "\u200b", "\u00a0", "\u2028", "\u3000", " ",  # invisible and exotic whitespace
    "\ufdd0", "\U0001fffe", "\U0010ffff",  # noncharacters XML still allows
    "\U0001f600", "\U0001f469\u200d\U0001f4bb",  # emoji, a ZWJ sequence
    "<", "&", "]]>", "\\", '"', "\u00e9", "\u65e5\u672c",  # XML and JSON syntax, letters
]  # fmt: skip
# ... and what only a hostile or broken client sends
HOSTILE = [
    *map(chr, range(0x20)),  # C0 controls, NUL included
    "\x7f", "\x85", "\x9f",  # DEL and C1 controls
    "\ufffe", "\uffff",  # the two code points XML 1.0 forbids
    "\ud800", "\udfff",  # lone surrogates: JSON can escape them, UTF-8 cannot hold them
]  # fmt: skip
PRINTABLE = st.characters(exclude_categories=("Cc", "Cs"), exclude_characters="\ufffe\uffff")
ANYTHING = st.characters(exclude_categories=())  # surrogates too
TYPED = st.lists(st.one_of(st.sampled_from(FRIENDLY), PRINTABLE), min_size=1, max_size=12)
SENT = st.lists(st.one_of(st.sampled_from(FRIENDLY + HOSTILE), ANYTHING), max_size=12)
BLANK = st.lists(st.sampled_from(" \t\n\r\u2028\u3000\xa0"), min_size=1, max_size=4)
# mostly typed text, so that most articles are accepted and their entries checked
TEXT = (
    st.sampled_from([TYPED, TYPED, TYPED, SENT, BLANK]).flatmap(lambda pieces: pieces).map("".join)
)

_users = itertools.count()


def _json(payload: dict[str, Any]) -> bytes:
    # ensure_ascii: a lone surrogate goes out as the escape "\ud800", as a hostile client sends it
    return json.dumps(payload, ensure_ascii=True).encode()


async def _send(
    client: AsyncClient, method: str, path: str, payload: dict[str, Any], token: str | None = None
) -> Response:
    headers = {"Content-Type": "application/json", **(auth(token) if token else {})}
    return await client.request(method, path, content=_json(payload), headers=headers)


def _assert_clear_refusal(response: Response, fields: set[str]) -> None:
    """A 422 that names only fields the client sent, each with a message."""
    assert response.status_code == 422, response.text
    errors: dict[str, list[str]] = response.json()["errors"]
    assert errors
    assert set(errors) <= fields, errors
    assert all(messages and all(messages) for messages in errors.values()), errors


async def _author(app: ProvidingApp, client: AsyncClient, name: str) -> tuple[str, str]:
    """Registers ``name`` behind a unique prefix; falls back to a plain user if it is refused."""
    number = next(_users)
    user = {"username": f"u{number}-{name}", "email": f"u{number}@example.com"}
    response = await _send(client, "POST", "/api/users", {"user": {**user, "password": PASSWORD}})
    event(f"user: {response.status_code}")
    if response.status_code == 201:
        registered: dict[str, str] = response.json()["user"]
        return registered["username"], registered["token"]
    _assert_clear_refusal(response, {"username"})
    fallback = f"plain{next(_users)}"
    return fallback, await new_user(app, fallback)


def _article_payload(fields: dict[str, Any]) -> dict[str, Any]:
    return {"article": {name: value for name, value in fields.items() if value is not None}}


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    username=TEXT,
    written=st.fixed_dictionaries(
        {"title": TEXT, "description": TEXT, "body": TEXT, "tagList": st.lists(TEXT, max_size=3)}
    ),
    edited=st.fixed_dictionaries(
        {
            "title": st.none() | TEXT,
            "description": st.none() | TEXT,
            "body": st.none() | TEXT,
            "tagList": st.none() | st.lists(TEXT, max_size=3),
        }
    ),
)
async def test_any_text_a_client_writes_leaves_both_feeds_valid(
    app: ProvidingApp,
    client: AsyncClient,
    username: str,
    written: dict[str, Any],
    edited: dict[str, Any],
) -> None:
    async with platform_of(app).db.engine.begin() as connection:
        await connection.execute(delete(Article))
    await events_of(app).publish(ArticlesChanged())
    name, token = await _author(app, client, username)

    expected: dict[str, Any] | None = None
    created = await _send(client, "POST", "/api/articles", _article_payload(written), token)
    event(f"article: {created.status_code}")
    if created.status_code == 201:
        expected = {**written, "slug": created.json()["article"]["slug"]}
        updated = await _send(
            client, "PUT", f"/api/articles/{expected['slug']}", _article_payload(edited), token
        )
        event(f"edit: {updated.status_code}")
        if updated.status_code == 200:
            changes = {field: value for field, value in edited.items() if value is not None}
            expected = {**expected, **changes, "slug": updated.json()["article"]["slug"]}
        else:
            _assert_clear_refusal(updated, {field for field, v in edited.items() if v is not None})
    else:
        _assert_clear_refusal(created, set(written))

    for path in (SITE_FEED, f"/api/feeds/profiles/{quote(name, safe='')}.atom"):
        feed_entries = entries(await fetch_feed(client, path))
        if expected is None:
            assert feed_entries == []
            continue
        (entry,) = feed_entries
        # what was accepted had nothing XML cannot carry: it reaches the feed exactly, stripped
        assert (entry.findtext(f"{ATOM}id") or "").endswith(f"/api/articles/{expected['slug']}")
        assert entry.findtext(f"{ATOM}title") == expected["title"].strip()
        assert entry.findtext(f"{ATOM}summary") == expected["description"].strip()
        assert entry.findtext(f"{ATOM}author/{ATOM}name") == name
        terms = {category.get("term") for category in entry.findall(f"{ATOM}category")}
        assert terms == {tag.strip() for tag in expected["tagList"]}
