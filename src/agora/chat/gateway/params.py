"""The params of each JSON-RPC method, validated by Pydantic: wrong ones are ``-32602``.

Unknown members are refused (a typo in a member's name would otherwise be ignored in silence).
Names are camelCase on the wire, as in the rest of the chat's JSON.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from agora.chat.schemas import Body, ClientId, Emoji
from agora.platform.db import INTEGER_MAX

RoomId = int


class Params(BaseModel):
    model_config = ConfigDict(
        extra="forbid", frozen=True, alias_generator=to_camel, populate_by_name=True
    )


class NoParams(Params):
    pass


class AuthParams(Params):
    """One of the two: an access token, or a ticket from ``POST /api/chat/tickets``."""

    token: str | None = Field(default=None, min_length=1, max_length=4096)
    ticket: str | None = Field(default=None, min_length=1, max_length=128)


class RoomParams(Params):
    room: RoomId = Field(ge=1, le=INTEGER_MAX)


class SubscribeParams(RoomParams):
    # the last sequence number the client has of this room: it gets every event after it
    since: int | None = Field(default=None, ge=0, le=2**62)


class SendParams(RoomParams):
    body: Body
    # the same id again returns the first message instead of a second one; without it (the
    # bench's shape) the server makes one up, and a retry would send twice
    client_id: ClientId | None = None


class MessageParams(RoomParams):
    message: int = Field(ge=1, le=INTEGER_MAX, description="the message's id")


class EditParams(MessageParams):
    body: Body


class ReactParams(MessageParams):
    emoji: Emoji


class MarkReadParams(RoomParams):
    seq: int = Field(ge=0, le=INTEGER_MAX)


class HistoryParams(RoomParams):
    before: int | None = Field(default=None, ge=1, le=INTEGER_MAX)
    after: int | None = Field(default=None, ge=0, le=INTEGER_MAX)
    limit: int = Field(default=50, ge=1, le=200)
