"""Avatar uploads: ``POST /api/user/image`` (multipart field ``image``) and the URL it returns."""

from __future__ import annotations

import io
import random
from urllib.parse import urlsplit

import pytest
from httpx import AsyncClient, Response
from PIL import Image

from tests.conftest import auth, register
from tests.support.apps import ClientFor

FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}


def image_bytes(image_format: str = "PNG", *, size: int = 16, noise: bool = False) -> bytes:
    if noise:
        # random pixels barely compress, so the file is about 3 bytes per pixel
        pixels = random.Random(size).randbytes(size * size * 3)
        image = Image.frombytes("RGB", (size, size), pixels)
    else:
        image = Image.new("RGB", (size, size), (200, 40, 90))
    buffer = io.BytesIO()
    image.save(buffer, format=image_format)
    return buffer.getvalue()


async def upload(
    client: AsyncClient,
    token: str | None,
    data: bytes,
    *,
    filename: str = "avatar.png",
    content_type: str = "image/png",
) -> Response:
    return await client.post(
        "/api/user/image",
        files={"image": (filename, data, content_type)},
        headers=auth(token) if token else {},
    )


def path_of(url: str) -> str:
    return urlsplit(url).path


@pytest.mark.parametrize("image_format", list(FORMATS))
async def test_upload_sets_the_avatar_and_serves_it(client: AsyncClient, image_format: str) -> None:
    token = await register(client, "jake")
    data = image_bytes(image_format)

    response = await upload(
        client,
        token,
        data,
        filename=f"me.{image_format.lower()}",
        content_type=FORMATS[image_format],
    )

    assert response.status_code == 200
    url = response.json()["user"]["image"]
    assert urlsplit(url).scheme in {"http", "https"}
    assert urlsplit(url).netloc
    served = await client.get(path_of(url))
    assert served.status_code == 200
    assert served.content == data
    assert served.headers["content-type"] == FORMATS[image_format]
    # the new picture is what everyone sees
    me = await client.get("/api/user", headers=auth(token))
    assert me.json()["user"]["image"] == url
    assert (await client.get("/api/profiles/jake")).json()["profile"]["image"] == url


async def test_the_stored_type_comes_from_the_content_not_the_name(client: AsyncClient) -> None:
    token = await register(client, "jake")
    data = image_bytes("JPEG")

    response = await upload(client, token, data, filename="avatar.png", content_type="image/png")

    assert response.status_code == 200
    served = await client.get(path_of(response.json()["user"]["image"]))
    assert served.headers["content-type"] == "image/jpeg"
    assert served.content == data


@pytest.mark.parametrize(
    ("data", "filename"),
    [
        (b"this is plain text, not a picture\n" * 10, "avatar.png"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>", "a.png"),
        (image_bytes("GIF"), "avatar.png"),
        (image_bytes("BMP"), "avatar.png"),
    ],
    ids=["text", "svg", "gif", "bmp"],
)
async def test_a_file_that_is_not_an_accepted_image_is_refused(
    client: AsyncClient, data: bytes, filename: str
) -> None:
    token = await register(client, "jake")

    response = await upload(client, token, data, filename=filename, content_type="image/png")

    assert response.status_code == 415
    assert "image" in response.json()["errors"]
    assert (await client.get("/api/user", headers=auth(token))).json()["user"]["image"] is None


@pytest.mark.parametrize("keep", [0.5, 0.9])
async def test_a_truncated_image_is_refused(client: AsyncClient, keep: float) -> None:
    token = await register(client, "jake")
    data = image_bytes("PNG", size=32, noise=True)

    response = await upload(client, token, data[: int(len(data) * keep)])

    assert 400 <= response.status_code < 500
    assert "image" in response.json()["errors"]
    assert (await client.get("/api/user", headers=auth(token))).json()["user"]["image"] is None


async def test_an_empty_file_is_refused(client: AsyncClient) -> None:
    token = await register(client, "jake")

    response = await upload(client, token, b"")

    assert response.status_code == 422
    assert response.json() == {"errors": {"image": ["can't be blank"]}}


async def test_an_image_over_the_limit_is_refused(client_for: ClientFor) -> None:
    client = await client_for(avatar_max_bytes=2048)
    token = await register(client, "jake")
    small, large = image_bytes("PNG", size=8), image_bytes("PNG", size=40, noise=True)
    assert len(small) <= 2048 < len(large)

    response = await upload(client, token, large)

    assert response.status_code == 413
    assert "image" in response.json()["errors"]
    assert (await client.get("/api/user", headers=auth(token))).json()["user"]["image"] is None
    assert (await upload(client, token, small)).status_code == 200


async def test_a_body_far_over_the_limit_is_refused_before_it_is_read(
    client_for: ClientFor,
) -> None:
    client = await client_for(avatar_max_bytes=2048)
    token = await register(client, "jake")

    response = await upload(client, token, image_bytes("PNG", size=200, noise=True))

    assert response.status_code == 413
    assert (await client.get("/api/user", headers=auth(token))).json()["user"]["image"] is None


async def test_the_image_field_is_required(client: AsyncClient) -> None:
    token = await register(client, "jake")

    response = await client.post(
        "/api/user/image",
        files={"picture": ("avatar.png", image_bytes(), "image/png")},
        headers=auth(token),
    )

    assert response.status_code == 422
    assert response.json() == {"errors": {"image": ["can't be blank"]}}


async def test_an_upload_needs_a_token(client: AsyncClient) -> None:
    response = await upload(client, None, image_bytes())

    assert response.status_code == 401
    assert response.json() == {"errors": {"token": ["is missing"]}}


async def test_a_second_upload_replaces_the_first(client: AsyncClient) -> None:
    token = await register(client, "jake")
    first, second = image_bytes("PNG"), image_bytes("WEBP")

    first_url = (await upload(client, token, first)).json()["user"]["image"]
    response = await upload(client, token, second, filename="b.webp", content_type="image/webp")

    assert response.status_code == 200
    second_url = response.json()["user"]["image"]
    assert second_url != first_url
    assert (await client.get(path_of(second_url))).content == second
    assert (await client.get(path_of(first_url))).status_code == 404


async def test_each_user_keeps_their_own_avatar(client: AsyncClient) -> None:
    jake, jane = await register(client, "jake"), await register(client, "jane")
    jake_png, jane_png = image_bytes("PNG", size=8), image_bytes("PNG", size=9)

    jake_url = (await upload(client, jake, jake_png)).json()["user"]["image"]
    jane_url = (await upload(client, jane, jane_png)).json()["user"]["image"]

    assert jake_url != jane_url
    assert (await client.get(path_of(jake_url))).content == jake_png
    assert (await client.get(path_of(jane_url))).content == jane_png


async def test_setting_an_image_url_leaves_no_uploaded_file_behind(client: AsyncClient) -> None:
    token = await register(client, "jake")
    uploaded = (await upload(client, token, image_bytes())).json()["user"]["image"]

    response = await client.put(
        "/api/user",
        json={"user": {"image": "https://example.com/photo.jpg"}},
        headers=auth(token),
    )

    assert response.json()["user"]["image"] == "https://example.com/photo.jpg"
    assert (await client.get(path_of(uploaded))).status_code == 404


async def test_clearing_the_image_removes_the_uploaded_file(client: AsyncClient) -> None:
    token = await register(client, "jake")
    uploaded = (await upload(client, token, image_bytes())).json()["user"]["image"]

    response = await client.put("/api/user", json={"user": {"image": None}}, headers=auth(token))

    assert response.json()["user"]["image"] is None
    assert (await client.get(path_of(uploaded))).status_code == 404


async def test_other_changes_keep_the_uploaded_file(client: AsyncClient) -> None:
    token = await register(client, "jake")
    uploaded = (await upload(client, token, image_bytes())).json()["user"]["image"]

    await client.put("/api/user", json={"user": {"bio": "new bio"}}, headers=auth(token))
    await client.put("/api/user", json={"user": {"image": uploaded}}, headers=auth(token))

    assert (await client.get(path_of(uploaded))).status_code == 200


async def test_nobody_can_delete_someone_elses_avatar(client: AsyncClient) -> None:
    jake, jane = await register(client, "jake"), await register(client, "jane")
    jake_png = image_bytes("PNG", size=8)
    jake_url = (await upload(client, jake, jake_png)).json()["user"]["image"]

    # jane points her image at jake's file, then replaces and clears it
    await client.put("/api/user", json={"user": {"image": jake_url}}, headers=auth(jane))
    assert (await upload(client, jane, image_bytes("PNG", size=9))).status_code == 200
    await client.put("/api/user", json={"user": {"image": jake_url}}, headers=auth(jane))
    await client.put("/api/user", json={"user": {"image": None}}, headers=auth(jane))

    served = await client.get(path_of(jake_url))
    assert served.status_code == 200
    assert served.content == jake_png
