"""The raw Kafka ceiling: produce then consume the same payloads the platform sends, with the shared settings."""

import asyncio
import time
import uuid

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from bench.support import Result, Servers, ticket_purchases
from shared.topic_admin import delete_namespace_topics, ensure_topics

END_TO_END = "kafka ceiling: produce + consume"


async def measure(servers: Servers, count: int = 100_000) -> list[Result]:
    # The run's messages stay nowhere: its topic is in a namespace of its own, deleted afterwards.
    namespace = f"bench-{uuid.uuid4().hex[:8]}."
    topic = f"{namespace}bench.ceiling"
    await ensure_topics(servers.kafka_bootstrap, {topic: 6})
    try:
        return await _measure(servers, topic, count)
    finally:
        await delete_namespace_topics(servers.kafka_bootstrap, namespace)


async def _measure(servers: Servers, topic: str, count: int) -> list[Result]:
    payloads = [(envelope.id.encode(), envelope.to_json_bytes()) for envelope in ticket_purchases(count, "bench")]
    # The settings of the shared bulk producer (acks=all, idempotent, a 5 ms linger), fed record by record as it is.
    producer = AIOKafkaProducer(
        bootstrap_servers=servers.kafka_bootstrap, acks="all", enable_idempotence=True, linger_ms=5
    )
    await producer.start()
    started = time.perf_counter()
    try:
        pending = [await producer.send(topic, value, key=key) for key, value in payloads]
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    produce_seconds = time.perf_counter() - started

    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=servers.kafka_bootstrap,
        group_id=f"{topic}-group",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_poll_records=500,
    )
    await consumer.start()
    received = 0
    started = time.perf_counter()
    try:
        while received < count:
            batches = await consumer.getmany(timeout_ms=500, max_records=500)
            received += sum(len(batch) for batch in batches.values())
            if batches:
                await consumer.commit()
    finally:
        await consumer.stop()
    consume_seconds = time.perf_counter() - started
    size = sum(len(value) for _, value in payloads) / count
    return [
        Result(
            "kafka ceiling: produce (acks=all)", count / produce_seconds, "msg/s", note=f"{count} msgs of {size:.0f} B"
        ),
        Result("kafka ceiling: consume + commit per batch", count / consume_seconds, "msg/s", note=f"{count} msgs"),
        Result(
            END_TO_END,
            count / (produce_seconds + consume_seconds),
            "msg/s",
            note="the ceiling end-to-end figures are compared with",
        ),
    ]
