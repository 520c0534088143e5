"""Helpers for tests that talk to a real Kafka broker."""

import asyncio
from collections.abc import Callable, Sequence

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from shared.events import Envelope
from shared.kafka import ORGANISATION_HEADER, decode_headers, record_for
from shared.topic_admin import ensure_topics


async def publish_envelopes(bootstrap: str, topic: str, envelopes: Sequence[Envelope]) -> None:
    """Publishes events to `topic` (not their catalog topic) as the platform would: key, headers, acks=all."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for envelope in envelopes:
            record = record_for(envelope)
            headers = [(name, value.encode()) for name, value in record.headers.items()]
            await producer.send_and_wait(topic, record.value, key=record.key.encode(), headers=headers)
    finally:
        await producer.stop()


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


class TopicTail:
    """Reads what is published to a topic after `start()`, whatever the topic held before.

    With an organisation, only that organisation's records count, so other tests and tools publishing to
    the same topic at the same time do not disturb the reading.
    """

    def __init__(self, bootstrap: str, topic: str, organisation_id: str | None = None) -> None:
        self._consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None)
        self._bootstrap = bootstrap
        self._topic = topic
        self._organisation_id = organisation_id

    def _wanted(self, record: ConsumerRecord) -> bool:
        if self._organisation_id is None:
            return True
        return decode_headers(record.headers).get(ORGANISATION_HEADER) == self._organisation_id

    async def start(self) -> "TopicTail":
        admin = AIOKafkaAdminClient(bootstrap_servers=self._bootstrap)
        await admin.start()
        try:
            [description] = await admin.describe_topics([self._topic])
        finally:
            await admin.close()
        partitions = [TopicPartition(self._topic, entry["partition"]) for entry in description["partitions"]]
        if not partitions:
            raise RuntimeError(f"topic {self._topic} does not exist")
        await self._consumer.start()
        self._consumer.assign(partitions)
        await self._consumer.seek_to_end(*partitions)
        for partition in partitions:
            await self._consumer.position(partition)
        return self

    async def read(self, expected: int, deadline_seconds: float = 30) -> list[ConsumerRecord]:
        records: list[ConsumerRecord] = []
        try:
            async with asyncio.timeout(deadline_seconds):
                while len(records) < expected:
                    for batch in (await self._consumer.getmany(timeout_ms=200)).values():
                        records.extend(record for record in batch if self._wanted(record))
        except TimeoutError:
            pass
        return records

    async def read_quietly(self, seconds: float) -> list[ConsumerRecord]:
        """Everything that arrives within `seconds`: for checking that nothing more was published."""
        records: list[ConsumerRecord] = []
        async with asyncio.timeout(seconds + 5):
            loop = asyncio.get_running_loop()
            until = loop.time() + seconds
            while loop.time() < until:
                for batch in (await self._consumer.getmany(timeout_ms=200)).values():
                    records.extend(record for record in batch if self._wanted(record))
        return records

    async def stop(self) -> None:
        await self._consumer.stop()
