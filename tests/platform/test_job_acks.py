"""The worker's acknowledgements, against a real RabbitMQ: what it did not acknowledge comes back.

``Acks`` settles finished deliveries with one ``multiple`` ack per run of them. What matters is
the broker's view: after the worker's connection is gone, exactly the messages whose jobs had
not finished are delivered again — never one that was still running (lost work), and not the
finished ones stuck behind a long job once more than ``hold_max`` wait — and no frame ever
settles a tag twice (RabbitMQ would close the channel).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aio_pika
import pytest
from aio_pika.abc import AbstractIncomingMessage, AbstractQueue

from agora.platform.jobs.acks import Acks
from tests.support.config import TEST_BROKER_URL
from tests.support.jobs import delete_queue, eventually

pytestmark = pytest.mark.skipif(
    TEST_BROKER_URL is None, reason="AGORA_TEST_BROKER_URL is not set (CI's second tier sets it)"
)

MESSAGES = 6


async def _publish(name: str, count: int) -> None:
    assert TEST_BROKER_URL is not None
    connection = await aio_pika.connect(TEST_BROKER_URL)
    async with connection:
        channel = await connection.channel()
        await channel.declare_queue(name, durable=True)
        for number in range(1, count + 1):
            await channel.default_exchange.publish(
                aio_pika.Message(str(number).encode()), routing_key=name
            )


@asynccontextmanager
async def _queue(count: int) -> AsyncIterator[str]:
    """A durable queue of the test's own holding messages "1" … ``count``; its name."""
    assert TEST_BROKER_URL is not None
    name = f"agora.test.acks.{uuid.uuid4().hex[:12]}"
    await _publish(name, count)
    try:
        yield name
    finally:
        await delete_queue(TEST_BROKER_URL, name)


@pytest.fixture
async def queue_name() -> AsyncIterator[str]:
    async with _queue(MESSAGES) as name:
        yield name


async def _consume(queue: AbstractQueue, count: int = MESSAGES) -> list[AbstractIncomingMessage]:
    """Consumes ``queue``; the list that fills with its deliveries, in order."""
    received: list[AbstractIncomingMessage] = []

    async def keep(message: AbstractIncomingMessage) -> None:
        received.append(message)

    async def all_delivered() -> bool:
        return len(received) >= count

    await queue.consume(keep)
    await eventually(all_delivered, what="every message delivered")
    return received


@asynccontextmanager
async def _consumer(
    queue_name: str, count: int = MESSAGES
) -> AsyncIterator[list[AbstractIncomingMessage]]:
    """The deliveries of a worker's channel (prefetch ``count``), once it holds all ``count``
    messages. On leaving, the channel must still be open after a round trip (a
    channel error the broker sent — a tag settled twice — is in by then); then the connection
    is dropped."""
    assert TEST_BROKER_URL is not None
    connection = await aio_pika.connect(TEST_BROKER_URL)
    async with connection:
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=count)
        queue = await channel.declare_queue(queue_name, durable=True, passive=True)
        yield await _consume(queue, count)
        await channel.declare_queue(queue_name, durable=True, passive=True)
        assert not channel.is_closed


async def _in_queue(queue_name: str) -> set[int]:
    """The messages in the queue (with no consumer left): what was not acknowledged."""
    assert TEST_BROKER_URL is not None
    connection = await aio_pika.connect(TEST_BROKER_URL)
    async with connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(queue_name, durable=True, passive=True)
        back: set[int] = set()
        while (message := await queue.get(no_ack=True, fail=False)) is not None:
            back.add(int(message.body))
        return back


async def _settle_then_disconnect(queue_name: str, *, hold_max: int, finish: list[int]) -> None:
    """Consumes every message, finishes those numbered in ``finish`` (in that order, a loop turn
    apart), leaves the others running, and drops the connection."""
    acks = Acks(hold_max=hold_max)
    async with _consumer(queue_name) as received:
        delivered = {int(message.body): message for message in received}
        for number in finish:
            acks.finished(delivered[number])
            await asyncio.sleep(0)  # the turn of the loop on which a worker's acks leave
        await acks.drain()


async def test_finished_deliveries_are_acknowledged_and_running_ones_are_not(
    queue_name: str,
) -> None:
    await _settle_then_disconnect(queue_name, hold_max=MESSAGES, finish=[2, 1, 3, 5, 6])
    # 1–3 acknowledged together; 5 and 6 wait behind the running 4 (fewer than hold_max)
    assert await _in_queue(queue_name) == {4, 5, 6}


async def test_finished_deliveries_behind_a_long_job_are_acknowledged_past_hold_max(
    queue_name: str,
) -> None:
    await _settle_then_disconnect(queue_name, hold_max=1, finish=[1, 3, 4, 5, 6])
    assert await _in_queue(queue_name) == {2}


async def test_a_run_over_deliveries_acknowledged_alone_acknowledges_only_the_rest(
    queue_name: str,
) -> None:
    # 2 and 3 are acknowledged alone (over hold_max behind the running 1); when 1 finishes the
    # run 1–3 needs one more ack, for 1 only: acking 3 again would close the channel
    await _settle_then_disconnect(queue_name, hold_max=1, finish=[2, 3, 1])
    assert await _in_queue(queue_name) == {4, 5, 6}


async def test_a_returned_message_comes_back_at_once_and_does_not_block_the_others(
    queue_name: str,
) -> None:
    acks = Acks(hold_max=MESSAGES)
    async with _consumer(queue_name) as received:
        delivered = list(received)
        acks.returned(delivered[0])  # number 1: its outcome could not be recorded
        for message in delivered[1:]:
            acks.finished(message)
        await asyncio.sleep(0)
        await acks.drain()

        async def redelivered() -> bool:
            return len(received) > MESSAGES

        await eventually(redelivered, what="the returned message delivered again")
        again = received[MESSAGES]
        assert int(again.body) == 1
        assert again.redelivered
        await again.ack()
    assert await _in_queue(queue_name) == set()  # 2–6 acknowledged as one run


async def test_a_run_never_overtakes_the_single_acks_decided_before_it() -> None:
    # 2–30 finish behind the running 1: a burst of single acks, more than the client's write
    # queue holds, so some wait to be written. Then 1 and 31 finish: the run 1–31 is settled by
    # a multiple ack of 31 (1 and 31 still need it). Sent ahead of a waiting single ack, it
    # would settle that tag first, and the single ack after it would close the channel.
    count = 40
    acks = Acks(hold_max=4)
    async with _queue(count) as name:
        async with _consumer(name, count) as received:
            delivered = {int(m.body): m for m in received}
            for number in range(2, 31):
                acks.finished(delivered[number])
            await asyncio.sleep(0)  # the burst is decided and starts leaving
            acks.finished(delivered[1])
            acks.finished(delivered[31])
            await asyncio.sleep(0)
            await acks.drain()
        assert await _in_queue(name) == set(range(32, count + 1))
