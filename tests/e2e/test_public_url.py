"""``agora serve --port N`` without ``AGORA_PUBLIC_URL`` hands out links that work on port N,
and takes another host from ``X-Forwarded-Host`` only when the peer is a trusted proxy."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.identity.test_avatars import image_bytes
from tests.support.database import fresh_database
from tests.support.servers import LiveServer, live_server

USER = {"user": {"username": "jake", "email": "jake@example.com", "password": "password123"}}


def test_an_uploaded_avatar_is_fetched_from_the_url_it_was_given(server: LiveServer) -> None:
    picture = image_bytes("PNG")
    with httpx.Client(base_url=server.base_url, timeout=10.0) as client:
        token = client.post("/api/users", json=USER).json()["user"]["token"]
        uploaded = client.post(
            "/api/user/image",
            files={"image": ("me.png", picture, "image/png")},
            headers={"Authorization": f"Token {token}"},
        )
        assert uploaded.status_code == 200, uploaded.text
        url = uploaded.json()["user"]["image"]
        feed = client.get("/api/feeds/articles.atom").text

    assert url.startswith(f"{server.base_url}/media/avatars/"), url
    fetched = httpx.get(url, timeout=10.0)
    assert fetched.status_code == 200
    assert fetched.content == picture
    assert f'href="{server.base_url}/api/feeds/articles.atom"' in feed


FORWARDED = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "blog.example"}


@pytest.mark.parametrize(
    ("trusted", "feed_link"),
    [("127.0.0.1", "https://blog.example"), ("10.9.9.9", None)],
    ids=["from-a-trusted-proxy", "from-anyone-else"],
)
def test_forwarded_host_is_taken_only_from_the_proxies_named_on_the_command_line(
    tmp_path: Path, trusted: str, feed_link: str | None
) -> None:
    with (
        fresh_database(tmp_path) as database_url,
        live_server(
            database_url, tmp_path / "server", arguments=["--forwarded-allow-ips", trusted]
        ) as server,
    ):
        feed = httpx.get(f"{server.base_url}/api/feeds/articles.atom", headers=FORWARDED).text

    expected = feed_link or server.base_url
    assert f'href="{expected}/api/feeds/articles.atom"' in feed
