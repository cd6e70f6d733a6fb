"""The room's event log, as a property (Hypothesis, stateful), at the level of the services.

For any interleaving of sends (client ids repeated on purpose), edits, deletions, reactions, joins
and leaves by three users, each answered as a small model of the rules says (done, or refused with
the right kind of error), these hold after every step:

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
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
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
        self.model = Model()
        self.user_ids, self.room_id = self.run(self._start())

    async def _announce(self, event: RoomEventCommitted) -> None:
        self.announced.append(event.event)

    def run(self, work: Any) -> Any:
        return self.runner.run(work)

    async def _start(self) -> tuple[list[int], int]:
        await empty_tables(self.db)
        async with self.db.sessions() as session:
            users = [
                User(username=name, email=f"{name}@example.com", password_hash="-")
                for name in USERS
            ]
            session.add_all(users)
            await session.commit()
            ids = [user.id for user in users]
        async with self.units() as uow:
            room = await rooms.create_room(
                uow=uow, owner_id=ids[OWNER], name="general", kind=RoomKind.PUBLIC
            )
        return ids, room.id

    def teardown(self) -> None:
        self.run(self.db.dispose())
        self.runner.close()

    async def _call(self, service: Any, **arguments: Any) -> Any:
        async with self.units() as uow:
            try:
                return await service(uow=uow, room_id=self.room_id, **arguments)
            except DomainError as error:
                return error.kind

    def call(self, service: Any, **arguments: Any) -> Any:
        return self.run(self._call(service, **arguments))

    def expect_event(self, outcome: Any, kind: str) -> dict[str, Any]:
        assert isinstance(outcome, dict), outcome
        self.model.last_seq += 1
        assert outcome["seq"] == self.model.last_seq
        assert outcome["kind"] == kind
        return outcome

    # --- the rules ----------------------------------------------------------------------------

    @rule(user=st.integers(0, 2), client_id=st.sampled_from(CLIENT_IDS), body=BODIES)
    def send(self, user: int, client_id: str, body: str) -> None:
        outcome = self.call(
            messages.send,
            limits=self.limits,
            user_id=self.user_ids[user],
            body=body,
            client_id=client_id,
        )
        if user not in self.model.members:
            assert outcome is ErrorKind.FORBIDDEN
            return
        first = self.model.sent.get((user, client_id))
        if first is not None:
            # the first send's event, as the log holds it now
            assert isinstance(outcome, dict)
            assert (outcome["seq"], outcome["message"]["id"]) == (
                first["seq"],
                first["message"]["id"],
            )
            return
        event = self.expect_event(outcome, "message")
        self.model.sent[(user, client_id)] = event
        self.model.messages[event["message"]["id"]] = ModelMessage(user, body)

    def _message(self, index: int) -> int | None:
        ids = sorted(self.model.messages)
        return ids[index % len(ids)] if ids else None

    @precondition(lambda self: self.model.messages)
    @rule(user=st.integers(0, 2), index=st.integers(0, 20), body=BODIES)
    def edit(self, user: int, index: int, body: str) -> None:
        message_id = self._message(index)
        assert message_id is not None
        outcome = self.call(
            messages.edit,
            limits=self.limits,
            user_id=self.user_ids[user],
            message_id=message_id,
            body=body,
        )
        message = self.model.messages[message_id]
        if user not in self.model.members:
            assert outcome is ErrorKind.FORBIDDEN
        elif message.deleted:
            assert outcome is ErrorKind.NOT_FOUND
        elif message.author != user:
            assert outcome is ErrorKind.FORBIDDEN
        else:
            self.expect_event(outcome, "edit")
            message.body, message.edited = body, True

    @precondition(lambda self: self.model.messages)
    @rule(user=st.integers(0, 2), index=st.integers(0, 20))
    def delete(self, user: int, index: int) -> None:
        message_id = self._message(index)
        assert message_id is not None
        outcome = self.call(
            messages.delete_message, user_id=self.user_ids[user], message_id=message_id
        )
        message = self.model.messages[message_id]
        if user not in self.model.members:
            assert outcome is ErrorKind.FORBIDDEN
        elif message.deleted:
            assert outcome is ErrorKind.NOT_FOUND
        elif message.author != user and user != OWNER:
            assert outcome is ErrorKind.FORBIDDEN
        else:
            self.expect_event(outcome, "delete")
            message.deleted = True

    @precondition(lambda self: self.model.messages)
    @rule(
        user=st.integers(0, 2),
        index=st.integers(0, 20),
        emoji=st.sampled_from(EMOJI),
        add=st.booleans(),
    )
    def react(self, user: int, index: int, emoji: str, add: bool) -> None:
        message_id = self._message(index)
        assert message_id is not None
        service = messages.react if add else messages.unreact
        outcome = self.call(
            service, user_id=self.user_ids[user], message_id=message_id, emoji=emoji
        )
        key = (message_id, self.user_ids[user], emoji)
        if user not in self.model.members:
            assert outcome is ErrorKind.FORBIDDEN
        elif self.model.messages[message_id].deleted:
            assert outcome is ErrorKind.NOT_FOUND
        elif (key in self.model.reactions) == add:
            assert outcome is None  # nothing changed, no event
        else:
            self.expect_event(outcome, "reaction" if add else "unreaction")
            if add:
                self.model.reactions.add(key)
            else:
                self.model.reactions.discard(key)

    @rule(user=st.integers(1, 2))
    def join(self, user: int) -> None:
        outcome = self.call(rooms.join, user_id=self.user_ids[user])
        assert not isinstance(outcome, ErrorKind), outcome
        if user not in self.model.members:
            self.model.members.add(user)
            self.model.last_seq += 1
        assert outcome.last_seq == self.model.last_seq

    @rule(user=st.integers(1, 2))
    def leave(self, user: int) -> None:
        outcome = self.call(rooms.leave, user_id=self.user_ids[user])
        if user not in self.model.members:
            assert outcome is ErrorKind.FORBIDDEN
        else:
            self.expect_event(outcome, "member_left")
            self.model.members.discard(user)

    # --- what must always hold ----------------------------------------------------------------

    async def _log_after(self, after: int) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        async with self.db.autocommit_sessions() as session:
            while True:
                page = await log.events_after(session, self.room_id, after, PAGE)
                events += page
                if len(page) < PAGE:
                    return events
                after = page[-1]["seq"]

    @invariant()
    def the_log_is_whole_and_replays_to_the_tables(self) -> None:
        whole = self.run(self._log_after(0))
        last = self.model.last_seq
        assert [event["seq"] for event in whole] == list(range(1, last + 1))
        # from a few points, each read page by page: the start, the end, and between
        for after in {1, last // 2, last - 1, last}:
            assert self.run(self._log_after(after)) == whole[after:]

        replayed, reactions = replay(whole)
        stored, stored_reactions = self.run(self._tables())
        assert replayed == stored
        assert reactions == stored_reactions
        assert stored == {
            message_id: (None if m.deleted else m.body, m.edited, m.deleted)
            for message_id, m in self.model.messages.items()
        }
        assert stored_reactions == self.model.reactions

        # what was announced after each commit is the log, event for event; only text withheld
        # since (a deleted message's) differs
        assert [event["seq"] for event in self.announced] == list(range(1, last + 1))
        for event, logged in zip(self.announced, whole, strict=True):
            if logged.get("message", {}).get("deleted") and event["kind"] in ("message", "edit"):
                continue
            assert event == logged

    async def _tables(
        self,
    ) -> tuple[dict[int, tuple[str | None, bool, bool]], set[tuple[int, int, str]]]:
        async with self.db.autocommit_sessions() as session:
            rows = await session.execute(
                select(Message.id, Message.body, Message.edited_at, Message.deleted_at).where(
                    Message.room_id == self.room_id
                )
            )
            stored = {
                message_id: (None if deleted else body, edited is not None, deleted is not None)
                for message_id, body, edited, deleted in rows
            }
            reactions = await session.execute(
                select(Reaction.message_id, Reaction.user_id, Reaction.emoji)
            )
            return stored, {(m, u, e) for m, u, e in reactions}


def test_the_event_log_replays_to_the_tables(database_url: str) -> None:
    RoomLog.database_url = database_url
    test = RoomLog.TestCase
    test.settings = settings(
        max_examples=20,
        stateful_step_count=20,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    test().runTest()
