"""The lean WebSocket protocol's queue and flag (``platform/websocket_protocol.py``) do what
uvicorn asks of ``asyncio.Queue`` and ``asyncio.Event``: messages in order, none lost to a
reader that was cancelled, senders held while the socket is full and let go when it drains.
The protocol itself serves every live-server test of the chat (``tests/support/serving.py``)."""

from __future__ import annotations

import asyncio

from agora.platform.websocket_protocol import Flag, Inbox


async def test_messages_come_out_in_order_and_wait_when_there_are_none() -> None:
    inbox = Inbox()
    assert inbox.empty()
    reader = asyncio.create_task(inbox.get())
    await asyncio.sleep(0)  # the reader waits
    assert not reader.done()
    inbox.put_nowait("first")
    inbox.put_nowait("second")
    assert await reader == "first"
    assert not inbox.empty()
    assert await inbox.get() == "second"
    assert inbox.empty()


async def test_a_cancelled_reader_loses_nothing() -> None:
    inbox = Inbox()
    reader = asyncio.create_task(inbox.get())
    await asyncio.sleep(0)
    reader.cancel()
    await asyncio.gather(reader, return_exceptions=True)
    inbox.put_nowait("kept")
    assert await asyncio.wait_for(inbox.get(), 1) == "kept"


async def test_senders_wait_while_the_socket_is_full_and_go_on_once_it_drains() -> None:
    writable = Flag()
    await asyncio.wait_for(writable.wait(), 1)  # set from the start
    writable.clear()
    senders = [asyncio.create_task(writable.wait()) for _ in range(3)]
    await asyncio.sleep(0)
    senders[0].cancel()  # one sender gives up; the others still wait
    await asyncio.sleep(0)
    assert not any(sender.done() for sender in senders[1:])
    writable.set()
    await asyncio.wait_for(asyncio.gather(*senders[1:]), 1)
    assert writable.is_set()
