"""Messages over REST: send (idempotent), edit, delete, react; what outsiders get."""

from __future__ import annotations

from agora.settings import ChatSettings
from tests.chat.conftest import Chatter, problem
from tests.conftest import register
from tests.support.apps import ClientFor


async def _room_with(owner: Chatter, *others: Chatter) -> int:
    room_id: int = (await owner.create_room("general"))["id"]
    for other in others:
        await other.ok("POST", f"/rooms/{room_id}/join")
    return room_id


async def test_a_message_is_an_event_with_the_next_seq(ann: Chatter, bob: Chatter) -> None:
    room_id = await _room_with(ann, bob)

    event = await ann.send(room_id, "hello", client_id="c-1")

    assert event["room"] == room_id
    assert event["seq"] == 3  # ann joined (1), bob joined (2)
    assert event["kind"] == "message"
    assert event["at"].endswith("Z")
    assert event["actor"]["username"] == "ann"
    assert event["message"] == {
        "id": event["message"]["id"],
        "body": "hello",
        "clientId": "c-1",
        "editedAt": None,
        "deleted": False,
    }
    # history returns the very same event
    assert (await bob.events(room_id, after=2))["events"] == [event]


async def test_the_same_client_id_again_returns_the_first_message(ann: Chatter) -> None:
    room_id = await _room_with(ann)
    first = await ann.send(room_id, "hello", client_id="same")

    again = await ann.send(room_id, "hello (retried)", client_id="same")

    assert again == first
    page = await ann.events(room_id)
    assert [e["seq"] for e in page["events"]] == [1, 2]
    assert page["lastSeq"] == 2


async def test_a_client_id_names_a_message_in_one_room_by_one_author(
    ann: Chatter, bob: Chatter
) -> None:
    first_room = await _room_with(ann, bob)
    second_room = await _room_with(ann)
    first = await ann.send(first_room, "hello", client_id="c-1")

    elsewhere = await ann.send(second_room, "hello", client_id="c-1")
    by_bob = await bob.send(first_room, "hello", client_id="c-1")
    path = f"/rooms/{first_room}/messages/{first['message']['id']}"
    await ann.ok("PUT", path, json={"body": "edited"})
    retried = await ann.send(first_room, "hello", client_id="c-1")

    assert elsewhere["message"]["id"] != first["message"]["id"]
    assert by_bob["message"]["id"] != first["message"]["id"]
    assert retried == first  # the creation event, as it was written


async def test_only_members_write_and_only_authors_edit(
    ann: Chatter, bob: Chatter, cid: Chatter
) -> None:
    room_id = await _room_with(ann, bob)
    message = await ann.send(room_id, "mine")
    message_id = message["message"]["id"]

    outsider = await cid.call(
        "POST", f"/rooms/{room_id}/messages", json={"body": "hi", "clientId": "x"}
    )
    assert problem(outsider, 403)["errors"][0]["field"] == "room"
    problem(await cid.call("GET", f"/rooms/{room_id}/events"), 403)
    edit = await bob.call(
        "PUT", f"/rooms/{room_id}/messages/{message_id}", json={"body": "bob's now"}
    )
    assert problem(edit, 403)["errors"][0]["field"] == "message"
    problem(await bob.call("DELETE", f"/rooms/{room_id}/messages/{message_id}"), 403)
    problem(await ann.call("PUT", f"/rooms/{room_id}/messages/999999", json={"body": "x"}), 404)

    edited = await ann.ok(
        "PUT", f"/rooms/{room_id}/messages/{message_id}", json={"body": "mine, edited"}
    )
    assert edited["event"]["kind"] == "edit"
    assert edited["event"]["message"]["body"] == "mine, edited"
    assert edited["event"]["message"]["editedAt"] is not None
    assert (await ann.events(room_id))["lastSeq"] == edited["event"]["seq"]


async def test_owners_delete_any_message_and_its_text_is_gone(ann: Chatter, bob: Chatter) -> None:
    room_id = await _room_with(ann, bob)
    message = await bob.send(room_id, "regrettable")
    message_id = message["message"]["id"]

    deleted = await ann.ok("DELETE", f"/rooms/{room_id}/messages/{message_id}")

    assert deleted["event"]["kind"] == "delete"
    assert deleted["event"]["message"]["body"] is None
    assert deleted["event"]["message"]["deleted"] is True
    creation = (await bob.events(room_id, after=message["seq"] - 1, limit=1))["events"][0]
    assert creation["message"]["body"] is None  # the log keeps the event, not the words
    problem(await ann.call("DELETE", f"/rooms/{room_id}/messages/{message_id}"), 404)
    found = await ann.ok("GET", f"/rooms/{room_id}/search", params={"q": "regret"})
    assert found["messages"] == []


async def test_reactions_once_per_user_and_emoji(ann: Chatter, bob: Chatter) -> None:
    room_id = await _room_with(ann, bob)
    message = await ann.send(room_id, "react to me")
    path = f"/rooms/{room_id}/messages/{message['message']['id']}/reactions/👍"

    added = await bob.ok("PUT", path)
    assert (added["event"]["kind"], added["event"]["emoji"]) == ("reaction", "👍")
    assert added["event"]["messageId"] == message["message"]["id"]
    assert (await bob.ok("PUT", path))["event"] is None
    removed = await bob.ok("DELETE", path)
    assert removed["event"]["kind"] == "unreaction"
    assert (await bob.ok("DELETE", path))["event"] is None


async def test_bad_messages_are_refused_and_change_nothing(
    client_for: ClientFor, ann: Chatter
) -> None:
    room_id = await _room_with(ann)
    before = (await ann.events(room_id))["lastSeq"]
    path = f"/rooms/{room_id}/messages"
    for body in (
        {"body": "", "clientId": "a"},
        {"body": "   ", "clientId": "a"},
        {"body": "x" * 4001, "clientId": "a"},  # AGORA_CHAT_MAX_MESSAGE_CHARS, 4000 by default
        {"body": "nul\x00", "clientId": "a"},
        {"body": "hi"},
        {"body": "hi", "clientId": ""},
        {"body": "hi", "clientId": "c" * 65},
    ):
        problem(await ann.call("POST", path, json=body), 422)
    problem(
        await ann.call("POST", "/rooms/424242/messages", json={"body": "hi", "clientId": "a"}), 404
    )
    for params in ({"limit": 0}, {"limit": 201}, {"after": -1}, {"before": 0}, {"after": "x"}):
        problem(await ann.call("GET", f"/rooms/{room_id}/events", params=params), 422)
    problem(await ann.call("GET", f"/rooms/{room_id}/search", params={"q": ""}), 422)
    assert (await ann.events(room_id))["lastSeq"] == before


async def test_search_takes_the_words_literally(ann: Chatter) -> None:
    room_id = await _room_with(ann)
    await ann.send(room_id, "100% sure")
    await ann.send(room_id, "100 percent")
    await ann.send(room_id, "snake_case AND Snake Case")

    found = await ann.ok("GET", f"/rooms/{room_id}/search", params={"q": "100%"})
    assert [m["body"] for m in found["messages"]] == ["100% sure"]
    found = await ann.ok("GET", f"/rooms/{room_id}/search", params={"q": "e_c"})
    assert [m["body"] for m in found["messages"]] == ["snake_case AND Snake Case"]
    found = await ann.ok("GET", f"/rooms/{room_id}/search", params={"q": "SNAKE"})
    assert len(found["messages"]) == 1


async def test_history_pages_by_sequence_number(ann: Chatter) -> None:
    room_id = await _room_with(ann)
    for n in range(7):
        await ann.send(room_id, f"m{n}")  # seqs 2..8

    latest = await ann.events(room_id, limit=3)
    assert [e["seq"] for e in latest["events"]] == [6, 7, 8]
    assert latest["lastSeq"] == 8
    older = await ann.events(room_id, before=6, limit=3)
    assert [e["seq"] for e in older["events"]] == [3, 4, 5]
    forward = await ann.events(room_id, after=2, limit=4)
    assert [e["seq"] for e in forward["events"]] == [3, 4, 5, 6]
    between = await ann.events(room_id, after=3, before=6)
    assert [e["seq"] for e in between["events"]] == [4, 5]
    assert (await ann.events(room_id, after=8))["events"] == []


async def test_sends_over_the_rate_limit_are_refused(client_for: ClientFor) -> None:
    http = await client_for(rate_limits_enabled=True, chat=ChatSettings(send_rate="3/minute"))
    fast = Chatter(http, await register(http, "fast"), "fast")
    room_id = await _room_with(fast)
    for n in range(3):
        await fast.send(room_id, f"m{n}")

    refused = problem(
        await fast.call(
            "POST", f"/rooms/{room_id}/messages", json={"body": "m3", "clientId": "m3"}
        ),
        429,
    )
    assert refused["status"] == 429
    assert (await fast.events(room_id))["lastSeq"] == 4


async def test_the_server_may_set_a_lower_message_limit(client_for: ClientFor) -> None:
    http = await client_for(chat=ChatSettings(max_message_chars=10))
    terse = Chatter(http, await register(http, "terse"), "terse")
    room_id = await _room_with(terse)
    sent = await terse.send(room_id, "x" * 10)
    path = f"/rooms/{room_id}/messages"

    too_long = problem(
        await terse.call("POST", path, json={"body": "x" * 11, "clientId": "l"}), 422
    )
    edit = await terse.call("PUT", f"{path}/{sent['message']['id']}", json={"body": "y" * 11})

    expected = [{"field": "body", "detail": "is too long (maximum is 10 characters)"}]
    assert too_long["errors"] == expected
    assert problem(edit, 422)["errors"] == expected
    assert (await terse.events(room_id))["lastSeq"] == sent["seq"]
