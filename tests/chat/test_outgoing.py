"""A connection's outgoing frames (``chat/gateway/outgoing.py``): a frame that finds nothing
waiting before it goes to the socket at once; whatever the socket cannot take waits in the queue,
and nothing overtakes it; a replay is queued so that its writer sends it in one write.

``Socket`` stands in for the protocol's ``write_now`` (it takes frames while it is open to
writes) and for the writer task, which writes what it takes from the queue to the same wire."""

from __future__ import annotations

import asyncio

from agora.chat.gateway.outgoing import CLOSED, QUEUED, WRITTEN, Outgoing


class Socket:
    def __init__(self) -> None:
        self.wire: list[str] = []
        self.takes_writes = True

    def write_now(self, frame: str) -> bool:
        if self.takes_writes:
            self.wire.append(frame)
        return self.takes_writes

    async def write_next(self, outgoing: Outgoing) -> None:
        """One step of the connection's writer: what is queued onto the wire, together."""
        self.wire.extend(await outgoing.get_all())


async def test_a_frame_goes_to_the_socket_at_once_when_nothing_waits_before_it() -> None:
    socket = Socket()
    outgoing = Outgoing(8, write_now=socket.write_now)
    # the putter learns which went out at once (it counts those; the writer counts the rest)
    assert outgoing.put("a") == WRITTEN
    assert outgoing.put("b") == WRITTEN
    assert socket.wire == ["a", "b"]
    assert len(outgoing) == 0
    socket.takes_writes = False
    assert outgoing.put("c") == QUEUED
    outgoing.close(1000, "bye")
    assert outgoing.put("d") == CLOSED


async def test_what_the_socket_could_not_take_is_overtaken_by_nothing() -> None:
    socket = Socket()
    outgoing = Outgoing(8, write_now=socket.write_now)
    socket.takes_writes = False  # the client reads slowly: the socket is full
    outgoing.put("a")
    socket.takes_writes = True  # it drained, but "a" still waits in the queue
    outgoing.put("b")
    assert socket.wire == []
    assert len(outgoing) == 2
    # the writer takes both; until it has written them, "c" may not pass them
    taken = await outgoing.get_all()
    assert taken == ["a", "b"]
    outgoing.put("c")
    assert socket.wire == []
    socket.wire.extend(taken)
    await socket.write_next(outgoing)
    assert socket.wire == ["a", "b", "c"]
    writer = asyncio.create_task(socket.write_next(outgoing))  # waits: nothing queued
    await asyncio.sleep(0)
    outgoing.put("d")  # the queue is empty and the writer idle: straight to the socket
    assert socket.wire == ["a", "b", "c", "d"]
    writer.cancel()


async def test_a_replay_is_queued_for_its_writer_to_send_in_one_write() -> None:
    socket = Socket()
    outgoing = Outgoing(8, write_now=socket.write_now)
    for frame in ("1", "2", "3"):
        await outgoing.put_paced(frame)
    outgoing.put("live")  # behind the replay
    assert socket.wire == []
    assert await outgoing.get_all() == ["1", "2", "3", "live"]  # one write


async def test_a_client_that_does_not_read_fills_the_queue_and_is_closed() -> None:
    socket = Socket()
    closed: list[None] = []
    outgoing = Outgoing(2, write_now=socket.write_now, on_close=lambda: closed.append(None))
    socket.takes_writes = False
    assert outgoing.put("a")
    assert outgoing.put("b")
    assert not outgoing.put("c")
    assert closed
    assert outgoing.closed is not None
    assert outgoing.closed[0] == 4008
