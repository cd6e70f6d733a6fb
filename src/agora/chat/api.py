"""Chat REST routes under ``/api/chat``: rooms, members, direct conversations, blocks, history,
search and messages. Failures are RFC 9457 problem details. The WebSocket gateway calls the same
services, so both protocols follow one set of rules.

Every write answers with the event it made (``{"event": {...}}``, the same JSON as history and
the WebSocket's notifications), carrying the room's sequence number and the server's time.
"""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import APIRouter, Path, Query, Response, status

from agora.chat import blocks, history, messages, rooms, views
from agora.chat.deps import SendLimitsDep, SendQueueDep
from agora.chat.log import PAGE_MAX
from agora.chat.models import EMOJI_MAX, RoomKind
from agora.chat.schemas import (
    BlockOut,
    Directory,
    DirectRequest,
    EventResult,
    EventsPage,
    Invitation,
    MessageEdit,
    NewMessage,
    NewRoom,
    ReadMark,
    ReadRequest,
    RoleChange,
    RoomDetail,
    RoomsResponse,
    SearchResults,
    WireEvent,
)
from agora.identity.deps import CurrentUserId
from agora.identity.routing import TokenFirstRoute
from agora.identity.schemas import Username
from agora.platform.db import INTEGER_MAX
from agora.platform.deps import ReadSessionDep, UnitOfWorkDep
from agora.platform.error_formats import PROBLEM_DETAILS, Api
from agora.platform.openapi import errors
from agora.platform.wire import SingleLine

router = APIRouter(prefix="/api/chat", tags=["chat"], route_class=TokenFirstRoute)

RoomId = Annotated[int, Path(ge=1, le=INTEGER_MAX, description="The room's id")]
MessageId = Annotated[int, Path(ge=1, le=INTEGER_MAX, description="The message's id")]
MemberId = Annotated[int, Path(ge=1, le=INTEGER_MAX, description="The member's user id")]
Seq = Annotated[int | None, Query(ge=0, le=INTEGER_MAX)]
Emoji = Annotated[str, Path(min_length=1, max_length=EMOJI_MAX), SingleLine]
UsernamePath = Annotated[Username, Path(description="The user's name")]


def _event(event: WireEvent | None, status_code: int = status.HTTP_200_OK) -> Response:
    """The event's JSON as it was built once (``chat/log.py``); the route's model documents it."""
    return Response(
        orjson.dumps({"event": event}), status_code=status_code, media_type="application/json"
    )


# --- rooms ------------------------------------------------------------------------------------


@router.post(
    "/rooms",
    status_code=status.HTTP_201_CREATED,
    summary="Create a room (you are its owner)",
    responses=errors(401, 422),
)
async def create_room(body: NewRoom, uow: UnitOfWorkDep, user_id: CurrentUserId) -> RoomDetail:
    return await rooms.create_room(
        uow=uow, owner_id=user_id, name=body.name, kind=RoomKind(body.kind), topic=body.topic
    )


@router.get(
    "/rooms",
    summary="Your rooms, most recently active first, each with its unread count",
    responses=errors(401),
)
async def list_rooms(session: ReadSessionDep, user_id: CurrentUserId) -> RoomsResponse:
    return RoomsResponse(rooms=await views.my_rooms(session=session, user_id=user_id))


@router.get(
    "/directory",
    summary="Public rooms anyone may join, by id (keyset: ?after=<last id>)",
    responses=errors(401, 422),
)
async def directory(
    session: ReadSessionDep,
    user_id: CurrentUserId,
    q: Annotated[
        Annotated[str, SingleLine] | None,
        Query(min_length=1, max_length=100, description="Part of the name"),
    ] = None,
    after: Annotated[int, Query(ge=0, le=INTEGER_MAX, description="The last id seen")] = 0,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> Directory:
    rooms = await views.directory(
        session=session, user_id=user_id, text=q, after=after, limit=limit
    )
    return Directory(rooms=rooms)


@router.get(
    "/rooms/{room_id}",
    summary="One of your rooms, with its members",
    responses=errors(401, 403, 404, 422),
)
async def get_room(room_id: RoomId, session: ReadSessionDep, user_id: CurrentUserId) -> RoomDetail:
    return await views.room_detail(session=session, user_id=user_id, room_id=room_id)


@router.post(
    "/rooms/{room_id}/join",
    summary="Join a public room",
    responses=errors(401, 403, 404, 422),
)
async def join_room(room_id: RoomId, uow: UnitOfWorkDep, user_id: CurrentUserId) -> RoomDetail:
    return await rooms.join(uow=uow, user_id=user_id, room_id=room_id)


@router.post(
    "/rooms/{room_id}/leave",
    response_model=EventResult,
    summary="Leave a room",
    responses=errors(401, 403, 404, 409, 422),
)
async def leave_room(room_id: RoomId, uow: UnitOfWorkDep, user_id: CurrentUserId) -> Response:
    return _event(await rooms.leave(uow=uow, user_id=user_id, room_id=room_id))


@router.post(
    "/rooms/{room_id}/members",
    status_code=status.HTTP_201_CREATED,
    response_model=EventResult,
    summary="Invite a user (private rooms: owners and admins)",
    responses=errors(401, 403, 404, 409, 422),
)
async def invite(
    room_id: RoomId, body: Invitation, uow: UnitOfWorkDep, user_id: CurrentUserId
) -> Response:
    event = await rooms.invite(uow=uow, user_id=user_id, room_id=room_id, username=body.username)
    return _event(event, status.HTTP_201_CREATED)


@router.delete(
    "/rooms/{room_id}/members/{member_id}",
    response_model=EventResult,
    summary="Remove a member (owners and admins)",
    responses=errors(401, 403, 404, 422),
)
async def remove_member(
    room_id: RoomId, member_id: MemberId, uow: UnitOfWorkDep, user_id: CurrentUserId
) -> Response:
    return _event(
        await rooms.remove_member(uow=uow, user_id=user_id, room_id=room_id, member_id=member_id)
    )


@router.put(
    "/rooms/{room_id}/members/{member_id}/role",
    response_model=EventResult,
    summary="Change a member's role (owners); event null when it had that role already",
    responses=errors(401, 403, 404, 409, 422),
)
async def change_role(
    room_id: RoomId,
    member_id: MemberId,
    body: RoleChange,
    uow: UnitOfWorkDep,
    user_id: CurrentUserId,
) -> Response:
    event = await rooms.change_role(
        uow=uow, user_id=user_id, room_id=room_id, member_id=member_id, role=body.role
    )
    return _event(event)


@router.post(
    "/direct",
    summary="Your one direct conversation with a user: opened the first time, found after",
    responses=errors(401, 403, 404, 422),
)
async def open_direct(
    body: DirectRequest, uow: UnitOfWorkDep, user_id: CurrentUserId
) -> RoomDetail:
    return await rooms.open_direct(uow=uow, user_id=user_id, username=body.username)


@router.put(
    "/blocks/{username}",
    summary="Block a user in direct messages",
    responses=errors(401, 403, 404, 422),
)
async def block(username: UsernamePath, uow: UnitOfWorkDep, user_id: CurrentUserId) -> BlockOut:
    return await blocks.block(uow=uow, user_id=user_id, username=username)


@router.delete(
    "/blocks/{username}",
    summary="Unblock a user",
    responses=errors(401, 404, 422),
)
async def unblock(username: UsernamePath, uow: UnitOfWorkDep, user_id: CurrentUserId) -> BlockOut:
    return await blocks.unblock(uow=uow, user_id=user_id, username=username)


# --- reading ----------------------------------------------------------------------------------


@router.get(
    "/rooms/{room_id}/events",
    response_model=EventsPage,
    summary="The room's history: events by sequence number, oldest first",
    description="`after` alone: the first `limit` events after it (catching up). Otherwise the "
    "last `limit` events before `before` (the latest when absent), and after `after` when given "
    "(scrolling back).",
    responses=errors(401, 403, 404, 422),
)
async def room_events(
    room_id: RoomId,
    session: ReadSessionDep,
    user_id: CurrentUserId,
    before: Annotated[int | None, Query(ge=1, le=INTEGER_MAX)] = None,
    after: Seq = None,
    limit: Annotated[int, Query(ge=1, le=PAGE_MAX)] = 50,
) -> Response:
    page = await history.history(
        session=session, user_id=user_id, room_id=room_id, before=before, after=after, limit=limit
    )
    return Response(orjson.dumps(page), media_type="application/json")


@router.get(
    "/rooms/{room_id}/search",
    summary="The room's messages containing some text (any case), newest first",
    responses=errors(401, 403, 404, 422),
)
async def search(
    room_id: RoomId,
    session: ReadSessionDep,
    user_id: CurrentUserId,
    q: Annotated[str, Query(min_length=1, max_length=200), SingleLine],
    limit: Annotated[int, Query(ge=1, le=history.SEARCH_MAX)] = 20,
) -> SearchResults:
    found = await history.search(
        session=session, user_id=user_id, room_id=room_id, text=q, limit=limit
    )
    return SearchResults(messages=found)


@router.post(
    "/rooms/{room_id}/read",
    summary="Mark the room read up to a sequence number (moves forward only)",
    responses=errors(401, 403, 404, 409, 422),
)
async def mark_read(
    room_id: RoomId, body: ReadRequest, uow: UnitOfWorkDep, user_id: CurrentUserId
) -> ReadMark:
    return await messages.mark_read(uow=uow, user_id=user_id, room_id=room_id, seq=body.seq)


# --- messages ---------------------------------------------------------------------------------


@router.post(
    "/rooms/{room_id}/messages",
    status_code=status.HTTP_201_CREATED,
    response_model=EventResult,
    summary="Send a message; the same clientId again returns the first one's event",
    responses=errors(401, 403, 404, 422, 429),
)
async def send_message(
    room_id: RoomId,
    body: NewMessage,
    sends: SendQueueDep,
    user_id: CurrentUserId,
) -> Response:
    event = await sends.send(
        user_id=user_id, room_id=room_id, body=body.body, client_id=body.client_id
    )
    return _event(event, status.HTTP_201_CREATED)


@router.put(
    "/rooms/{room_id}/messages/{message_id}",
    response_model=EventResult,
    summary="Edit your message",
    responses=errors(401, 403, 404, 422),
)
async def edit_message(
    room_id: RoomId,
    message_id: MessageId,
    body: MessageEdit,
    uow: UnitOfWorkDep,
    limits: SendLimitsDep,
    user_id: CurrentUserId,
) -> Response:
    event = await messages.edit(
        uow=uow,
        limits=limits,
        user_id=user_id,
        room_id=room_id,
        message_id=message_id,
        body=body.body,
    )
    return _event(event)


@router.delete(
    "/rooms/{room_id}/messages/{message_id}",
    response_model=EventResult,
    summary="Delete a message (yours; owners and admins: any)",
    responses=errors(401, 403, 404, 422),
)
async def delete_message(
    room_id: RoomId, message_id: MessageId, uow: UnitOfWorkDep, user_id: CurrentUserId
) -> Response:
    event = await messages.delete_message(
        uow=uow, user_id=user_id, room_id=room_id, message_id=message_id
    )
    return _event(event)


@router.put(
    "/rooms/{room_id}/messages/{message_id}/reactions/{emoji}",
    response_model=EventResult,
    summary="React to a message; event null when you had already",
    responses=errors(401, 403, 404, 422),
)
async def react(
    room_id: RoomId,
    message_id: MessageId,
    emoji: Emoji,
    uow: UnitOfWorkDep,
    user_id: CurrentUserId,
) -> Response:
    event = await messages.react(
        uow=uow, user_id=user_id, room_id=room_id, message_id=message_id, emoji=emoji
    )
    return _event(event)


@router.delete(
    "/rooms/{room_id}/messages/{message_id}/reactions/{emoji}",
    response_model=EventResult,
    summary="Take your reaction back; event null when there was none",
    responses=errors(401, 403, 404, 422),
)
async def unreact(
    room_id: RoomId,
    message_id: MessageId,
    emoji: Emoji,
    uow: UnitOfWorkDep,
    user_id: CurrentUserId,
) -> Response:
    event = await messages.unreact(
        uow=uow, user_id=user_id, room_id=room_id, message_id=message_id, emoji=emoji
    )
    return _event(event)


# the chat's clients read failures as RFC 9457 problem details
api = Api(router, errors=PROBLEM_DETAILS)
