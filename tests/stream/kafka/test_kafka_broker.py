"""The test Kafka broker itself (stock settings: auto-create on, 3 partitions): topics are
created explicitly, an idempotent acks=all producer and a consumer group round-trip a
record, and the same broker comes back on the same port with its data after a stop."""

import asyncio
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from tests.kafka_broker import KafkaBroker

pytestmark = pytest.mark.kafka


async def create_topic(bootstrap: str, partitions: int = 3) -> str:
    topic = f"test-{uuid.uuid4().hex[:12]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(topic, num_partitions=partitions, replication_factor=1)]
        )
        # The controller answers CreateTopics before every broker's metadata cache has the
        # topic: list_topics may miss it for a moment (seen once with 100+ topics).
        deadline = asyncio.get_running_loop().time() + 15
        while topic not in await admin.list_topics():
            assert asyncio.get_running_loop().time() < deadline, f"{topic} never listed"
            await asyncio.sleep(0.2)
    finally:
        await admin.close()
    return topic


def producer(bootstrap: str) -> AIOKafkaProducer:
    return AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)


async def consume(bootstrap: str, topic: str, count: int) -> list[tuple[bytes, bytes]]:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"g-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    records: list[tuple[bytes, bytes]] = []
    try:
        async with asyncio.timeout(30):
            async for record in consumer:
                assert record.key is not None and record.value is not None
                records.append((record.key, record.value))
                if len(records) == count:
                    break
        await consumer.commit()
    finally:
        await consumer.stop()
    return records


def test_create_topic_produce_consume(kafka_bootstrap: str) -> None:
    async def scenario() -> list[tuple[bytes, bytes]]:
        topic = await create_topic(kafka_bootstrap)
        sender = producer(kafka_bootstrap)
        await sender.start()
        try:
            sent = await sender.send_and_wait(topic, b"evidence", key=b"patient-1")
            assert sent.offset == 0
        finally:
            await sender.stop()
        return await consume(kafka_bootstrap, topic, 1)

    assert asyncio.run(scenario()) == [(b"patient-1", b"evidence")]


def test_stopped_broker_comes_back_on_the_same_port_with_its_data(
    kafka_broker: KafkaBroker,
) -> None:
    bootstrap = kafka_broker.bootstrap

    async def before() -> str:
        topic = await create_topic(bootstrap, partitions=1)
        sender = producer(bootstrap)
        await sender.start()
        try:
            await sender.send_and_wait(topic, b"before", key=b"k")
        finally:
            await sender.stop()
        return topic

    async def after(topic: str) -> list[tuple[bytes, bytes]]:
        sender = producer(bootstrap)
        await sender.start()
        try:
            sent = await sender.send_and_wait(topic, b"after", key=b"k")
            assert sent.offset == 1  # the record from before the stop is still there
        finally:
            await sender.stop()
        return await consume(bootstrap, topic, 2)

    topic = asyncio.run(before())
    kafka_broker.stop()
    assert not kafka_broker.running
    assert kafka_broker.start() == bootstrap
    assert asyncio.run(after(topic)) == [(b"k", b"before"), (b"k", b"after")]
