"""Rooms, their members, messages, reactions, blocks and the room's event log: the only module of
the chat that knows tables.

Every change to a room is a row of ``chat_events`` numbered by the room's own sequence
(``chat_rooms.last_seq``, moved on in the same transaction: see ``chat/log.py``). The other
tables hold the current state the events lead to, so reads need not replay anything.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from agora.platform.db import Base, UTCDateTime, utcnow

ROOM_NAME_MAX = 100
TOPIC_MAX = 500
CLIENT_ID_MAX = 64
EMOJI_MAX = 32


class RoomKind(StrEnum):
    PUBLIC = "public"  # anyone may join
    PRIVATE = "private"  # by invitation
    DIRECT = "direct"  # two users, one conversation per pair


class Role(StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    MEMBER = "member"


class EventKind(StrEnum):
    MESSAGE = "message"
    EDIT = "edit"
    DELETE = "delete"
    REACTION = "reaction"
    UNREACTION = "unreaction"
    MEMBER_JOINED = "member_joined"
    MEMBER_LEFT = "member_left"
    MEMBER_REMOVED = "member_removed"
    ROLE_CHANGED = "role_changed"


class Room(Base):
    __tablename__ = "chat_rooms"
    __table_args__ = (CheckConstraint("kind IN ('public', 'private', 'direct')", name="kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    # None for a direct conversation: each side calls it by the other's name
    name: Mapped[str | None] = mapped_column(String(ROOM_NAME_MAX), default=None)
    topic: Mapped[str] = mapped_column(String(TOPIC_MAX), default="")
    # the sequence number of the room's latest event; the next event takes last_seq + 1
    last_seq: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Member(Base):
    __tablename__ = "chat_members"
    __table_args__ = (
        # "my rooms", and the gateway's subscribe check
        Index("ix_chat_members_user_id", "user_id"),
        CheckConstraint("role IN ('owner', 'admin', 'member')", name="role"),
    )

    room_id: Mapped[int] = mapped_column(
        ForeignKey("chat_rooms.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(String(16))
    # the member has read every event up to this one; only ever moves forward
    last_read_seq: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DirectPair(Base):
    """The one direct conversation of two users: the pair is stored in order (low id, high id),
    so its primary key makes a second conversation of the same two impossible."""

    __tablename__ = "chat_direct_pairs"
    __table_args__ = (CheckConstraint("user_low < user_high", name="ordered"),)

    user_low: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    user_high: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    room_id: Mapped[int] = mapped_column(
        ForeignKey("chat_rooms.id", ondelete="CASCADE"), unique=True
    )


class Message(Base):
    __tablename__ = "chat_messages"
    __table_args__ = (
        # the same client message id again is the same message (idempotent sends)
        UniqueConstraint("room_id", "author_id", "client_id", name="uq_chat_messages_client_id"),
        # unread counts, last messages, search: a room's messages in sequence order
        UniqueConstraint("room_id", "seq", name="uq_chat_messages_room_id_seq"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("chat_rooms.id", ondelete="CASCADE"))
    # the sequence number of the event that created it
    seq: Mapped[int] = mapped_column(Integer)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    body: Mapped[str] = mapped_column(Text)
    client_id: Mapped[str] = mapped_column(String(CLIENT_ID_MAX))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    edited_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # a deleted message keeps its row (its events refer to it) but not its text
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class Reaction(Base):
    __tablename__ = "chat_reactions"

    message_id: Mapped[int] = mapped_column(
        ForeignKey("chat_messages.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    emoji: Mapped[str] = mapped_column(String(EMOJI_MAX), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Block(Base):
    """``blocker_id`` wants nothing from ``blocked_id`` in direct messages."""

    __tablename__ = "chat_blocks"
    __table_args__ = (Index("ix_chat_blocks_blocked_id", "blocked_id"),)

    blocker_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    blocked_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ChatEvent(Base):
    """One change to a room, numbered by the room's sequence: the log recovery replays.

    ``data`` holds the event's wire fields besides room, seq, kind and at (``chat/schemas.py``), as
    they were when it happened; only a deleted message's text is withheld when it is read.
    """

    __tablename__ = "chat_events"

    room_id: Mapped[int] = mapped_column(
        ForeignKey("chat_rooms.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    message_id: Mapped[int | None] = mapped_column(
        ForeignKey("chat_messages.id", ondelete="CASCADE"), default=None
    )
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
