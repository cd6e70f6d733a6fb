"""A room event's JSON is built from rows (``chat/log.py``) and documented as a model
(``chat/schemas.py``: ``RoomEvent``); every kind the server writes is exactly what the model
describes: no key it does not name, each of the right type, and nothing lost in a round trip."""

from __future__ import annotations

from typing import Any

from agora.chat.models import EventKind
from agora.chat.schemas import RoomEvent
from tests.chat.conftest import Chatter

ALWAYS = {"room", "seq", "kind", "at", "actor"}
KEYS = {
    "message": ALWAYS | {"message"},
    "edit": ALWAYS | {"message"},
    "delete": ALWAYS | {"message"},
    "reaction": ALWAYS | {"messageId", "emoji"},
    "unreaction": ALWAYS | {"messageId", "emoji"},
    "member_joined": ALWAYS | {"member", "role"},
    "member_left": ALWAYS | {"member"},
    "member_removed": ALWAYS | {"member"},
    "role_changed": ALWAYS | {"member", "role"},
}


async def _every_kind(ann: Chatter, bob: Chatter, cid: Chatter) -> list[dict[str, Any]]:
    room_id = (await ann.create_room("general"))["id"]
    await bob.ok("POST", f"/rooms/{room_id}/join")
    await cid.ok("POST", f"/rooms/{room_id}/join")
    sent = await ann.send(room_id, "hello")
    path = f"/rooms/{room_id}/messages/{sent['message']['id']}"
    await ann.ok("PUT", path, json={"body": "hello, edited"})
    await bob.ok("PUT", f"{path}/reactions/🎉")
    await bob.ok("DELETE", f"{path}/reactions/🎉")
    await ann.ok("DELETE", path)
    kept = await bob.send(room_id, "still here")
    cid_id = await cid.me_id(room_id)
    await ann.ok("PUT", f"/rooms/{room_id}/members/{cid_id}/role", json={"role": "admin"})
    await ann.ok("DELETE", f"/rooms/{room_id}/members/{cid_id}")
    await bob.ok("POST", f"/rooms/{room_id}/leave")
    events: list[dict[str, Any]] = (await ann.events(room_id))["events"]
    assert kept in events
    return events


async def test_every_kind_of_event_is_what_the_model_documents(
    ann: Chatter, bob: Chatter, cid: Chatter
) -> None:
    events = await _every_kind(ann, bob, cid)

    assert {event["kind"] for event in events} == {kind.value for kind in EventKind}
    for event in events:
        assert set(event) == KEYS[event["kind"]], event
        documented = RoomEvent.model_validate(event)
        assert documented.model_dump(mode="json", exclude_unset=True) == event
