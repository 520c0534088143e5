"""Helpers for tests that talk to a real Kafka broker."""

import asyncio
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer, ConsumerRecord

from shared.topic_admin import ensure_topics


async def create_topics(bootstrap: str, partitions_by_name: dict[str, int]) -> None:
    await ensure_topics(bootstrap, partitions_by_name)


async def read_all(bootstrap: str, topic: str, expected: int, deadline_seconds: float = 60) -> list[ConsumerRecord]:
    """Reads `topic` from its start until `expected` records arrived (or the deadline passed)."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False, group_id=None
    )
    await consumer.start()
    records: list[ConsumerRecord] = []
    try:
        async with asyncio.timeout(deadline_seconds):
            while len(records) < expected:
                batches = await consumer.getmany(timeout_ms=500)
                for batch in batches.values():
                    records.extend(batch)
    except TimeoutError:
        pass
    finally:
        await consumer.stop()
    return records


async def wait_until(condition: Callable[[], bool], deadline_seconds: float = 60, poll: float = 0.05) -> bool:
    """True as soon as `condition` holds; False if the deadline passes first. A correctness wait, not a timing."""
    try:
        async with asyncio.timeout(deadline_seconds):
            while not condition():  # noqa: ASYNC110 - the condition is any predicate, so polling is the point
                await asyncio.sleep(poll)
    except TimeoutError:
        return condition()
    return True
