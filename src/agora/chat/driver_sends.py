"""A batch of sends on PostgreSQL in one statement, run by the driver (``DriverTransactions``):
the same rules and outcomes as ``sends.write_sends`` (which SQLite runs), a fraction of its cost.

``write_sends`` takes six statements a batch through an ORM session; the node's CPU for a batch
was mostly SQLAlchemy around them. Here the batch is one call, in autocommit, of the database's
``chat_write_sends`` (migration 0012), which

1. takes the rooms' locks, in id order (``FOR UPDATE``: every other writer of these rooms waits
   for our commit, so numbers are handed out in commit order; two batches never deadlock);
2. then, in a statement whose snapshot is taken after the locks (it sees a removal, a block or a
   first message committed while we waited), finds for each send whether its room exists,
   whether the sender is a member, the message already sent with this client id, whether a
   block forbids it; gives the accepted sends their numbers (each room's next ones, in batch
   order: only the accepted sends take one, so nothing is handed back), moves the rooms'
   ``last_seq`` on, writes the messages and their events. The event's stored JSON is the one
   ``write_sends`` stores: Python writes the message's members, the database puts the id it
   gave the message and the sender's name in front.

It was ``BEGIN`` with the locks, the statement and ``COMMIT``, three round trips (a profile at
12,000 deliveries/s had them at 10 % of the nodes' samples, and they were three statements a
batch for PostgreSQL).

Then the batch's events are announced together (``EventHandlers.publish_all``: the gateway's
handler publishes them in one pipelined round trip). A retry of a message committed before
(found in step 2) is answered with that message's event, read after the commit.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import orjson

from agora.chat import log
from agora.chat.events import RoomEventCommitted
from agora.chat.models import EventKind
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

# the batch as one statement in autocommit: migration 0012's function (its arguments: the sends'
# rooms, senders, client ids, bodies, the message's JSON members after its id, the time); one
# row per send, in order
_WRITE = "SELECT * FROM chat_write_sends($1, $2, $3, $4, $5, $6)"


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
        rows = await self._transactions.call(
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
