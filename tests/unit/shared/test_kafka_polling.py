"""A consumer that waited for records and found none asks Kafka again at once, instead of pausing as long again
as FastStream's batch subscriber does: a record sent during that pause waited it out at every stage."""

from typing import Any

import pytest
from aiokafka import ConsumerRecord, TopicPartition
from faststream.kafka import KafkaBroker
from faststream.kafka.subscriber import usecase
from prometheus_client import CollectorRegistry

from shared.kafka import ConsumedRecord, ConsumerMetrics, add_consumer, poll_without_pause
from shared.settings import ServiceSettings


class Consumer:
    """Answers each `getmany` with the next of `answers`, and notes what it was asked."""

    def __init__(self, *answers: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]) -> None:
        self.answers = list(answers)
        self.asked: list[dict[str, Any]] = []

    async def getmany(self, *, timeout_ms: int, max_records: int | None) -> dict[Any, Any]:
        self.asked.append({"timeout_ms": timeout_ms, "max_records": max_records})
        return self.answers.pop(0)


def kafka_record(partition: int, offset: int) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(
        topic="facts",
        partition=partition,
        offset=offset,
        timestamp=0,
        timestamp_type=0,
        key=b"k",
        value=b"{}",
        checksum=None,
        serialized_key_size=1,
        serialized_value_size=2,
        headers=(),
    )


@pytest.fixture
def pauses(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The pauses FastStream's batch subscriber takes, noted instead of waited."""
    taken: list[float] = []

    async def pause(seconds: float) -> None:
        taken.append(seconds)

    # The pause is `anyio.sleep` as that module calls it.
    monkeypatch.setattr(f"{usecase.__name__}.anyio.sleep", pause)
    return taken


def batch_subscriber(*, timeout_ms: int = 100, max_records: int = 500) -> Any:
    broker = KafkaBroker("127.0.0.1:9092")
    subscriber = broker.subscriber(
        "facts", group_id="identity", batch=True, batch_timeout_ms=timeout_ms, max_records=max_records
    )
    subscriber(lambda _message: None)
    return subscriber


async def test_faststreams_own_batch_subscriber_pauses_after_a_wait_that_found_nothing(pauses: list[float]) -> None:
    # What the override is for: should FastStream stop pausing, this fails and the override can go.
    subscriber = batch_subscriber(timeout_ms=100)

    assert await subscriber.get_msg(Consumer({})) == ()
    assert pauses == [0.1]


async def test_a_wait_that_found_nothing_is_followed_by_the_next_at_once(pauses: list[float]) -> None:
    subscriber = batch_subscriber(timeout_ms=100, max_records=500)
    poll_without_pause(subscriber)
    consumer = Consumer({}, {})

    assert await subscriber.get_msg(consumer) == ()
    assert await subscriber.get_msg(consumer) == ()
    assert pauses == []
    # Each ask still waits for records as long as the setting says: an idle consumer does not spin.
    assert consumer.asked == [{"timeout_ms": 100, "max_records": 500}] * 2


async def test_the_records_found_are_returned_partition_after_partition_in_their_order(pauses: list[float]) -> None:
    subscriber = batch_subscriber()
    poll_without_pause(subscriber)
    first, second, other = kafka_record(0, 7), kafka_record(0, 8), kafka_record(1, 3)
    consumer = Consumer({TopicPartition("facts", 0): [first, second], TopicPartition("facts", 1): [other]})

    assert await subscriber.get_msg(consumer) == (first, second, other)
    assert pauses == []


def test_a_subscriber_laid_out_otherwise_is_refused_with_the_reason() -> None:
    class Unknown:
        async def get_msg(self, _consumer: object) -> tuple[()]:
            return ()

    with pytest.raises(RuntimeError, match="no batch subscriber as FastStream lays them out"):
        poll_without_pause(Unknown())


async def test_every_consumer_the_services_add_asks_again_at_once(pauses: list[float]) -> None:
    broker = KafkaBroker("127.0.0.1:9092")

    async def handle(_record: ConsumedRecord[bytes]) -> None:
        return None

    add_consumer(
        broker,
        topic="facts",
        group_id="identity",
        decode=bytes,
        handle=handle,
        settings=ServiceSettings(consumer_batch_timeout_ms=250),
        metrics=ConsumerMetrics(CollectorRegistry()),
    )
    [subscriber] = broker.subscribers
    consumer = Consumer({})
    assert isinstance(subscriber, usecase.BatchSubscriber)

    assert await subscriber.get_msg(consumer) == ()
    assert pauses == []
    assert consumer.asked == [{"timeout_ms": 250, "max_records": ServiceSettings().consumer_batch_max_records}]
