"""The chat's real-time gateway: JSON-RPC 2.0 over one WebSocket per client at ``/api/chat/ws``.

The protocol is ``docs/protocol.md``; how the pieces fit (connections, room streams, the node's
hub over the fan-out and presence ports) is in ``docs/architecture.md``, "The chat's gateway".
"""
