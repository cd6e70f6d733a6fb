"""The follow rules on their own: a fake unit of work and an in-memory repository, no database,
no app. The same rules run in the application on SQLAlchemy (``identity/follows.py``); the API
tests (``test_profiles.py``, ``test_races.py``) show them there."""

from __future__ import annotations

import pytest

from agora.identity import follows
from agora.identity.events import FollowsChanged
from agora.identity.models import User
from agora.platform.errors import Invalid, NotFound
from tests.support.fake_uow import FakeUnitOfWork

ANN, BOB = 1, 2


class InMemoryFollows:
    """``follows.Follows`` in a set of (follower, followee) pairs."""

    def __init__(self, *users: User) -> None:
        self.users = {user.username: user for user in users}
        self.pairs: set[tuple[int, int]] = set()
        self.deleted: set[int] = set()

    async def user(self, username: str) -> User | None:
        return self.users.get(username)

    async def add(self, *, follower_id: int, followee_id: int) -> bool:
        if followee_id in self.deleted:
            return False
        self.pairs.add((follower_id, followee_id))
        return True

    async def remove(self, *, follower_id: int, followee_id: int) -> None:
        self.pairs.discard((follower_id, followee_id))

    def delete_after_lookup(self, username: str) -> None:
        """The account is found, then deleted before the follow is written (another request)."""
        self.deleted.add(self.users[username].id)


def _user(user_id: int, username: str) -> User:
    return User(id=user_id, username=username, email=f"{username}@example.com", password_hash="-")


@pytest.fixture
def repository() -> InMemoryFollows:
    return InMemoryFollows(_user(ANN, "ann"), _user(BOB, "bob"))


async def test_following_is_published_once_committed(repository: InMemoryFollows) -> None:
    uow = FakeUnitOfWork()

    profile = await follows.follow(uow=uow, follows=repository, username="bob", follower_id=ANN)

    assert (profile.username, profile.following) == ("bob", True)
    assert repository.pairs == {(ANN, BOB)}
    assert uow.commits == 1
    assert uow.published == [FollowsChanged(follower_id=ANN)]


async def test_following_twice_follows_once(repository: InMemoryFollows) -> None:
    for _ in range(2):
        await follows.follow(
            uow=FakeUnitOfWork(), follows=repository, username="bob", follower_id=ANN
        )

    assert repository.pairs == {(ANN, BOB)}


async def test_nobody_follows_themselves(repository: InMemoryFollows) -> None:
    uow = FakeUnitOfWork()

    with pytest.raises(Invalid) as refused:
        await follows.follow(uow=uow, follows=repository, username="ann", follower_id=ANN)

    assert (refused.value.field, refused.value.message) == ("profile", "cannot follow yourself")
    assert repository.pairs == set()
    assert (uow.commits, uow.published) == (0, [])


async def test_an_unknown_user_cannot_be_followed(repository: InMemoryFollows) -> None:
    uow = FakeUnitOfWork()

    with pytest.raises(NotFound):
        await follows.follow(uow=uow, follows=repository, username="nobody", follower_id=ANN)

    assert (uow.commits, uow.published) == (0, [])


async def test_an_account_deleted_meanwhile_is_rolled_back_and_publishes_nothing(
    repository: InMemoryFollows,
) -> None:
    uow = FakeUnitOfWork()
    repository.delete_after_lookup("bob")

    with pytest.raises(NotFound) as missing:
        await follows.follow(uow=uow, follows=repository, username="bob", follower_id=ANN)

    assert missing.value.field == "profile"
    assert (uow.commits, uow.rollbacks, uow.published) == (0, 1, [])


async def test_unfollowing_is_published_once_committed(repository: InMemoryFollows) -> None:
    repository.pairs.add((ANN, BOB))
    uow = FakeUnitOfWork()

    profile = await follows.unfollow(uow=uow, follows=repository, username="bob", follower_id=ANN)

    assert (profile.username, profile.following) == ("bob", False)
    assert repository.pairs == set()
    assert uow.published == [FollowsChanged(follower_id=ANN)]


async def test_unfollowing_someone_not_followed_answers_the_same(
    repository: InMemoryFollows,
) -> None:
    uow = FakeUnitOfWork()

    profile = await follows.unfollow(uow=uow, follows=repository, username="bob", follower_id=ANN)

    assert profile.following is False
    assert repository.pairs == set()
