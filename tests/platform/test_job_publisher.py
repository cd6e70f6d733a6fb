"""The relay's publisher on a real RabbitMQ: each job of a batch gets its own confirm — the
broker's ack, or what came instead — and arrives once, in order, as a persistent message with
its id and headers. Needs ``AGORA_TEST_BROKER_URL``."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import aio_pika
import pytest

from agora.platform.db import utcnow
from agora.platform.jobs.broker import RUNS_HEADER, TOPIC_HEADER, JobPublisher
from agora.platform.jobs.store import ClaimedJob
from tests.support.config import TEST_BROKER_URL
from tests.support.jobs import delete_queue

pytestmark = pytest.mark.skipif(
    TEST_BROKER_URL is None, reason="AGORA_TEST_BROKER_URL is not set (CI's second tier sets it)"
)


def _jobs(count: int, *, body_size: int = 10) -> list[ClaimedJob]:
    return [
        ClaimedJob(uuid.uuid4().hex, "test.topic", {"n": n, "pad": "x" * body_size}, 1, utcnow())
        for n in range(count)
    ]


@pytest.fixture
async def queue() -> AsyncIterator[str]:
    assert TEST_BROKER_URL is not None
    name = f"agora.test.publisher.{uuid.uuid4().hex[:12]}"
    yield name
    await delete_queue(TEST_BROKER_URL, name)


async def _received(queue: str, count: int) -> list[aio_pika.abc.AbstractIncomingMessage]:
    assert TEST_BROKER_URL is not None
    connection = await aio_pika.connect(TEST_BROKER_URL)
    async with connection:
        channel = await connection.channel()
        declared = await channel.declare_queue(queue, durable=True, passive=True)
        messages = []
        for _ in range(count):
            message = await declared.get(timeout=5)
            assert message is not None
            await message.ack()
            messages.append(message)
        assert await declared.get(fail=False) is None  # nothing more
    return messages


async def test_each_job_of_batches_in_a_row_is_confirmed_and_arrives_once_in_order(
    queue: str,
) -> None:
    assert TEST_BROKER_URL is not None
    publisher = JobPublisher(TEST_BROKER_URL, queue=queue, timeout_seconds=5)
    # a body larger than a frame is split in the channel's frame size
    batches = [_jobs(100), _jobs(1), _jobs(3, body_size=300_000)]
    try:
        pending = [await publisher.publish(batch) for batch in batches]  # sent before any wait
        outcomes = [await confirms for confirms in pending]
    finally:
        await publisher.close()
    assert outcomes == [[None] * len(batch) for batch in batches]
    jobs = [job for batch in batches for job in batch]
    messages = await _received(queue, len(jobs))
    assert [message.message_id for message in messages] == [job.id for job in jobs]
    for message, job in zip(messages, jobs, strict=True):
        assert message.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
        assert message.headers == {TOPIC_HEADER: job.topic, RUNS_HEADER: job.runs_before}
        assert message.content_type == "application/json"
        assert message.body.decode() == (f'{{"n":{job.payload["n"]},"pad":"{job.payload["pad"]}"}}')


async def test_jobs_the_broker_cannot_route_are_not_confirmed_and_the_next_batch_is(
    queue: str,
) -> None:
    assert TEST_BROKER_URL is not None
    publisher = JobPublisher(TEST_BROKER_URL, queue=queue, timeout_seconds=5)
    try:
        await publisher.connect()  # declares the queue
        await delete_queue(TEST_BROKER_URL, queue)  # and it is gone: mandatory messages return
        refused = await (await publisher.publish(_jobs(5)))
        await publisher.close()
        await publisher.connect()  # declared again
        accepted = await (await publisher.publish(_jobs(2)))
    finally:
        await publisher.close()
    assert len(refused) == 5
    assert all(outcome is not None for outcome in refused)
    assert accepted == [None, None]
