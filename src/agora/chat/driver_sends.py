"""A batch of sends on PostgreSQL in two statements, run by the driver (``DriverTransactions``):
the same rules and outcomes as ``sends.write_sends`` (which SQLite runs), a fraction of its cost.

``write_sends`` takes six statements a batch through an ORM session; the node's CPU for a batch
was mostly SQLAlchemy around them. Here:

1. ``BEGIN`` and the rooms' locks, in id order, in one round trip (``FOR UPDATE``: every other
   writer of these rooms waits for our commit, so numbers are handed out in commit order).
2. One statement, whose snapshot is taken after the locks (it sees a removal, a block or a first
   message committed while we waited): for each send, whether its room exists, whether the
   sender is a member, the message already sent with this client id, whether a block forbids
   it; then the accepted sends' numbers (each room's next ones, in batch order: only the
   accepted sends take one, so nothing is handed back), the rooms' ``last_seq`` moved on, the
   messages and their events written. The event's stored JSON is the one ``write_sends``
   stores: Python writes the message's members, the database puts the id it gave the message
   and the sender's name in front.
3. ``COMMIT``.

Then the batch's events are announced together (``EventHandlers.publish_all``: the gateway's
handler publishes them in one pipelined round trip). A retry of a message committed before
(found in step 2) is answered with that message's event, read after the commit.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence

import orjson

from agora.chat import log
from agora.chat.events import RoomEventCommitted
from agora.chat.models import EventKind, RoomKind
from agora.chat.sends import (
    Outcome,
    Send,
    blocked_between,
    deduplicated,
    message_data,
    no_such_room,
    not_a_member,
)
from agora.platform.db import SessionFactory, utcnow
from agora.platform.driver_writes import DriverTransactions
from agora.platform.events import EventHandlers

_MESSAGE = EventKind.MESSAGE.value

# $1 rooms, $2 senders, $3 client ids, $4 bodies, $5 the message's JSON members after its id (a
# text each, in the batch's order), $6 the time. One row per send, in order.
_WRITE = f"""
WITH sent AS (
    SELECT * FROM unnest($1::int[], $2::int[], $3::text[], $4::text[], $5::text[])
        WITH ORDINALITY AS s(room_id, user_id, client_id, body, members, item)
), checked AS (
    SELECT s.*, r.last_seq, u.username,
        r.id IS NULL AS missing,
        m.user_id IS NULL AS outsider,
        (SELECT f.seq FROM chat_messages f
            WHERE f.room_id = s.room_id AND f.author_id = s.user_id
                AND f.client_id = s.client_id) AS first_seq,
        coalesce(r.kind = '{RoomKind.DIRECT.value}' AND EXISTS (
            SELECT FROM chat_members p JOIN chat_blocks b
                ON (b.blocker_id = s.user_id AND b.blocked_id = p.user_id)
                OR (b.blocker_id = p.user_id AND b.blocked_id = s.user_id)
            WHERE p.room_id = s.room_id AND p.user_id <> s.user_id
        ), false) AS blocked
    FROM sent s
    LEFT JOIN chat_rooms r ON r.id = s.room_id
    LEFT JOIN chat_members m ON m.room_id = s.room_id AND m.user_id = s.user_id
    LEFT JOIN users u ON u.id = m.user_id
), accepted AS (
    SELECT item, room_id, user_id, client_id, body, members, username,
        last_seq + row_number() OVER (PARTITION BY room_id ORDER BY item) AS seq
    FROM checked
    WHERE NOT missing AND NOT outsider AND first_seq IS NULL AND NOT blocked
), moved AS (
    UPDATE chat_rooms r SET last_seq = a.last
    FROM (SELECT room_id, max(seq) AS last FROM accepted GROUP BY room_id) a
    WHERE r.id = a.room_id
), written AS (
    INSERT INTO chat_messages (room_id, seq, author_id, body, client_id, created_at)
    SELECT room_id, seq, user_id, body, client_id, $6 FROM accepted ORDER BY item
    RETURNING id, room_id, seq
), logged AS (
    INSERT INTO chat_events (room_id, seq, kind, actor_id, message_id, data, created_at)
    SELECT w.room_id, w.seq, '{_MESSAGE}', a.user_id, w.id,
        ('{{"actor": {{"id": ' || a.user_id || ', "username": ' || to_json(a.username)::text
            || '}}, "message": {{"id": ' || w.id || ', ' || a.members)::json,
        $6
    FROM written w JOIN accepted a ON a.room_id = w.room_id AND a.seq = w.seq
)
SELECT c.missing, c.outsider, c.first_seq, c.blocked, c.username, w.id, w.seq
FROM checked c
LEFT JOIN accepted a ON a.item = c.item
LEFT JOIN written w ON w.room_id = a.room_id AND w.seq = a.seq
ORDER BY c.item
"""  # noqa: S608 (no value in it: the kinds are this module's constants)


def _lock(rooms: Iterable[int]) -> str:
    """The rooms' row locks, in id order (two batches never deadlock); integers only, so the
    text can go with ``BEGIN`` in one round trip."""
    ids = ", ".join(str(int(room)) for room in sorted(rooms))
    return f"SELECT FROM chat_rooms WHERE id IN ({ids}) ORDER BY id FOR UPDATE"


def _members_after_id(send: Send) -> str:
    """The stored message's members after its id, as ``json.dumps`` (SQLAlchemy's serializer of
    the column) writes them, closing both objects."""
    message = {"body": send.body, "clientId": send.client_id, "editedAt": None, "deleted": False}
    return json.dumps(message)[1:] + "}"


class DriverSends:
    """Writes a batch of sends on PostgreSQL (``write``), commits it and announces its events."""

    def __init__(
        self,
        transactions: DriverTransactions,
        *,
        sessions: SessionFactory,
        events: EventHandlers,
    ) -> None:
        self._transactions = transactions
        self._sessions = sessions  # for a retry's first event, read after the commit
        self._events = events

    async def write(self, sends: Sequence[Send]) -> list[Outcome]:
        """Each send's event (a retry's is the first send's), or the domain error that refused
        it; raises only what the database raised, with nothing written."""
        repeats, first_sends = deduplicated(sends)
        unique = list(first_sends.values())
        now = utcnow()
        async with self._transactions.begin(_lock({send.room_id for send in unique})) as driver:
            rows = await driver.fetch(
                _WRITE,
                [send.room_id for send in unique],
                [send.user_id for send in unique],
                [send.client_id for send in unique],
                [send.body for send in unique],
                [_members_after_id(send) for send in unique],
                now,
            )
        outcomes: list[Outcome | None] = []
        committed: list[RoomEventCommitted] = []
        retries: list[tuple[int, int, int]] = []  # (place, room, the first message's seq)
        for send, (missing, outsider, first_seq, blocked, username, message_id, seq) in zip(
            unique, rows, strict=True
        ):
            if missing:
                outcomes.append(no_such_room())
            elif outsider:
                outcomes.append(not_a_member())
            elif first_seq is not None:
                retries.append((len(outcomes), send.room_id, first_seq))
                outcomes.append(None)
            elif blocked:
                outcomes.append(blocked_between())
            else:
                data = message_data(send, username, message_id)
                event = log.wire(send.room_id, seq, _MESSAGE, now, data)
                committed.append(
                    RoomEventCommitted(
                        room_id=send.room_id,
                        seq=seq,
                        kind=_MESSAGE,
                        event=event,
                        json=orjson.dumps(event),
                    )
                )
                outcomes.append(event)
        if committed:
            await self._events.publish_all(committed)
        if retries:
            async with self._sessions() as session:
                for place, room_id, seq in retries:
                    outcomes[place] = await log.event_at(session, room_id, seq)
        done = [outcome for outcome in outcomes if outcome is not None]
        assert len(done) == len(unique)
        by_first = dict(zip(first_sends, done, strict=True))
        return [by_first[first] for first in repeats]
