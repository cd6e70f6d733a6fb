"""The chat's wire shapes: a room event (written once, here), rooms, and the REST requests.

**A room event** is what history returns, what recovery replays and what the gateway pushes; the
same JSON everywhere, built once when the event is written (``chat/log.py``)::

    {"room": 7, "seq": 42, "kind": "message", "at": "2026-12-06T03:40:00.123Z",
     "actor": {"id": 3, "username": "ann"},
     "message": {"id": 91, "body": "hi", "clientId": "c-1", "editedAt": null, "deleted": false}}

Always present: ``room``, ``seq`` (the room's sequence number: 1, 2, 3 … with no gap), ``kind``,
``at`` (when the server wrote it, UTC). The rest by kind:

- ``message``, ``edit``, ``delete``: ``actor``, ``message`` (its state after the event: an edit
  carries the new body and ``editedAt``, a delete ``body: null, deleted: true``)
- ``reaction``, ``unreaction``: ``actor``, ``messageId``, ``emoji``
- ``member_joined``: ``actor`` (who joined, or who invited), ``member``, ``role``
- ``member_left``: ``actor`` and ``member`` (the same user)
- ``member_removed``: ``actor`` (an owner or admin), ``member``
- ``role_changed``: ``actor`` (an owner), ``member``, ``role`` (the new one)

Names are as they were when the event happened. Once a message is deleted, the events that carried
its text (``message``, ``edit``) are read back with ``body: null, deleted: true``: the log keeps
its order and numbers, not the words the author took back.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints
from pydantic_core import PydanticCustomError

from agora.chat.models import (
    CLIENT_ID_MAX,
    EMOJI_MAX,
    ROOM_NAME_MAX,
    TOPIC_MAX,
    EventKind,
    Role,
    RoomKind,
)
from agora.identity.schemas import Username
from agora.platform.wire import NoNul, NotBlank, SingleLine, Timestamp
from agora.settings import MESSAGE_CHARS_CEILING

# an event as it goes on the wire (see the module docstring; ``RoomEvent`` documents it)
WireEvent = dict[str, Any]

# --- the room event ---------------------------------------------------------------------------


class UserRef(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: int
    username: str


class MessageState(BaseModel):
    model_config = ConfigDict(serialize_by_alias=True, extra="forbid")

    id: int
    body: str | None = Field(description="null once the message was deleted")
    client_id: str = Field(alias="clientId")
    edited_at: Timestamp | None = Field(alias="editedAt")
    deleted: bool


class RoomEvent(BaseModel):
    """One change to a room; the fields besides the first four depend on ``kind``."""

    model_config = ConfigDict(serialize_by_alias=True, extra="forbid")

    room: int
    seq: int = Field(description="The room's sequence number: 1, 2, 3 … with no gap")
    kind: EventKind
    at: Timestamp
    actor: UserRef | None = None
    message: MessageState | None = None
    message_id: int | None = Field(default=None, alias="messageId")
    emoji: str | None = None
    member: UserRef | None = None
    role: Role | None = None


class EventsPage(BaseModel):
    model_config = ConfigDict(serialize_by_alias=True)

    events: list[RoomEvent] = Field(description="In sequence order, oldest first")
    last_seq: int = Field(alias="lastSeq", description="The room's latest sequence number")


class EventResult(BaseModel):
    """The event a write made; null when the write changed nothing (a reaction already there)."""

    event: RoomEvent | None


# --- rooms ------------------------------------------------------------------------------------


class MessageSummary(BaseModel):
    """A message as it stands now: a room's last one, a search hit."""

    model_config = ConfigDict(serialize_by_alias=True)

    id: int
    seq: int
    body: str
    author: UserRef
    at: Timestamp
    edited_at: Timestamp | None = Field(alias="editedAt")


class MemberOut(BaseModel):
    model_config = ConfigDict(serialize_by_alias=True)

    id: int
    username: str
    role: Role
    last_read_seq: int = Field(alias="lastReadSeq")
    joined_at: Timestamp = Field(alias="joinedAt")


class RoomOut(BaseModel):
    """A room as one of its members sees it."""

    model_config = ConfigDict(serialize_by_alias=True)

    id: int
    kind: RoomKind
    name: str | None = Field(description="null for a direct conversation: see peer")
    topic: str
    created_at: Timestamp = Field(alias="createdAt")
    last_seq: int = Field(alias="lastSeq")
    role: Role = Field(description="Your role in the room")
    last_read_seq: int = Field(alias="lastReadSeq")
    unread: int = Field(description="Messages after lastReadSeq, written by others and not deleted")
    last_message: MessageSummary | None = Field(alias="lastMessage")
    peer: UserRef | None = Field(description="The other user of a direct conversation")


class RoomDetail(RoomOut):
    members: list[MemberOut]


class RoomsResponse(BaseModel):
    rooms: list[RoomOut]


class PublicRoom(BaseModel):
    """A public room anyone may join, as the directory lists it."""

    model_config = ConfigDict(serialize_by_alias=True)

    id: int
    name: str
    topic: str
    members: int
    last_seq: int = Field(alias="lastSeq")
    joined: bool = Field(description="Whether you are a member")


class Directory(BaseModel):
    rooms: list[PublicRoom] = Field(description="In id order; the next page is after the last id")


class ReadMark(BaseModel):
    model_config = ConfigDict(serialize_by_alias=True)

    room: int
    last_read_seq: int = Field(alias="lastReadSeq")
    unread: int


class SearchResults(BaseModel):
    messages: list[MessageSummary] = Field(description="Newest first")


class BlockOut(BaseModel):
    username: str
    blocked: bool


# --- requests ---------------------------------------------------------------------------------


class Request(BaseModel):
    model_config = ConfigDict(extra="ignore")


RoomName = Annotated[str, StringConstraints(min_length=1, max_length=ROOM_NAME_MAX), SingleLine]
Topic = Annotated[str, StringConstraints(max_length=TOPIC_MAX), NoNul]
# the server's setting (AGORA_CHAT_MAX_MESSAGE_CHARS) may be lower: the service checks it
Body = Annotated[str, StringConstraints(min_length=1, max_length=MESSAGE_CHARS_CEILING), NotBlank]
ClientId = Annotated[
    str,
    StringConstraints(min_length=1, max_length=CLIENT_ID_MAX),
    SingleLine,
    Field(
        description="Chosen by the client, unique per message: sending it again returns the "
        "first message's event instead of a second message",
        examples=["3f1c2a9e-0b7d-4c55-9d0e-1f2a3b4c5d6e"],
    ),
]
Emoji = Annotated[str, StringConstraints(min_length=1, max_length=EMOJI_MAX), SingleLine]


class NewRoomKind(StrEnum):
    """The kinds of room one creates; a direct conversation is opened (``POST /direct``)."""

    PUBLIC = "public"
    PRIVATE = "private"


class NewRoom(Request):
    name: RoomName
    kind: NewRoomKind = NewRoomKind.PUBLIC
    topic: Topic = ""


class Invitation(Request):
    username: Username


class RoleChange(Request):
    role: Role


class DirectRequest(Request):
    username: Username


class NewMessage(Request):
    model_config = ConfigDict(populate_by_name=True)

    body: Body
    client_id: ClientId = Field(alias="clientId")


class MessageEdit(Request):
    body: Body


class NewReaction(Request):
    emoji: Emoji


def _json_integer(value: object) -> object:
    # a JSON integer, 3.0 included as JSON Schema says; not true or "3", which pydantic's lax
    # mode would take for numbers
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PydanticCustomError("int_type", "must be an integer")
    return value


class ReadRequest(Request):
    seq: Annotated[int, BeforeValidator(_json_integer)] = Field(
        ge=0, le=2**31 - 1, description="The last event you have read"
    )
