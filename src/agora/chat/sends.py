"""Sending messages: many sends written in one transaction (group commit), each with its own
outcome.

A send is the chat's hottest write: the room's next number, the message, its event. Written one
transaction each, that is six round trips to the database per message, and under load the
nodes spend most of their time on them. ``write_sends`` writes a whole batch with the same six
(``send_queue.py`` gathers the batches), and a batch of one is the plain case, so there is one
way to send:

1. **Reserve and lock.** One ``UPDATE`` moves each room's ``last_seq`` on by its sends and
   returns the new value. The rooms are locked in id order first (``FOR UPDATE`` on PostgreSQL;
   SQLite has one writer anyway), so two batches never deadlock, and every other writer of these
   rooms (``log.next_seq``) waits for our commit: the numbers are handed out in commit order.
2. **Check**, in one ``SELECT`` taken after the locks (so it sees a removal committed while we
   waited): for each send, whether the sender is a member, their name, the message they already
   sent with this client id, and in a direct conversation whether either blocked the other.
3. Numbers reserved for sends that were refused or are retries are handed back (the room is
   still ours), so the log stays 1, 2, 3 … with no gap.
4. The messages in one ``INSERT``, their events in another; the events are announced after the
   commit.

**Idempotent sends.** The same (room, sender, client id) again returns the first message's event
and makes no second message: found in step 2 when the first is committed, and when both are in
one batch the later one is answered with the earlier one's outcome. Sends to one room are
serialized by its lock, so two batches never both miss the first; the unique constraint on
(room, author, client id) is the last word.

Rules: only members write to a room; in a direct conversation nobody sends while either has
blocked the other. The length and the rate limit are checked before a send joins a batch
(``messages.SendLimits``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Integer,
    Select,
    and_,
    bindparam,
    case,
    exists,
    insert,
    literal,
    or_,
    select,
    union_all,
    update,
)
from sqlalchemy.orm import aliased

from agora.chat import log
from agora.chat.models import Block, EventKind, Member, Message, Room, RoomKind
from agora.chat.schemas import WireEvent
from agora.identity.models import User
from agora.platform.db import utcnow
from agora.platform.errors import DomainError, Forbidden, NotFound
from agora.platform.uow import UnitOfWork

_ROOMS = Room.metadata.tables[Room.__tablename__]
_MESSAGES = Message.metadata.tables[Message.__tablename__]


@dataclass(frozen=True, slots=True)
class Send:
    """One message to write: ``client_id`` names it for retries."""

    user_id: int
    room_id: int
    body: str
    client_id: str

    @property
    def key(self) -> tuple[int, int, str]:
        return self.room_id, self.user_id, self.client_id


Outcome = WireEvent | DomainError


def _reserve(counts: Counter[int]) -> Any:
    """Locks the rooms in id order and moves each one's ``last_seq`` on by its count."""
    locked = (
        select(_ROOMS.c.id)
        .where(_ROOMS.c.id.in_(sorted(counts)))
        .order_by(_ROOMS.c.id)
        .with_for_update()
    )
    added = case(counts, value=_ROOMS.c.id, else_=0)
    return (
        update(_ROOMS)
        .where(_ROOMS.c.id.in_(locked))
        .values(last_seq=_ROOMS.c.last_seq + added)
        .returning(_ROOMS.c.id, _ROOMS.c.last_seq, _ROOMS.c.kind)
    )


def _sender(index: int, send: Send) -> Select[Any]:
    """Send ``index``'s row: the sender's name, the seq of their message with this client id
    (None: a new one), and whether a block forbids it. No row: not a member."""
    first = (
        select(Message.seq)
        .where(
            Message.room_id == send.room_id,
            Message.author_id == send.user_id,
            Message.client_id == send.client_id,
        )
        .scalar_subquery()
    )
    peer = aliased(Member)
    blocked: ColumnElement[bool] = and_(
        Room.kind == RoomKind.DIRECT.value,
        exists().where(
            peer.room_id == send.room_id,
            peer.user_id != send.user_id,
            or_(
                (Block.blocker_id == send.user_id) & (Block.blocked_id == peer.user_id),
                (Block.blocker_id == peer.user_id) & (Block.blocked_id == send.user_id),
            ),
        ),
    )
    return (
        select(literal(index).label("item"), User.username, first.label("first"), blocked)
        .select_from(Member)
        .join(User, User.id == Member.user_id)
        .join(Room, Room.id == Member.room_id)
        .where(Member.room_id == send.room_id, Member.user_id == send.user_id)
    )


def _senders(sends: dict[int, Send]) -> Select[Any] | CompoundSelect[Any]:
    selects = [_sender(index, send) for index, send in sends.items()]
    return selects[0] if len(selects) == 1 else union_all(*selects)


async def write_sends(uow: UnitOfWork, sends: Sequence[Send]) -> list[Outcome]:
    """Writes ``sends`` in ``uow``'s transaction and commits it: each one's event (a retry's is
    the first send's), or the domain error that refused it. Raises only what the database
    raised, with nothing written."""
    outcomes: dict[int, Outcome] = {}
    # the same message twice in this batch: the later one takes the first one's outcome
    first_of: dict[tuple[int, int, str], int] = {}
    repeats: dict[int, int] = {}
    for index, send in enumerate(sends):
        repeats[index] = first_of.setdefault(send.key, index)
    unique = {index: sends[index] for index in first_of.values()}

    session = uow.session
    counts = Counter(send.room_id for send in unique.values())
    reserved = {row.id: row.last_seq for row in await session.execute(_reserve(counts))}
    for index, send in unique.items():
        if send.room_id not in reserved:
            outcomes[index] = NotFound("not found", field="room")
    checked = {index: send for index, send in unique.items() if index not in outcomes}
    rows = {row.item: row for row in await session.execute(_senders(checked))} if checked else {}

    accepted: list[tuple[int, str]] = []  # (index, sender's name), in batch order
    replays: dict[int, int] = {}  # index -> the first message's seq
    for index in checked:
        row = rows.get(index)
        if row is None:
            outcomes[index] = Forbidden("is not one of your rooms", field="room")
        elif row.first is not None:
            replays[index] = row.first
        elif row[3]:  # blocked
            outcomes[index] = Forbidden("is blocked: one of you blocked the other", field="room")
        else:
            accepted.append((index, row.username))

    # numbers from the first reserved one on, for the accepted sends in batch order; the rest
    # of each room's reservation goes back
    next_seq = {room: reserved[room] - n + 1 for room, n in counts.items() if room in reserved}
    seqs: dict[int, int] = {}
    for index, _ in accepted:
        room = unique[index].room_id
        seqs[index] = next_seq[room]
        next_seq[room] += 1
    for index, seq in replays.items():
        outcomes[index] = await log.event_at(session, unique[index].room_id, seq)
    if not accepted:
        await uow.rollback()  # nothing to write: the reservations go back with it
        return [outcomes[repeats[index]] for index in range(len(sends))]
    returned = [
        {"room": room, "last": next_seq[room] - 1}
        for room in sorted(next_seq)
        if next_seq[room] - 1 != reserved[room]
    ]
    if returned:
        await session.execute(_hand_back(), returned)
    await _insert(uow, unique, accepted, seqs, outcomes)
    await uow.commit()
    return [outcomes[repeats[index]] for index in range(len(sends))]


def _hand_back() -> Any:
    return (
        update(_ROOMS)
        .where(_ROOMS.c.id == bindparam("room", type_=Integer))
        .values(last_seq=bindparam("last", type_=Integer))
        .execution_options(synchronize_session=False)
    )


async def _insert(
    uow: UnitOfWork,
    sends: dict[int, Send],
    accepted: list[tuple[int, str]],
    seqs: dict[int, int],
    outcomes: dict[int, Outcome],
) -> None:
    now = utcnow()
    message_ids = await uow.session.scalars(
        insert(_MESSAGES).returning(_MESSAGES.c.id, sort_by_parameter_order=True),
        [
            {
                "room_id": sends[index].room_id,
                "seq": seqs[index],
                "author_id": sends[index].user_id,
                "body": sends[index].body,
                "client_id": sends[index].client_id,
                "created_at": now,
            }
            for index, _ in accepted
        ],
    )
    written = []
    for (index, username), message_id in zip(accepted, message_ids, strict=True):
        send = sends[index]
        written.append(
            log.Entry(
                room_id=send.room_id,
                seq=seqs[index],
                kind=EventKind.MESSAGE,
                actor_id=send.user_id,
                message_id=message_id,
                data={
                    "actor": log.user_ref(send.user_id, username),
                    "message": {
                        "id": message_id,
                        "body": send.body,
                        "clientId": send.client_id,
                        "editedAt": None,
                        "deleted": False,
                    },
                },
            )
        )
    for index_and_name, event in zip(
        accepted, await log.record_many(uow, written, at=now), strict=True
    ):
        outcomes[index_and_name[0]] = event
