"""Direct conversations: one per pair of users, whoever opens it and however often; blocks."""

from __future__ import annotations

from tests.chat.conftest import Chatter, problem
from tests.support.concurrency import ROUNDS, at_once


async def test_one_conversation_per_pair(ann: Chatter, bob: Chatter) -> None:
    opened = await ann.ok("POST", "/direct", json={"username": "bob"})
    again = await bob.ok("POST", "/direct", json={"username": "ann"})

    assert opened["id"] == again["id"]
    assert opened["kind"] == "direct"
    assert opened["peer"]["username"] == "bob"
    assert again["peer"]["username"] == "ann"
    assert sorted(m["username"] for m in opened["members"]) == ["ann", "bob"]
    await bob.send(opened["id"], "hi ann")
    (listed,) = (await ann.ok("GET", "/rooms"))["rooms"]
    assert (listed["unread"], listed["lastMessage"]["body"]) == (1, "hi ann")


async def test_opened_at_once_from_both_sides_is_still_one(
    ann: Chatter, bob: Chatter, cid: Chatter
) -> None:
    for round_ in range(ROUNDS):
        one, other = (ann, bob) if round_ % 2 else (bob, cid)
        responses = await at_once(
            one.call("POST", "/direct", json={"username": other.username}),
            other.call("POST", "/direct", json={"username": one.username}),
            one.call("POST", "/direct", json={"username": other.username}),
        )
        assert [r.status_code for r in responses] == [200, 200, 200]
        assert len({r.json()["id"] for r in responses}) == 1
    rooms = (await bob.ok("GET", "/rooms"))["rooms"]
    assert len(rooms) == 2


async def test_no_conversation_with_a_blocker_or_oneself(ann: Chatter, bob: Chatter) -> None:
    room = await ann.ok("POST", "/direct", json={"username": "bob"})
    blocked = await bob.ok("PUT", "/blocks/ann")
    assert blocked == {"username": "ann", "blocked": True}

    problem(await ann.call("POST", "/direct", json={"username": "bob"}), 403)
    refused = await ann.call(
        "POST", f"/rooms/{room['id']}/messages", json={"body": "hello?", "clientId": "1"}
    )
    problem(refused, 403)
    # the blocker cannot write either, until they unblock
    problem(
        await bob.call(
            "POST", f"/rooms/{room['id']}/messages", json={"body": "x", "clientId": "2"}
        ),
        403,
    )
    assert (await bob.ok("DELETE", "/blocks/ann"))["blocked"] is False
    await ann.send(room["id"], "hello again")

    problem(await ann.call("POST", "/direct", json={"username": "ann"}), 403)
    problem(await ann.call("POST", "/direct", json={"username": "nobody"}), 404)
    problem(await ann.call("PUT", "/blocks/ann"), 403)
    problem(await ann.call("POST", f"/rooms/{room['id']}/leave"), 403)
    problem(await ann.call("POST", f"/rooms/{room['id']}/members", json={"username": "bob"}), 403)
