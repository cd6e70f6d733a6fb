"""A replay's events as text (``ChatReads.wire_texts_after``): on PostgreSQL the database writes
each event's JSON itself (``log.after_as_wire_text``), on SQLite Python does from the stored
text; either way it is the JSON history answers for the same events, in order."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
from sqlalchemy import update

from agora.chat.deps import CHAT
from agora.chat.models import ChatEvent
from agora.platform.provided import ProvidingApp
from tests.chat.conftest import Chatter
from tests.support.apps import platform_of


async def test_a_replay_page_is_the_history_of_the_same_events(
    app: ProvidingApp, ann: Chatter, bob: Chatter
) -> None:
    room_id = (await ann.create_room("general"))["id"]
    await bob.ok("POST", f"/rooms/{room_id}/join")
    kept = await ann.send(
        room_id, 'quotes " and \\ a tab\t, a newline\n, and ünïcødé 👍', client_id="kept"
    )
    gone = await bob.send(room_id, "to be deleted")
    path = f"/rooms/{room_id}/messages"
    await ann.ok("PUT", f"{path}/{kept['message']['id']}", json={"body": "edited"})
    await bob.ok("PUT", f"{path}/{gone['message']['id']}", json={"body": "edited, then gone"})
    await bob.ok("PUT", f"{path}/{kept['message']['id']}/reactions/👍")
    await bob.ok("DELETE", f"{path}/{gone['message']['id']}")
    await bob.ok("POST", f"/rooms/{room_id}/leave")
    # an event of no fields of its own, and a time past the last whole millisecond
    async with platform_of(app).db.sessions() as session:
        await session.execute(
            update(ChatEvent)
            .where(ChatEvent.room_id == room_id, ChatEvent.seq == 1)
            .values(data={}, created_at=datetime(2026, 12, 7, 6, 30, 59, 999_600, tzinfo=UTC))
        )
        await session.commit()

    history = (await ann.events(room_id))["events"]
    page = await CHAT.of(app).chat_reads.wire_texts_after(room_id, 0, limit=100)

    assert [(seq, kind) for seq, kind, _ in page] == [(e["seq"], e["kind"]) for e in history]
    assert [orjson.loads(text) for _, _, text in page] == history
    first = orjson.loads(page[0][2])
    assert first == {
        "room": room_id,
        "seq": 1,
        "kind": "member_joined",
        "at": "2026-12-07T06:30:59.999Z",
    }
    deleted = [orjson.loads(text) for _, kind, text in page if kind in ("message", "edit")]
    assert [e["message"].get("deleted", False) for e in deleted] == [False, True, False, True]
    assert [e["message"]["body"] for e in deleted if e["message"].get("deleted")] == [None, None]
    # a later page starts after ``after``
    later = await CHAT.of(app).chat_reads.wire_texts_after(room_id, 5, limit=2)
    assert [seq for seq, _, _ in later] == [6, 7]
