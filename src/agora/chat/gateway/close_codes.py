"""The WebSocket close codes the gateway uses (RFC 6455 section 7.4; 4000-4999 are ours).

Every one is in ``docs/protocol.md`` with what a client should do about it.
"""

from __future__ import annotations

# the client or the server ended it on purpose
NORMAL = 1000
# a binary frame: the protocol is JSON text
UNSUPPORTED_DATA = 1003
# a frame larger than AGORA_CHAT_MAX_FRAME_BYTES
MESSAGE_TOO_BIG = 1009
# a bug on our side
INTERNAL_ERROR = 1011
# the node is shutting down: reconnect (to another node) and resubscribe with `since`
SERVICE_RESTART = 1012
# no valid authentication: a bad, expired or used ticket, a bad token, or none in time
UNAUTHORIZED = 4001
# the client did not read its frames fast enough: reconnect and resubscribe with `since`
SLOW_CONSUMER = 4008
