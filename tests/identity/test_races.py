"""Every identity write, raced against itself: real concurrent requests (``asyncio.gather``) that
interleave on the real database. Whatever the interleaving, every answer is a 2xx or a clear 4xx,
and what is stored adds up. A race window is narrow, so each race runs for several rounds.
"""

from __future__ import annotations

from pathlib import Path

from httpx import AsyncClient

from tests.conftest import auth, register
from tests.identity.test_avatars import image_bytes, path_of, upload
from tests.support.concurrency import ROUNDS, at_once, statuses

TAKEN_USERNAME = {"errors": {"username": ["has already been taken"]}}


async def test_following_one_profile_in_several_requests_at_once_follows_once(
    client: AsyncClient,
) -> None:
    await register(client, "jake")
    for round_ in range(ROUNDS):
        fan = await register(client, f"fan{round_}")

        answers = await at_once(
            *(client.post("/api/profiles/jake/follow", headers=auth(fan)) for _ in range(4))
        )

        assert statuses(answers) == [200] * 4, [answer.text for answer in answers]
        assert {answer.json()["profile"]["following"] for answer in answers} == {True}
        seen = await client.get("/api/profiles/jake", headers=auth(fan))
        assert seen.json()["profile"]["following"] is True


async def test_follows_and_unfollows_of_one_profile_at_once_all_answer(
    client: AsyncClient,
) -> None:
    await register(client, "jake")
    fan = await register(client, "fan")
    for _ in range(ROUNDS):
        answers = await at_once(
            *(
                client.request(method, "/api/profiles/jake/follow", headers=auth(fan))
                for method in ("POST", "DELETE", "POST", "DELETE", "POST", "DELETE")
            )
        )

        assert statuses(answers) == [200] * 6, [answer.text for answer in answers]
    following = (await client.get("/api/profiles/jake", headers=auth(fan))).json()["profile"]
    feed = await client.get("/api/articles/feed", headers=auth(fan))
    assert following["following"] in (True, False)
    assert feed.status_code == 200


async def test_one_username_registered_by_several_requests_at_once_is_one_201_and_409s(
    client: AsyncClient,
) -> None:
    for round_ in range(ROUNDS):
        user = {
            "username": f"rush{round_}",
            "email": f"rush{round_}@example.com",
            "password": "password123",
        }

        answers = await at_once(*(client.post("/api/users", json={"user": user}) for _ in range(4)))

        assert sorted(statuses(answers)) == [201, 409, 409, 409], [a.text for a in answers]
        for answer in answers:
            if answer.status_code == 409:
                assert set(answer.json()["errors"]) <= {"username", "email"}
        login = await client.post("/api/users/login", json={"user": user})
        assert login.status_code == 200


async def test_two_users_taking_one_username_at_once_is_one_200_and_one_409(
    client: AsyncClient,
) -> None:
    for round_ in range(ROUNDS):
        first = await register(client, f"first{round_}")
        second = await register(client, f"second{round_}")
        wanted = {"user": {"username": f"wanted{round_}"}}

        answers = await at_once(
            client.put("/api/user", json=wanted, headers=auth(first)),
            client.put("/api/user", json=wanted, headers=auth(second)),
        )

        assert sorted(statuses(answers)) == [200, 409], [answer.text for answer in answers]
        refused = next(answer for answer in answers if answer.status_code == 409)
        assert refused.json() == TAKEN_USERNAME
        profile = await client.get(f"/api/profiles/wanted{round_}")
        assert profile.status_code == 200


async def test_one_user_updated_by_several_requests_at_once_keeps_one_of_them(
    client: AsyncClient,
) -> None:
    token = await register(client, "jake")
    for round_ in range(ROUNDS):
        bios = [f"bio {round_}.{number}" for number in range(4)]

        answers = await at_once(
            *(
                client.put("/api/user", json={"user": {"bio": bio}}, headers=auth(token))
                for bio in bios
            )
        )

        assert statuses(answers) == [200] * 4, [answer.text for answer in answers]
        current = (await client.get("/api/user", headers=auth(token))).json()["user"]
        assert current["bio"] in bios


async def test_avatars_uploaded_by_several_requests_at_once_leave_one_avatar(
    client: AsyncClient, tmp_path: Path
) -> None:
    token = await register(client, "jake")
    for round_ in range(ROUNDS):
        images = [image_bytes("PNG", size=8 + round_ * 4 + number) for number in range(3)]

        answers = await at_once(*(upload(client, token, image) for image in images))

        assert statuses(answers) == [200] * 3, [answer.text for answer in answers]
        current = (await client.get("/api/user", headers=auth(token))).json()["user"]["image"]
        assert current in {answer.json()["user"]["image"] for answer in answers}
        served = await client.get(path_of(current))
        assert served.status_code == 200
        assert served.content in images
        # every replaced picture is gone from the disk, not only from the profile
        stored = sorted(path.name for path in (tmp_path / "media" / "avatars").iterdir())
        assert stored == [current.rsplit("/", 1)[-1]]
