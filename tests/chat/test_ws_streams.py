"""A room stream's promise (``chat/gateway/streams.py``): whatever order the fan-out brings a
room's events in, and however many a client missed, the client gets each event once, in order.

The log here is a list standing in for the database; the live events are handed to the stream
the way the node's hub hands them, including in the middle of a replay.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

import orjson

from agora.chat.gateway.outgoing import Outgoing
from agora.chat.gateway.streams import RoomStream

ROOM = 1


def frame(seq: int) -> str:
    return orjson.dumps({"room": ROOM, "seq": seq}).decode()


def event(seq: int) -> tuple[int, str]:
    """As the log hands a replay's events: (seq, the notification's frame)."""
    return seq, frame(seq)


class Log:
    def __init__(self, count: int) -> None:
        self.events = [event(seq) for seq in range(1, count + 1)]
        self.reads = 0
        # called during a read, before it answers: what arrives live meanwhile
        self.during_read: Callable[[], None] | None = None

    def append(self, count: int = 1) -> list[int]:
        start = len(self.events) + 1
        self.events += [event(seq) for seq in range(start, start + count)]
        return list(range(start, start + count))

    async def read(self, after: int, limit: int) -> Sequence[tuple[int, str]]:
        self.reads += 1
        answer = [e for e in self.events if e[0] > after][:limit]
        if self.during_read is not None:
            self.during_read()
        await asyncio.sleep(0)  # a real read yields to the loop
        return answer


def stream_of(log: Log, *, last: int, capacity: int = 1000, page: int = 50) -> RoomStream:
    return RoomStream(
        room_id=ROOM,
        user_id=1,
        outgoing=Outgoing(capacity),
        read=log.read,
        page=page,
        reorder_seconds=0.05,
        last=last,
        on_replayed=lambda _count: None,
        on_written=lambda _count: None,
        on_failure=lambda exc: None,
    )


async def drain(outgoing: Outgoing) -> list[int]:
    seqs = []
    while len(outgoing):
        seqs += [orjson.loads(frame)["seq"] for frame in await outgoing.get_all()]
    return seqs


async def test_live_events_come_in_order_each_once() -> None:
    log = Log(3)
    stream = stream_of(log, last=3)
    await stream.catch_up()
    for seq in log.append(3):
        stream.on_event(seq, frame(seq))
    stream.on_event(5, frame(5))  # again: dropped
    assert await drain(stream._outgoing) == [4, 5, 6]


async def test_an_early_event_waits_for_the_one_before_it() -> None:
    log = Log(0)
    stream = stream_of(log, last=0)
    await stream.catch_up()
    reads = log.reads
    log.append(3)
    stream.on_event(2, frame(2))
    stream.on_event(3, frame(3))
    assert await drain(stream._outgoing) == []
    stream.on_event(1, frame(1))
    assert await drain(stream._outgoing) == [1, 2, 3]
    assert log.reads == reads  # the fan-out brought the gap: nothing read


async def test_a_gap_the_fanout_lost_is_read_from_the_log() -> None:
    log = Log(0)
    stream = stream_of(log, last=0)
    await stream.catch_up()
    log.append(3)
    stream.on_event(3, frame(3))  # 1 and 2 were lost on the way
    async with asyncio.timeout(5):  # read from the log once the reorder wait is over
        got: list[int] = []
        while len(got) < 3:
            got += [orjson.loads(frame)["seq"] for frame in await stream._outgoing.get_all()]
    assert got == [1, 2, 3]


async def test_a_subscription_at_the_head_reads_no_log_when_what_came_live_follows_on() -> None:
    """The node listens before it reads the head: what was committed since came live and is
    delivered from the head on, without a read of the log."""
    log = Log(5)
    stream = stream_of(log, last=0)
    for seq in log.append(2):  # committed after the node listened; the head read sees one
        stream.on_event(seq, frame(seq))
    assert await stream.start_at(6) == 0
    assert log.reads == 0
    assert await drain(stream._outgoing) == [7]
    for seq in log.append(1):
        stream.on_event(seq, frame(seq))
    assert await drain(stream._outgoing) == [8]


async def test_a_subscription_at_the_head_reads_the_gap_the_fanout_lost() -> None:
    log = Log(5)
    stream = stream_of(log, last=0)
    log.append(3)
    stream.on_event(8, frame(8))  # 6 and 7 were lost on the way
    assert await stream.start_at(5) == 3  # read from the log, 8 with them
    assert await drain(stream._outgoing) == [6, 7, 8]


async def test_a_subscription_at_the_head_reads_the_log_when_too_much_came_to_hold() -> None:
    log = Log(0)
    stream = stream_of(log, last=0, capacity=16)  # holds at most 4
    for seq in log.append(5):
        stream.on_event(seq, frame(seq))  # the fifth: the held four are dropped
    assert await stream.start_at(0) == 5
    assert await drain(stream._outgoing) == [1, 2, 3, 4, 5]


async def test_a_replay_then_live_leaves_no_gap_and_no_duplicate() -> None:
    """Events committed during the replay arrive live while it reads: each is delivered once,
    after everything before it."""
    log = Log(120)
    stream = stream_of(log, last=10, page=50)
    arrivals = iter(range(3))

    def commit_during_read() -> None:
        if next(arrivals, None) is not None:
            for seq in log.append(2):
                stream.on_event(seq, frame(seq))

    log.during_read = commit_during_read
    replayed = await stream.catch_up()
    assert await drain(stream._outgoing) == list(range(11, 127))
    assert replayed >= 110

    for seq in log.append(1):
        stream.on_event(seq, frame(seq))
    assert await drain(stream._outgoing) == [127]


async def test_a_long_replay_is_paced_by_the_queue() -> None:
    """However much a client missed, its queue holds at most its capacity."""
    log = Log(500)
    stream = stream_of(log, last=0, capacity=16, page=20)
    got: list[int] = []
    most = 0

    async def client() -> None:
        nonlocal most
        while len(got) < 500:
            most = max(most, len(stream._outgoing))
            got.extend(orjson.loads(frame)["seq"] for frame in await stream._outgoing.get_all())

    reader = asyncio.create_task(client())
    await stream.catch_up()
    await asyncio.wait_for(reader, 5)
    assert got == list(range(1, 501))
    assert most <= 16
    assert stream._outgoing.closed is None


async def test_the_event_that_ends_a_membership_is_the_last_delivered() -> None:
    log = Log(0)
    stream = stream_of(log, last=0)
    ended: list[int] = []
    stream.ended = lambda: ended.append(stream.last)  # type: ignore[method-assign]
    await stream.catch_up()
    log.append(4)
    stream.on_event(3, frame(3))  # the removal, early
    stream.end_after(3)
    stream.on_event(1, frame(1))
    stream.on_event(2, frame(2))
    stream.on_event(4, frame(4))  # after the removal: never theirs
    assert await drain(stream._outgoing) == [1, 2, 3]
    assert ended == [3]
    assert stream.closed
