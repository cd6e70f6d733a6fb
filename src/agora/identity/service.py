"""Identity rules: registration, login and profile changes. One commit per call.

A write takes the request's unit of work and emits ``ProfileChanged`` for what follows its
commit (the read caches forget the profile: handlers the composition root registers). Follows
have a module of their own (``follows``).
"""

from __future__ import annotations

import functools

from sqlalchemy import exists, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from agora.identity.accounts import verification_requested
from agora.identity.avatars import discard_avatar, store_avatar
from agora.identity.events import ProfileChanged
from agora.identity.models import Follow, User
from agora.identity.passwords import Passwords
from agora.identity.schemas import LoginUser, NewUser, Profile, UpdateUser, UserPublic
from agora.identity.tokens import TokenCodec
from agora.platform.db import Database
from agora.platform.errors import Conflict, Invalid, NotFound, Unauthorized
from agora.platform.storage import FileStorage
from agora.platform.uow import UnitOfWork


def user_public(user: User, token: str) -> UserPublic:
    return UserPublic(
        email=user.email,
        token=token,
        username=user.username,
        bio=user.bio,
        image=user.image,
        verified=user.verified,
    )


def profile_of(user: User, *, following: bool) -> Profile:
    return Profile(username=user.username, bio=user.bio, image=user.image, following=following)


async def _ensure_free(
    session: AsyncSession, *, username: str | None, email: str | None, except_id: int | None
) -> None:
    for field, column, value in (
        ("username", User.username, username),
        ("email", User.email, email),
    ):
        if value is None:
            continue
        query = select(exists().where(column == value, User.id != (except_id or 0)))
        if await session.scalar(query):
            raise Conflict("has already been taken", field=field)


async def _commit_unique(uow: UnitOfWork, *, flush_only: bool = False) -> None:
    # the pre-check gives the message; the unique index settles a race between two requests
    try:
        await (uow.session.flush() if flush_only else uow.commit())
    except IntegrityError as exc:
        await uow.rollback()
        field = "email" if "email" in str(exc.orig) else "username"
        raise Conflict("has already been taken", field=field) from None


async def register(
    *,
    uow: UnitOfWork,
    tokens: TokenCodec,
    passwords: Passwords,
    new_user: NewUser,
    link_base: str,
) -> UserPublic:
    """``link_base``: where the link of the verification mail points (``emails.link_base``)."""
    # hashed before the session takes a connection: the pool is never held while Argon2 runs
    password_hash = await passwords.hash(new_user.password)
    email = new_user.email.lower()
    session = uow.session
    await _ensure_free(session, username=new_user.username, email=email, except_id=None)
    user = User(username=new_user.username, email=email, password_hash=password_hash)
    session.add(user)
    await _commit_unique(uow, flush_only=True)  # the id, for the job
    # the mail is sent by a job committed with the user: both happen, or neither
    verification_requested(uow, user_id=user.id, link_base=link_base)
    await uow.commit()
    return user_public(user, tokens.issue(user.id))


async def login(
    *, db: Database, tokens: TokenCodec, passwords: Passwords, credentials: LoginUser
) -> UserPublic:
    # read outside any transaction, and the connection back in the pool before Argon2 runs
    async with db.autocommit_sessions() as session:
        user = await session.scalar(select(User).where(User.email == credentials.email.lower()))
    password_hash = user.password_hash if user else None
    matches, rehashed = await passwords.verify(credentials.password, password_hash)
    if not matches or user is None:
        raise Unauthorized("invalid", field="credentials")
    if rehashed is not None:
        # made with another cost than the configured one: only a login has the password to redo
        # it. One statement of its own, and only over the hash just verified: a password change
        # that landed meanwhile wins.
        async with db.autocommit_connection() as connection:
            await connection.execute(
                update(User)
                .where(User.id == user.id, User.password_hash == password_hash)
                .values(password_hash=rehashed)
            )
    return user_public(user, tokens.issue(user.id))


async def get_user(*, session: AsyncSession, user_id: int) -> User:
    user = await session.get(User, user_id)
    if user is None:
        # a valid signature for a user who no longer exists
        raise Unauthorized("is invalid", field="token")
    return user


async def update_user(
    *,
    uow: UnitOfWork,
    storage: FileStorage,
    tokens: TokenCodec,
    passwords: Passwords,
    user_id: int,
    changes: UpdateUser,
) -> UserPublic:
    sent = changes.model_fields_set
    for required in ("email", "username", "password"):
        if required in sent and getattr(changes, required) is None:
            raise Invalid("can't be blank", field=required)
    # hashed before the session takes a connection: the pool is never held while Argon2 runs
    password_hash = None if changes.password is None else await passwords.hash(changes.password)
    session = uow.session
    user = await get_user(session=session, user_id=user_id)
    email = changes.email.lower() if changes.email is not None else None
    await _ensure_free(session, username=changes.username, email=email, except_id=user.id)
    if email is not None and email != user.email:
        user.email = email
        user.verified = False  # a new address is confirmed anew (POST /api/user/verification)
    if changes.username is not None:
        user.username = changes.username
    if password_hash is not None:
        user.password_hash = password_hash
    if "bio" in sent:
        user.bio = changes.bio or None
    # the caches forget the profile first, then the old file goes: no cached page points at it
    uow.emit(ProfileChanged(user_id))
    if "image" in sent:
        replaced = await _swap_image(session, user, changes.image or None)
        _discard_after_commit(uow, storage=storage, user_id=user_id, replaced=replaced)
    await _commit_unique(uow)
    return user_public(user, tokens.issue(user_id))


def _discard_after_commit(
    uow: UnitOfWork, *, storage: FileStorage, user_id: int, replaced: str | None
) -> None:
    # once the row no longer points at it, and never if the change is rolled back
    if replaced is not None:
        uow.after_commit(
            functools.partial(discard_avatar, storage=storage, user_id=user_id, url=replaced)
        )


async def _swap_image(session: AsyncSession, user: User, image: str | None) -> str | None:
    """Sets the user's image and returns the one it replaced (None if it did not change).

    Compare and set, not read then write: of two uploads at once, each must learn the image it
    really replaced, or the file the loser replaced would stay on disk with nothing pointing at it.
    """
    await session.flush()  # the other changes first; this statement is about the image alone
    while True:
        current = await session.scalar(select(User.image).where(User.id == user.id))
        if current == image:
            return None
        swapped = await session.execute(
            update(User)
            .where(
                User.id == user.id,
                User.image.is_(None) if current is None else User.image == current,
            )
            .values(image=image)
            .execution_options(synchronize_session=False)
        )
        if swapped.rowcount:  # type: ignore[attr-defined]
            user.image = image
            return current


async def set_avatar(
    *,
    uow: UnitOfWork,
    storage: FileStorage,
    tokens: TokenCodec,
    user_id: int,
    data: bytes,
    max_bytes: int,
    base_url: str,
) -> UserPublic:
    # the file first: the session takes a connection only for the short write after it
    key, url = await store_avatar(
        storage=storage, user_id=user_id, data=data, max_bytes=max_bytes, base_url=base_url
    )
    try:
        user = await get_user(session=uow.session, user_id=user_id)
        replaced = await _swap_image(uow.session, user, url)
        uow.emit(ProfileChanged(user_id))
        _discard_after_commit(uow, storage=storage, user_id=user_id, replaced=replaced)
        await uow.commit()
    except Exception:
        await storage.delete(key)
        raise
    return user_public(user, tokens.issue(user_id))


async def _user_by_username(session: AsyncSession, username: str) -> User:
    user = await session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound("not found", field="profile")
    return user


async def is_following(session: AsyncSession, *, follower_id: int | None, followee_id: int) -> bool:
    if follower_id is None:
        return False
    query = select(
        exists().where(Follow.follower_id == follower_id, Follow.followee_id == followee_id)
    )
    return bool(await session.scalar(query))


async def get_profile(*, session: AsyncSession, username: str, viewer_id: int | None) -> Profile:
    user = await _user_by_username(session, username)
    following = await is_following(session, follower_id=viewer_id, followee_id=user.id)
    return profile_of(user, following=following)
