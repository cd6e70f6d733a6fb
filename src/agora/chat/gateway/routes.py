"""The gateway's two routes: a ticket for the WebSocket, and the WebSocket itself.

Under ``/api/chat`` beside the chat's REST routes, in their error format (RFC 9457 problem
details). The protocol spoken on the socket is in ``docs/protocol.md``.
"""

from __future__ import annotations

from collections.abc import Awaitable

from fastapi import APIRouter, Request, WebSocket
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from agora.chat.gateway.deps import CHAT_GATEWAY
from agora.identity.deps import CurrentUserId
from agora.platform.error_formats import PROBLEM_DETAILS, Api
from agora.platform.openapi import errors

router = APIRouter(prefix="/api/chat", tags=["chat"])


class Ticket(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    ticket: str = Field(description="Pass as `?ticket=` when opening the WebSocket; works once")
    expires_in: int = Field(description="Seconds it may wait to be used")


@router.post(
    "/tickets",
    status_code=201,
    summary="A single-use ticket to open the chat's WebSocket",
    description="Browsers cannot set headers on a WebSocket: open "
    "`/api/chat/ws?ticket=<ticket>` within `expiresIn` seconds. A ticket works once, on any "
    "node. Clients that can set headers may send `Authorization: Bearer <token>` instead, or "
    "authenticate with an `auth` call as their first frame.",
    responses=errors(401),
    response_model_by_alias=True,
)
async def create_ticket(request: Request, user_id: CurrentUserId) -> Ticket:
    node = CHAT_GATEWAY.of(request.app).chat_gateway
    ticket = await node.auth.issue_ticket(user_id)
    return Ticket(ticket=ticket, expires_in=node.settings.ticket_seconds)


WEBSOCKET_PATH = "/api/chat/ws"


# served ahead of the HTTP middleware (``platform/websocket_routes.py``), not by the router
def chat_socket(websocket: WebSocket) -> Awaitable[None]:
    """JSON-RPC 2.0 over one WebSocket: see docs/protocol.md."""
    return CHAT_GATEWAY.of(websocket.app).chat_gateway.serve(websocket)


api = Api(router, errors=PROBLEM_DETAILS)
