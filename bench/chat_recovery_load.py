"""Scenario D's load: many clients reconnect at once, each to recover what it missed.

Runs inside the shared chat harness's generator virtualenv (picows and uvloop; the standard
library otherwise, no import of ``agora``), started by ``bench/chat.py``:

    python bench/chat_recovery_load.py PLAN RESULT [--workers N]

``PLAN`` is JSON: ``{"clients": [{"url", "room", "since", "last"}, ...]}``, ``url`` carrying the
client's token (``?token=``). Every client opens its WebSocket at the same instant, sends
``subscribe`` with ``since`` and counts the ``message`` notifications that follow: recovered when
it has every event up to ``last``, in order, with no gap and no duplicate. Its time is from the
moment it started connecting to the moment the last missed event arrived. ``RESULT`` gets the
times and what went wrong, per client.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import sys
import time
from pathlib import Path
from typing import Any

SUBSCRIBE_ID = 1
TIMEOUT_SECONDS = 60.0


def _client_result(client: dict[str, Any]) -> dict[str, Any]:
    return {"room": client["room"], "seconds": None, "events": 0, "error": None}


async def _run_clients(clients: list[dict[str, Any]], start_at: float) -> list[dict[str, Any]]:
    # the harness's generator virtualenv has picows
    from picows import WSListener, WSMsgType, ws_connect  # type: ignore[import-not-found,unused-ignore]

    loop = asyncio.get_running_loop()

    class Client(WSListener):  # type: ignore[misc]
        def __init__(self, spec: dict[str, Any], result: dict[str, Any]) -> None:
            self.spec, self.result = spec, result
            self.expected = spec["since"] + 1
            self.done: asyncio.Future[None] = loop.create_future()
            self.started = 0.0

        def on_ws_connected(self, transport: Any) -> None:
            request = {
                "jsonrpc": "2.0",
                "id": SUBSCRIBE_ID,
                "method": "subscribe",
                "params": {"room": self.spec["room"], "since": self.spec["since"]},
            }
            transport.send(WSMsgType.TEXT, json.dumps(request).encode())

        def on_ws_frame(self, transport: Any, frame: Any) -> None:
            if frame.msg_type != WSMsgType.TEXT or self.done.done():
                return
            message = json.loads(frame.get_payload_as_bytes())
            if "error" in message:
                self._fail(f"error {message['error']}")
            elif isinstance(params := message.get("params"), dict) and "kind" in params:
                seq = params["seq"]  # one of the room's events (not presence, unread …)
                if seq != self.expected:
                    self._fail(f"expected seq {self.expected}, got {seq}")
                    return
                self.expected += 1
                self.result["events"] += 1
                if seq == self.spec["last"]:
                    self.result["seconds"] = time.monotonic() - self.started
                    self.done.set_result(None)

        def on_ws_disconnected(self, transport: Any) -> None:
            self._fail("disconnected")

        def _fail(self, why: str) -> None:
            if not self.done.done():
                self.result["error"] = why
                self.done.set_result(None)

    async def one(spec: dict[str, Any]) -> dict[str, Any]:
        result = _client_result(spec)
        client = Client(spec, result)
        await asyncio.sleep(max(0.0, start_at - time.time()))
        client.started = time.monotonic()
        try:
            transport, _ = await ws_connect(
                lambda: client, spec["url"], websocket_handshake_timeout=TIMEOUT_SECONDS
            )
        except Exception as exc:
            result["error"] = f"connect: {exc!r}"
            return result
        try:
            await asyncio.wait_for(client.done, TIMEOUT_SECONDS)
        except TimeoutError:
            result["error"] = f"timed out with {result['events']} events"
        transport.disconnect()
        return result

    return list(await asyncio.gather(*(one(spec) for spec in clients)))


def _worker(clients: list[dict[str, Any]], start_at: float, out: Any) -> None:
    import uvloop

    out.send(uvloop.run(_run_clients(clients, start_at)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("plan", type=Path)
    parser.add_argument("result", type=Path)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    clients = json.loads(args.plan.read_text(encoding="utf-8"))["clients"]
    # every worker starts its clients at the same instant, once all are up
    start_at = time.time() + 2.0
    pipes, processes = [], []
    for worker in range(args.workers):
        receive, send = multiprocessing.Pipe(duplex=False)
        share = clients[worker :: args.workers]
        process = multiprocessing.Process(target=_worker, args=(share, start_at, send))
        process.start()
        pipes.append(receive)
        processes.append(process)
    results = [result for pipe in pipes for result in pipe.recv()]
    for process in processes:
        process.join()
    args.result.write_text(json.dumps({"clients": results}), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
