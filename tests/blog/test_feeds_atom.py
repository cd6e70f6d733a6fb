"""Atom 1.0 feeds of the newest articles, and the Markdown renderer that fills them safely."""

from __future__ import annotations

import re
from datetime import datetime
from html.parser import HTMLParser

import pytest
from httpx import AsyncClient
from hypothesis import given, settings
from hypothesis import strategies as st

from agora.blog.markdown import render_markdown
from agora.platform.provided import ProvidingApp
from tests.blog.atom import ATOM, SITE_FEED, content_of, entries, fetch_feed, parse_atom, titles
from tests.blog.conftest import new_user
from tests.conftest import auth, create_article

XSS_BODY = (
    "Hello **bold** world\n\n"
    "<script>alert(1)</script>\n\n"
    "<img src=x onerror=alert(1)>\n\n"
    '<a href="javascript:alert(1)">click me</a>\n\n'
    '<p onclick="alert(1)" style="color:red">styled</p>\n\n'
    "<iframe src=//evil.example></iframe><svg onload=alert(1)></svg>"
)

# --- the site feed ----------------------------------------------------------------------------


async def test_empty_site_feed_is_still_valid_atom(client: AsyncClient) -> None:
    feed = await fetch_feed(client)

    assert entries(feed) == []


async def test_site_feed_lists_articles_newest_first(
    client: AsyncClient, alice: str, bob: str
) -> None:
    await create_article(client, alice, title="Oldest", tags=["x"])
    await create_article(client, bob, title="Middle")
    newest = await create_article(client, alice, title="Newest", description="Fresh")

    feed = await fetch_feed(client)

    assert titles(feed) == ["Newest", "Middle", "Oldest"]
    first = entries(feed)[0]
    assert first.findtext(f"{ATOM}author/{ATOM}name") == "alice"
    assert first.findtext(f"{ATOM}summary") == "Fresh"
    assert (first.findtext(f"{ATOM}id") or "").endswith(newest["slug"])
    assert [entry.findtext(f"{ATOM}author/{ATOM}name") for entry in entries(feed)] == [
        "alice",
        "bob",
        "alice",
    ]
    # the feed was last updated when its newest entry was
    entry_times = [
        datetime.fromisoformat(e.findtext(f"{ATOM}updated") or "") for e in entries(feed)
    ]
    assert datetime.fromisoformat(feed.findtext(f"{ATOM}updated") or "") == max(entry_times)
    assert len({entry.findtext(f"{ATOM}id") for entry in entries(feed)}) == 3


async def test_an_edit_moves_the_feed_updated_time(client: AsyncClient, alice: str) -> None:
    slug = (await create_article(client, alice))["slug"]
    before = datetime.fromisoformat((await fetch_feed(client)).findtext(f"{ATOM}updated") or "")

    await client.put(f"/api/articles/{slug}", json={"article": {"body": "v2"}}, headers=auth(alice))

    after = datetime.fromisoformat((await fetch_feed(client)).findtext(f"{ATOM}updated") or "")
    assert after > before


async def test_deleted_articles_leave_the_feed(client: AsyncClient, alice: str) -> None:
    await create_article(client, alice, title="Stays")
    doomed = await create_article(client, alice, title="Goes")

    await client.delete(f"/api/articles/{doomed['slug']}", headers=auth(alice))

    assert titles(await fetch_feed(client)) == ["Stays"]


async def test_site_feed_holds_the_newest_twenty(client: AsyncClient, alice: str) -> None:
    for number in range(21):
        await create_article(client, alice, title=f"Post {number:02d}")

    feed = await fetch_feed(client)

    assert titles(feed) == [f"Post {number:02d}" for number in range(20, 0, -1)]


async def test_body_is_rendered_from_markdown(client: AsyncClient, alice: str) -> None:
    await create_article(client, alice, body="# Heading\n\nSome **bold** and `code`.")

    html = content_of(entries(await fetch_feed(client))[0])

    assert "<h1>Heading</h1>" in html
    assert "<strong>bold</strong>" in html
    assert "<code>code</code>" in html


async def test_script_and_event_handlers_never_reach_the_feed(
    client: AsyncClient, alice: str
) -> None:
    await create_article(client, alice, title="<script>alert(1)</script> title", body=XSS_BODY)

    response = await client.get(SITE_FEED)
    feed = parse_atom(response.content)

    html = content_of(entries(feed)[0])
    assert "<strong>bold</strong>" in html
    assert "click me" in html
    assert "styled" in html
    lowered = html.lower()
    for forbidden in ("<script", "onerror", "onload", "onclick", "javascript:", "alert", "<iframe"):
        assert forbidden not in lowered, forbidden
    assert "style=" not in lowered
    # the title is plain text in Atom: the markup is escaped, not interpreted
    assert titles(feed) == ["<script>alert(1)</script> title"]
    assert b"<script" not in response.content.lower()


async def test_a_markdown_javascript_link_stays_inert_text(client: AsyncClient, alice: str) -> None:
    await create_article(
        client, alice, body="[click](javascript:alert(1)) and [ok](https://a.example)"
    )

    html = content_of(entries(await fetch_feed(client))[0])

    # markdown-it refuses the javascript: URL, so the source is shown as words, not as a link
    assert HrefCollector.of(html) == ["https://a.example"]
    assert "[click](javascript:alert(1))" in html


async def test_control_characters_in_a_body_do_not_break_the_xml(
    client: AsyncClient, alice: str
) -> None:
    # JSON may carry characters XML 1.0 forbids; a Markdown body may hold them, the feed drops them
    await create_article(client, alice, title="Bell", body="vertical\x0btab **still bold**\x07")

    feed = await fetch_feed(client)

    (entry,) = entries(feed)
    assert titles(feed) == ["Bell"]
    assert "vertical" in content_of(entry)
    assert "<strong>still bold</strong>" in content_of(entry)


# --- one author's feed ------------------------------------------------------------------------


async def test_profile_feed_holds_only_that_authors_articles(
    client: AsyncClient, alice: str, bob: str
) -> None:
    await create_article(client, alice, title="Alice one")
    await create_article(client, bob, title="Bob one")
    await create_article(client, alice, title="Alice two")

    feed = await fetch_feed(client, "/api/feeds/profiles/alice.atom")

    assert titles(feed) == ["Alice two", "Alice one"]
    assert "alice" in (feed.findtext(f"{ATOM}title") or "")
    assert (feed.findtext(f"{ATOM}id") or "").endswith("/api/feeds/profiles/alice.atom")
    assert titles(await fetch_feed(client, "/api/feeds/profiles/bob.atom")) == ["Bob one"]


async def test_profile_feed_of_an_author_without_articles_is_empty(
    client: AsyncClient, alice: str
) -> None:
    assert entries(await fetch_feed(client, "/api/feeds/profiles/alice.atom")) == []


async def test_profile_feed_for_a_username_with_a_dot(
    app: ProvidingApp, client: AsyncClient
) -> None:
    token = await new_user(app, "jane.doe")
    await create_article(client, token, title="Dotted")

    feed = await fetch_feed(client, "/api/feeds/profiles/jane.doe.atom")

    assert titles(feed) == ["Dotted"]


@pytest.mark.parametrize("username", ["nobody", "alic", "ALICE"])
async def test_profile_feed_of_an_unknown_user_is_404(
    client: AsyncClient, alice: str, username: str
) -> None:
    response = await client.get(f"/api/feeds/profiles/{username}.atom")

    assert response.status_code == 404
    assert response.json() == {"errors": {"profile": ["not found"]}}


# --- render_markdown --------------------------------------------------------------------------


class HrefCollector(HTMLParser):
    """Every tag and attribute of an HTML fragment, as a browser's tokenizer would see them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes += [(name, value or "") for name, value in attrs]

    handle_startendtag = handle_starttag

    @classmethod
    def parse(cls, html: str) -> HrefCollector:
        collector = cls()
        collector.feed(html)
        collector.close()
        return collector

    @classmethod
    def of(cls, html: str) -> list[str]:
        return [value for name, value in cls.parse(html).attributes if name in {"href", "src"}]


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("**bold**", "<p><strong>bold</strong></p>\n"),
        ("*em*", "<p><em>em</em></p>\n"),
        ("# Title", "<h1>Title</h1>\n"),
        ("~~gone~~", "<p><s>gone</s></p>\n"),
        ("`a < b`", "<p><code>a &lt; b</code></p>\n"),
        ("- one\n- two", "<ul>\n<li>one</li>\n<li>two</li>\n</ul>\n"),
        ("H<sub>2</sub>O", "<p>H<sub>2</sub>O</p>\n"),
        ("", ""),
    ],
)
def test_markdown_renders_common_syntax(source: str, expected: str) -> None:
    assert render_markdown(source) == expected


def test_links_are_kept_and_marked_nofollow() -> None:
    html = render_markdown("[site](https://example.com/a?b=1)")

    (tag,) = [t for t in HrefCollector.parse(html).tags if t == "a"]
    attributes = dict(HrefCollector.parse(html).attributes)
    assert tag == "a"
    assert attributes["href"] == "https://example.com/a?b=1"
    assert set(attributes["rel"].split()) == {"noopener", "noreferrer", "nofollow"}


def test_tables_render() -> None:
    html = render_markdown("| a | b |\n|---|---|\n| 1 | 2 |")

    assert "<table>" in html
    assert "<td>1</td>" in html


@pytest.mark.parametrize(
    "source",
    [
        "<script>alert(1)</script>",
        "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
        "<img src=x onerror=alert(1)>",
        "<svg><script>alert(1)</script></svg>",
        '<a href="javascript:alert(1)">x</a>',
        '<a href="JaVaScRiPt:alert(1)">x</a>',
        '<a href="jav&#x09;ascript:alert(1)">x</a>',
        '<a href="data:text/html,<script>alert(1)</script>">x</a>',
        "[x](javascript:alert(1))",
        "![x](javascript:alert(1))",
        '<div style="background:url(javascript:alert(1))">x</div>',
        "<iframe src=https://evil.example></iframe>",
        "<object data=x></object><embed src=x>",
        '<form action="https://evil.example"><input name=x></form>',
        "<style>body{display:none}</style>",
        '<p onmouseover="alert(1)">hover</p>',
        "<<script>script>alert(1)<</script>/script>",
        '<img """><script>alert(1)</script>">',
    ],
)
def test_dangerous_html_is_removed(source: str) -> None:
    html = render_markdown(source)
    parsed = HrefCollector.parse(html)

    assert "<script" not in html.lower()
    assert not {"script", "iframe", "object", "embed", "form", "input", "style"} & set(parsed.tags)
    assert not [name for name, _ in parsed.attributes if name.startswith("on")]
    assert "style" not in {name for name, _ in parsed.attributes}
    for url in HrefCollector.of(html):
        assert not re.match(r"\s*(javascript|data|vbscript):", url, re.IGNORECASE), url


_FRAGMENTS = st.sampled_from(
    [
        "<script>",
        "</script>",
        "<scr",
        "ipt>",
        "<img src=x onerror=alert(1)>",
        " onload=",
        '"',
        "'",
        "<",
        ">",
        "`",
        "<a href='javascript:x'>",
        "[l](javascript:x)",
        "<svg ",
        "<!--",
        "-->",
        "&lt;",
        "\n\n",
        "    ",
        "*",
        "<p onclick=x>",
        "<div ",
        "<![CDATA[",
        "]]>",
    ]
)
_SOURCES = st.one_of(
    st.text(max_size=200),
    st.lists(st.one_of(_FRAGMENTS, st.text(max_size=8)), max_size=25).map("".join),
)
_EVENT_HANDLER = re.compile(r"<[^>]*\son[a-z]+\s*=", re.IGNORECASE)


@settings(max_examples=300, deadline=None)
@given(source=_SOURCES)
def test_rendered_markdown_never_carries_scripts_or_event_handlers(source: str) -> None:
    html = render_markdown(source)

    assert "<script" not in html.lower()
    assert not _EVENT_HANDLER.search(html)
    parsed = HrefCollector.parse(html)
    assert "script" not in parsed.tags
    assert not [name for name, _ in parsed.attributes if name.lower().startswith("on")]
    for url in HrefCollector.of(html):
        assert not re.match(r"\s*javascript:", url, re.IGNORECASE), url
