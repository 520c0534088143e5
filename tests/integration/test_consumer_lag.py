"""Consumer lag as `make status` and the `parterre_consumer_lag` gauge read it: published minus committed."""

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, RecordsToDelete
from aiokafka.structs import OffsetAndMetadata

from infra.platform.kafka_state import pipeline_state
from shared.consumer_lag import LagReader
from shared.events import Envelope, build_envelope, event_type
from shared.kafka import DLQ_REASON, DLQ_SOURCE_OFFSET, DLQ_SOURCE_PARTITION, DLQ_SOURCE_TOPIC
from shared.settings import ServiceSettings
from shared.topic_admin import ensure_topics
from shared.topics import CONSUMER_GROUPS, dead_letter_topic_for
from tests.integration.kafka_support import publish_envelopes

pytestmark = [pytest.mark.kafka]


async def test_lag_counts_what_the_group_has_not_committed(settings: ServiceSettings, unique_name: str) -> None:
    topic = f"test.lag.{unique_name}"
    await ensure_topics(settings.kafka_bootstrap, {topic: 1})
    await publish_envelopes(settings.kafka_bootstrap, topic, sales(unique_name, 5))
    group = f"test-lag-{unique_name}"

    async with LagReader(settings.kafka_bootstrap) as reader:
        before = await reader.lag(group, topic)
        # No auto-commit: closing must not commit the position the consumer fetched up to.
        committer = AIOKafkaConsumer(
            bootstrap_servers=settings.kafka_bootstrap, group_id=group, enable_auto_commit=False
        )
        await committer.start()
        try:
            committer.assign([TopicPartition(topic, 0)])
            await committer.commit({TopicPartition(topic, 0): OffsetAndMetadata(3, "")})
        finally:
            await committer.stop()
        after = await reader.lag(group, topic)
        held = await reader.records(topic)

    assert (before, after, held) == (5, 2, 5), (before, after, held)


async def test_records_retention_deleted_past_the_group_s_commit_are_not_counted_behind(
    settings: ServiceSettings, unique_name: str
) -> None:
    topic = f"test.lag.{unique_name}"
    await ensure_topics(settings.kafka_bootstrap, {topic: 1})
    await publish_envelopes(settings.kafka_bootstrap, topic, sales(unique_name, 10))
    group = f"test-lag-{unique_name}"
    committer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, group_id=group, enable_auto_commit=False)
    await committer.start()
    try:
        committer.assign([TopicPartition(topic, 0)])
        await committer.commit({TopicPartition(topic, 0): OffsetAndMetadata(2, "")})
    finally:
        await committer.stop()
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        # What retention does to a group left behind: the records before offset 7 are gone.
        await admin.delete_records({TopicPartition(topic, 0): RecordsToDelete(7)})
    finally:
        await admin.close()

    async with LagReader(settings.kafka_bootstrap) as reader:
        behind = await reader.lag(group, topic)

    assert behind == 3


_AT = datetime.now(UTC) - timedelta(days=3)


def sales(organisation_id: str, count: int) -> list[Envelope]:
    example = event_type("parterre.ticket.purchased.v1")
    return [
        build_envelope(
            example.model.model_validate(example.example),
            organisation_id=organisation_id,
            source=f"/orgs/{organisation_id}/sources/billetterie-principale",
            id=f"sale-{n}",
            time=_AT,
        )
        for n in range(count)
    ]


async def test_a_message_dead_lettered_twice_after_a_crash_counts_once(
    settings: ServiceSettings, unique_name: str
) -> None:
    namespace = f"test-{unique_name}."
    identity = next(group for group in CONSUMER_GROUPS if group.group_id == "parterre-identity")
    topic = dead_letter_topic_for(namespace + identity.group_id)
    await ensure_topics(settings.kafka_bootstrap, {topic: 1})

    def dead_letter(source_offset: int) -> tuple[bytes, list[tuple[str, bytes]]]:
        headers = {
            DLQ_SOURCE_TOPIC: namespace + identity.topic.name,
            DLQ_SOURCE_PARTITION: "2",
            DLQ_SOURCE_OFFSET: str(source_offset),
            DLQ_REASON: "PermanentMessageError: unknown event type",
        }
        return b'{"id": "poison"}', [(name, value.encode()) for name, value in headers.items()]

    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        # The same message (source offset 84) twice, as a consumer killed before committing leaves it; then another.
        for source_offset in (84, 84, 90):
            value, headers = dead_letter(source_offset)
            await producer.send_and_wait(topic, value, key=b"billetterie:C-1", headers=headers)
    finally:
        await producer.stop()

    [state] = [
        state
        for state in await pipeline_state(settings.kafka_bootstrap, namespace)
        if state.group_id == namespace + identity.group_id
    ]
    # Past the limit, the topic's records are counted without reading them back.
    [counted] = [
        state
        for state in await pipeline_state(settings.kafka_bootstrap, namespace, distinct_count_limit=2)
        if state.group_id == namespace + identity.group_id
    ]
    assert (state.dead_letters, state.dead_letters_distinct) == (2, True)
    assert (counted.dead_letters, counted.dead_letters_distinct) == (3, False)


async def test_reading_the_lag_of_topics_not_created_yet_creates_none(
    settings: ServiceSettings, unique_name: str
) -> None:
    """`make status` on a fresh Kafka, which may create a topic asked for by name, with its own partition count."""
    namespace = f"test-{unique_name}."

    states = await pipeline_state(settings.kafka_bootstrap, namespace)

    assert {(state.lag, state.dead_letters) for state in states} == {(0, 0)}
    await asyncio.sleep(2)  # the broker creates a topic asked for by name after answering
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        made = [name for name in await admin.list_topics() if namespace in name]
    finally:
        await admin.close()
    assert made == []


async def test_topics_the_broker_will_not_create_are_reported_refused_and_the_others_created(
    settings: ServiceSettings, unique_name: str
) -> None:
    fine, too_long = f"test.{unique_name}.fine", f"test.{unique_name}." + "x" * 250

    report = await ensure_topics(settings.kafka_bootstrap, {fine: 2, too_long: 1})

    assert report.created == [fine]
    assert list(report.refused) == [too_long]
    assert report.refused[too_long].startswith("INVALID_TOPIC: ")
    assert "249" in report.refused[too_long]
    again = await ensure_topics(settings.kafka_bootstrap, {fine: 2})
    assert (again.created, again.existing, again.refused) == ([], [fine], {})
