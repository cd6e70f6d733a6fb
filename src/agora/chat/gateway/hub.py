"""The node's side of the gateway: which of its connections watch which room, what the fan-out
brings them, and who is online.

An event is encoded once, by the node that committed it: the notification frame as bytes, behind
a one-line header (its sequence number, who caused it, when it was published). Every node that
has subscribers decodes the header once and hands the same frame to each subscriber's queue: no
work per recipient but the queueing (and the socket write). The node that committed a log event
hands it to its own subscribers itself, once it is published to the others, and the fan-out
brings it back to none but the others: no round trip through Redis and no decoding for the
sender's own copy, which goes out in the same socket write as the sender's answer.

Channels: ``room:{id}`` (the room's log events, typing, read receipts, presence of its members)
and ``user:{id}`` (what only that user's connections hear: their unread counts).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

import orjson
import structlog

from agora.chat.gateway.backend import RoomLogs
from agora.chat.gateway.metrics import GatewayMetrics
from agora.chat.gateway.rpc import notification_frame
from agora.chat.gateway.streams import RoomStream
from agora.platform.fanout import Fanout, Subscription
from agora.platform.presence import Presence

log = structlog.get_logger("agora.chat.gateway")


def room_channel(room_id: int) -> str:
    return f"room:{room_id}"


def user_channel(user_id: int) -> str:
    return f"user:{user_id}"


class Listener(Protocol):
    """A connection as the hub sees it."""

    user_id: int

    def deliver(self, frame: str) -> int:
        """1 when the frame went to the socket at once (counted by the caller), else 0."""
        ...

    def room_ended(self, room_id: int) -> None:
        """The user left or was removed: the connection stops watching the room."""
        ...

    async def shut(self, code: int, reason: str) -> None: ...


class Committed(NamedTuple):
    """A committed log event, as its node publishes it: its room, its notification (encoded
    once), its number, the user whose subscription it ends (they left, or were removed, and
    still get this one), and the user whose call made it (None when no call waits for it)."""

    room_id: int
    frame: bytes
    seq: int
    ends: int | None = None
    actor: int | None = None


@dataclass(eq=False)
class _Watched:
    """A channel this node watches for some of its listeners."""

    subscribing: asyncio.Future[Subscription]
    members: set[Any] = field(default_factory=set)


def _envelope(
    frame: bytes, *, seq: int = 0, actor: int | None = None, ends: int | None = None
) -> bytes:
    header: dict[str, Any] = {"t": time.time()}
    if seq:
        header["s"] = seq
    if actor is not None:
        header["a"] = actor
    if ends is not None:
        header["e"] = ends
    return orjson.dumps(header) + b"\n" + frame


def _ephemeral(
    room_id: int, method: str, params: Mapping[str, Any], actor: int | None
) -> tuple[str, bytes]:
    """The channel and message of an ephemeral notification (``Hub.publish_ephemeral``)."""
    frame = notification_frame(method, orjson.dumps(params))
    return room_channel(room_id), _envelope(frame, actor=actor)


class Hub:
    def __init__(
        self,
        *,
        fanout: Fanout,
        presence: Presence,
        logs: RoomLogs,
        metrics: GatewayMetrics,
    ) -> None:
        self.fanout = fanout
        self.presence = presence
        self.logs = logs
        self.metrics = metrics
        self._rooms: dict[int, _Watched] = {}
        self._users: dict[int, _Watched] = {}
        self._connections: set[Listener] = set()
        self._background: set[asyncio.Task[None]] = set()
        # presence changes not told yet (the latest per user), and the task telling them
        self._presence_changes: dict[int, str] = {}
        self._telling: asyncio.Task[None] | None = None
        self.closing = False

    # --- publishing (any node, after the commit) ---------------------------------------------

    async def publish_frames(self, frames: Sequence[Committed]) -> None:
        """Committed log events' notifications, encoded once by whoever committed them, in
        order: to the other nodes in one round trip, then to this node's subscribers from here
        (in the loop turn that answers the calls that made them)."""
        try:
            if len(frames) == 1:
                room_id, frame, seq, ends, _ = frames[0]
                await self.fanout.publish(
                    room_channel(room_id), _envelope(frame, seq=seq, ends=ends), delivered_here=True
                )
            else:
                await self.fanout.publish_many(
                    [
                        (room_channel(room_id), _envelope(frame, seq=seq, ends=ends))
                        for room_id, frame, seq, ends, _ in frames
                    ],
                    delivered_here=True,
                )
        finally:
            for room_id, frame, seq, ends, actor in frames:
                watched = self._rooms.get(room_id)
                if watched is not None:
                    self._fan_out(watched, seq, frame.decode(), ends, actor)

    async def publish_ephemeral(
        self, room_id: int, method: str, params: Mapping[str, Any], *, actor: int | None = None
    ) -> None:
        """Typing, read receipts, presence: not in the log, not to the ``actor``'s own
        connections."""
        await self.fanout.publish(*_ephemeral(room_id, method, params, actor))

    async def publish_to_user(self, user_id: int, method: str, params: Mapping[str, Any]) -> None:
        frame = notification_frame(method, orjson.dumps(params))
        await self.fanout.publish(user_channel(user_id), _envelope(frame))

    # --- what arrives -------------------------------------------------------------------------

    def _on_room(self, room_id: int, payload: bytes) -> None:
        watched = self._rooms.get(room_id)
        if watched is None:
            return
        head, _, body = payload.partition(b"\n")
        header = orjson.loads(head)
        frame = body.decode()
        seq, actor, ends = header.get("s", 0), header.get("a"), header.get("e")
        if seq:
            self._fan_out(watched, seq, frame, ends, None)
        else:
            written = 0
            for stream in tuple(watched.members):
                if actor is None or stream.user_id != actor:
                    written += stream.listener.deliver(frame)
            if written:
                self.metrics.frames_out.inc(written)
        self.metrics.fanout_latency.observe(max(0.0, time.time() - header["t"]))

    def _fan_out(
        self, watched: _Watched, seq: int, frame: str, ends: int | None, actor: int | None
    ) -> None:
        """A log event to the room's streams here. The ``actor``'s own (when it was committed
        here) is queued for its writer on the loop's next turn, which then writes it together
        with the answer its call writes meanwhile: one system call, not two."""
        members = tuple(watched.members)
        # the node's hottest loop: a call or two a recipient, the frames written at once
        # counted once for all of them
        written = 0
        if actor is None:
            for stream in members:
                written += stream.on_event(seq, frame)
        else:
            for stream in members:
                written += stream.on_event(seq, frame, with_answer=stream.user_id == actor)
        if ends is not None:
            for stream in members:
                if stream.user_id == ends:
                    stream.end_after(seq)
        if written:
            self.metrics.frames_out.inc(written)

    def _on_user(self, user_id: int, payload: bytes) -> None:
        watched = self._users.get(user_id)
        if watched is None:
            return
        frame = payload.partition(b"\n")[2].decode()
        written = sum(listener.deliver(frame) for listener in tuple(watched.members))
        if written:
            self.metrics.frames_out.inc(written)

    # --- watching -----------------------------------------------------------------------------

    async def _watch(
        self, table: dict[int, _Watched], key: int, member: object, channel: str, on: Any
    ) -> None:
        watched = table.get(key)
        if watched is None:
            watched = _Watched(
                asyncio.ensure_future(self.fanout.subscribe(channel, functools.partial(on, key)))
            )
            table[key] = watched
        watched.members.add(member)
        try:
            await asyncio.shield(watched.subscribing)
        except BaseException:
            await self._unwatch(table, key, member)
            raise

    async def _unwatch(self, table: dict[int, _Watched], key: int, member: object) -> None:
        watched = table.get(key)
        if watched is None or member not in watched.members:
            return
        watched.members.discard(member)
        if watched.members:
            return
        del table[key]
        with contextlib.suppress(Exception):
            subscription = await watched.subscribing
            await subscription.close()

    async def join_room(self, stream: WatchingStream) -> None:
        """From now on, the room's events reach ``stream`` (subscribed once this returns)."""
        channel = room_channel(stream.room_id)
        await self._watch(self._rooms, stream.room_id, stream, channel, self._on_room)

    async def leave_room(self, stream: WatchingStream) -> None:
        stream.close()
        await self._unwatch(self._rooms, stream.room_id, stream)

    # --- connections and presence --------------------------------------------------------------

    async def connected(self, listener: Listener) -> None:
        self._connections.add(listener)
        self.metrics.connections.inc()
        await self._watch(
            self._users, listener.user_id, listener, user_channel(listener.user_id), self._on_user
        )
        if await self.presence.connected(listener.user_id):
            self._tell_presence([listener.user_id], "online")

    async def disconnected(self, listener: Listener) -> None:
        if listener not in self._connections:
            return
        self._connections.discard(listener)
        self.metrics.connections.dec()
        await self._unwatch(self._users, listener.user_id, listener)
        if await self.presence.disconnected(listener.user_id):
            self._tell_presence([listener.user_id], "offline")

    async def online(self, user_ids: Iterable[int]) -> set[int]:
        return await self.presence.online(user_ids)

    async def users_offline(self, user_ids: Sequence[int]) -> None:
        """Users a dead node held, who have no connection left anywhere."""
        self._tell_presence(user_ids, "offline")

    def _tell_presence(self, user_ids: Iterable[int], status: str) -> None:
        """Tells the users' rooms, off the connection's path (it reads the database). The
        changes that come while a round is being told are told together in the next one: a
        thousand users coming online at once (a node's clients reconnecting) are one read of
        their rooms and one round trip of publishes, not a thousand of each. A user's latest
        status is what is told."""
        for user_id in user_ids:
            self._presence_changes[user_id] = status
        # done, yet its callback not run: its last round was read before these changes came
        if self._telling is None or self._telling.done():
            self._telling = asyncio.create_task(self._tell_changes())
            self._background.add(self._telling)
            self._telling.add_done_callback(self._told)

    def _told(self, task: asyncio.Task[None]) -> None:
        self._background.discard(task)
        if self._telling is task:
            self._telling = None

    async def _tell_changes(self) -> None:
        while self._presence_changes:
            changes, self._presence_changes = self._presence_changes, {}
            try:
                rooms = await self.logs.rooms_of(list(changes))
            except Exception:
                log.exception("could not tell users' presence", users=len(changes))
                continue
            await self.fanout.publish_many(
                [
                    _ephemeral(room_id, "presence", {"user": user_id, "status": status}, user_id)
                    for user_id, status in changes.items()
                    for room_id in rooms.get(user_id, ())
                ]
            )

    def start(self) -> None:
        self.presence.start(self.users_offline)

    async def close(self, code: int, reason: str) -> None:
        """The node stops: every connection is closed with ``code`` (1012: reconnect
        elsewhere)."""
        self.closing = True
        await asyncio.gather(
            *(listener.shut(code, reason) for listener in tuple(self._connections)),
            return_exceptions=True,
        )
        await asyncio.gather(*self._background, return_exceptions=True)


class WatchingStream(RoomStream):
    """A room stream that knows its connection (to hand it ephemeral frames and room ends)."""

    def __init__(self, listener: Listener, **options: Any) -> None:
        super().__init__(**options)
        self.listener = listener
        self.typed_at = -float("inf")  # when its last typing notification went out

    def ended(self) -> None:
        self.listener.room_ended(self.room_id)
