"""Password hashing: Argon2id hashes that verify the right password and only that one."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agora.identity.passwords import hash_password, verify_password


async def test_hashes_are_argon2id_and_salted() -> None:
    first = await hash_password("password123")
    second = await hash_password("password123")

    assert first.startswith("$argon2id$")
    assert "password123" not in first
    assert first != second  # a fresh salt each time
    assert await verify_password("password123", first)
    assert await verify_password("password123", second)


async def test_only_the_right_password_verifies() -> None:
    password_hash = await hash_password("password123")

    assert await verify_password("password123", password_hash)
    assert not await verify_password("password124", password_hash)
    assert not await verify_password("Password123", password_hash)
    assert not await verify_password("password123 ", password_hash)
    assert not await verify_password("", password_hash)


async def test_a_missing_hash_never_verifies() -> None:
    # login of an unknown email: the work is done anyway, and the answer is no
    assert not await verify_password("password123", None)
    assert not await verify_password("agora-timing-equaliser", None)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(password=st.text(min_size=8, max_size=64))
async def test_any_password_of_8_to_64_characters_round_trips(password: str) -> None:
    password_hash = await hash_password(password)

    assert password_hash.startswith("$argon2id$")
    assert await verify_password(password, password_hash)
