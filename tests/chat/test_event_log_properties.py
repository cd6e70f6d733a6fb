"""The room's event log, as a property (Hypothesis, stateful), at the level of the services.

For any interleaving of sends (client ids repeated on purpose), edits, deletions, reactions, joins
and leaves by three users in two rooms, each answered as a small model of the rules says (done,
or refused with the right kind of error), these hold for each room after every step:

- reading the log after any point gives exactly the events after it, in order, with no gap and no
  duplicate, page by page;
- replaying the log from the start reproduces what the tables hold: every message's text,
  edited and deleted state, and every reaction;
- what was announced after commits is the log itself, event for event.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule
from sqlalchemy import select

from agora.chat import log, messages, rooms
from agora.chat.events import RoomEventCommitted
from agora.chat.messages import SendLimits
from agora.chat.models import Message, Reaction, RoomKind
from agora.identity.models import User
from agora.platform.db import Database
from agora.platform.errors import DomainError, ErrorKind
from agora.platform.events import EventHandlers
from agora.platform.ratelimit import create_rate_limiter
from agora.platform.uow import UnitsOfWork
from agora.settings import ChatSettings
from tests.support.database import empty_tables

USERS = ("ann", "bob", "cid")
OWNER = 0
CLIENT_IDS = ("a", "b", "c")
EMOJI = ("👍", "🎉")
BODIES = st.text(alphabet="xyz %_", min_size=1, max_size=8).filter(str.strip)
PAGE = 3  # small pages, so reading the log crosses page boundaries
ROOMS = st.integers(0, 1)
ANYONE = st.integers(0, 2)  # an index into USERS


@dataclass
class ModelMessage:
    author: int
    body: str
    edited: bool = False
    deleted: bool = False


@dataclass
class Model:
    """What the rules say the room holds, kept beside the database."""

    members: set[int] = field(default_factory=lambda: {OWNER})
    messages: dict[int, ModelMessage] = field(default_factory=dict)
    # (user, client id) -> the event the first send made
    sent: dict[tuple[int, str], dict[str, Any]] = field(default_factory=dict)
    reactions: set[tuple[int, int, str]] = field(default_factory=set)
    last_seq: int = 1


def replay(
    events: list[dict[str, Any]],
) -> tuple[dict[int, tuple[str | None, bool, bool]], set[tuple[int, int, str]]]:
    """The messages (id -> body, edited, deleted) and reactions the events lead to."""
    state: dict[int, tuple[str | None, bool, bool]] = {}
    reactions: set[tuple[int, int, str]] = set()
    for event in events:
        kind = event["kind"]
        if kind in ("message", "edit", "delete"):
            message = event["message"]
            state[message["id"]] = (
                message["body"],
                message["editedAt"] is not None,
                message["deleted"],
            )
        elif kind == "reaction":
            reactions.add((event["messageId"], event["actor"]["id"], event["emoji"]))
        elif kind == "unreaction":
            reactions.discard((event["messageId"], event["actor"]["id"], event["emoji"]))
    return state, reactions


class RoomLog(RuleBasedStateMachine):
    database_url: str  # set by the test

    def __init__(self) -> None:
        super().__init__()
        self.runner = asyncio.Runner()
        self.db = Database(self.database_url)
        self.announced: list[dict[str, Any]] = []
        events = EventHandlers()
        events.on(RoomEventCommitted, self._announce)
        self.units = UnitsOfWork(self.db.sessions, events=events)
        self.limits = SendLimits.of(create_rate_limiter(None, enabled=False), ChatSettings())
        self.models = [Model(), Model()]
        self.user_ids, self.room_ids = self.run(self._start())

    async def _announce(self, event: RoomEventCommitted) -> None:
        self.announced.append(event.event)  # every room's, in the order of the commits

    def run(self, work: Any) -> Any:
        return self.runner.run(work)

    async def _start(self) -> tuple[list[int], list[int]]:
        await empty_tables(self.db)
        async with self.db.sessions() as session:
            users = [
                User(username=name, email=f"{name}@example.com", password_hash="-")
                for name in USERS
            ]
            session.add_all(users)
            await session.commit()
            ids = [user.id for user in users]
        room_ids = []
        for name in ("general", "random"):
            async with self.units() as uow:
                room = await rooms.create_room(
                    uow=uow, owner_id=ids[OWNER], name=name, kind=RoomKind.PUBLIC
                )
            room_ids.append(room.id)
        # everyone is in the first room from the start, so that most steps there succeed
        for user in (1, 2):
            async with self.units() as uow:
                await rooms.join(uow=uow, user_id=ids[user], room_id=room_ids[0])
            self.models[0].members.add(user)
            self.models[0].last_seq += 1
        return ids, room_ids

    def teardown(self) -> None:
        self.run(self.db.dispose())
        self.runner.close()

    async def _call(self, room: int, service: Any, **arguments: Any) -> Any:
        async with self.units() as uow:
            try:
                return await service(uow=uow, room_id=self.room_ids[room], **arguments)
            except DomainError as error:
                return error.kind

    def call(self, room: int, service: Any, **arguments: Any) -> Any:
        return self.run(self._call(room, service, **arguments))

    def expect_event(self, room: int, outcome: Any, kind: str) -> dict[str, Any]:
        assert isinstance(outcome, dict), outcome
        model = self.models[room]
        model.last_seq += 1
        assert (outcome["room"], outcome["seq"]) == (self.room_ids[room], model.last_seq)
        assert outcome["kind"] == kind
        return outcome

    # --- the rules ----------------------------------------------------------------------------

    @rule(room=ROOMS, user=ANYONE, client_id=st.sampled_from(CLIENT_IDS), body=BODIES)
    def send(self, room: int, user: int, client_id: str, body: str) -> None:
        outcome = self.call(
            room,
            messages.send,
            limits=self.limits,
            user_id=self.user_ids[user],
            body=body,
            client_id=client_id,
        )
        model = self.models[room]
        if user not in model.members:
            assert outcome is ErrorKind.FORBIDDEN
            return
        first = model.sent.get((user, client_id))
        if first is not None:
            # the first send's event, as the log holds it now
            assert isinstance(outcome, dict)
            assert (outcome["seq"], outcome["message"]["id"]) == (
                first["seq"],
                first["message"]["id"],
            )
            return
        event = self.expect_event(room, outcome, "message")
        model.sent[(user, client_id)] = event
        model.messages[event["message"]["id"]] = ModelMessage(user, body)

    def _message(self, room: int, index: int, user: int, own: bool) -> int | None:
        """One of the room's messages; ``own``: one of ``user``'s, if they wrote any."""
        messages = self.models[room].messages
        ids = sorted(messages)
        if own and any(messages[i].author == user for i in ids):
            ids = [i for i in ids if messages[i].author == user]
        return ids[index % len(ids)] if ids else None

    @rule(room=ROOMS, user=ANYONE, index=st.integers(0, 20), own=st.booleans(), body=BODIES)
    def edit(self, room: int, user: int, index: int, own: bool, body: str) -> None:
        message_id = self._message(room, index, user, own)
        if message_id is None:
            return
        outcome = self.call(
            room,
            messages.edit,
            limits=self.limits,
            user_id=self.user_ids[user],
            message_id=message_id,
            body=body,
        )
        model = self.models[room]
        message = model.messages[message_id]
        if user not in model.members:
            assert outcome is ErrorKind.FORBIDDEN
        elif message.deleted:
            assert outcome is ErrorKind.NOT_FOUND
        elif message.author != user:
            assert outcome is ErrorKind.FORBIDDEN
        else:
            self.expect_event(room, outcome, "edit")
            message.body, message.edited = body, True

    @rule(room=ROOMS, user=ANYONE, index=st.integers(0, 20), own=st.booleans())
    def delete(self, room: int, user: int, index: int, own: bool) -> None:
        message_id = self._message(room, index, user, own)
        if message_id is None:
            return
        outcome = self.call(
            room, messages.delete_message, user_id=self.user_ids[user], message_id=message_id
        )
        model = self.models[room]
        message = model.messages[message_id]
        if user not in model.members:
            assert outcome is ErrorKind.FORBIDDEN
        elif message.deleted:
            assert outcome is ErrorKind.NOT_FOUND
        elif message.author != user and user != OWNER:
            assert outcome is ErrorKind.FORBIDDEN
        else:
            self.expect_event(room, outcome, "delete")
            message.deleted = True

    @rule(
        room=ROOMS,
        user=ANYONE,
        index=st.integers(0, 20),
        emoji=st.sampled_from(EMOJI),
        add=st.booleans(),
    )
    def react(self, room: int, user: int, index: int, emoji: str, add: bool) -> None:
        message_id = self._message(room, index, user, own=False)
        if message_id is None:
            return
        service = messages.react if add else messages.unreact
        outcome = self.call(
            room, service, user_id=self.user_ids[user], message_id=message_id, emoji=emoji
        )
        model = self.models[room]
        key = (message_id, self.user_ids[user], emoji)
        if user not in model.members:
            assert outcome is ErrorKind.FORBIDDEN
        elif model.messages[message_id].deleted:
            assert outcome is ErrorKind.NOT_FOUND
        elif (key in model.reactions) == add:
            assert outcome is None  # nothing changed, no event
        else:
            self.expect_event(room, outcome, "reaction" if add else "unreaction")
            if add:
                model.reactions.add(key)
            else:
                model.reactions.discard(key)

    @rule(room=ROOMS, user=st.integers(1, 2))
    def join(self, room: int, user: int) -> None:
        outcome = self.call(room, rooms.join, user_id=self.user_ids[user])
        assert not isinstance(outcome, ErrorKind), outcome
        model = self.models[room]
        if user not in model.members:
            model.members.add(user)
            model.last_seq += 1
        assert outcome.last_seq == model.last_seq

    @rule(room=ROOMS, user=st.integers(1, 2))
    def leave(self, room: int, user: int) -> None:
        outcome = self.call(room, rooms.leave, user_id=self.user_ids[user])
        model = self.models[room]
        if user not in model.members:
            assert outcome is ErrorKind.FORBIDDEN
        else:
            self.expect_event(room, outcome, "member_left")
            model.members.discard(user)

    # --- what must always hold ----------------------------------------------------------------

    async def _log_after(self, room_id: int, after: int) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        async with self.db.autocommit_sessions() as session:
            while True:
                page = await log.events_after(session, room_id, after, PAGE)
                events += page
                if len(page) < PAGE:
                    return events
                after = page[-1]["seq"]

    @invariant()
    def each_log_is_whole_and_replays_to_the_tables(self) -> None:
        for room_id, model in zip(self.room_ids, self.models, strict=True):
            self._check_room(room_id, model)

    def _check_room(self, room_id: int, model: Model) -> None:
        whole = self.run(self._log_after(room_id, 0))
        last = model.last_seq
        assert [event["seq"] for event in whole] == list(range(1, last + 1))
        assert {event["room"] for event in whole} == {room_id}
        # from a few points, each read page by page: the start, the end, and between
        for after in {1, last // 2, last - 1, last}:
            assert self.run(self._log_after(room_id, after)) == whole[after:]

        replayed, reactions = replay(whole)
        stored, stored_reactions = self.run(self._tables(room_id))
        assert replayed == stored
        assert reactions == stored_reactions
        assert stored == {
            message_id: (None if m.deleted else m.body, m.edited, m.deleted)
            for message_id, m in model.messages.items()
        }
        assert stored_reactions == model.reactions

        # what was announced after each commit is the log, event for event; only text withheld
        # since (a deleted message's) differs
        announced = [event for event in self.announced if event["room"] == room_id]
        assert [event["seq"] for event in announced] == list(range(1, last + 1))
        for event, logged in zip(announced, whole, strict=True):
            if logged.get("message", {}).get("deleted") and event["kind"] in ("message", "edit"):
                continue
            assert event == logged

    async def _tables(
        self, room_id: int
    ) -> tuple[dict[int, tuple[str | None, bool, bool]], set[tuple[int, int, str]]]:
        async with self.db.autocommit_sessions() as session:
            rows = await session.execute(
                select(Message.id, Message.body, Message.edited_at, Message.deleted_at).where(
                    Message.room_id == room_id
                )
            )
            found = rows.all()
            # a deleted message keeps its row, not its text
            assert all(body == "" for _, body, _, deleted in found if deleted is not None)
            stored = {
                message_id: (None if deleted else body, edited is not None, deleted is not None)
                for message_id, body, edited, deleted in found
            }
            reactions = await session.execute(
                select(Reaction.message_id, Reaction.user_id, Reaction.emoji)
                .join(Message, Message.id == Reaction.message_id)
                .where(Message.room_id == room_id)
            )
            return stored, {(m, u, e) for m, u, e in reactions}


def test_the_event_log_replays_to_the_tables(database_url: str) -> None:
    RoomLog.database_url = database_url
    test = RoomLog.TestCase
    test.settings = settings(
        max_examples=15,
        stateful_step_count=25,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    test().runTest()
