"""Reading the Atom feeds as a strict feed reader would: lxml, no entities, RFC 4287's rules."""

from __future__ import annotations

from datetime import datetime

from httpx import AsyncClient
from lxml import etree

ATOM = "{http://www.w3.org/2005/Atom}"
SITE_FEED = "/api/feeds/articles.atom"
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True)


def parse_atom(xml: bytes) -> etree._Element:
    """Parses the document and checks what RFC 4287 requires of a feed and of each entry."""
    feed = etree.fromstring(xml, _PARSER)
    assert feed.tag == f"{ATOM}feed"
    for name in ("id", "title", "updated"):
        assert len(feed.findall(f"{ATOM}{name}")) == 1, name
        assert (feed.findtext(f"{ATOM}{name}") or "").strip(), name
    datetime.fromisoformat(feed.findtext(f"{ATOM}updated") or "")
    for entry in feed.findall(f"{ATOM}entry"):
        for name in ("id", "title", "updated"):
            assert len(entry.findall(f"{ATOM}{name}")) == 1, name
            assert (entry.findtext(f"{ATOM}{name}") or "").strip(), name
        datetime.fromisoformat(entry.findtext(f"{ATOM}updated") or "")
        assert (entry.findtext(f"{ATOM}author/{ATOM}name") or "").strip()
        content = entry.find(f"{ATOM}content")
        assert content is not None
        assert content.get("type") == "html"
        assert all(category.get("term") for category in entry.findall(f"{ATOM}category"))
    return feed


async def fetch_feed(client: AsyncClient, path: str = SITE_FEED) -> etree._Element:
    response = await client.get(path)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].split(";")[0] == "application/atom+xml"
    return parse_atom(response.content)


def entries(feed: etree._Element) -> list[etree._Element]:
    return feed.findall(f"{ATOM}entry")


def titles(feed: etree._Element) -> list[str]:
    return [entry.findtext(f"{ATOM}title") or "" for entry in entries(feed)]


def content_of(entry: etree._Element) -> str:
    """The entry's HTML as a reader gets it: XML entities decoded."""
    return entry.findtext(f"{ATOM}content") or ""
