"""What the gateway is told and may ask: every committed room event is announced once, after its
commit, as the very JSON history returns; refused writes announce nothing; ``ChatReads`` answers
whose rooms and what a client missed."""

from __future__ import annotations

import orjson

from agora.chat.deps import CHAT
from agora.chat.events import ReadMarked, RoomEventCommitted
from agora.platform.provided import ProvidingApp
from tests.chat.conftest import Chatter, problem
from tests.support.apps import events_of


async def test_committed_events_are_announced_as_history_returns_them(
    app: ProvidingApp, ann: Chatter, bob: Chatter
) -> None:
    announced: list[RoomEventCommitted] = []
    receipts: list[ReadMarked] = []

    async def keep(event: RoomEventCommitted) -> None:
        announced.append(event)

    async def keep_receipt(event: ReadMarked) -> None:
        receipts.append(event)

    events_of(app).on(RoomEventCommitted, keep)
    events_of(app).on(ReadMarked, keep_receipt)
    room_id = (await ann.create_room("general"))["id"]
    await bob.ok("POST", f"/rooms/{room_id}/join")
    sent = await ann.send(room_id, "hello", client_id="one")
    await ann.send(room_id, "hello again", client_id="one")  # a retry: nothing new
    refused = await bob.call(
        "PUT", f"/rooms/{room_id}/messages/{sent['message']['id']}", json={"body": "no"}
    )
    problem(refused, 403)
    await bob.ok("POST", f"/rooms/{room_id}/read", json={"seq": sent["seq"]})

    history = (await ann.events(room_id))["events"]
    assert [event.event for event in announced] == history
    assert [(e.room_id, e.seq, e.kind) for e in announced] == [
        (room_id, 1, "member_joined"),
        (room_id, 2, "member_joined"),
        (room_id, 3, "message"),
    ]
    assert all(orjson.loads(event.json) == event.event for event in announced)
    assert receipts == [ReadMarked(room_id=room_id, user_id=receipts[0].user_id, seq=3, unread=0)]


async def test_chat_reads_for_the_gateway(app: ProvidingApp, ann: Chatter, bob: Chatter) -> None:
    reads = CHAT.of(app).chat_reads
    first = (await ann.create_room("first"))["id"]
    second = (await ann.create_room("second", kind="private"))["id"]
    await bob.ok("POST", f"/rooms/{first}/join")
    for n in range(5):
        await ann.send(first, f"m{n}")
    ann_id = await ann.me_id(first)
    bob_id = await bob.me_id(first)

    assert await reads.member_rooms(ann_id) == [first, second]
    assert await reads.member_rooms(bob_id) == [first]
    assert await reads.is_member(bob_id, first)
    assert not await reads.is_member(bob_id, second)
    assert not await reads.is_member(bob_id, 424242)
    missed = await reads.events_after(first, 2, limit=3)
    assert [event["seq"] for event in missed] == [3, 4, 5]
    assert missed == (await ann.events(first, after=2, limit=3))["events"]
    assert await reads.events_after(first, 7) == []
