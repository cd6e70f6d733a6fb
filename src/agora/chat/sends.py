"""Sending messages: many sends written in one transaction (group commit), each with its own
outcome.

A send is the chat's hottest write: the room's next number, the message, its event. Written one
transaction each, that is six round trips to the database per message, and under load the
nodes spend most of their time on them. ``write_sends`` writes a whole batch with the same six
(``send_queue.py`` gathers the batches), and a batch of one is the plain case, so there is one
way to send. This is SQLite's way (``SessionSends``); PostgreSQL runs the same rules in two
statements on the driver (``driver_sends.py``), and the tests hold both to the same outcomes:

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
from functools import cache
from typing import Any, Protocol

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Integer,
    Select,
    String,
    and_,
    bindparam,
    case,
    exists,
    insert,
    literal_column,
    or_,
    select,
    union_all,
    update,
)
from sqlalchemy.sql.elements import BindParameter

from agora.chat import log
from agora.chat.models import Block, EventKind, Member, Message, Room, RoomKind
from agora.chat.schemas import WireEvent
from agora.identity.models import User
from agora.platform.db import utcnow
from agora.platform.errors import DomainError, Forbidden, NotFound
from agora.platform.uow import UnitOfWork, UnitsOfWork

# the tables, not the mapped classes: Core statements skip the ORM's bookkeeping
_ROOMS, _MESSAGES, _MEMBERS, _USERS, _BLOCKS = (
    model.metadata.tables[model.__tablename__] for model in (Room, Message, Member, User, Block)
)


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


class SendWriter(Protocol):
    async def write(self, sends: Sequence[Send]) -> list[Outcome]:
        """Writes ``sends`` in one transaction, commits it and announces the events: each
        send's event (a retry's is the first send's), or the domain error that refused it.
        Raises only what the database raised, with nothing written."""
        ...


class SessionSends:
    """``write_sends`` in a unit of work of its own: SQLite's writer (PostgreSQL's is
    ``driver_sends.DriverSends``)."""

    def __init__(self, units_of_work: UnitsOfWork) -> None:
        self._units = units_of_work

    async def write(self, sends: Sequence[Send]) -> list[Outcome]:
        async with self._units() as uow:
            return await write_sends(uow, sends)


def deduplicated(sends: Sequence[Send]) -> tuple[list[int], dict[int, Send]]:
    """The same message twice in a batch (one client id): the later one takes the first one's
    outcome. For each send, the place of the first one with its key; and those first ones, by
    place, in batch order."""
    first_of: dict[tuple[int, int, str], int] = {}
    firsts = [first_of.setdefault(send.key, index) for index, send in enumerate(sends)]
    return firsts, {index: sends[index] for index in first_of.values()}


# why a send is refused: the same answers from both writers
def no_such_room() -> NotFound:
    return NotFound("not found", field="room")


def not_a_member() -> Forbidden:
    return Forbidden("is not one of your rooms", field="room")


def blocked_between() -> Forbidden:
    return Forbidden("is blocked: one of you blocked the other", field="room")


def message_data(send: Send, username: str, message_id: int) -> dict[str, Any]:
    """A new message's event data (behind the event's place and time)."""
    return {
        "actor": log.user_ref(send.user_id, username),
        "message": {
            "id": message_id,
            "body": send.body,
            "clientId": send.client_id,
            "editedAt": None,
            "deleted": False,
        },
    }


# The statements are built once per shape, with a parameter per send (``room_3``, …): a batch
# then costs the database round trips and nothing else, not SQLAlchemy building and compiling a
# new statement every time. The shapes are powers of two, the unused places filled with room 0
# (no such room: they match nothing), so a process builds and compiles seven shapes (1 … 64), not
# one per batch size: building and compiling the 64-way UNION ALL holds the event loop ~60 ms,
# and in the first minute under load that was near a quarter of the nodes' profile samples.
_NO_ROOM = 0


def _shape(count: int) -> int:
    """The places a statement for ``count`` items has: the next power of two."""
    return 1 << (count - 1).bit_length()


@cache
def _reserve(rooms: int) -> Any:
    """Locks ``rooms`` rooms in id order and moves each one's ``last_seq`` on by its count:
    parameters ``room_i``, ``count_i`` and ``rooms`` (all the ids)."""
    ids = _ROOMS.c.id
    locked = (
        select(ids)
        .where(ids.in_(bindparam("rooms", expanding=True)))
        .order_by(ids)
        .with_for_update()
    )
    added = case(*((ids == _int(f"room_{i}"), _int(f"count_{i}")) for i in range(rooms)), else_=0)
    return (
        update(_ROOMS)
        .where(ids.in_(locked))
        .values(last_seq=_ROOMS.c.last_seq + added)
        .returning(ids, _ROOMS.c.last_seq, _ROOMS.c.kind)
    )


def _int(name: str) -> BindParameter[int]:
    return bindparam(name, type_=Integer)


def _sender(i: int) -> Select[Any]:
    """Send ``i``'s row: the sender's name, the seq of their message with this client id (None:
    a new one), and whether a block forbids it. No row: not a member."""
    members, users, rooms = _MEMBERS.c, _USERS.c, _ROOMS.c
    room, user = _int(f"room_{i}"), _int(f"user_{i}")
    first = (
        select(_MESSAGES.c.seq)
        .where(
            _MESSAGES.c.room_id == room,
            _MESSAGES.c.author_id == user,
            _MESSAGES.c.client_id == bindparam(f"client_{i}", type_=String),
        )
        .scalar_subquery()
    )
    peer, blocks = _MEMBERS.alias("peer").c, _BLOCKS.c
    blocked: ColumnElement[bool] = and_(
        rooms.kind == RoomKind.DIRECT.value,
        exists().where(
            peer.room_id == room,
            peer.user_id != user,
            or_(
                (blocks.blocker_id == user) & (blocks.blocked_id == peer.user_id),
                (blocks.blocker_id == peer.user_id) & (blocks.blocked_id == user),
            ),
        ),
    )
    return (
        select(literal_column(str(i)).label("item"), users.username, first, blocked)
        .select_from(_MEMBERS)
        .join(_USERS, users.id == members.user_id)
        .join(_ROOMS, rooms.id == members.room_id)
        .where(members.room_id == room, members.user_id == user)
    )


@cache
def _senders(count: int) -> Select[Any] | CompoundSelect[Any]:
    """``_sender`` for sends 0 … count - 1, in one statement."""
    return _sender(0) if count == 1 else union_all(*(_sender(i) for i in range(count)))


async def write_sends(uow: UnitOfWork, sends: Sequence[Send]) -> list[Outcome]:
    """Writes ``sends`` in ``uow``'s transaction and commits it: each one's event (a retry's is
    the first send's), or the domain error that refused it. Raises only what the database
    raised, with nothing written."""
    outcomes: dict[int, Outcome] = {}
    repeats, unique = deduplicated(sends)

    session = uow.session
    counts = Counter(send.room_id for send in unique.values())
    places = _shape(len(counts))
    parameters: dict[str, Any] = {"rooms": list(counts)}
    for i, (room, count) in enumerate(counts.items()):
        parameters |= {f"room_{i}": room, f"count_{i}": count}
    for i in range(len(counts), places):
        parameters |= {f"room_{i}": _NO_ROOM, f"count_{i}": 0}
    rows = await session.execute(_reserve(places), parameters)
    reserved = {row.id: row.last_seq for row in rows}
    for index, send in unique.items():
        if send.room_id not in reserved:
            outcomes[index] = no_such_room()
    checked = [index for index in unique if index not in outcomes]
    found = {}
    if checked:
        places = _shape(len(checked))
        parameters = {}
        for i, index in enumerate(checked):
            send = unique[index]
            parameters |= {f"room_{i}": send.room_id, f"user_{i}": send.user_id}
            parameters[f"client_{i}"] = send.client_id
        for i in range(len(checked), places):
            parameters |= {f"room_{i}": _NO_ROOM, f"user_{i}": 0, f"client_{i}": ""}
        rows = await session.execute(_senders(places), parameters)
        found = {checked[row.item]: row for row in rows}

    accepted: list[tuple[int, str]] = []  # (index, sender's name), in batch order
    replays: dict[int, int] = {}  # index -> the first message's seq
    for index in checked:
        row = found.get(index)
        if row is None:
            outcomes[index] = not_a_member()
        elif row[2] is not None:  # the seq of the message sent before with this client id
            replays[index] = row[2]
        elif row[3]:  # blocked
            outcomes[index] = blocked_between()
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


@cache
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
                data=message_data(send, username, message_id),
            )
        )
    for index_and_name, event in zip(
        accepted, await log.record_many(uow, written, at=now), strict=True
    ):
        outcomes[index_and_name[0]] = event
