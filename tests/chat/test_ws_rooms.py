"""Rooms over the WebSocket, as users see them: what one member does, the others hear, in order;
calls answer after the commit with the event's sequence number; a reconnect with the last
sequence number gets exactly what was missed; the rules of the chat's services hold on the
socket as they do over REST."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from typing import Any

import pytest
from httpx import AsyncClient

from agora.settings import ChatSettings, Settings
from tests.conftest import auth, register
from tests.support.chat_ws import RpcClient, RpcError, rpc_client, served_app, ws_url
from tests.support.metrics import samples


class Chat:
    """The app on uvicorn, and the REST calls a test needs to set rooms up."""

    def __init__(self, base_url: str, http: AsyncClient) -> None:
        self.base_url = base_url
        self.http = http
        self.tokens: dict[str, str] = {}

    async def user(self, name: str) -> str:
        self.tokens[name] = await register(self.http, name)
        return self.tokens[name]

    async def room(self, owner: str, *members: str, kind: str = "public") -> int:
        created = await self.http.post(
            "/api/chat/rooms",
            json={"name": f"room of {owner}", "kind": kind},
            headers=auth(self.tokens[owner]),
        )
        assert created.status_code == 201, created.text
        room: int = created.json()["id"]
        for member in members:
            joined = await self.http.post(
                f"/api/chat/rooms/{room}/join", headers=auth(self.tokens[member])
            )
            assert joined.status_code == 200, joined.text
        return room

    def connect(self, name: str) -> AbstractAsyncContextManager[RpcClient]:
        token = self.tokens[name]
        return rpc_client(
            ws_url(self.base_url), additional_headers={"Authorization": f"Bearer {token}"}
        )


ChatWith = Callable[..., AbstractAsyncContextManager[Chat]]


@pytest.fixture
def chat_with(make_settings: Callable[..., Settings]) -> ChatWith:
    @asynccontextmanager
    async def serve(**settings: Any) -> AsyncIterator[Chat]:
        async with served_app(make_settings(**settings)) as (base_url, http):
            yield Chat(base_url, http)

    return serve


@pytest.fixture
async def chat(chat_with: ChatWith) -> AsyncIterator[Chat]:
    async with chat_with() as running:
        yield running


def seqs(events: list[dict[str, Any]]) -> list[int]:
    return [event["seq"] for event in events]


async def test_a_message_reaches_every_subscriber_after_its_commit(chat: Chat) -> None:
    await chat.user("ann")
    await chat.user("bob")
    room = await chat.room("ann", "bob")
    async with chat.connect("ann") as ann, chat.connect("bob") as bob:
        subscribed = await bob.call("subscribe", room=room)
        await ann.call("subscribe", room=room)

        sent = await ann.call("send", room=room, body="hello", clientId="m1")
        assert sent["seq"] == subscribed["seq"] + 1
        assert sent["at"].endswith("Z")
        assert sent["message"]["body"] == "hello"

        heard = await bob.notification("message", seq=sent["seq"])
        assert heard["params"] == sent
        assert (await ann.notification("message", seq=sent["seq"]))["params"] == sent


async def test_the_same_client_id_never_makes_a_second_message(chat: Chat) -> None:
    await chat.user("ann")
    room = await chat.room("ann")
    async with chat.connect("ann") as ann:
        first = await ann.call("send", room=room, body="once", clientId="same")
        again = await ann.call("send", room=room, body="once", clientId="same")
    assert again == first
    page = await chat.http.get(f"/api/chat/rooms/{room}/events", headers=auth(chat.tokens["ann"]))
    messages = [event for event in page.json()["events"] if event["kind"] == "message"]
    assert len(messages) == 1


async def test_the_bench_shape_subscribe_room_and_send_body_works(chat: Chat) -> None:
    await chat.user("ann")
    room = await chat.room("ann")
    async with chat.connect("ann") as ann:
        await ann.call("subscribe", room=room)
        sent = await ann.call("send", room=room, body="~#" + "x" * 98)
        note = await ann.notification("message", seq=sent["seq"])
    assert note["params"]["message"]["body"] == "~#" + "x" * 98


async def test_a_reconnect_with_since_gets_exactly_what_was_missed(chat: Chat) -> None:
    await chat.user("ann")
    await chat.user("bob")
    room = await chat.room("ann", "bob")
    async with chat.connect("bob") as bob:
        await bob.call("subscribe", room=room, since=0)
        async with chat.connect("ann") as ann:
            first = await ann.call("send", room=room, body="one", clientId="1")
        seen = await bob.wait_events(room, first["seq"])
    last_seen = seen[-1]["seq"]

    async with chat.connect("ann") as ann:  # bob is away
        for n in range(5):
            await ann.call("send", room=room, body=f"missed {n}", clientId=f"missed-{n}")
        await ann.call("edit", room=room, message=first["message"]["id"], body="one!")

    async with chat.connect("bob") as bob:
        result = await bob.call("subscribe", room=room, since=last_seen)
        assert result["replayed"] == 6
        replayed = bob.events(room)
        assert seqs(replayed) == list(range(last_seen + 1, last_seen + 7))
        assert [event["kind"] for event in replayed] == ["message"] * 5 + ["edit"]

        async with chat.connect("ann") as ann:
            live = await ann.call("send", room=room, body="live", clientId="live")
        events = await bob.wait_events(room, live["seq"])
    assert seqs(events) == list(range(last_seen + 1, live["seq"] + 1))  # no gap, no duplicate


async def test_a_replay_is_the_room_history_exactly(chat: Chat) -> None:
    """A replay sends the stored events as they are; they must read as history does: every
    kind, a deleted message's text withheld, the same fields and values."""
    await chat.user("ann")
    await chat.user("bob")
    room = await chat.room("ann", "bob")
    async with chat.connect("ann") as ann:
        kept = await ann.call("send", room=room, body="kept", clientId="k")
        gone = await ann.call("send", room=room, body="gone", clientId="g")
        await ann.call("edit", room=room, message=kept["message"]["id"], body="kept!")
        await ann.call("react", room=room, message=kept["message"]["id"], emoji="👍")
        last = await ann.call("delete", room=room, message=gone["message"]["id"])

    async with chat.connect("bob") as bob:
        await bob.call("subscribe", room=room, since=0)
        replayed = await bob.wait_events(room, last["seq"])
    page = await chat.http.get(f"/api/chat/rooms/{room}/events", headers=auth(chat.tokens["bob"]))
    assert replayed == page.json()["events"]
    kinds = [event["kind"] for event in replayed]
    assert kinds[-5:] == ["message", "message", "edit", "reaction", "delete"]
    assert replayed[-4]["message"] == {**gone["message"], "body": None, "deleted": True}


async def test_history_over_the_socket_pages_by_sequence(chat: Chat) -> None:
    await chat.user("ann")
    room = await chat.room("ann")
    async with chat.connect("ann") as ann:
        for n in range(5):
            await ann.call("send", room=room, body=f"m{n}", clientId=f"m{n}")
        page = await ann.call("history", room=room, limit=2)
        earlier = await ann.call("history", room=room, before=page["events"][0]["seq"], limit=2)
    assert seqs(page["events"]) == [page["lastSeq"] - 1, page["lastSeq"]]
    assert seqs(earlier["events"]) == [page["lastSeq"] - 3, page["lastSeq"] - 2]


async def test_edits_deletions_and_reactions_reach_the_room(chat: Chat) -> None:
    await chat.user("ann")
    await chat.user("bob")
    room = await chat.room("ann", "bob")
    async with chat.connect("ann") as ann, chat.connect("bob") as bob:
        await bob.call("subscribe", room=room)
        sent = await ann.call("send", room=room, body="draft", clientId="d")
        message = sent["message"]["id"]
        edited = await ann.call("edit", room=room, message=message, body="final")
        reacted = await bob.call("react", room=room, message=message, emoji="👍")
        assert await bob.call("react", room=room, message=message, emoji="👍") is None
        unreacted = await bob.call("unreact", room=room, message=message, emoji="👍")
        deleted = await ann.call("delete", room=room, message=message)
        events = await bob.wait_events(room, deleted["seq"])
    assert [event["kind"] for event in events] == [
        "message",
        "edit",
        "reaction",
        "unreaction",
        "delete",
    ]
    assert seqs(events) == [
        sent["seq"],
        edited["seq"],
        reacted["seq"],
        unreacted["seq"],
        deleted["seq"],
    ]
    assert events[-1]["message"]["deleted"] is True


async def test_the_chats_rules_hold_on_the_socket(chat_with: ChatWith) -> None:
    async with chat_with(
        rate_limits_enabled=True, chat=ChatSettings(send_rate="3/minute", max_message_chars=10)
    ) as chat:
        await chat.user("ann")
        await chat.user("bob")
        await chat.user("eve")
        room = await chat.room("ann", "bob")
        async with (
            chat.connect("ann") as ann,
            chat.connect("eve") as eve,
            chat.connect("bob") as bob,
        ):
            with pytest.raises(RpcError) as outsider:
                await eve.call("send", room=room, body="hi", clientId="e")
            assert outsider.value.code == 403
            with pytest.raises(RpcError) as peeking:
                await eve.call("subscribe", room=room)
            assert peeking.value.code == 403
            with pytest.raises(RpcError) as missing:
                await ann.call("subscribe", room=room + 1000)
            assert missing.value.code == 404

            sent = await ann.call("send", room=room, body="mine", clientId="a")
            with pytest.raises(RpcError) as not_yours:
                await bob.call("edit", room=room, message=sent["message"]["id"], body="theirs")
            assert not_yours.value.code == 403

            with pytest.raises(RpcError) as too_long:
                await bob.call("send", room=room, body="x" * 11, clientId="long")
            assert too_long.value.code == -32602

            await ann.call("send", room=room, body="two", clientId="b")
            await ann.call("send", room=room, body="three", clientId="c")
            with pytest.raises(RpcError) as flood:
                await ann.call("send", room=room, body="four", clientId="d")
            assert flood.value.code == 429
            assert flood.value.error["data"]["retryAfter"] > 0
            assert (await ann.call("ping"))["pong"] is True  # still usable


async def test_typing_and_read_receipts_are_heard_by_the_others(chat: Chat) -> None:
    await chat.user("ann")
    await chat.user("bob")
    room = await chat.room("ann", "bob")
    async with chat.connect("ann") as ann, chat.connect("bob") as bob:
        await ann.call("subscribe", room=room)
        await bob.call("subscribe", room=room)
        await bob.call("typing", room=room)
        await bob.call("typing", room=room)  # a key held down: not heard twice in a second
        typing = await ann.notification("typing", room=room)

        sent = await ann.call("send", room=room, body="read me", clientId="r")
        mark = await bob.call("mark_read", room=room, seq=sent["seq"])
        assert mark == {"room": room, "lastReadSeq": sent["seq"], "unread": 0}
        receipt = await ann.notification("read", room=room)
        unread = await bob.notification("unread", room=room)
    assert typing["params"]["user"] == receipt["params"]["user"]
    assert receipt["params"]["seq"] == sent["seq"]
    assert unread["params"]["unread"] == 0
    assert not any(note["method"] == "typing" for note in bob.notifications)  # not to the typist
    # a second typing would have come before the read receipt, published later on its channel
    assert [note["method"] for note in ann.notifications].count("typing") == 1


async def test_presence_online_and_offline_reach_the_rooms_members(chat: Chat) -> None:
    await chat.user("ann")
    await chat.user("bob")
    room = await chat.room("ann", "bob")
    async with chat.connect("ann") as ann:
        await ann.call("subscribe", room=room)
        alone = await ann.call("online", room=room)
        async with chat.connect("bob"):
            online = await ann.notification("presence", status="online")
            both = await ann.call("online", room=room)
        offline = await ann.notification("presence", status="offline")
        after = await ann.call("online", room=room)
    bob = online["params"]["user"]
    assert offline["params"]["user"] == bob
    assert bob not in alone["online"]
    assert bob in both["online"]
    assert len(both["online"]) == 2
    assert after["online"] == alone["online"]


async def test_users_who_come_online_together_are_each_announced_once(chat: Chat) -> None:
    """A node's clients reconnecting at once: their presence is told in rounds (one read of
    their rooms for all); each still reaches the room, once."""
    others = ["bob", "cat", "dan", "eve", "fay"]
    for name in ["ann", *others]:
        await chat.user(name)
    room = await chat.room("ann", *others)
    members = (
        await chat.http.get(f"/api/chat/rooms/{room}", headers=auth(chat.tokens["ann"]))
    ).json()["members"]
    ids = [member["id"] for member in members if member["username"] in others]
    async with chat.connect("ann") as ann, AsyncExitStack() as stack:
        await ann.call("subscribe", room=room)
        await asyncio.gather(*(stack.enter_async_context(chat.connect(name)) for name in others))
        online = [await ann.notification("presence", user=user) for user in ids]
        announced = [
            note["params"]["user"]
            for note in ann.notifications
            if note["method"] == "presence" and note["params"]["status"] == "online"
        ]
    assert all(note["params"]["status"] == "online" for note in online)
    assert sorted(announced) == sorted(set(announced))  # each once
    assert len(announced) == len(others)


async def test_a_removed_member_hears_it_and_nothing_after(chat: Chat) -> None:
    await chat.user("ann")
    await chat.user("bob")
    room = await chat.room("ann", "bob")
    async with chat.connect("ann") as ann, chat.connect("bob") as bob:
        await bob.call("subscribe", room=room)
        await ann.call("subscribe", room=room)
        detail = await chat.http.get(f"/api/chat/rooms/{room}", headers=auth(chat.tokens["ann"]))
        member = next(m for m in detail.json()["members"] if m["username"] == "bob")
        removed = await chat.http.delete(
            f"/api/chat/rooms/{room}/members/{member['id']}", headers=auth(chat.tokens["ann"])
        )
        assert removed.status_code == 200, removed.text
        seq = removed.json()["event"]["seq"]
        await bob.notification("member_removed", seq=seq)
        after = await ann.call("send", room=room, body="after", clientId="after")
        await ann.notification("message", seq=after["seq"])
        assert (await bob.call("ping"))["pong"] is True
        assert max(seqs(bob.events(room))) == seq
        with pytest.raises(RpcError) as gone:
            await bob.call("typing", room=room)
        assert gone.value.code == 403


async def test_metrics_count_connections_calls_frames_and_fanout(chat: Chat) -> None:
    await chat.user("ann")
    room = await chat.room("ann")
    async with chat.connect("ann") as ann:
        await ann.call("subscribe", room=room)
        sent = await ann.call("send", room=room, body="counted", clientId="m")
        await ann.notification("message", seq=sent["seq"])
        figures = samples((await chat.http.get("/metrics")).text)
    assert figures[("agora_chat_connections", frozenset())] == 1
    ok_send = frozenset({"method": "send", "outcome": "ok"}.items())
    assert figures[("agora_chat_calls_total", ok_send)] == 1
    assert figures[("agora_chat_frames_sent_total", frozenset())] >= 3  # 2 answers, 1 event
    assert figures[("agora_chat_fanout_seconds_count", frozenset())] >= 1
    assert figures[("agora_fanout_published_total", frozenset())] >= 1
