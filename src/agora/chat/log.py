"""The room's event log: every change to a room is one row of ``chat_events``, numbered by the
room's own sequence, and read back in that order (history, recovery).

**Numbers without gaps.** A write first takes the room's next number::

    UPDATE chat_rooms SET last_seq = last_seq + 1 WHERE id = :room RETURNING last_seq

in the transaction that writes the change and its event. The row lock this takes (PostgreSQL;
SQLite has one writer at a time anyway) makes the room's writers wait for each other until the
commit, so numbers are handed out in commit order; a rollback gives its number back with
everything else. So the log is 1, 2, 3 … with no gap and no duplicate, and a reader that has
seen up to n and asks for what follows gets every later event exactly once.

**Announced after the commit.** ``record`` builds the event's wire dict once and emits
``RoomEventCommitted`` into the unit of work: the gateway's handler publishes it only once the
change is durable.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

import orjson
from sqlalchemy import (
    Insert,
    Integer,
    Select,
    Text,
    bindparam,
    cast,
    insert,
    literal_column,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import ReturningUpdate

from agora.chat.events import RoomEventCommitted
from agora.chat.models import ChatEvent, EventKind, Message, Room
from agora.chat.schemas import WireEvent
from agora.platform.db import utcnow
from agora.platform.errors import NotFound
from agora.platform.uow import UnitOfWork
from agora.platform.wire import iso_utc_millis

# the most events one page of history holds (REST), and one page of recovery (the gateway)
PAGE_MAX = 200
REPLAY_MAX = 10_000
# the kinds whose event carries a message's text, withheld once it is deleted
_TEXT_KINDS = frozenset({EventKind.MESSAGE, EventKind.EDIT})


@cache
def _next_seq() -> ReturningUpdate[int, str]:
    # built once, on the table (Core: no ORM synchronization): every write to every room runs it
    rooms = Room.metadata.tables[Room.__tablename__]
    return (
        update(rooms)
        .where(rooms.c.id == bindparam("room", type_=Integer))
        .values(last_seq=rooms.c.last_seq + 1)
        .returning(rooms.c.last_seq, rooms.c.kind)
    )


async def next_seq(session: AsyncSession, room_id: int) -> tuple[int, str]:
    """The room's next sequence number and its kind; the room is locked until the commit."""
    row = (await session.execute(_next_seq(), {"room": room_id})).first()
    if row is None:
        raise NotFound("not found", field="room")
    return row[0], row[1]


@cache
def _insert_event() -> Insert:
    # on the table, not the mapped class: Core skips the ORM's bulk-insert bookkeeping
    return insert(ChatEvent.metadata.tables[ChatEvent.__tablename__])


def user_ref(user_id: int, username: str) -> dict[str, Any]:
    return {"id": user_id, "username": username}


def message_state(message: Message) -> dict[str, Any]:
    deleted = message.deleted_at is not None
    return {
        "id": message.id,
        "body": None if deleted else message.body,
        "clientId": message.client_id,
        "editedAt": None if message.edited_at is None else iso_utc_millis(message.edited_at),
        "deleted": deleted,
    }


def wire(room_id: int, seq: int, kind: str, at: datetime, data: dict[str, Any]) -> WireEvent:
    return {"room": room_id, "seq": seq, "kind": kind, "at": iso_utc_millis(at), **data}


@dataclass(frozen=True, slots=True)
class Entry:
    """An event to write: its number from ``next_seq`` (or a batch's reservation)."""

    room_id: int
    seq: int
    kind: EventKind
    actor_id: int | None
    data: dict[str, Any]
    message_id: int | None = None


async def record(
    uow: UnitOfWork,
    *,
    room_id: int,
    seq: int,
    kind: EventKind,
    actor_id: int | None,
    data: dict[str, Any],
    message_id: int | None = None,
    at: datetime | None = None,
) -> WireEvent:
    """Writes event ``seq`` (from ``next_seq``) and announces it after the commit."""
    entry = Entry(room_id, seq, kind, actor_id, data, message_id)
    return (await record_many(uow, [entry], at=at))[0]


async def record_many(
    uow: UnitOfWork, entries: Sequence[Entry], *, at: datetime | None = None
) -> list[WireEvent]:
    """Writes the events in one statement and announces each after the commit, in order."""
    now = at or utcnow()
    await uow.session.execute(
        _insert_event(),
        [
            {
                "room_id": entry.room_id,
                "seq": entry.seq,
                "kind": entry.kind.value,
                "actor_id": entry.actor_id,
                "message_id": entry.message_id,
                "data": entry.data,
                "created_at": now,
            }
            for entry in entries
        ],
    )
    events = []
    for entry in entries:
        event = wire(entry.room_id, entry.seq, entry.kind.value, now, entry.data)
        uow.emit(
            RoomEventCommitted(
                room_id=entry.room_id,
                seq=entry.seq,
                kind=entry.kind.value,
                event=event,
                json=orjson.dumps(event),
            )
        )
        events.append(event)
    return events


# --- reading the log --------------------------------------------------------------------------


def _events() -> Select[tuple[int, int, str, datetime, dict[str, Any], datetime | None]]:
    return select(
        ChatEvent.room_id,
        ChatEvent.seq,
        ChatEvent.kind,
        ChatEvent.created_at,
        ChatEvent.data,
        Message.deleted_at,
    ).outerjoin(Message, Message.id == ChatEvent.message_id)


def _as_wire(
    rows: Sequence[tuple[int, int, str, datetime, dict[str, Any], datetime | None]],
) -> list[WireEvent]:
    events = []
    for room_id, seq, kind, at, data, deleted_at in rows:
        if deleted_at is not None and kind in _TEXT_KINDS:
            data = {**data, "message": {**data["message"], "body": None, "deleted": True}}
        events.append(wire(room_id, seq, kind, at, data))
    return events


@cache
def _after() -> Select[tuple[int, int, str, datetime, dict[str, Any], datetime | None]]:
    return (
        _events()
        .where(
            ChatEvent.room_id == bindparam("room", type_=Integer),
            ChatEvent.seq > bindparam("after", type_=Integer),
        )
        .order_by(ChatEvent.seq)
        .limit(bindparam("limit", type_=Integer))
    )


async def events_after(
    session: AsyncSession, room_id: int, after: int, limit: int = PAGE_MAX
) -> list[WireEvent]:
    """The room's events after ``after``, oldest first: ``limit`` of them (at most
    ``REPLAY_MAX``), fewer only at the end of the log. What a client that has seen up to
    ``after`` missed; membership is the caller's to check."""
    limit = max(1, min(limit, REPLAY_MAX))
    rows = await session.execute(_after(), {"room": room_id, "after": after, "limit": limit})
    return _as_wire(rows.all())


@cache
def after_as_text() -> Select[int, str, datetime, str, datetime | None]:
    """The room's events after ``after`` (``room``, ``after``, ``limit``), their data as the
    stored JSON text: what ``encoded`` turns into a replay's frames."""
    return (
        select(
            ChatEvent.seq,
            ChatEvent.kind,
            ChatEvent.created_at,
            cast(ChatEvent.data, Text),
            Message.deleted_at,
        )
        .outerjoin(Message, Message.id == ChatEvent.message_id)
        .where(
            ChatEvent.room_id == bindparam("room", type_=Integer),
            ChatEvent.seq > bindparam("after", type_=Integer),
        )
        .order_by(ChatEvent.seq)
        .limit(bindparam("limit", type_=Integer))
    )


# An event's wire JSON made by PostgreSQL itself, for a replay (``encoded`` below does the same
# in Python, on SQLite): a reconnect storm replays a hundred thousand events, and building each
# one's text in the database costs its backend less than the node's Python costs per row
# (decoding a timestamp, formatting it, joining bytes). The same JSON either way, checked by
# tests/chat/test_replay_text.py: the place in front (``room``, ``seq``, ``kind``, ``at`` in UTC
# with milliseconds, truncated as ``iso_utc_millis`` does), then the stored object's members as
# they were written: ``data`` is a ``json`` column, its text kept as SQLAlchemy's serializer
# wrote it, starting with its "{" (``right(…, -1)`` drops it: a byte, where ``substr`` and
# ``btrim`` count characters and cost four times as much here). A deleted message's text is
# withheld through ``jsonb``, which orders keys its own way: the same JSON object. The kinds are
# this module's own names (``EventKind``): nothing in them needs escaping.
_AT = """to_char(chat_events.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')"""
_TEXT_KINDS_SQL = ", ".join(f"'{kind}'" for kind in sorted(_TEXT_KINDS))
_WIRE_TEXT_SQL = f"""CASE
WHEN chat_messages.deleted_at IS NOT NULL AND chat_events.kind IN ({_TEXT_KINDS_SQL}) THEN (
    jsonb_build_object(
        'room', chat_events.room_id, 'seq', chat_events.seq, 'kind', chat_events.kind, 'at', {_AT}
    )
    || chat_events.data::jsonb
    || jsonb_build_object(
        'message', (chat_events.data::jsonb -> 'message') || '{{"body": null, "deleted": true}}'
    )
)::text
ELSE '{{"room":' || chat_events.room_id || ',"seq":' || chat_events.seq
    || ',"kind":"' || chat_events.kind || '","at":"' || {_AT} || '"'
    || CASE WHEN chat_events.data::text = '{{}}' THEN '}}'
        ELSE ',' || right(chat_events.data::text, -1) END
END"""


@cache
def after_as_wire_text() -> Select[int, str, str]:
    """PostgreSQL only: the room's events after ``after`` (``room``, ``after``, ``limit``) as
    (seq, kind, the event's wire JSON), the JSON made by the database."""
    return (
        select(ChatEvent.seq, ChatEvent.kind, literal_column(_WIRE_TEXT_SQL, Text))
        .outerjoin(Message, Message.id == ChatEvent.message_id)
        .where(
            ChatEvent.room_id == bindparam("room", type_=Integer),
            ChatEvent.seq > bindparam("after", type_=Integer),
        )
        .order_by(ChatEvent.seq)
        .limit(bindparam("limit", type_=Integer))
    )


def encoded(room_id: int, rows: Iterable[Sequence[Any]]) -> list[tuple[int, str, bytes]]:
    """``after_as_text``'s rows as (seq, kind, the event's JSON) for a replay: the stored JSON
    goes out as it is, behind the event's place and time, without being decoded and encoded
    again (a client that reconnects after a while is sent many)."""
    events = []
    for seq, kind, at, data, deleted_at in rows:
        if deleted_at is not None and kind in _TEXT_KINDS:
            (event,) = _as_wire([(room_id, seq, kind, at, orjson.loads(data), deleted_at)])
            events.append((seq, kind, orjson.dumps(event)))
            continue
        place = orjson.dumps({"room": room_id, "seq": seq, "kind": kind, "at": iso_utc_millis(at)})
        members = data.strip()[1:]  # the stored object's members, after its "{"
        joined = place[:-1] + (b"," + members.encode() if members.strip() != "}" else b"}")
        events.append((seq, kind, joined))
    return events


async def events_before(
    session: AsyncSession, room_id: int, before: int | None, limit: int, after: int = 0
) -> list[WireEvent]:
    """The latest ``limit`` events before ``before`` (all when None) and after ``after``, oldest
    first: a page of history read backwards."""
    limit = max(1, min(limit, PAGE_MAX))
    query = _events().where(ChatEvent.room_id == room_id, ChatEvent.seq > after)
    if before is not None:
        query = query.where(ChatEvent.seq < before)
    rows = await session.execute(query.order_by(ChatEvent.seq.desc()).limit(limit))
    return _as_wire(list(reversed(rows.all())))


async def event_at(session: AsyncSession, room_id: int, seq: int) -> WireEvent:
    rows = await session.execute(
        _events().where(ChatEvent.room_id == room_id, ChatEvent.seq == seq)
    )
    return _as_wire(rows.all())[0]
