"""The JSON-RPC methods: each a params model (``params.py``) and a coroutine of the connection.

Methods that change a room go through the chat's services (``RoomCalls``): the answer is sent
after the commit, and carries the event's sequence number and the server's time.
"""

from __future__ import annotations

import itertools
import os
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from agora.chat.gateway.connection import Connection, Method
from agora.chat.gateway.hub import WatchingStream
from agora.chat.gateway.params import (
    AuthParams,
    EditParams,
    HistoryParams,
    MarkReadParams,
    MessageParams,
    NoParams,
    ReactParams,
    RoomParams,
    SendParams,
    SubscribeParams,
)
from agora.platform.errors import Conflict, Forbidden, Invalid
from agora.platform.wire import iso_utc_millis

METHODS: dict[str, Method] = {}
# typing notifications one connection sends a room: at most one per this many seconds
TYPING_SECONDS = 1.0


H = TypeVar("H", bound=Callable[..., Any])


def method(name: str, params: type[Any], *, anonymous: bool = False) -> Callable[[H], H]:
    def register(run: H) -> H:
        METHODS[name] = Method(params=params, run=run, anonymous=anonymous)
        return run

    return register


class _ServerClientIds:
    """A send without a client id gets one unique to it: the process's random prefix (drawn
    again in a forked child) and a count. A UUID each was 2 % of a node's time under load (a
    system call for its randomness, an object)."""

    def __init__(self) -> None:
        self.renew()
        os.register_at_fork(after_in_child=self.renew)

    def renew(self) -> None:
        self._prefix = f"server-{secrets.token_hex(12)}-"
        self._count = itertools.count()

    def next(self) -> str:
        return f"{self._prefix}{next(self._count)}"


_server_client_id = _ServerClientIds().next


def _now() -> str:
    return iso_utc_millis(datetime.now(UTC))


@method("auth", AuthParams, anonymous=True)
async def auth(connection: Connection, params: AuthParams) -> dict[str, Any]:
    if connection.authenticated:
        raise Conflict("is already authenticated", field="connection")
    if (params.token is None) == (params.ticket is None):
        raise Invalid("give a token or a ticket", field="params")
    if params.ticket is not None:
        user_id = await connection.auth.by_ticket(params.ticket)
    else:
        assert params.token is not None
        user_id = await connection.auth.by_token(params.token)
    await connection.signed_in(user_id)
    return {"user": user_id}


@method("ping", NoParams, anonymous=True)
async def ping(connection: Connection, params: NoParams) -> dict[str, Any]:
    return {"pong": True, "at": _now()}


@method("subscribe", SubscribeParams)
async def subscribe(connection: Connection, params: SubscribeParams) -> dict[str, Any]:
    """The room's events from now on; with ``since``, first every event after it, in order.

    The node listens to the room before it reads the room's head: every event after the head
    then comes live, so a subscription without ``since`` reads no log unless what came live has
    a gap."""
    hub, settings, user_id = connection.hub, connection.settings, connection.user_id
    room_id = params.room

    async def read(after: int, limit: int) -> Any:
        return await hub.logs.frames_after(
            user_id=user_id, room_id=room_id, after=after, limit=limit
        )

    def replayed(count: int) -> None:
        hub.metrics.recoveries.inc()
        hub.metrics.replayed.inc(count)

    stream = WatchingStream(
        connection,
        room_id=room_id,
        user_id=user_id,
        outgoing=connection.outgoing,
        read=read,
        page=min(settings.replay_page, hub.logs.page_max),
        reorder_seconds=settings.reorder_seconds,
        last=params.since or 0,
        on_replayed=replayed,
        on_written=hub.metrics.frames_out.inc,
        on_failure=lambda _exc: connection.close(1011, "could not read the room's log"),
    )
    await hub.join_room(stream)  # what is committed from now on comes live (held until started)
    try:
        head = await hub.logs.open_room(user_id=user_id, room_id=room_id)
        if params.since is not None and params.since > head:
            raise Invalid(f"is past the room's last event ({head})", field="since")
        previous = connection.streams.pop(room_id, None)
        if previous is not None:
            await hub.leave_room(previous)
        connection.streams[room_id] = stream
        count = await (stream.start_at(head) if params.since is None else stream.catch_up())
    except BaseException:
        if connection.streams.get(room_id) is stream:
            del connection.streams[room_id]
        await hub.leave_room(stream)
        raise
    return {"room": room_id, "seq": stream.last, "replayed": count}


@method("unsubscribe", RoomParams)
async def unsubscribe(connection: Connection, params: RoomParams) -> dict[str, Any]:
    stream = connection.streams.pop(params.room, None)
    if stream is not None:
        await connection.hub.leave_room(stream)
    return {"room": params.room}


@method("online", RoomParams)
async def online(connection: Connection, params: RoomParams) -> dict[str, Any]:
    """Which of the room's members are connected now, on any node; ``presence`` notifications
    tell the changes from then on."""
    hub = connection.hub
    members = await hub.logs.members_of(user_id=connection.user_id, room_id=params.room)
    return {"room": params.room, "online": sorted(await hub.online(members))}


@method("typing", RoomParams)
async def typing(connection: Connection, params: RoomParams) -> dict[str, Any]:
    """Ephemeral: the room's other subscribers hear it; nothing is stored. At most one a
    ``TYPING_SECONDS`` per connection and room reaches them (a key held down repeats)."""
    stream = connection.streams.get(params.room)
    if stream is None:
        raise Forbidden("must be subscribed to first", field="room")
    now = time.monotonic()
    if now - stream.typed_at < TYPING_SECONDS:
        return {"room": params.room}
    stream.typed_at = now
    await connection.hub.publish_ephemeral(
        params.room,
        "typing",
        {"room": params.room, "user": connection.user_id, "at": _now()},
        actor=connection.user_id,
    )
    return {"room": params.room}


# --- calls that change a room: answered after the commit, with the event (its seq and time) ---


@method("send", SendParams)
async def send(connection: Connection, params: SendParams) -> Any:
    """A new message; the same ``clientId`` again returns the first one's event."""
    return await connection.calls.send(
        user_id=connection.user_id,
        room_id=params.room,
        body=params.body,
        client_id=params.client_id or _server_client_id(),
    )


@method("edit", EditParams)
async def edit(connection: Connection, params: EditParams) -> Any:
    return await connection.calls.edit(
        user_id=connection.user_id, room_id=params.room, message_id=params.message, body=params.body
    )


@method("delete", MessageParams)
async def delete(connection: Connection, params: MessageParams) -> Any:
    return await connection.calls.delete(
        user_id=connection.user_id, room_id=params.room, message_id=params.message
    )


async def _react(connection: Connection, params: ReactParams, *, add: bool) -> Any:
    return await connection.calls.react(
        add=add,
        user_id=connection.user_id,
        room_id=params.room,
        message_id=params.message,
        emoji=params.emoji,
    )


@method("react", ReactParams)
async def react(connection: Connection, params: ReactParams) -> Any:
    """The reaction's event; null when the user had this reaction on the message already."""
    return await _react(connection, params, add=True)


@method("unreact", ReactParams)
async def unreact(connection: Connection, params: ReactParams) -> Any:
    """The event; null when the user had no such reaction on the message."""
    return await _react(connection, params, add=False)


@method("mark_read", MarkReadParams)
async def mark_read(connection: Connection, params: MarkReadParams) -> Any:
    """Read up to ``seq``: ``{room, lastReadSeq, unread}``; the room hears a read receipt."""
    return await connection.calls.mark_read(
        user_id=connection.user_id, room_id=params.room, seq=params.seq
    )


@method("history", HistoryParams)
async def history(connection: Connection, params: HistoryParams) -> Any:
    return await connection.calls.history(
        user_id=connection.user_id,
        room_id=params.room,
        before=params.before,
        after=params.after,
        limit=params.limit,
    )
