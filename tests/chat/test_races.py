"""Writers at the same moment: the room's sequence has no gap and no duplicate, and a message sent
twice at once with one client id is one message. Real concurrency on PostgreSQL (the CI tier);
on SQLite the writes queue, which must give the same answers."""

from __future__ import annotations

from tests.chat.conftest import Chatter
from tests.support.concurrency import ROUNDS, at_once, statuses


async def test_duplicates_sent_at_once_make_one_message(ann: Chatter) -> None:
    room_id = (await ann.create_room("general"))["id"]
    path = f"/rooms/{room_id}/messages"

    for round_ in range(ROUNDS):
        payload = {"body": f"once {round_}", "clientId": f"dup-{round_}"}
        responses = await at_once(*(ann.call("POST", path, json=payload) for _ in range(4)))

        assert statuses(responses) == [201] * 4
        events = [response.json()["event"] for response in responses]
        assert all(event == events[0] for event in events)

    page = await ann.events(room_id)
    messages = [event for event in page["events"] if event["kind"] == "message"]
    assert [m["message"]["clientId"] for m in messages] == [f"dup-{n}" for n in range(ROUNDS)]
    assert page["lastSeq"] == 1 + ROUNDS


async def test_concurrent_senders_leave_no_gap(ann: Chatter, bob: Chatter, cid: Chatter) -> None:
    room_id = (await ann.create_room("general"))["id"]
    await bob.ok("POST", f"/rooms/{room_id}/join")
    await cid.ok("POST", f"/rooms/{room_id}/join")
    senders = [ann, bob, cid]
    path = f"/rooms/{room_id}/messages"

    responses = await at_once(
        *(
            sender.call("POST", path, json={"body": f"{n}", "clientId": f"{sender.username}{n}"})
            for n in range(8)
            for sender in senders
        )
    )

    assert statuses(responses) == [201] * 24
    acknowledged = sorted(response.json()["event"]["seq"] for response in responses)
    assert acknowledged == list(range(4, 28))  # after three joins: one number each, none lost
    page = await ann.events(room_id, limit=200)
    assert [event["seq"] for event in page["events"]] == list(range(1, 28))
    assert page["lastSeq"] == 27


async def test_a_member_removed_while_sending_writes_nothing_after_the_removal(
    ann: Chatter, bob: Chatter
) -> None:
    room_id = (await ann.create_room("general"))["id"]
    await bob.ok("POST", f"/rooms/{room_id}/join")
    bob_id = await bob.me_id(room_id)

    for round_ in range(ROUNDS):
        sent, removed = await at_once(
            bob.call(
                "POST", f"/rooms/{room_id}/messages", json={"body": "hi", "clientId": f"{round_}"}
            ),
            ann.call("DELETE", f"/rooms/{room_id}/members/{bob_id}"),
        )

        assert removed.status_code == 200, removed.text
        # either in before the removal, or refused: never a message from a non-member
        assert sent.status_code in (201, 403), sent.text
        if sent.status_code == 201:
            assert sent.json()["event"]["seq"] < removed.json()["event"]["seq"]
        await bob.ok("POST", f"/rooms/{room_id}/join")
    seqs = [event["seq"] for event in (await ann.events(room_id, limit=200))["events"]]
    assert seqs == list(range(1, len(seqs) + 1))


async def test_two_owners_leaving_at_once_leave_one_behind(
    ann: Chatter, bob: Chatter, cid: Chatter
) -> None:
    for _ in range(ROUNDS):
        room_id = (await ann.create_room("general"))["id"]
        await bob.ok("POST", f"/rooms/{room_id}/join")
        await cid.ok("POST", f"/rooms/{room_id}/join")
        bob_id = await bob.me_id(room_id)
        await ann.ok("PUT", f"/rooms/{room_id}/members/{bob_id}/role", json={"role": "owner"})

        responses = await at_once(
            ann.call("POST", f"/rooms/{room_id}/leave"),
            bob.call("POST", f"/rooms/{room_id}/leave"),
        )

        assert sorted(statuses(responses)) == [200, 409]
        members = (await cid.room(room_id))["members"]
        assert [m["role"] for m in members if m["username"] != "cid"] == ["owner"]


async def test_mixed_writes_to_two_rooms_at_once_keep_both_logs_whole(
    ann: Chatter, bob: Chatter, cid: Chatter
) -> None:
    first = (await ann.create_room("first"))["id"]
    second = (await bob.create_room("second"))["id"]
    target = await ann.send(first, "react to me")
    reactions = f"/rooms/{first}/messages/{target['message']['id']}/reactions"

    responses = await at_once(
        *(ann.call("POST", f"/rooms/{room}/messages", json={"body": "a", "clientId": f"a{room}"})
          for room in (first, second)),
        cid.call("POST", f"/rooms/{first}/join"),
        cid.call("POST", f"/rooms/{second}/join"),
        bob.call("POST", f"/rooms/{first}/join"),
        ann.call("PUT", f"{reactions}/👍"),
        ann.call("PUT", f"{reactions}/🎉"),
        bob.call("POST", f"/rooms/{second}/messages", json={"body": "b", "clientId": "b"}),
        ann.call("POST", f"/rooms/{first}/read", json={"seq": 2}),
    )  # fmt: skip

    # ann is not in the second room: her message there is refused; everything else is done
    assert statuses(responses) == [201, 403, 200, 200, 200, 200, 200, 201, 200]
    for room in (first, second):
        page = await ann.events(room) if room == first else await bob.events(room)
        seqs = [event["seq"] for event in page["events"]]
        assert seqs == list(range(1, page["lastSeq"] + 1))
    assert (await ann.events(first))["lastSeq"] == 2 + 1 + 2 + 2  # +ann's, joins, reactions


async def test_reading_marks_only_move_forward_even_at_once(ann: Chatter, bob: Chatter) -> None:
    for _ in range(ROUNDS):
        room_id = (await ann.create_room("general"))["id"]
        await bob.ok("POST", f"/rooms/{room_id}/join")
        for n in range(6):
            await ann.send(room_id, f"m{n}")  # seqs 3..8

        marks = await at_once(
            *(bob.call("POST", f"/rooms/{room_id}/read", json={"seq": seq}) for seq in (8, 4, 6))
        )

        assert statuses(marks) == [200, 200, 200]
        room = await bob.room(room_id)
        assert (room["lastReadSeq"], room["unread"]) == (8, 0)
