"""What the gateway's routes need from the composition root."""

from __future__ import annotations

from typing import Protocol

from agora.chat.gateway.node import GatewayNode
from agora.platform.provided import Provided


class GatewayServices(Protocol):
    @property
    def chat_gateway(self) -> GatewayNode: ...


CHAT_GATEWAY: Provided[GatewayServices] = Provided("the chat's gateway")
