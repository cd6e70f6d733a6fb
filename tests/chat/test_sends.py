"""Sends written together (group commit): each send in a batch gets its own outcome, as if it had
been written alone, and the rooms' logs stay whole."""

from __future__ import annotations

import asyncio

from agora.chat.sends import Send
from agora.container import Container
from agora.platform.errors import ErrorKind
from tests.chat.conftest import Chatter


async def test_one_batch_gives_every_send_its_own_outcome(
    container: Container, ann: Chatter, bob: Chatter, cid: Chatter
) -> None:
    general = (await ann.create_room("general"))["id"]
    await bob.ok("POST", f"/rooms/{general}/join")
    other = (await ann.create_room("random"))["id"]
    direct = (await ann.ok("POST", "/direct", json={"username": "bob"}))["id"]
    blocked = (await ann.ok("POST", "/direct", json={"username": "cid"}))["id"]
    await cid.ok("PUT", "/blocks/ann")
    earlier = await ann.send(general, "earlier", "retry-me")
    ann_id, bob_id = await ann.me_id(general), await bob.me_id(general)
    cid_id = await cid.me_id(blocked)

    batch = [
        Send(ann_id, general, "one", "a1"),
        Send(bob_id, general, "two", "b1"),
        Send(cid_id, general, "not a member", "c1"),  # refused: its number goes back
        Send(ann_id, other, "three", "a1"),  # the same client id, another room: a new message
        Send(ann_id, general, "one again", "a1"),  # the first of this batch, repeated
        Send(ann_id, general, "earlier again", "retry-me"),  # committed before: its event
        Send(bob_id, direct, "hi ann", "b2"),
        Send(ann_id, blocked, "hi cid", "a2"),  # cid blocked ann
        Send(ann_id, 999_999, "nowhere", "a3"),
        Send(bob_id, general, "four", "b3"),
    ]
    outcomes = await container.chat_sends.writer.write(batch)

    kinds = [o.kind if isinstance(o, Exception) else o["kind"] for o in outcomes]
    assert kinds == [
        "message",
        "message",
        ErrorKind.FORBIDDEN,
        "message",
        "message",
        "message",
        "message",
        ErrorKind.FORBIDDEN,
        ErrorKind.NOT_FOUND,
        "message",
    ]
    events = [o for o in outcomes if isinstance(o, dict)]
    one, two, three, one_again, earlier_again, hi, four = events
    assert one_again == one
    assert earlier_again["seq"] == earlier["seq"]
    assert earlier_again["message"]["id"] == earlier["message"]["id"]
    # the room's new numbers follow on from the earlier message, in batch order, with no gap
    assert [one["seq"], two["seq"], four["seq"]] == [earlier["seq"] + n for n in (1, 2, 3)]
    assert [(e["message"]["body"], e["actor"]["id"]) for e in (one, two, four)] == [
        ("one", ann_id),
        ("two", bob_id),
        ("four", bob_id),
    ]
    assert (three["room"], hi["room"]) == (other, direct)

    # what history holds is what the batch answered, and the next send takes the next number
    page = await ann.events(general)
    assert page["events"][-3:] == [one, two, four]
    assert page["lastSeq"] == four["seq"]
    assert (await bob.send(general, "after"))["seq"] == four["seq"] + 1
    assert (await ann.events(other))["lastSeq"] == three["seq"]


async def test_batches_of_every_size_number_their_messages_one_after_the_other(
    container: Container, ann: Chatter
) -> None:
    # a statement's unused places (sizes that are not a power of two) must write nothing
    room = (await ann.create_room("general"))["id"]
    ann_id = await ann.me_id(room)
    last = (await ann.events(room))["lastSeq"]
    for size in range(1, 10):
        batch = [Send(ann_id, room, f"{size}.{n}", f"s{size}-{n}") for n in range(size)]
        outcomes = await container.chat_sends.writer.write(batch)
        assert [o["seq"] for o in outcomes] == [last + 1 + n for n in range(size)]  # type: ignore[index]
        last += size
    page = await ann.events(room, limit=100)
    assert [e["message"]["body"] for e in page["events"] if e["kind"] == "message"] == [
        f"{size}.{n}" for size in range(1, 10) for n in range(size)
    ]
    assert page["lastSeq"] == last


async def test_concurrent_sends_through_the_queue_are_batched_without_a_gap(
    container: Container, ann: Chatter, bob: Chatter
) -> None:
    room = (await ann.create_room("general"))["id"]
    await bob.ok("POST", f"/rooms/{room}/join")
    ann_id, bob_id = await ann.me_id(room), await bob.me_id(room)
    sends = container.chat_sends

    sent = await asyncio.gather(
        *(
            sends.send(user_id=user, room_id=room, body=f"{user}-{n}", client_id=f"{n}")
            for n in range(100)
            for user in (ann_id, bob_id)
        ),
        sends.send(user_id=ann_id, room_id=room, body="0 again", client_id="0"),
    )

    *fresh, repeated = sent
    assert sorted(event["seq"] for event in fresh) == list(range(3, 203))
    assert repeated["seq"] == fresh[0]["seq"]
    page = await ann.events(room, limit=200)
    assert [event["seq"] for event in page["events"]] == list(range(3, 203))
    assert {(e["actor"]["id"], e["message"]["body"]) for e in page["events"]} == {
        (user, f"{user}-{n}") for n in range(100) for user in (ann_id, bob_id)
    }
