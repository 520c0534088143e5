"""Consumer lag as `make status` and the `parterre_consumer_lag` gauge read it: published minus committed."""

from datetime import UTC, datetime, timedelta

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import OffsetAndMetadata

from shared.consumer_lag import LagReader
from shared.events import build_envelope, event_type
from shared.settings import ServiceSettings
from shared.topic_admin import ensure_topics
from tests.integration.kafka_support import publish_envelopes

pytestmark = [pytest.mark.kafka]


async def test_lag_counts_what_the_group_has_not_committed(settings: ServiceSettings, unique_name: str) -> None:
    topic = f"test.lag.{unique_name}"
    await ensure_topics(settings.kafka_bootstrap, {topic: 1})
    example = event_type("parterre.ticket.purchased.v1")
    facts = [
        build_envelope(
            example.model.model_validate(example.example),
            organisation_id=unique_name,
            source=f"/orgs/{unique_name}/sources/billetterie-principale",
            id=f"sale-{n}",
            time=_AT,
        )
        for n in range(5)
    ]
    await publish_envelopes(settings.kafka_bootstrap, topic, facts)
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


_AT = datetime.now(UTC) - timedelta(days=3)
