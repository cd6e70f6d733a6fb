"""What the chat's routes (and its gateway) are handed by the composition root."""

from __future__ import annotations

from typing import Annotated, Protocol

from fastapi import Depends, Request

from agora.chat.messages import SendLimits
from agora.chat.reads import ChatReads
from agora.chat.send_queue import SendQueue
from agora.platform.provided import Provided


class ChatServices(Protocol):
    """What the chat needs from the composition root."""

    @property
    def chat_limits(self) -> SendLimits: ...

    @property
    def chat_reads(self) -> ChatReads: ...

    @property
    def chat_sends(self) -> SendQueue: ...


CHAT: Provided[ChatServices] = Provided("the chat's services")


# `async def` although nothing is awaited: FastAPI would run a plain `def` in a worker thread.
async def get_send_limits(request: Request) -> SendLimits:
    return CHAT.of(request.app).chat_limits


SendLimitsDep = Annotated[SendLimits, Depends(get_send_limits)]


async def get_send_queue(request: Request) -> SendQueue:
    return CHAT.of(request.app).chat_sends


SendQueueDep = Annotated[SendQueue, Depends(get_send_queue)]
