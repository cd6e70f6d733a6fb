"""Password hashing: Argon2id hashes that verify the right password and only that one, with the
cost from settings, and old hashes redone at the next login when the cost changes."""

from __future__ import annotations

from httpx import AsyncClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from agora.identity.models import User
from agora.identity.passwords import Passwords, argon2id
from agora.platform.provided import ProvidingApp
from tests.conftest import register
from tests.support.apps import platform_of

CHEAP = Passwords(argon2id(memory_kib=8, time_cost=1, parallelism=1), threads=1, queue=100)
# another cost, as if the operator had changed the settings since these hashes were made
OTHER_COST = Passwords(argon2id(memory_kib=16, time_cost=2, parallelism=1), threads=1, queue=100)


async def test_hashes_are_argon2id_salted_and_carry_their_cost() -> None:
    first = await CHEAP.hash("password123")
    second = await CHEAP.hash("password123")

    assert first.startswith("$argon2id$v=19$m=8,t=1,p=1$")
    assert "password123" not in first
    assert first != second  # a fresh salt each time
    assert await CHEAP.verify("password123", first) == (True, None)
    assert await CHEAP.verify("password123", second) == (True, None)


async def test_only_the_right_password_verifies() -> None:
    password_hash = await CHEAP.hash("password123")

    assert (await CHEAP.verify("password123", password_hash))[0]
    for wrong in ("password124", "Password123", "password123 ", ""):
        assert await CHEAP.verify(wrong, password_hash) == (False, None)


async def test_a_missing_hash_never_verifies() -> None:
    # login of an unknown email: the work is done anyway, and the answer is no
    assert await CHEAP.verify("password123", None) == (False, None)
    assert await CHEAP.verify("agora-timing-equaliser", None) == (False, None)


async def test_a_hash_of_another_cost_verifies_and_comes_back_redone() -> None:
    old_hash = await OTHER_COST.hash("password123")

    matches, new_hash = await CHEAP.verify("password123", old_hash)

    assert matches
    assert new_hash is not None
    assert new_hash.startswith("$argon2id$v=19$m=8,t=1,p=1$")
    assert await CHEAP.verify("password123", new_hash) == (True, None)
    # a wrong password is not redone
    assert await CHEAP.verify("password124", old_hash) == (False, None)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(password=st.text(min_size=8, max_size=64))
async def test_any_password_of_8_to_64_characters_round_trips(password: str) -> None:
    password_hash = await CHEAP.hash(password)

    assert password_hash.startswith("$argon2id$")
    assert (await CHEAP.verify(password, password_hash))[0]


async def test_a_login_stores_the_hash_redone_with_the_current_cost(
    app: ProvidingApp, client: AsyncClient
) -> None:
    await register(client, "jake")
    async with platform_of(app).db.sessions() as session:
        user = await session.scalar(select(User).where(User.username == "jake"))
        assert user is not None
        user.password_hash = await OTHER_COST.hash("password123")
        await session.commit()

    response = await client.post(
        "/api/users/login", json={"user": {"email": "jake@example.com", "password": "password123"}}
    )

    assert response.status_code == 200
    async with platform_of(app).db.sessions() as session:
        stored = await session.scalar(select(User.password_hash).where(User.username == "jake"))
    assert stored is not None
    assert stored.startswith("$argon2id$v=19$m=8,t=1,p=1$")
    # and the password still works
    again = await client.post(
        "/api/users/login", json={"user": {"email": "jake@example.com", "password": "password123"}}
    )
    assert again.status_code == 200
