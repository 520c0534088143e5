"""Delivery guarantees of the shared broker factory on a real Kafka broker."""

import asyncio
import collections
import contextlib
import gc
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from faststream.kafka import KafkaBroker
from prometheus_client import CollectorRegistry
from pymongo.errors import ServerSelectionTimeoutError

from shared import consumer_progress
from shared import kafka as shared_kafka
from shared.kafka import (
    BulkKafkaPublisher,
    ConsumedRecord,
    ConsumerMetrics,
    ExactRecord,
    KafkaPublisher,
    OutgoingRecord,
    PermanentMessageError,
    add_consumer,
    create_broker,
    kafka_partition_index,
    publish_in_batches,
)
from shared.settings import ServiceSettings
from shared.topics import dead_letter_topic_for
from tests.integration.kafka_support import create_topics, read_all, wait_until

pytestmark = [pytest.mark.kafka]

Handler = Callable[[ConsumedRecord[dict[str, str]]], Awaitable[None]]


def decode_json(raw: bytes) -> dict[str, str]:
    decoded = json.loads(raw)
    if not isinstance(decoded, dict) or "id" not in decoded:
        raise ValueError("a test message is a JSON object with an id")
    return decoded


ORGANISATION = "theatre-du-nord"


def record(topic: str, message_id: str, key: str | None = None) -> OutgoingRecord:
    return OutgoingRecord(
        topic=topic,
        key=key or message_id,
        value=json.dumps({"id": message_id}).encode(),
        headers={shared_kafka.ORGANISATION_HEADER: ORGANISATION},
    )


class ConsumerHarness:
    def __init__(self, settings: ServiceSettings, topic: str, group_id: str) -> None:
        self.settings = settings
        self.topic = topic
        self.group_id = group_id
        self.registry = CollectorRegistry()
        self.metrics = ConsumerMetrics(self.registry)
        self.broker: KafkaBroker = create_broker(settings, registry=self.registry)

    def count(self, outcome: str) -> float:
        value = self.registry.get_sample_value(
            "parterre_consumer_messages_total",
            {"group": self.group_id, "organisation": ORGANISATION, "outcome": outcome},
        )
        return value or 0.0

    async def start(
        self,
        handle: Handler,
        *,
        concurrency: int = 1,
        handle_batch: Callable[[list[ConsumedRecord[dict[str, str]]]], Awaitable[list[ConsumedRecord[dict[str, str]]]]]
        | None = None,
    ) -> None:
        add_consumer(
            self.broker,
            topic=self.topic,
            group_id=self.group_id,
            decode=decode_json,
            handle=handle,
            settings=self.settings,
            metrics=self.metrics,
            concurrency=concurrency,
            handle_batch=handle_batch,
        )
        await self.broker.start()


@pytest.fixture
async def harness(settings: ServiceSettings, unique_name: str) -> AsyncIterator[ConsumerHarness]:
    topic = f"{unique_name}.events"
    group_id = f"{unique_name}-group"
    await create_topics(settings.kafka_bootstrap, {topic: 3, dead_letter_topic_for(group_id): 1})
    harness = ConsumerHarness(settings, topic, group_id)
    yield harness
    await harness.broker.stop()


@contextlib.asynccontextmanager
async def connected_broker(settings: ServiceSettings) -> AsyncIterator[KafkaBroker]:
    broker = create_broker(settings, registry=CollectorRegistry())
    await broker.connect()
    try:
        yield broker
    finally:
        await broker.stop()


async def publish(settings: ServiceSettings, records: list[OutgoingRecord]) -> None:
    async with connected_broker(settings) as broker:
        publisher = KafkaPublisher(broker)
        for start in range(0, len(records), 1000):
            await publisher.publish_many(records[start : start + 1000])


async def test_ten_thousand_events_are_read_back_exactly_once_by_id(
    settings: ServiceSettings, harness: ConsumerHarness
) -> None:
    sent = [f"event-{number:05d}" for number in range(10_000)]
    seen: collections.Counter[str] = collections.Counter()

    async def handle(consumed: ConsumedRecord[dict[str, str]]) -> None:
        seen[consumed.message["id"]] += 1

    await harness.start(handle)
    await publish(settings, [record(harness.topic, message_id) for message_id in sent])

    assert await wait_until(lambda: sum(seen.values()) >= len(sent), deadline_seconds=120)
    await asyncio.sleep(1)  # a late duplicate would arrive now
    assert set(seen) == set(sent)
    assert [message_id for message_id, times in seen.items() if times != 1] == []
    assert harness.count("processed") == len(sent)


async def test_messages_with_one_key_are_handled_in_the_order_they_were_sent(
    settings: ServiceSettings, harness: ConsumerHarness
) -> None:
    order: list[str] = []

    async def handle(consumed: ConsumedRecord[dict[str, str]]) -> None:
        order.append(consumed.message["id"])

    await harness.start(handle)
    sent = [f"step-{number:03d}" for number in range(200)]
    await publish(settings, [record(harness.topic, message_id, key="one-person") for message_id in sent])

    assert await wait_until(lambda: len(order) >= len(sent))
    assert order == sent


async def test_records_are_handled_with_the_collector_paused_and_it_resumes_once_the_batch_ends(
    settings: ServiceSettings, harness: ConsumerHarness
) -> None:
    collecting: list[bool] = []

    async def handle(consumed: ConsumedRecord[dict[str, str]]) -> None:
        collecting.append(gc.isenabled())

    # Another test's consumer may be amid a batch.
    assert await wait_until(gc.isenabled)
    await harness.start(handle)
    await publish(settings, [record(harness.topic, f"message-{number}") for number in range(50)])

    assert await wait_until(lambda: len(collecting) >= 50)
    assert not any(collecting)
    assert await wait_until(gc.isenabled)


async def test_a_concurrent_consumer_overlaps_keys_but_keeps_each_key_in_order(
    settings: ServiceSettings, harness: ConsumerHarness
) -> None:
    order: dict[str, list[str]] = collections.defaultdict(list)
    in_flight = 0
    most_in_flight = 0

    async def handle(consumed: ConsumedRecord[dict[str, str]]) -> None:
        nonlocal in_flight, most_in_flight
        in_flight += 1
        most_in_flight = max(most_in_flight, in_flight)
        await asyncio.sleep(0.005)
        key, _, _ = consumed.message["id"].partition("/")
        order[key].append(consumed.message["id"])
        in_flight -= 1

    await harness.start(handle, concurrency=8)
    sent = [f"person-{person}/step-{step:03d}" for step in range(40) for person in range(10)]
    await publish(settings, [record(harness.topic, message_id, key=message_id.split("/")[0]) for message_id in sent])

    assert await wait_until(lambda: sum(map(len, order.values())) >= len(sent))
    for person in range(10):
        assert order[f"person-{person}"] == [
            message_id for message_id in sent if message_id.startswith(f"person-{person}/")
        ]
    assert 1 < most_in_flight <= 8


async def test_a_message_that_fails_twice_is_retried_and_handled_once(
    settings: ServiceSettings, harness: ConsumerHarness
) -> None:
    attempts: collections.Counter[str] = collections.Counter()
    handled: list[str] = []

    async def handle(consumed: ConsumedRecord[dict[str, str]]) -> None:
        message_id = consumed.message["id"]
        attempts[message_id] += 1
        if message_id == "flaky" and attempts[message_id] <= 2:
            raise ConnectionError("store briefly unreachable")
        handled.append(message_id)

    await harness.start(handle)
    await publish(settings, [record(harness.topic, "flaky")])

    assert await wait_until(lambda: handled == ["flaky"])
    assert attempts["flaky"] == 3
    assert harness.count("retried") == 2
    assert harness.count("dead_lettered") == 0


async def test_an_organisation_header_no_producer_of_ours_writes_is_counted_as_unknown(
    settings: ServiceSettings, harness: ConsumerHarness
) -> None:
    handled: list[str] = []

    async def handle(consumed: ConsumedRecord[dict[str, str]]) -> None:
        handled.append(consumed.message["id"])

    await harness.start(handle)
    strange = [
        OutgoingRecord(topic=harness.topic, key=name, value=json.dumps({"id": name}).encode(), headers=headers)
        for name, headers in [
            ("random", {shared_kafka.ORGANISATION_HEADER: "Org 7f3a9c/../x"}),
            ("missing", {}),
            ("ours", {shared_kafka.ORGANISATION_HEADER: ORGANISATION}),
        ]
    ]
    await publish(settings, strange)

    assert await wait_until(lambda: sorted(handled) == ["missing", "ours", "random"])
    organisations = {
        sample.labels["organisation"]
        for metric in harness.registry.collect()
        if metric.name == "parterre_consumer_messages"
        for sample in metric.samples
        if sample.labels.get("group") == harness.group_id
    }
    assert organisations == {"unknown", ORGANISATION}


async def test_a_message_that_finds_the_store_unreachable_waits_for_it_beyond_its_attempts_and_is_handled_once(
    settings: ServiceSettings, harness: ConsumerHarness
) -> None:
    attempts: collections.Counter[str] = collections.Counter()
    handled: list[str] = []

    async def handle(consumed: ConsumedRecord[dict[str, str]]) -> None:
        message_id = consumed.message["id"]
        attempts[message_id] += 1
        # The store restarting: more failed tries than a message has attempts.
        if message_id == "during-restart" and attempts[message_id] <= settings.consumer_max_attempts + 2:
            raise ServerSelectionTimeoutError("127.0.0.1:27017: [Errno 111] Connection refused")
        handled.append(message_id)

    await harness.start(handle)
    await publish(settings, [record(harness.topic, "during-restart"), record(harness.topic, "after", key="x")])

    assert await wait_until(lambda: sorted(handled) == ["after", "during-restart"])
    assert attempts["during-restart"] == settings.consumer_max_attempts + 3
    assert harness.count("dead_lettered") == 0
    assert harness.count("retried") == settings.consumer_max_attempts + 2


async def test_a_message_failing_every_attempt_lands_in_the_dead_letter_topic_with_reason_and_bytes(
    settings: ServiceSettings, harness: ConsumerHarness
) -> None:
    handled: list[str] = []
    attempts: collections.Counter[str] = collections.Counter()

    async def handle(consumed: ConsumedRecord[dict[str, str]]) -> None:
        attempts[consumed.message["id"]] += 1
        if consumed.message["id"] == "poison":
            raise RuntimeError("this ticket references a performance that does not exist")
        handled.append(consumed.message["id"])

    await harness.start(handle)
    poison = record(harness.topic, "poison", key="person-7")
    await publish(settings, [poison, record(harness.topic, "after-poison", key="person-7")])

    assert await wait_until(lambda: handled == ["after-poison"])
    dead = await read_all(settings.kafka_bootstrap, dead_letter_topic_for(harness.group_id), expected=1)
    assert len(dead) == 1
    headers = shared_kafka.decode_headers(dead[0].headers)
    assert dead[0].value == poison.value
    assert dead[0].key == b"person-7"
    assert headers[shared_kafka.DLQ_REASON] == (
        "RuntimeError: this ticket references a performance that does not exist"
    )
    assert headers[shared_kafka.DLQ_ATTEMPTS] == str(settings.consumer_max_attempts)
    assert headers[shared_kafka.DLQ_SOURCE_TOPIC] == harness.topic
    assert headers[shared_kafka.DLQ_CONSUMER_GROUP] == harness.group_id
    assert attempts["poison"] == settings.consumer_max_attempts
    assert harness.count("dead_lettered") == 1


async def committed_positions(settings: ServiceSettings, group_id: str) -> dict[int, int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group_id)
    finally:
        await admin.close()
    return {partition.partition: committed.offset for partition, committed in offsets.items()}


async def test_a_record_dead_lettered_in_a_batch_is_committed_before_the_batch_ends(
    settings: ServiceSettings, harness: ConsumerHarness
) -> None:
    """Should the process stop before the batch ends, the dead letter is not written again when it comes back."""
    release = asyncio.Event()
    handled: list[str] = []

    async def handle(consumed: ConsumedRecord[dict[str, str]]) -> None:
        if consumed.message["id"] == "poison":
            raise PermanentMessageError("this ticket references a performance that does not exist")
        await release.wait()
        handled.append(consumed.message["id"])

    await publish(
        settings, [record(harness.topic, "poison", key="person-7"), record(harness.topic, "slow", key="person-7")]
    )
    await harness.start(handle)
    assert await wait_until(lambda: harness.count("dead_lettered") == 1)
    dead = await read_all(settings.kafka_bootstrap, dead_letter_topic_for(harness.group_id), expected=1)
    partition = int(shared_kafka.decode_headers(dead[0].headers)[shared_kafka.DLQ_SOURCE_PARTITION])
    poison_offset = int(shared_kafka.decode_headers(dead[0].headers)[shared_kafka.DLQ_SOURCE_OFFSET])

    committed_while_slow_is_handled: dict[int, int] = {}
    for _ in range(100):
        committed_while_slow_is_handled = await committed_positions(settings, harness.group_id)
        if committed_while_slow_is_handled.get(partition) == poison_offset + 1:
            break
        await asyncio.sleep(0.1)
    release.set()

    assert committed_while_slow_is_handled.get(partition) == poison_offset + 1
    assert await wait_until(lambda: handled == ["slow"])
    for _ in range(100):
        if (await committed_positions(settings, harness.group_id)).get(partition) == poison_offset + 2:
            break
        await asyncio.sleep(0.1)
    assert (await committed_positions(settings, harness.group_id)).get(partition) == poison_offset + 2


async def test_a_batch_that_fails_is_read_again_from_its_first_record_not_handled_so_no_dead_letter_is_written_twice(
    settings: ServiceSettings, harness: ConsumerHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    handled: list[str] = []
    publish_as_kafka_does = KafkaPublisher.publish_exact
    failed_once: list[ExactRecord] = []

    async def publish_failing_once(publisher: KafkaPublisher, outgoing: ExactRecord) -> None:
        # Kafka refusing the second poison's dead letter once: the batch fails, and FastStream rewinds it.
        if outgoing.value == b'{"id": "poison-2"}' and not failed_once:
            failed_once.append(outgoing)
            raise RuntimeError("the dead-letter topic could not be written")
        await publish_as_kafka_does(publisher, outgoing)

    async def handle(consumed: ConsumedRecord[dict[str, str]]) -> None:
        if consumed.message["id"].startswith("poison"):
            raise PermanentMessageError("this ticket references a performance that does not exist")
        handled.append(consumed.message["id"])

    ids = ["poison-1", "poison-2", "fine"]
    await publish(settings, [record(harness.topic, message_id, key="person-7") for message_id in ids])
    monkeypatch.setattr(KafkaPublisher, "publish_exact", publish_failing_once)
    await harness.start(handle)

    assert await wait_until(lambda: handled == ["fine"])
    dead = await read_all(
        settings.kafka_bootstrap, dead_letter_topic_for(harness.group_id), expected=3, deadline_seconds=5
    )
    assert failed_once
    assert sorted(json.loads(entry.value)["id"] for entry in dead) == ["poison-1", "poison-2"]


async def test_a_long_batch_commits_what_it_has_handled_as_it_goes(
    settings: ServiceSettings, harness: ConsumerHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Kafka drops a consumer whose batch outlasts its poll interval, and the batch comes back from the last commit."""
    monkeypatch.setattr(consumer_progress, "PROGRESS_COMMIT_SECONDS", 0.0)
    release = asyncio.Event()
    handled: list[str] = []

    async def handle(consumed: ConsumedRecord[dict[str, str]]) -> None:
        if consumed.message["id"] == "slow":
            await release.wait()
        handled.append(consumed.message["id"])

    await publish(
        settings, [record(harness.topic, "quick", key="person-7"), record(harness.topic, "slow", key="person-7")]
    )
    await harness.start(handle)
    assert await wait_until(lambda: handled == ["quick"])
    partition = kafka_partition_index(b"person-7", 3)

    committed_while_slow_is_handled: dict[int, int] = {}
    for _ in range(100):
        committed_while_slow_is_handled = await committed_positions(settings, harness.group_id)
        if partition in committed_while_slow_is_handled:
            break
        await asyncio.sleep(0.1)
    release.set()

    assert committed_while_slow_is_handled.get(partition) == 1
    assert await wait_until(lambda: handled == ["quick", "slow"])


async def test_records_with_a_header_value_no_utf_8_or_null_are_handled_with_the_rest_of_their_batch(
    settings: ServiceSettings, harness: ConsumerHarness
) -> None:
    """A header another producer wrote as it liked is no reason to lose the batch it came in."""
    handled: list[tuple[str, str, str]] = []

    async def handle(consumed: ConsumedRecord[dict[str, str]]) -> None:
        headers = consumed.headers
        handled.append((consumed.message["id"], headers[shared_kafka.ORGANISATION_HEADER], headers["x-trace"]))

    organisation = ORGANISATION.encode()
    odd_headers: list[list[tuple[str, bytes | None]]] = [
        [(shared_kafka.ORGANISATION_HEADER, organisation), ("x-trace", b"ok")],
        [(shared_kafka.ORGANISATION_HEADER, organisation), ("x-trace", None)],
        [(shared_kafka.ORGANISATION_HEADER, organisation), ("x-trace", b"\xff\xfe")],
        [(shared_kafka.ORGANISATION_HEADER, organisation), ("x-trace", b"after")],
    ]
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap)
    await producer.start()
    try:
        for number, headers in enumerate(odd_headers):
            await producer.send_and_wait(
                harness.topic, json.dumps({"id": f"m{number}"}).encode(), key=b"one-key", headers=headers
            )
    finally:
        await producer.stop()
    await harness.start(handle)

    assert await wait_until(lambda: len(handled) == len(odd_headers))
    await asyncio.sleep(1)  # a late duplicate would arrive now
    assert handled == [
        ("m0", ORGANISATION, "ok"),
        ("m1", ORGANISATION, ""),
        ("m2", ORGANISATION, "\ufffd\ufffd"),
        ("m3", ORGANISATION, "after"),
    ]
    assert harness.count("processed") == len(odd_headers)
    assert harness.count("dead_lettered") == 0


async def test_an_undecodable_message_is_dead_lettered_at_once_without_retries(
    settings: ServiceSettings, harness: ConsumerHarness
) -> None:
    handled: list[str] = []

    async def handle(consumed: ConsumedRecord[dict[str, str]]) -> None:
        handled.append(consumed.message["id"])

    await harness.start(handle)
    garbage = OutgoingRecord(topic=harness.topic, key="k", value=b'{"id": oops')
    await publish(settings, [garbage, record(harness.topic, "fine", key="k")])

    assert await wait_until(lambda: handled == ["fine"])
    dead = await read_all(settings.kafka_bootstrap, dead_letter_topic_for(harness.group_id), expected=1)
    assert [entry.value for entry in dead] == [garbage.value]
    headers = shared_kafka.decode_headers(dead[0].headers)
    assert headers[shared_kafka.DLQ_ATTEMPTS] == "0"
    assert headers[shared_kafka.DLQ_ERROR_TYPE] == "JSONDecodeError"


async def test_the_records_after_an_undecodable_one_of_its_key_are_left_out_of_the_batch_and_handled_once(
    settings: ServiceSettings, harness: ConsumerHarness
) -> None:
    effects: list[tuple[str, str]] = []

    async def handle(consumed: ConsumedRecord[dict[str, str]]) -> None:
        effects.append(("one", consumed.message["id"]))

    async def handle_batch(batch: list[ConsumedRecord[dict[str, str]]]) -> list[ConsumedRecord[dict[str, str]]]:
        effects.extend(("batch", consumed.message["id"]) for consumed in batch)
        return []

    await harness.start(handle, handle_batch=handle_batch)
    garbage = OutgoingRecord(
        topic=harness.topic,
        key="person-1",
        value=b"{not json",
        headers={shared_kafka.ORGANISATION_HEADER: ORGANISATION},
    )
    await publish(
        settings, [garbage, record(harness.topic, "m1", key="person-1"), record(harness.topic, "m2", key="person-2")]
    )

    assert await wait_until(lambda: len(effects) >= 2 and harness.count("dead_lettered") == 1)
    await asyncio.sleep(1)
    # After the record ahead of it is dead-lettered, m1 is handled alone, once; m2, of another key, in the batch.
    assert sorted(effects) == [("batch", "m2"), ("one", "m1")]
    assert harness.count("processed") == 2


async def test_a_record_too_large_to_dead_letter_whole_is_dead_lettered_cut_and_the_records_behind_it_go_on(
    settings: ServiceSettings, harness: ConsumerHarness
) -> None:
    handled: list[str] = []

    async def handle(consumed: ConsumedRecord[dict[str, str]]) -> None:
        handled.append(consumed.message["id"])

    await harness.start(handle)
    # Under Kafka's 1 MB as sent; with the dead letter's headers added, over it.
    poison = OutgoingRecord(
        topic=harness.topic, key="k", value=b"x" * 1_048_200, headers={shared_kafka.ORGANISATION_HEADER: ORGANISATION}
    )
    await publish(settings, [poison, record(harness.topic, "after", key="k")])

    assert await wait_until(lambda: handled == ["after"])
    [dead] = await read_all(settings.kafka_bootstrap, dead_letter_topic_for(harness.group_id), expected=1)
    headers = shared_kafka.decode_headers(dead.headers)
    assert dead.value == poison.value[: shared_kafka.DEAD_LETTER_VALUE_KEPT]
    assert headers[shared_kafka.DLQ_TRUNCATED] == f"1048200 bytes, the first {shared_kafka.DEAD_LETTER_VALUE_KEPT} kept"
    assert headers[shared_kafka.DLQ_ERROR_TYPE] == "JSONDecodeError"


async def test_a_permanent_error_skips_the_remaining_attempts(
    settings: ServiceSettings, harness: ConsumerHarness
) -> None:
    attempts: collections.Counter[str] = collections.Counter()

    async def handle(consumed: ConsumedRecord[dict[str, str]]) -> None:
        attempts[consumed.message["id"]] += 1
        raise PermanentMessageError("unknown organisation")

    await harness.start(handle)
    await publish(settings, [record(harness.topic, "rejected")])

    assert await wait_until(lambda: harness.count("dead_lettered") == 1)
    assert attempts["rejected"] == 1


async def published_one_by_one_by_faststream(settings: ServiceSettings, records: list[OutgoingRecord]) -> None:
    """Each record through FastStream's own publish, which aiokafka's default partitioner places."""
    async with connected_broker(settings) as broker:
        for outgoing in records:
            await broker.publish(
                outgoing.value, outgoing.topic, key=outgoing.key.encode(), headers=dict(outgoing.headers)
            )


@pytest.mark.parametrize("publisher_kind", ["bulk", "service"])
async def test_publishers_put_each_key_where_aiokafka_does_in_order_with_its_headers(
    settings: ServiceSettings, unique_name: str, publisher_kind: str
) -> None:
    topic = f"{unique_name}.bulk"
    await create_topics(settings.kafka_bootstrap, {topic: 6})
    keys = [f"person-{number % 40}" for number in range(3000)]
    # Big enough values that a partition's records fill several batches.
    bulk = [
        OutgoingRecord(topic, key, json.dumps({"id": f"bulk-{n}", "pad": "x" * 900}).encode(), {"h": str(n)})
        for n, key in enumerate(keys)
    ]
    if publisher_kind == "bulk":
        publisher = BulkKafkaPublisher(settings)
        await publisher.start()
        try:
            await publisher.publish_many(bulk)
        finally:
            await publisher.stop()
    else:
        await publish(settings, bulk)
    await published_one_by_one_by_faststream(
        settings, [record(topic, f"broker-{key}", key=key) for key in sorted(set(keys))]
    )

    received = await read_all(settings.kafka_bootstrap, topic, expected=len(bulk) + 40)

    partition_of_key = {
        json.loads(r.value)["id"].removeprefix("broker-"): r.partition
        for r in received
        if json.loads(r.value)["id"].startswith("broker-")
    }
    bulk_received = [r for r in received if json.loads(r.value)["id"].startswith("bulk-")]
    assert len(bulk_received) == len(bulk)
    assert all(r.partition == partition_of_key[r.key.decode()] for r in bulk_received)
    for key in set(keys):
        numbers = [int(json.loads(r.value)["id"][5:]) for r in bulk_received if r.key.decode() == key]
        assert numbers == sorted(numbers)
    assert all(dict(r.headers)["h"] == json.loads(r.value)["id"][5:].encode() for r in bulk_received)
    assert all(dict(r.headers)["content-type"] == shared_kafka.CLOUDEVENTS_CONTENT_TYPE.encode() for r in bulk_received)


async def test_a_service_sends_a_consumer_batchs_outputs_in_one_kafka_batch_per_partition(
    settings: ServiceSettings, unique_name: str
) -> None:
    # aiokafka sends a partition's batches one after the other, each waiting for the one before: a consumer batch's
    # 500 outputs of about 1.5 KB in aiokafka's default 16 KB batches went in about 47 of them.
    topic = f"{unique_name}.outputs"
    await create_topics(settings.kafka_bootstrap, {topic: 6})
    outputs = [
        OutgoingRecord(topic, f"person-{n}", json.dumps({"id": f"out-{n}", "pad": "x" * 1500}).encode(), {})
        for n in range(500)
    ]
    batches: list[tuple[str, int]] = []
    async with connected_broker(settings) as broker:
        producer = shared_kafka.broker_producer(broker)
        assert producer is not None
        send_batch = producer.send_batch

        async def counted(batch: Any, topic: str, *, partition: int) -> Any:
            batches.append((topic, partition))
            return await send_batch(batch, topic, partition=partition)

        producer.send_batch = counted
        await KafkaPublisher(broker).publish_many(outputs)

    assert sorted(batches) == [(topic, partition) for partition in range(6)]
    assert len(await read_all(settings.kafka_bootstrap, topic, expected=len(outputs))) == len(outputs)


async def test_many_sends_at_once_to_one_partition_all_land_in_the_order_each_was_given(
    settings: ServiceSettings, unique_name: str
) -> None:
    # aiokafka lets a batch wait for the partition's batch before it, up to the request timeout; a short timeout
    # here, so that a wait counted more than once would show within seconds.
    topic = f"{unique_name}.queued"
    await create_topics(settings.kafka_bootstrap, {topic: 1})
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap, acks="all", enable_idempotence=True, request_timeout_ms=1500
    )
    await producer.start()
    sends = [
        [OutgoingRecord(topic, f"key-{send}", json.dumps({"id": f"{send}-{n}"}).encode(), {}) for n in range(3)]
        for send in range(80)
    ]
    try:
        await asyncio.gather(*(publish_in_batches(producer, records, "") for records in sends))
    finally:
        await producer.stop()

    received = await read_all(settings.kafka_bootstrap, topic, expected=3 * len(sends))
    by_send = collections.defaultdict(list)
    for received_record in received:
        send, number = json.loads(received_record.value)["id"].split("-")
        by_send[send].append(int(number))
    assert sorted(by_send) == sorted(str(send) for send in range(len(sends)))
    assert all(numbers == [0, 1, 2] for numbers in by_send.values())
