"""The chat benchmark's wiring: the users and rooms ``bench.chat`` makes, and the adapter the shared
harness's generator loads (through the harness's own loader), work against the real gateway:
every client gets in, and a message reaches the room's members as a delivery the generator
counts. Skipped without the harness (``../shared/bench/chat`` or ``AGORA_CHATBENCH_DIR``)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from bench.chat import ADAPTER, DIRECT_PREFIX, FANOUT_ROOM, harness_dir, prepare
from websockets.asyncio.client import ClientConnection, connect

from agora.settings import Settings
from tests.support.chat_ws import DEADLINE, served_app
from tests.support.config import TEST_JWT_SECRET
from tests.support.modules import module_from_file

pytestmark = pytest.mark.skipif(
    not (harness_dir() / "chatbench" / "adapters.py").exists(),
    reason=f"the shared chat harness is not at {harness_dir()}",
)


def _harness_adapters() -> ModuleType:
    return module_from_file("chatbench_adapters", harness_dir() / "chatbench" / "adapters.py")


@dataclass
class Conn:
    """The generator's client as an adapter sees it, over a real WebSocket."""

    idx: int
    room: str
    websocket: ClientConnection
    ready: bool = False
    failed: str | None = None
    state: dict[str, Any] = field(default_factory=dict)
    deliveries: list[bytes] = field(default_factory=list)


async def _read(conn: Conn, adapter: Any, mark: bytes) -> None:
    """What the generator does with each text frame: a delivery, or the adapter's business."""
    async for frame in conn.websocket:
        data = frame.encode() if isinstance(frame, str) else frame
        if mark in data and adapter.message_guard in data:
            conn.deliveries.append(data)
        else:
            for reply in adapter.on_control(conn, data):
                await conn.websocket.send(reply.decode())


async def _until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not condition():
        assert time.monotonic() < deadline, f"no {what} within {DEADLINE} s"
        await asyncio.sleep(0.01)  # polling the readers' state, bounded by the deadline


def _delivered(body: str, members: list[Conn]) -> Callable[[], bool]:
    return lambda: all(any(body.encode() in d for d in c.deliveries) for c in members)


async def test_the_bench_setup_lets_the_generators_clients_in_and_delivers(
    settings: Settings,
) -> None:
    adapters = _harness_adapters()
    async with served_app(settings) as (base_url, _http):
        plan = await prepare(settings.database_url, TEST_JWT_SECRET, direct_clients=2)
        path = plan.write(Path(settings.media_dir) / "plan.json")
        adapter = adapters.load_adapter(ADAPTER, {"plan": str(path)})
        base = base_url.replace("http://", "ws://", 1)
        direct = f"{DIRECT_PREFIX}0"
        conns = []
        for idx, room in ((0, FANOUT_ROOM), (1, FANOUT_ROOM), (0, direct), (1, direct)):
            websocket = await connect(adapter.url(base, room), open_timeout=DEADLINE)
            conns.append(Conn(idx=idx, room=room, websocket=websocket))
        readers = [asyncio.create_task(_read(c, adapter, adapters.MARK)) for c in conns]
        try:
            for conn in conns:
                for opening in adapter.on_open(conn):
                    await conn.websocket.send(opening.decode())
            await _until(lambda: all(c.ready or c.failed for c in conns), "subscriptions")
            assert [c.failed for c in conns] == [None] * 4

            for sender in (conns[0], conns[2]):
                body = (adapters.MARK.decode() + f"{sender.room}-{sender.idx}").ljust(100, "x")
                await sender.websocket.send(adapter.encode_send(sender, body).decode())
                await _until(_delivered(body, [c for c in conns if c.room == sender.room]), body)
            # the answers to the sends echo the body, but are not counted as deliveries
            assert [len(c.deliveries) for c in conns] == [1, 1, 1, 1]
            assert all(c.state["errors"] == 0 for c in conns)
        finally:
            for conn in conns:
                await conn.websocket.close()
            for reader in readers:
                reader.cancel()
            await asyncio.gather(*readers, return_exceptions=True)
