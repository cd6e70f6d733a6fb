"""A disk that refuses a write is the server's trouble, not the client's: a 503 before anything is
committed, and never a failed answer after the commit for a file that could not be cleaned up."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.conftest import auth, register
from tests.identity.test_avatars import image_bytes, path_of, upload
from tests.support.apps import ClientFor


async def test_an_avatar_the_disk_cannot_store_is_a_503_and_changes_nothing(
    client_for: ClientFor, tmp_path: Path
) -> None:
    media = tmp_path / "unwritable-media"
    client = await client_for(media_dir=media)
    token = await register(client, "jake")
    # a file where the avatars' folder should be: every write under it fails
    (media / "avatars").write_bytes(b"")

    response = await upload(client, token, image_bytes())

    assert response.status_code == 503, response.text
    assert int(response.headers["retry-after"]) > 0
    assert response.json()["errors"]["body"]
    me = await client.get("/api/user", headers=auth(token))
    assert me.json()["user"]["image"] is None


async def test_an_old_avatar_that_cannot_be_removed_does_not_fail_the_change(
    client_for: ClientFor, tmp_path: Path
) -> None:
    media = tmp_path / "media"
    client = await client_for(media_dir=media)
    token = await register(client, "jake")
    first = (await upload(client, token, image_bytes())).json()["user"]["image"]
    # the old file cannot be deleted (a folder in its place): the new avatar is committed anyway
    old_file = media / path_of(first).removeprefix("/media/")
    old_file.unlink()
    (old_file / "pinned").mkdir(parents=True)

    response = await upload(client, token, image_bytes("JPEG"), content_type="image/jpeg")

    assert response.status_code == 200, response.text
    second = response.json()["user"]["image"]
    assert second != first
    me = await client.get("/api/user", headers=auth(token))
    assert me.json()["user"]["image"] == second
    assert (await client.get(path_of(second))).status_code == 200
    shutil.rmtree(old_file)
