"""Agora's protocol for the shared chat benchmark's load generator (``../shared/bench/chat``).

The generator loads it with ``--adapter bench.chat_adapter:AgoraAdapter`` (``bench/chat.py`` runs
it from the repository's root, so ``bench`` is importable) inside the harness's own virtualenv:
the standard library only, no import of ``agora``.

Our gateway differs from the harness's stock JSON-RPC adapter in two ways, bridged here and not
in the server: a room is a room's id, not a name, and each client authenticates as a user who is
a member. ``bench/chat.py`` makes the rooms and users beforehand and writes a plan,
``{"rooms": {name: id}, "tokens": {name: [jwt, ...]}}``; client ``idx`` of room ``name`` speaks
for ``tokens[name][idx % len(tokens[name])]`` (in the direct rooms of two, clients ``2k`` and
``2k + 1`` are the conversation's two users). On open a client pipelines ``auth`` (first frame,
the protocol's third way) and ``subscribe``: calls on a connection are served in order.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Protocol

PATH = "/api/chat/ws"
AUTH_ID = 0
SUBSCRIBE_ID = 1


class Conn(Protocol):
    """What the generator's client offers an adapter."""

    idx: int
    room: str
    ready: bool
    failed: str | None
    state: dict[str, Any]


def _frame(request: dict[str, Any]) -> bytes:
    return json.dumps(request, separators=(",", ":")).encode()


class AgoraAdapter:
    name = "agora"
    # a room's subscribers get its events, the sender's own connection included
    sender_receives_own = True
    # a delivery is a notification; the answer to a send echoes the body but has no "method"
    message_guard = b'"method"'

    def __init__(self, **opts: str) -> None:
        self.opts = opts
        plan = json.loads(Path(opts["plan"]).read_text(encoding="utf-8"))
        self._rooms: dict[str, int] = plan["rooms"]
        self._tokens: dict[str, list[str]] = plan["tokens"]
        self._next_id = SUBSCRIBE_ID

    def url(self, base: str, room: str) -> str:
        return base + PATH

    def extra_headers(self) -> dict[str, str] | None:
        return None

    def on_open(self, conn: Conn) -> list[bytes]:
        tokens = self._tokens[conn.room]
        conn.state["errors"] = 0
        return [
            _frame(
                {
                    "jsonrpc": "2.0",
                    "id": AUTH_ID,
                    "method": "auth",
                    "params": {"token": tokens[conn.idx % len(tokens)]},
                }
            ),
            _frame(
                {
                    "jsonrpc": "2.0",
                    "id": SUBSCRIBE_ID,
                    "method": "subscribe",
                    "params": {"room": self._rooms[conn.room]},
                }
            ),
        ]

    def on_control(self, conn: Conn, data: bytes) -> list[bytes]:
        try:
            answer = json.loads(data)
        except ValueError:
            return []
        if not isinstance(answer, dict) or "method" in answer:
            return []  # presence, member events: not what the bench counts
        if "error" in answer:
            if conn.ready:
                conn.state["errors"] = conn.state.get("errors", 0) + 1
            else:
                conn.failed = f"call {answer.get('id')} failed: {json.dumps(answer['error'])[:200]}"
        elif answer.get("id") == SUBSCRIBE_ID:
            conn.ready = True
        return []

    def encode_send(self, conn: Conn, body: str) -> bytes:
        # the body is the harness's ASCII, nothing to escape: spliced in, as the stock adapter does
        self._next_id += 1
        return b'{"jsonrpc":"2.0","id":%d,"method":"send","params":{"room":%d,"body":"%s"}}' % (
            self._next_id,
            self._rooms[conn.room],
            body.encode(),
        )
