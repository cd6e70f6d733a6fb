"""Subscribes that arrive together (a reconnect storm) read the rooms' heads and memberships in
one statement, and each still gets its own answer: its room's head, or why it may not watch it."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from agora.chat.gateway.domain import ChatRoomLogs
from agora.chat.reads import ChatReads
from agora.platform.driver_reads import DriverReads
from agora.platform.errors import Forbidden, NotFound
from agora.platform.provided import ProvidingApp
from tests.chat.conftest import Chatter
from tests.support.apps import platform_of


class CountingReads(ChatReads):
    """The chat's reads, counting the reads of heads (on PostgreSQL they go past SQLAlchemy,
    where no statement listener sees them)."""

    reads = 0

    async def heads_and_members(
        self, pairs: Sequence[tuple[int, int]]
    ) -> tuple[dict[int, int], set[tuple[int, int]]]:
        self.reads += 1
        return await super().heads_and_members(pairs)


async def test_subscribes_that_arrive_together_read_once(
    app: ProvidingApp, ann: Chatter, bob: Chatter
) -> None:
    public = (await ann.create_room("general"))["id"]
    private = (await ann.create_room("staff", kind="private"))["id"]
    await bob.ok("POST", f"/rooms/{public}/join")
    await ann.send(public, "hello")
    ann_id, bob_id = await ann.me_id(public), await bob.me_id(public)
    db = platform_of(app).db
    reads = CountingReads(db.autocommit_sessions, DriverReads(db.engine))
    logs = ChatRoomLogs(sessions=db.autocommit_sessions, reads=reads)
    asked = [
        (ann_id, public),
        (bob_id, public),
        (bob_id, private),  # not a member
        (ann_id, 424242),  # no such room
        (ann_id, private),
        (ann_id, public),  # the same twice
    ]

    answers = await asyncio.gather(
        *(logs.open_room(user_id=user, room_id=room) for user, room in asked),
        return_exceptions=True,
    )

    assert answers[0] == answers[1] == answers[5] == 3  # two joins and a message
    assert isinstance(answers[2], Forbidden)
    assert isinstance(answers[3], NotFound)
    assert answers[4] == 1  # the private room's creation
    assert reads.reads == 1
    with pytest.raises(Forbidden):
        await logs.open_room(user_id=bob_id, room_id=private)  # alone, too
