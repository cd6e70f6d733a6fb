"""The gateway of one node, built once by the composition root: the hub (fan-out, presence,
connections), authentication, the methods and the settings."""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from dataclasses import dataclass, field

from starlette.websockets import WebSocket

from agora.chat.gateway import close_codes
from agora.chat.gateway.auth import Authenticator
from agora.chat.gateway.backend import RoomCalls, RoomLogs
from agora.chat.gateway.connection import Connection, Method
from agora.chat.gateway.hub import Hub
from agora.chat.gateway.methods import METHODS
from agora.chat.gateway.metrics import GatewayMetrics
from agora.identity.reads import IdentityReads
from agora.identity.tokens import TokenCodec
from agora.platform.ports import Platform
from agora.settings import ChatGatewaySettings


@dataclass(frozen=True, slots=True)
class GatewayNode:
    hub: Hub
    auth: Authenticator
    calls: RoomCalls
    settings: ChatGatewaySettings
    methods: Mapping[str, Method] = field(default_factory=lambda: METHODS)

    def serve(self, websocket: WebSocket) -> Awaitable[None]:
        """The connection's life (the coroutine, not a frame more around it)."""
        connection = Connection(
            websocket,
            hub=self.hub,
            auth=self.auth,
            calls=self.calls,
            methods=self.methods,
            settings=self.settings,
        )
        return connection.serve()

    def start(self) -> None:
        self.hub.start()

    async def stop(self) -> None:
        """At shutdown: clients are told to reconnect elsewhere (1012)."""
        await self.hub.close(close_codes.SERVICE_RESTART, "service restart: reconnect")


def build_gateway(
    *,
    platform: Platform,
    tokens: TokenCodec,
    identity_reads: IdentityReads,
    logs: RoomLogs,
    calls: RoomCalls,
) -> GatewayNode:
    settings = platform.settings.chat_gateway
    hub = Hub(
        fanout=platform.fanout,
        presence=platform.presence,
        logs=logs,
        metrics=GatewayMetrics(platform.metrics.registry),
    )
    auth = Authenticator(
        tokens=tokens,
        identity_reads=identity_reads,
        cache=platform.cache,
        ticket_seconds=settings.ticket_seconds,
    )
    return GatewayNode(hub=hub, auth=auth, calls=calls, settings=settings)
