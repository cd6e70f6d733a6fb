"""What the gateway asks the chat without a unit of work: whose rooms, and what a client missed.

Bound once by the composition root to the autocommit sessions (reads need no transaction) and
the driver's reads (``platform/driver_reads.py``) for the gateway's hottest ones: a user's rooms
(whenever they come online) and a page of a room's log (every recovery).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any, cast

from sqlalchemy import Integer, Select, any_, bindparam, select
from sqlalchemy.dialects.postgresql import ARRAY

from agora.chat import log
from agora.chat.models import Member, Room
from agora.chat.schemas import WireEvent
from agora.platform.db import SessionFactory
from agora.platform.driver_reads import DriverReads


@cache
def _rooms_of_users(on_postgresql: bool) -> Select[int, int]:
    return (
        select(Member.user_id, Member.room_id)
        .where(_any_of(Member.user_id, "users", on_postgresql))
        .order_by(Member.room_id)
    )


def _any_of(column: Any, name: str, on_postgresql: bool) -> Any:
    # PostgreSQL: one array parameter, so one prepared statement whatever the number of values;
    # SQLite: an IN list that SQLAlchemy expands
    if on_postgresql:
        return column == any_(bindparam(name, type_=ARRAY(Integer)))
    return column.in_(bindparam(name, expanding=True))


@cache
def _heads_and_members(on_postgresql: bool) -> Select[int, int, int | None]:
    rooms = Room.metadata.tables[Room.__tablename__]
    members = Member.metadata.tables[Member.__tablename__]
    return (
        select(rooms.c.id, rooms.c.last_seq, members.c.user_id)
        .outerjoin(
            members,
            (members.c.room_id == rooms.c.id) & _any_of(members.c.user_id, "users", on_postgresql),
        )
        .where(_any_of(rooms.c.id, "rooms", on_postgresql))
    )


class ChatReads:
    def __init__(self, sessions: SessionFactory, driver: DriverReads) -> None:
        self._sessions = sessions
        self._driver = driver

    async def member_rooms(self, user_id: int) -> list[int]:
        """The ids of the rooms ``user_id`` is a member of, in id order."""
        return (await self.rooms_of_users([user_id])).get(user_id, [])

    async def rooms_of_users(self, user_ids: Sequence[int]) -> dict[int, list[int]]:
        """The rooms each of ``user_ids`` is a member of, in id order, in one statement (a user
        with none is left out)."""
        statement = _rooms_of_users(self._driver.on_postgresql)
        rooms: dict[int, list[int]] = {}
        for user_id, room_id in await self._driver.rows(statement, {"users": list(user_ids)}):
            rooms.setdefault(user_id, []).append(room_id)
        return rooms

    async def heads_and_members(
        self, pairs: Sequence[tuple[int, int]]
    ) -> tuple[dict[int, int], set[tuple[int, int]]]:
        """For (room, user) pairs, in one statement: each existing room's last sequence number,
        and which of the pairs are memberships."""
        params = {
            "rooms": sorted({room for room, _ in pairs}),
            "users": sorted({u for _, u in pairs}),
        }
        heads: dict[int, int] = {}
        members: set[tuple[int, int]] = set()
        statement = _heads_and_members(self._driver.on_postgresql)
        for room_id, last_seq, user_id in await self._driver.rows(statement, params):
            heads[room_id] = last_seq
            if user_id is not None:
                members.add((room_id, user_id))
        return heads, members

    async def is_member(self, user_id: int, room_id: int) -> bool:
        async with self._sessions() as session:
            found = await session.scalar(
                select(Member.user_id).where(Member.room_id == room_id, Member.user_id == user_id)
            )
            return found is not None

    async def events_after(
        self, room_id: int, after: int, limit: int = log.PAGE_MAX
    ) -> list[WireEvent]:
        """The room's events after ``after``, oldest first: ``limit`` of them (at most
        ``log.REPLAY_MAX``), fewer only at the end of the log; call again after the last one
        returned until fewer come back."""
        async with self._sessions() as session:
            return await log.events_after(session, room_id, after, limit)

    async def wire_texts_after(
        self, room_id: int, after: int, limit: int = log.PAGE_MAX
    ) -> list[tuple[int, str, str]]:
        """``events_after`` as (seq, kind, the event's wire JSON): a replay's page, made by
        PostgreSQL (``log.after_as_wire_text``), or on SQLite from the stored JSON's text."""
        limit = max(1, min(limit, log.REPLAY_MAX))
        params = {"room": room_id, "after": after, "limit": limit}
        if self._driver.on_postgresql:
            # rows of (integer, text, text) as asyncpg hands them: nothing to convert
            return cast(
                list[tuple[int, str, str]],
                await self._driver.rows(log.after_as_wire_text(), params),
            )
        rows = await self._driver.rows(log.after_as_text(), params)
        return [(seq, kind, text.decode()) for seq, kind, text in log.encoded(room_id, rows)]
